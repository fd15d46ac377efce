"""The validation report both engines return.

A :class:`Report` holds two views of the same results:

* :attr:`Report.results` — :class:`Result`, the human view (compact names, the file a focus node
  was described in), printed by ``kg validate``;
* :attr:`Report.records` — :class:`Record`, the terms of a SHACL ``sh:ValidationResult``
  (focus node, path, value, source shape, constraint component, severity, message), written as a
  standard ``sh:ValidationReport`` graph by :meth:`Report.to_graph`. Blank nodes in records (a
  path, an anonymous shape, a blank focus node) are described by :attr:`Report.context`, so the
  report graph can be read on its own, as pySHACL's can.

``conforms`` follows the specification: true only when there is no result at all, of any
severity. The project's policy that warnings do not fail a run is :attr:`Report.violations` (the
CLI's exit code), not a change to ``conforms``.

Examples
--------
>>> from rdflib import URIRef
>>> r = Record(focus=URIRef("http://e/a"), path=None, value=None, shape=URIRef("http://e/S"),
...            component=SH.ClassConstraintComponent, severity=SH.Warning, message="m")
>>> report = Report(results=(), triples=1, records=(r,))
>>> report.conforms, report.violations
(False, ())
>>> g = report.to_graph()
>>> g.value(g.value(predicate=RDF.type, object=SH.ValidationReport), SH.conforms).toPython()
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rdflib
from rdflib.namespace import RDF, SH, XSD
from rdflib.term import BNode, Literal, Node, URIRef

__all__ = ["SEVERITY_NAMES", "Record", "Report", "Result", "copy_path", "describe", "display_path", "path_text", "shape_name", "short"]

SEVERITY_NAMES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}
"""The human name of each standard severity (other severities show their local name)."""


def severity_name(severity: Node | None) -> str:
    """``Violation`` for ``sh:Violation`` (and for no severity), else the IRI's local name."""
    if severity is None:
        return "Violation"
    if isinstance(severity, URIRef) and severity in SEVERITY_NAMES:
        return SEVERITY_NAMES[severity]
    return str(severity).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


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
class Record:
    """One ``sh:ValidationResult`` as RDF terms."""

    focus: Node
    path: Node | None
    value: Node | None
    shape: Node
    component: Node
    severity: Node
    message: str | None = None
    constraint: Node | None = None
    """``sh:sourceConstraint``: the ``sh:sparql`` constraint that gave the result."""


@dataclass(frozen=True)
class Report:
    """The outcome of a validation run.

    Parameters
    ----------
    results : tuple of Result
        The human view, sorted (violations first).
    triples : int
        Distinct triples validated.
    records : tuple of Record
        The standard view.
    context : rdflib.Graph, optional
        Triples describing the blank nodes of *records*.
    notes : tuple of str
        Notes for the reader (printed on stderr by ``kg validate``).
    """

    results: tuple[Result, ...]
    triples: int
    records: tuple[Record, ...] = ()
    context: rdflib.Graph | None = field(default=None, compare=False, repr=False)
    notes: tuple[str, ...] = ()
    """How the run went where it matters to the reader (e.g. shapes handed to pySHACL, and why)."""

    @property
    def violations(self) -> tuple[Result, ...]:
        """Results of severity Violation (what makes ``kg validate`` exit with 1)."""
        return tuple(r for r in self.results if r.severity == "Violation")

    @property
    def warnings(self) -> tuple[Result, ...]:
        """Results of any other severity (Warning, Info)."""
        return tuple(r for r in self.results if r.severity != "Violation")

    @property
    def conforms(self) -> bool:
        """``sh:conforms``: true only when there is no result of any severity."""
        return not self.results and not self.records

    def format(self) -> str:
        """The whole report as text, violations first."""
        blocks = [r.format() for r in self.violations + self.warnings]
        summary = (
            f"{len(self.violations)} violation(s), {len(self.warnings)} warning(s) in {self.triples} triples"
        )
        return "\n\n".join([*blocks, summary])

    def to_graph(self) -> rdflib.Graph:
        """The report as a ``sh:ValidationReport`` graph (the blank nodes it names described too)."""
        g = rdflib.Graph()
        g.bind("sh", str(SH))
        report = BNode()
        g.add((report, RDF.type, SH.ValidationReport))
        g.add((report, SH.conforms, Literal(self.conforms)))
        for rec in sorted(set(self.records), key=_record_key):
            node = BNode()
            g.add((report, SH.result, node))
            g.add((node, RDF.type, SH.ValidationResult))
            g.add((node, SH.focusNode, rec.focus))
            if rec.path is not None:
                g.add((node, SH.resultPath, rec.path))
            if rec.value is not None:
                g.add((node, SH.value, rec.value))
            g.add((node, SH.sourceShape, rec.shape))
            g.add((node, SH.sourceConstraintComponent, rec.component))
            g.add((node, SH.resultSeverity, rec.severity))
            if rec.message:
                g.add((node, SH.resultMessage, Literal(rec.message)))
            if rec.constraint is not None:
                g.add((node, SH.sourceConstraint, rec.constraint))
        if self.context is not None:
            for t in self.context:
                g.add(t)
        return g

    def serialize(self, format: str = "turtle") -> str:
        """The report graph as ``turtle`` or ``json`` (JSON-LD).

        Literals are written as the data wrote them: an ill-typed ``"none"^^xsd:boolean`` stays
        quoted (rdflib would print a bare ``none``, which is not Turtle).
        """
        g = self.to_graph()
        if format == "json":
            return g.serialize(format="json-ld")
        original = Literal._literal_n3

        def n3(lit: Literal, use_plain: bool = False, qname_callback: Any = None) -> str:
            rule = _BARE.get(lit.datatype) if use_plain and lit.datatype is not None else None
            if rule is not None and not (rule.fullmatch(str(lit)) and lit.value is not None
                                         and str(Literal(lit.value, datatype=lit.datatype, normalize=True)) == str(lit)):
                use_plain = False  # a parser would read a bare 01 as 1
            return original(lit, use_plain=use_plain, qname_callback=qname_callback)

        Literal._literal_n3 = n3  # type: ignore[method-assign,assignment]
        try:
            return g.serialize(format="turtle")
        finally:
            Literal._literal_n3 = original  # type: ignore[method-assign]


