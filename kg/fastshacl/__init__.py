"""Validate with the SHACL shapes compiled to SPARQL and run on pyoxigraph.

pySHACL walks the graph in Python, focus node by focus node, and runs each ``sh:sparql``
constraint once per focus node; at a million triples that takes minutes. This engine compiles
each constraint into one SPARQL query over all focus nodes at once, run by Oxigraph on a store
parsed by Oxigraph, and returns the same :class:`kg.shacl.report.Report` as pySHACL
(:func:`kg.validate.validate_graph`); ``tests/integration/test_fastshacl.py`` compares both
engines result by result and ``tests/conformance/test_w3c_shacl.py`` runs both on the W3C suite.

The package, along its concerns:

* :mod:`~kg.fastshacl.dataset` — the files in an Oxigraph store, with the literals the store
  rewrites (``"01"^^xsd:integer`` → ``"1"``) mapped back to what the files wrote;
* :mod:`~kg.fastshacl.expr` — value conditions as SPARQL candidate filters and exact Python tests;
* :mod:`~kg.fastshacl.compiler` — shapes → queries (targets, paths, counts, value conditions,
  pairs, ``sh:closed``, ``sh:uniqueLang``, ``sh:sparql`` with ``$this`` pre-bound by a join);
* :mod:`~kg.fastshacl.runner` — the queries on a thread pool, rows → results;
* :mod:`~kg.fastshacl.fallback` — what the compiler cannot compile, shape by shape, by pySHACL.

Before anything runs, the shapes graph is checked (:func:`kg.shacl.shapes.check_shapes`): SPARQL
that SHACL forbids (``MINUS``, ``VALUES``, ``SERVICE``, sub-queries, assigning a pre-bound
variable) is refused, so a query in a shape never reaches the network. A root shape the compiler
does not handle — SPARQL-based constraint components, property shapes inside logical or
qualified shapes, ``sh:qualifiedValueShapesDisjoint``, ``$this`` inside a nested group or
``UNION``, unknown ``sh:`` terms — is validated by pySHACL, and the report says so
(:attr:`~kg.shacl.report.Report.notes`); nothing is skipped.

Known limits of the compiled path: ``sh:sparql`` queries see literals in the store's canonical
form (their reported values are mapped back to the files' form); ``sh:equals`` compares stored
forms (``"1.0"`` and ``"1.00"`` of ``xsd:decimal`` are equal there).

Examples
--------
>>> report = validate()
>>> report.conforms, report.triples > 3000
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import rdflib

from kg.fastshacl import fallback
from kg.fastshacl.compiler import Check, Compiled, compile_shapes
from kg.fastshacl.dataset import Dataset
from kg.fastshacl.expr import Unsupported
from kg.fastshacl.runner import Run, execute
from kg.load import data_sources, expand, ontology_sources
from kg.shacl.report import Report, copy_path, describe, shape_name, sort_key
from kg.shacl.shapes import check_shapes, load_shapes

__all__ = ["Check", "Compiled", "Dataset", "Unsupported", "compile_shapes", "validate", "validate_dataset"]


def validate_dataset(data: Dataset, shapes: rdflib.Graph | None = None) -> Report:
    """Validate a loaded :class:`Dataset` with the shapes (default: the project's).

    Raises
    ------
    kg.shacl.shapes.ShapesError
        The shapes break a rule of the SHACL specification (nothing has run).
    """
    shapes = shapes if shapes is not None else load_shapes()
    check_shapes(shapes)
    run = Run(data, shapes)
    if data.collisions:
        slow = fallback.run(data.files, shapes, None, run.names)
        note = ("two literals the files keep apart are one in Oxigraph's store (e.g. \"1\" and \"01\"^^xsd:integer "
                "of one property): validated with pySHACL")
        return Report(results=slow.results, triples=slow.triples, records=slow.records, context=slow.context,
                      notes=(note,))
    compiled = compile_shapes(shapes, data)
    execute(run, compiled.checks)
    context = rdflib.Graph()
    data.describe([n for r in run.records for n in (r.focus, r.value) if n is not None], context)
    describe(shapes, [n for r in run.records for n in (r.shape, r.constraint) if n is not None], context)
    paths: dict[rdflib.term.Node, rdflib.term.Node] = {}
    records = set()
    for r in run.records:
        if isinstance(r.path, rdflib.BNode):
            if r.path not in paths:
                paths[r.path] = copy_path(shapes, r.path, context)
            r = replace(r, path=paths[r.path])
        records.add(r)
    results = set(run.results)
    notes = tuple(f"{shape_name(shapes, s)} is validated by pySHACL: {why}" for s, why in compiled.fallback.items())
    if compiled.fallback:
        slow = fallback.run(data.files, shapes, list(compiled.fallback), run.names)
        results |= set(slow.results)
        records |= set(slow.records)
        if slow.context is not None:
            context += slow.context
    return Report(results=tuple(sorted(results, key=sort_key)), triples=data.triples(),
                  records=tuple(records), context=context, notes=notes)


def validate(paths: Sequence[Path | str] | None = None) -> Report:
    """Load the ontology and data (default ``graph_data/``) with Oxigraph and validate them.

    Raises
    ------
    kg.errors.TurtleSyntaxError
        If a file does not parse.
    """
    files = ontology_sources() + (expand(paths) if paths else data_sources())
    return validate_dataset(Dataset(files))
