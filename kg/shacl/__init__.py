"""What both SHACL engines share: the report types, the shapes loader and its checks, and pySHACL.

* :mod:`kg.shacl.report` — :class:`~kg.shacl.report.Report` (human results and standard
  ``sh:ValidationResult`` records, writable as a ``sh:ValidationReport`` graph).
* :mod:`kg.shacl.shapes` — parse shapes files (following ``owl:imports`` to local files only) and
  refuse, before anything runs, shapes the SHACL specification says a validator must refuse.
* :mod:`kg.shacl.pyshacl_engine` — run pySHACL (the whole shapes graph, or some of its shapes).

The fast engine (:mod:`kg.fastshacl`) and the pySHACL engine (:func:`kg.validate.validate_graph`)
both build on these modules and never import each other.
"""
