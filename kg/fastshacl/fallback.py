"""The shapes the compiler leaves to pySHACL, run over the same files parsed by rdflib.

Only the shapes in :attr:`kg.fastshacl.compiler.Compiled.fallback` are run (the other shapes'
targets are left out of pySHACL's copy of the shapes graph), so one unusual shape costs an
rdflib parse of the data and pySHACL's time for that shape alone, and the rest of the run stays
compiled. The rdflib graph keeps literals as written, as the compiled checks do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import rdflib
from rdflib.term import Node

from kg.fastshacl.runner import quiet_rdflib
from kg.load import Loaded
from kg.shacl import pyshacl_engine
from kg.shacl.report import Report
from kg.shacl.shapes import as_written

__all__ = ["run"]

_DATASETS = {".nq": "nquads", ".trig": "trig"}


def run(files: Sequence[Path], shapes: rdflib.Graph, only: Collection[Node] | None, names: rdflib.Graph) -> Report:
    """pySHACL's report on *files* for the shapes *only* (all shapes when None)."""
    loaded = Loaded()
    with as_written(), quiet_rdflib():
        for f in dict.fromkeys(files):
            fmt = _DATASETS.get(f.suffix.lower())
            if fmt is None:
                loaded.add(f)
                continue
            ds = rdflib.Dataset()  # a dataset file (kg import rs): the union of its graphs
            ds.parse(f, format=fmt)
            for s, p, o, _ in ds.quads((None, None, None, None)):
                loaded.graph.add((s, p, o))
                loaded.origins.setdefault(s, f)
            loaded.files.append(f)
    return pyshacl_engine.run(loaded.graph, shapes, origins=loaded.origins, only=only, names=names)
