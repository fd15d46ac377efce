"""Validate the graph against the SHACL shapes with pySHACL.

Examples
--------
>>> report = validate()
>>> report.conforms
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyshacl
import rdflib
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from kg.errors import KGError
from kg.load import Loaded, _bound, load, parse, shapes_sources

__all__ = ["Report", "Result", "load_shapes", "validate", "validate_graph"]


@dataclass(frozen=True)
class Result:
    """One SHACL validation result, with the file its focus node was described in."""

    severity: str
    focus: str
    path: str | None
    message: str
    shape: str
    value: str | None
    file: str | None

    def format(self) -> str:
        """One readable block: severity, file, focus node, path, message."""
        where = f"{self.file}: " if self.file else ""
        lines = [f"{self.severity}: {where}{self.focus}"]
        if self.path:
            lines.append(f"  path:    {self.path}")
        if self.value:
            lines.append(f"  value:   {self.value}")
        lines.append(f"  message: {self.message}")
        lines.append(f"  shape:   {self.shape}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Report:
    """The outcome of a validation run."""

    results: tuple[Result, ...]
    triples: int

    @property
    def violations(self) -> tuple[Result, ...]:
        """Results of severity Violation."""
        return tuple(r for r in self.results if r.severity == "Violation")

    @property
    def warnings(self) -> tuple[Result, ...]:
        """Results of severity Warning or Info."""
        return tuple(r for r in self.results if r.severity != "Violation")

    @property
    def conforms(self) -> bool:
        """True when there is no violation (warnings allowed)."""
        return not self.violations

    def format(self) -> str:
        """The whole report as text, violations first."""
        blocks = [r.format() for r in self.violations + self.warnings]
        summary = (
            f"{len(self.violations)} violation(s), {len(self.warnings)} warning(s) in {self.triples} triples"
        )
        return "\n\n".join([*blocks, summary])


def load_shapes(paths: Sequence[Path] | None = None) -> rdflib.Graph:
    """Parse the shapes files (default: ``ontology/shapes*.ttl``) into one graph."""
    g = _bound(rdflib.Graph())
    g.bind("sh", str(SH))
    for p in paths or shapes_sources():
        g += parse(p)
    return g


def _short(graph: rdflib.Graph, node: Node | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, rdflib.URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:  # noqa: BLE001 - rdflib raises bare exceptions for unprefixable IRIs
            return str(node)
    if isinstance(node, rdflib.BNode):
        # a path expression or an anonymous shape: show it in Turtle-ish form
        return "[ ... ]"
    return node.n3(graph.namespace_manager)


def _shape_name(shapes: rdflib.Graph, shape: Node | None) -> str:
    """The IRI of the shape, or of the node shape that holds an anonymous property shape."""
    if isinstance(shape, rdflib.BNode):
        parent = shapes.value(predicate=SH.property, object=shape) or shapes.value(predicate=SH.sparql, object=shape)
        return _short(shapes, parent) or "[ ... ]"
    return _short(shapes, shape) or ""


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def validate_graph(loaded: Loaded, shapes: rdflib.Graph | None = None) -> Report:
    """Validate an already loaded graph.

    Parameters
    ----------
    loaded : Loaded
        The ontology and data (see :func:`kg.load.load`).
    shapes : rdflib.Graph, optional
        Shapes graph; default the project's shapes.
    """
    shapes = shapes if shapes is not None else load_shapes()
    _, results_graph, _ = pyshacl.validate(
        loaded.graph,
        shacl_graph=shapes,
        inference="none",
        advanced=True,
        allow_warnings=True,
        abort_on_first=False,
    )
    if not isinstance(results_graph, rdflib.Graph):  # pyshacl returns a failure object for bad shapes
        raise KGError(f"the shapes could not be used: {results_graph}")
    out: list[Result] = []
    for r in results_graph.subjects(RDF.type, SH.ValidationResult):
        focus = results_graph.value(r, SH.focusNode)
        sev = results_graph.value(r, SH.resultSeverity)
        path = results_graph.value(r, SH.resultPath)
        if isinstance(path, rdflib.BNode):
            inv = results_graph.value(path, SH.inversePath)
            path_s = f"^{_short(loaded.graph, inv)}" if inv is not None else "[ ... ]"
        else:
            path_s = _short(loaded.graph, path)
        origin = loaded.origins.get(focus) if focus is not None else None
        out.append(
            Result(
                severity=str(sev).rsplit("#", 1)[-1] if sev else "Violation",
                focus=_short(loaded.graph, focus) or "",
                path=path_s,
                message=str(results_graph.value(r, SH.resultMessage) or ""),
                shape=_shape_name(shapes, results_graph.value(r, SH.sourceShape)),
                value=_short(loaded.graph, results_graph.value(r, SH.value)),
                file=_display(origin) if origin else None,
            )
        )
    out.sort(key=lambda x: (x.severity != "Violation", x.file or "", x.focus, x.path or "", x.message))
    return Report(results=tuple(out), triples=len(loaded.graph))


def validate(paths: Sequence[Path | str] | None = None) -> Report:
    """Load the ontology and data (default ``graph_data/``) and validate them.

    Raises
    ------
    kg.errors.TurtleSyntaxError
        If a file does not parse.
    """
    return validate_graph(load(paths))