_BARE = {
    # the Turtle grammar of literals written without quotes
    XSD.integer: re.compile(r"[+-]?[0-9]+"),
    XSD.decimal: re.compile(r"[+-]?[0-9]*\.[0-9]+"),
    XSD.double: re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)[eE][+-]?[0-9]+"),
    XSD.boolean: re.compile(r"true|false"),
}


def _record_key(r: Record) -> tuple[str, ...]:
    return tuple(str(x) for x in (r.focus, r.shape, r.component, r.path, r.value, r.severity, r.message))


def describe(graph: rdflib.Graph, nodes: Iterable[Node], into: rdflib.Graph) -> None:
    """Copy into *into* the triples of *graph* that describe each blank node of *nodes*, recursively."""
    todo = [n for n in nodes if isinstance(n, BNode)]
    seen: set[Node] = set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        for p, o in graph.predicate_objects(n):
            into.add((n, p, o))
            if isinstance(o, BNode):
                todo.append(o)


def copy_path(shapes: rdflib.Graph, node: Node, into: rdflib.Graph) -> Node:
    """A copy in *into* of the SHACL path *node* as it is read (a list is a sequence, even with more triples)."""
    if not isinstance(node, BNode):
        return node
    if (node, RDF.first, None) in shapes:
        items = [copy_path(shapes, i, into) for i in shapes.items(node)]
        head: Node = RDF.nil
        for item in reversed(items):
            cell = BNode()
            into.add((cell, RDF.first, item))
            into.add((cell, RDF.rest, head))
            head = cell
        return head
    out = BNode()
    for pred in (SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath, SH.alternativePath):
        inner = shapes.value(node, pred)
        if inner is not None:
            into.add((out, pred, copy_path(shapes, inner, into)))
            return out
    return node


def short(graph: rdflib.Graph, node: Node | None) -> str | None:
    """*node* in compact form with *graph*'s prefixes (``[ ... ]`` for a blank node)."""
    if node is None:
        return None
    if isinstance(node, URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:  # noqa: BLE001 - rdflib raises bare exceptions for unprefixable IRIs
            return str(node)
    if isinstance(node, BNode):
        # a path expression or an anonymous shape: show it in Turtle-ish form
        return "[ ... ]"
    return node.n3(graph.namespace_manager)


def shape_name(shapes: rdflib.Graph, shape: Node | None) -> str:
    """The IRI of the shape, or of the node shape that holds an anonymous property shape."""
    if isinstance(shape, BNode):
        parent = shapes.value(predicate=SH.property, object=shape) or shapes.value(predicate=SH.sparql, object=shape)
        return short(shapes, parent) or "[ ... ]"
    return short(shapes, shape) or ""


def path_text(names: rdflib.Graph, path: Node | None, shapes: rdflib.Graph) -> str | None:
    """A result path as the human report prints it (``^p`` for an inverse path)."""
    if path is None:
        return None
    if isinstance(path, BNode):
        inv = shapes.value(path, SH.inversePath)
        return f"^{short(names, inv)}" if inv is not None else "[ ... ]"
    return short(names, path)


def display_path(path: Path) -> str:
    """*path* relative to the working folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def sort_key(r: Result) -> tuple[bool, str, str, str, str]:
    """Violations first, then by file, focus node, path and message."""
    return (r.severity != "Violation", r.file or "", r.focus, r.path or "", r.message)
