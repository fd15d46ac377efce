"""Validate a graph against SHACL shapes, with one of two engines.

``fast`` (the default) compiles the shapes to SPARQL run on pyoxigraph (:mod:`kg.fastshacl`),
handing the shapes it does not compile to pySHACL; ``pyshacl`` runs pySHACL on an rdflib graph.
Both return the same :class:`~kg.shacl.report.Report`; the tests compare them result by result,
and ``tests/conformance/test_w3c_shacl.py`` runs both on the W3C SHACL test suite.

Examples
--------
>>> report = validate()
>>> report.conforms
True
>>> validate(engine="pyshacl").results == report.results
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import rdflib

from kg.errors import KGError, UnknownName
from kg.load import Loaded, expand, load
from kg.shacl import pyshacl_engine
from kg.shacl.report import Record, Report, Result
from kg.shacl.shapes import ShapesError, as_written, load_shapes

__all__ = ["ENGINES", "Record", "Report", "Result", "ShapesError", "load_shapes", "validate", "validate_graph"]

ENGINES = ("fast", "pyshacl")
"""The validation engines: SHACL compiled to SPARQL on pyoxigraph, and pySHACL on rdflib."""


def validate_graph(loaded: Loaded, shapes: rdflib.Graph | None = None) -> Report:
    """Validate an already loaded graph with pySHACL.

    Parameters
    ----------
    loaded : Loaded
        The ontology and data (see :func:`kg.load.load`).
    shapes : rdflib.Graph, optional
        Shapes graph; default the project's shapes.
    """
    shapes = shapes if shapes is not None else load_shapes()
    return pyshacl_engine.run(loaded.graph, shapes, origins=loaded.origins)


def validate(paths: Sequence[Path | str] | None = None, *, engine: str = "fast",
             shapes: Sequence[Path | str] | None = None) -> Report:
    """Load data and validate it.

    Parameters
    ----------
    paths : sequence of path-like, optional
        Data files or folders; default ``graph_data/``.
    engine : {"fast", "pyshacl"}
        ``fast`` compiles the shapes to SPARQL on pyoxigraph (:mod:`kg.fastshacl`, seconds at a
        million triples); ``pyshacl`` runs pySHACL on rdflib (minutes at that size).
    shapes : sequence of path-like, optional
        Shapes files. Default: the project's shapes, and the data is the project's ontology and
        vocabularies plus *paths*. With shapes given, the data is *paths* alone (any graph with
        any shapes).

    Raises
    ------
    kg.errors.TurtleSyntaxError
        If a file does not parse.
    kg.errors.UnknownName
        If *engine* is not one of :data:`ENGINES`.
    kg.shacl.shapes.ShapesError
        The shapes break a rule of the SHACL specification.
    """
    if engine not in ENGINES:
        raise UnknownName("validation engine", engine, list(ENGINES))
    if shapes and not paths:
        raise KGError("name the data files to validate with these shapes: kg validate DATA… --shapes SHAPES…")
    shapes_graph = load_shapes(expand(shapes)) if shapes else None
    if engine == "fast":
        from kg import fastshacl

        if shapes_graph is None:
            return fastshacl.validate(paths)
        return fastshacl.validate_dataset(fastshacl.Dataset(expand(paths or [])), shapes_graph)
    with as_written():
        loaded = load(paths) if shapes_graph is None else load(expand(paths or []), ontology=False)
    return validate_graph(loaded, shapes_graph)
