"""Validate with the SHACL shapes compiled to SPARQL and run on pyoxigraph.

pySHACL walks the graph in Python, focus node by focus node, and runs each ``sh:sparql``
constraint once per focus node; at a million triples that takes minutes. This engine reads the
same shapes (``ontology/shapes*.ttl``) and compiles each constraint into one SPARQL query over all
focus nodes at once, run by Oxigraph on a store parsed by Oxigraph. It returns the same
:class:`kg.validate.Result` records as :func:`kg.validate.validate_graph`; ``tests/integration/
test_fastshacl.py`` compares both engines result by result.

How constraints become queries
------------------------------
* Targets (``sh:targetClass`` with its ``rdfs:subClassOf`` closure in the data, ``sh:targetNode``,
  ``sh:targetSubjectsOf``, ``sh:targetObjectsOf``) become a group pattern binding ``?this``.
* Paths (predicate, ``sh:inversePath``, ``sh:alternativePath``, sequences, ``sh:zeroOrMorePath``,
  ``sh:oneOrMorePath``, ``sh:zeroOrOnePath``) become SPARQL property paths.
* ``sh:minCount`` / ``sh:maxCount`` and ``sh:qualifiedValueShape`` with
  ``sh:qualifiedMinCount`` / ``sh:qualifiedMaxCount`` become ``FILTER NOT EXISTS`` or
  ``GROUP BY … HAVING (COUNT(DISTINCT ?value) …)``.
* Value constraints (``sh:class``, ``sh:datatype``, ``sh:nodeKind``, ``sh:in``, ``sh:hasValue``,
  ``sh:pattern``, ``sh:languageIn``, ``sh:minInclusive`` … ``sh:maxExclusive``, and ``sh:and``,
  ``sh:or``, ``sh:not``, ``sh:xone``, ``sh:node`` over them) become a FILTER that selects
  *candidate* violations — a superset, cheap to compute. Each candidate is then decided in Python
  with pySHACL's own rules on an rdflib term, so the edge cases agree: a plain literal is an
  ``xsd:string`` for Oxigraph but untyped for rdflib, and pySHACL rejects ill-typed literals
  (``"abc"^^xsd:integer``) by converting them with rdflib.
* ``sh:lessThan``, ``sh:lessThanOrEquals``, ``sh:disjoint`` and ``sh:equals`` compare with the
  values of the other property, again through a candidate filter and pySHACL's comparison.
* ``sh:sparql`` SELECT constraints are run once, with the target pattern put first in the outer
  ``WHERE`` group and ``$this`` renamed ``?this`` (the pre-binding of SHACL-SPARQL, for all focus
  nodes at once); their ``sh:prefixes`` declarations become ``PREFIX`` lines.

Anything else in the shapes (``sh:closed``, ``sh:uniqueLang``, ``sh:property`` inside a value
shape, nested ``SELECT`` in a constraint …) raises :class:`Unsupported` instead of being skipped,
so the engine never passes a graph it did not check: use ``kg validate --engine pyshacl`` then.

Each file is loaded into a named graph of its own and the queries run on the union of them, so the
file a focus node was described in is a cheap look-up, done only for the nodes in results.

Known differences, none of them reached by the project's shapes: Oxigraph writes numeric literals
in canonical form (``"01"^^xsd:integer`` is ``"1"``), which a ``sh:pattern`` on a number or an
``sh:in`` of number literals would see; ``sh:pattern`` uses Oxigraph's regular expressions to
select candidates, so a pattern the two regex dialects read differently could miss one.

Examples
--------
>>> report = validate()
>>> report.conforms, report.triples > 3000
(True, True)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import BNode, Literal, Node, URIRef

from kg.errors import KGError
from kg.load import _bound, check_syntax, data_sources, expand, ontology_sources
from kg.store import _from_ox
from kg.validate import Report, Result, _display, _shape_name, _short, load_shapes

__all__ = ["Dataset", "Unsupported", "compile_shapes", "validate", "validate_dataset"]

log = logging.getLogger(__name__)


class Unsupported(KGError, NotImplementedError):
    """The shapes use a SHACL feature this engine does not compile; use the pySHACL engine."""


# ---------------------------------------------------------------- the data

class Dataset:
    """Turtle files parsed by Oxigraph, each into a named graph of its own.

    Parameters
    ----------
    files : sequence of path-like
        Files in load order (the first file describing a node is its origin).

    Raises
    ------
    kg.errors.TurtleSyntaxError
        A file does not parse (with its line and column).
    """

    def __init__(self, files: Sequence[Path | str]) -> None:
        self.files = [Path(f) for f in files]
        self.store = ox.Store()
        self.graphs: list[ox.NamedNode] = []
        self.sizes: dict[ox.NamedNode, int] = {}
        for f in self.files:
            graph = ox.NamedNode(f.resolve().as_uri())
            if graph in self.sizes:  # the same file twice adds nothing
                continue
            before = len(self.store)
            try:
                self.store.load(path=str(f), format=ox.RdfFormat.TURTLE, base_iri=graph.value, to_graph=graph)
            except (SyntaxError, ValueError, OSError):
                check_syntax(f)  # raises TurtleSyntaxError with file:line:column (or KGError)
                raise
            self.graphs.append(graph)
            self.sizes[graph] = len(self.store) - before
        self._rank: dict[object, int] = {g: i for i, g in enumerate(self.graphs)}

    def query(self, sparql: str) -> ox.QuerySolutions:
        """Run a SELECT on the union of the files."""
        result = self.store.query(sparql, use_default_graph_as_union=True)
        if not isinstance(result, ox.QuerySolutions):  # pragma: no cover - the engine only writes SELECTs
            raise TypeError("expected a SELECT query")
        return result

    def triples(self) -> int:
        """Distinct triples over all files (a triple stated in two files counts once)."""
        total = len(self.store)
        order = sorted(self.graphs, key=lambda g: -self.sizes[g])
        rank: dict[object, int] = {g: i for i, g in enumerate(order)}
        duplicates = 0
        for g in order[1:]:  # every graph but the largest: is the triple in a larger one too?
            for q in self.store.quads_for_pattern(None, None, None, g):
                for other in self.store.quads_for_pattern(q.subject, q.predicate, q.object, None):
                    if rank[other.graph_name] < rank[g]:
                        duplicates += 1
                        break
        return total - duplicates

    def origin(self, term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Path | None:
        """The first file (in load order) with *term* as a subject."""
        if isinstance(term, ox.Literal):
            return None
        best: int | None = None
        for q in self.store.quads_for_pattern(term, None, None, None):
            r = self._rank.get(q.graph_name)
            if r is not None and (best is None or r < best):
                best = r
        return self.files[best] if best is not None else None

    def is_instance(self, term: ox.NamedNode | ox.BlankNode | ox.Literal, cls: str) -> bool:
        """``term rdf:type/rdfs:subClassOf* cls`` in the data (pySHACL's ``sh:class`` test)."""
        if isinstance(term, ox.Literal):
            return False
        seen: set[str] = set()
        todo = [q.object for q in self.store.quads_for_pattern(term, _OX_TYPE, None, None)]
        while todo:
            c = todo.pop()
            if not isinstance(c, ox.NamedNode | ox.BlankNode) or str(c) in seen:
                continue
            if isinstance(c, ox.NamedNode) and c.value == cls:
                return True
            seen.add(str(c))
            todo.extend(q.object for q in self.store.quads_for_pattern(c, _OX_SUBCLASS, None, None))
        return False


_Term = ox.NamedNode | ox.BlankNode | ox.Literal
OWL_CLASS = URIRef("http://www.w3.org/2002/07/owl#Class")
_OX_TYPE = ox.NamedNode(str(RDF.type))
_OX_SUBCLASS = ox.NamedNode(str(RDFS.subClassOf))


# ---------------------------------------------------------------- SPARQL text

def _iri(node: Node) -> str:
    if not isinstance(node, URIRef):
        raise Unsupported(f"expected an IRI in the shapes, got {node!r}")
    text = str(node)
    if re.search(r'[\s<>"{}|^`\\]', text):
        raise Unsupported(f"IRI {text!r} cannot be written in SPARQL")
    return f"<{text}>"


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _term(node: Node) -> str:
    """A shapes-graph term as SPARQL text (IRIs and literals; blank nodes cannot be written)."""
    if isinstance(node, URIRef):
        return _iri(node)
    if isinstance(node, Literal):
        if node.language:
            return f"{_string(str(node))}@{node.language}"
        if node.datatype is not None:
            return f"{_string(str(node))}^^{_iri(node.datatype)}"
        return _string(str(node))
    raise Unsupported(f"a blank node ({node!r}) cannot be used as a value in a compiled constraint")


def _list(shapes: rdflib.Graph, node: Node) -> list[Node]:
    return list(shapes.items(node))


def _path(shapes: rdflib.Graph, node: Node) -> str:
    """A SHACL path as a SPARQL property path."""
    if isinstance(node, URIRef):
        return _iri(node)
    if (node, RDF.first, None) in shapes:
        return "(" + "/".join(_path(shapes, p) for p in _list(shapes, node)) + ")"
    for pred, fmt in ((SH.inversePath, "^({})"), (SH.zeroOrMorePath, "({})*"), (SH.oneOrMorePath, "({})+"),
                      (SH.zeroOrOnePath, "({})?")):
        inner = shapes.value(node, pred)
        if inner is not None:
            return fmt.format(_path(shapes, inner))
    alt = shapes.value(node, SH.alternativePath)
    if alt is not None:
        return "(" + "|".join(_path(shapes, p) for p in _list(shapes, alt)) + ")"
    raise Unsupported(f"unknown SHACL path {node!r}")


def _path_text(names: rdflib.Graph, path: Node | None, shapes: rdflib.Graph) -> str | None:
    """The result path as :func:`kg.validate.validate_graph` prints it."""
    if path is None:
        return None
    if isinstance(path, BNode):
        inv = shapes.value(path, SH.inversePath)
        return f"^{_short(names, inv)}" if inv is not None else "[ ... ]"
    return _short(names, path)


# ---------------------------------------------------------------- value expressions

_STRICT = {
    # lexical forms every one of which rdflib converts to the right Python type (a subset of valid)
    str(XSD.integer): r"^[+-]?[0-9]+$",
    str(XSD.decimal): r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
    str(XSD.boolean): r"^(true|false|1|0)$",
    str(XSD.double): r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",
    str(XSD.float): r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",
}
_UNCHECKED = {
    # datatypes whose lexical form neither rdflib nor pySHACL checks: the datatype IRI decides
    str(XSD.string), str(RDF.langString), str(XSD.gYear), str(XSD.gYearMonth), str(XSD.anyURI),
}
_NODE_KINDS = {
    SH.IRI: "isIRI({v})",
    SH.BlankNode: "isBlank({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "(isIRI({v}) || isBlank({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
_RANGES = {SH.minInclusive: ">=", SH.minExclusive: ">", SH.maxInclusive: "<=", SH.maxExclusive: "<"}
_VALUE_KEYS = (SH["class"], SH.datatype, SH.nodeKind, SH["in"], SH.hasValue, SH.pattern, SH.languageIn,
               SH.minInclusive, SH.minExclusive, SH.maxInclusive, SH.maxExclusive, SH["and"], SH["or"],
               SH["not"], SH.xone, SH.node)


@dataclass(frozen=True)
class Expr:
    """A condition on one value node: an atom (``kind`` a SHACL parameter) or ``and``/``or``/``not``/``xone``."""

    kind: str
    arg: Any = None
    flags: str | None = None
    args: tuple[Expr, ...] = ()
    classes: tuple[str, ...] = ()
    """For ``class``: the class and its subclasses in the data."""

    # -- SPARQL: (under, over) — under true ⇒ conforms; over false ⇒ does not conform
    def sparql(self, v: str) -> tuple[str, str]:
        k = self.kind
        if k in ("and", "or"):
            parts = [a.sparql(v) for a in self.args]
            op = " && " if k == "and" else " || "
            if not parts:
                return ("true", "true") if k == "and" else ("false", "false")
            return "(" + op.join(p[0] for p in parts) + ")", "(" + op.join(p[1] for p in parts) + ")"
        if k == "not":
            under, over = self.args[0].sparql(v)
            return f"(!{over})", f"(!{under})"
        if k == "xone":
            parts = [a.sparql(v) for a in self.args]
            n_under = " + ".join(f"IF({p[0]}, 1, 0)" for p in parts) or "0"
            n_over = " + ".join(f"IF({p[1]}, 1, 0)" for p in parts) or "0"
            return f"(({n_under}) = 1 && ({n_over}) = 1)", f"(({n_under}) <= 1 && ({n_over}) >= 1)"
        exact, loose = self._atom(v)
        return f"COALESCE({exact}, false)", f"COALESCE({loose}, false)"

    def _atom(self, v: str) -> tuple[str, str]:
        k, arg = self.kind, self.arg
        if k == "class":
            classes = " ".join(f"<{c}>" for c in self.classes or (str(arg),))
            cond = f"EXISTS {{ VALUES ?_c {{ {classes} }} {v} a ?_c }}"
            return cond, cond
        if k == "datatype":
            dt = str(arg)
            if dt == str(RDFS.Literal):
                return f"isLiteral({v})", f"isLiteral({v})"
            same = f"(isLiteral({v}) && DATATYPE({v}) = {_iri(arg)})"
            if dt in _UNCHECKED:
                return same, same
            if dt in _STRICT:
                return f"({same} && REGEX(STR({v}), {_string(_STRICT[dt])}))", same
            return "false", same  # unknown lexical rules: every value is a candidate, decided in Python
        if k == "nodeKind":
            if arg not in _NODE_KINDS:
                raise Unsupported(f"unknown sh:nodeKind {arg!r}")
            cond = _NODE_KINDS[arg].format(v=v)
            return cond, cond
        if k == "in":
            items = list(arg)
            cond = "(" + (" || ".join(f"sameTerm({v}, {_term(i)})" for i in items) or "false") + ")"
            return cond, cond
        if k == "hasValue":
            cond = f"sameTerm({v}, {_term(arg)})"
            return cond, cond
        if k == "pattern":
            flags = f", {_string(self.flags)}" if self.flags else ""
            cond = f"(!isBlank({v}) && REGEX(STR({v}), {_string(str(arg))}{flags}))"
            return cond, cond
        if k == "languageIn":
            langs = [str(x).lower() for x in arg]
            if "*" in langs:
                cond = f'(isLiteral({v}) && LANG({v}) != "")'
            else:
                listed = ", ".join(_string(x) for x in langs)
                cond = (f'(isLiteral({v}) && LANG({v}) != "" && (LCASE(LANG({v})) IN ({listed}) || '
                        f'LCASE(STRBEFORE(CONCAT(LANG({v}), "-"), "-")) IN ({listed})))')
            return cond, cond
        if k in ("minInclusive", "minExclusive", "maxInclusive", "maxExclusive"):
            op = _RANGES[SH[k]]
            cond = f"({v} {op} {_term(arg)})"
            return cond, cond
        raise Unsupported(f"sh:{k}")  # pragma: no cover - _expr only builds the kinds above

    # -- Python: pySHACL's own decision on one value
    def check(self, value: Node, raw: ox.NamedNode | ox.BlankNode | ox.Literal, data: Dataset) -> bool:
        k, arg = self.kind, self.arg
        if k == "and":
            return all(a.check(value, raw, data) for a in self.args)
        if k == "or":
            return any(a.check(value, raw, data) for a in self.args)
        if k == "not":
            return not self.args[0].check(value, raw, data)
        if k == "xone":
            return sum(1 for a in self.args if a.check(value, raw, data)) == 1
        if k == "class":
            return data.is_instance(raw, str(arg))
        if k == "datatype":
            return _datatype_ok(value, arg)
        if k == "nodeKind":
            return {SH.IRI: isinstance(value, URIRef), SH.BlankNode: isinstance(value, BNode),
                    SH.Literal: isinstance(value, Literal),
                    SH.BlankNodeOrIRI: isinstance(value, URIRef | BNode),
                    SH.BlankNodeOrLiteral: isinstance(value, BNode | Literal),
                    SH.IRIOrLiteral: isinstance(value, URIRef | Literal)}[arg]
        if k == "in":
            return value in list(arg)
        if k == "hasValue":
            return bool(value == arg)
        if k == "pattern":
            if isinstance(value, BNode):
                return False
            return re.search(str(arg), _pattern_string(value), _re_flags(self.flags)) is not None
        if k == "languageIn":
            return _language_ok(value, [str(x).lower() for x in arg])
        return _range_ok(value, k, arg)


def _pattern_string(v: Node) -> str:
    if isinstance(v, Literal) and v.value is not None and v.datatype in (None, RDF.langString, XSD.string):
        return str(v.value)
    return str(v)


def _re_flags(flags: str | None) -> int:
    out = 0
    for ch in flags or "":
        out |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(ch, 0)
    return out


def _datatype_ok(v: Node, rule: URIRef) -> bool:
    """pySHACL's DatatypeConstraintComponent on one value."""
    if not isinstance(v, Literal):
        return False
    if v.datatype == rule:
        return v.ill_typed is not True and _actual(v, rule)
    if rule == RDFS.Literal:
        return True
    if rule == RDFS.Datatype and v.datatype:
        return True
    if v.datatype is None and v.language is None and rule == XSD.string:
        return _actual(v, rule)
    return bool(rule == RDF.langString and v.language and _actual(v, rule))


def _actual(v: Literal, rule: URIRef) -> bool:
    value = v.value
    checks: dict[URIRef, type | tuple[type, ...]] = {
        XSD.string: (str, bytes), RDF.langString: (str, bytes), XSD.integer: int, XSD.float: float,
        XSD.decimal: Decimal, XSD.boolean: bool, XSD.date: date, XSD.time: time, XSD.dateTime: datetime,
    }
    return isinstance(value, checks[rule]) if rule in checks else True


def _language_ok(v: Node, langs: list[str]) -> bool:
    if not isinstance(v, Literal) or not v.language:
        return False
    lang = str(v.language).lower()
    return "*" in langs or lang in langs or lang.split("-")[0] in langs


def _range_ok(v: Node, kind: str, bound: Literal) -> bool:
    """pySHACL's min/max inclusive/exclusive components on one value."""
    from pyshacl.rdfutil.compare import compare_literal

    if not isinstance(v, Literal):
        return False
    if isinstance(bound.value, str) != isinstance(v.value, str):
        return False
    try:
        cmp = compare_literal(v, bound)
    except (TypeError, NotImplementedError):
        return False
    return {"minInclusive": cmp >= 0, "minExclusive": cmp > 0, "maxInclusive": cmp <= 0,
            "maxExclusive": cmp < 0}[kind]


def _pair_ok(value: Node, other: Node, kind: str) -> bool:
    """pySHACL's lessThan / lessThanOrEquals on one pair of values."""
    def norm(n: Node) -> tuple[bool, object]:
        if isinstance(n, URIRef):
            return True, str(n)
        if isinstance(n, Literal) and isinstance(n.value, str):
            return True, n.value
        return False, n

    if isinstance(value, BNode) or isinstance(other, BNode):
        return False
    (vs, a), (os_, b) = norm(value), norm(other)
    if vs != os_:
        return False
    try:
        return bool(a < b) if kind == "lessThan" else bool(a <= b)  # type: ignore[operator]
    except TypeError:
        return False


def _expr(shapes: rdflib.Graph, node: Node, closure: dict[str, list[str]],
          seen: frozenset[Node] = frozenset()) -> Expr:
    """The conditions of a value shape (``sh:or`` members, ``sh:not`` … ) as one :class:`Expr`."""
    if node in seen:
        raise Unsupported(f"recursive shape {node!r}")
    seen = seen | {node}
    parts: list[Expr] = []
    for p, o in shapes.predicate_objects(node):
        if p in (RDF.type, SH.message, SH.severity, SH.name, SH.description, SH.deactivated, RDFS.label,
                 RDFS.comment) or not str(p).startswith(str(SH)):
            continue
        if p not in _VALUE_KEYS and p != SH.flags:
            raise Unsupported(f"sh:{str(p)[len(str(SH)):]} inside a value shape ({node!r})")
        parts.extend(_atoms(shapes, node, p, o, closure, seen))
    return parts[0] if len(parts) == 1 else Expr("and", args=tuple(parts))


def _atoms(shapes: rdflib.Graph, shape: Node, p: Node, o: Node, closure: dict[str, list[str]],
           seen: frozenset[Node] = frozenset()) -> list[Expr]:
    name = str(p)[len(str(SH)):]
    if p == SH.flags:
        return []
    if p == SH.pattern:
        flags = shapes.value(shape, SH.flags)
        return [Expr("pattern", str(o), str(flags) if flags is not None else None)]
    if p in (SH["in"], SH.languageIn):
        return [Expr(name, tuple(_list(shapes, o)))]
    if p in (SH["and"], SH["or"], SH.xone):
        return [Expr(name, args=tuple(_expr(shapes, m, closure, seen) for m in _list(shapes, o)))]
    if p == SH["not"]:
        return [Expr("not", args=(_expr(shapes, o, closure, seen),))]
    if p == SH.node:
        return [_expr(shapes, o, closure, seen)]
    if p == SH["class"]:
        return [Expr("class", o, classes=tuple(closure.get(str(o), [str(o)])))]
    return [Expr(name, o)]


# ---------------------------------------------------------------- checks

@dataclass
class Check:
    """One compiled constraint: its query and what its results are."""

    kind: str
    shape: Node
    severity: str
    path: Node | None
    messages: tuple[str, ...]
    query: str
    expr: Expr | None = None
    """For value constraints: the exact test of a candidate ``?value``."""
    pair: str | None = None
    """For lessThan / lessThanOrEquals: compare ``?value`` with ``?other`` in Python."""
    value_is_focus: bool = False
    """For ``sh:sparql`` on a node shape: an unbound ``?value`` reports the focus node."""
    bound: int | None = None
    """For counts: the bound in the generic message."""
    counted: tuple[str, int, Expr] | None = None
    """For qualified counts with inexact value tests: (``min``/``max``, bound, value test)."""
    path_sparql: str = ""


class _Base(TypedDict):
    """What every check of one shape shares."""

    shape: Node
    severity: str
    path: Node | None
    messages: tuple[str, ...]
    path_sparql: str


def _int(node: Node | None) -> int:
    return int(str(node)) if node is not None else 0


_IGNORED = {RDF.type, RDFS.label, RDFS.comment, SH.message, SH.severity, SH.name, SH.description, SH.order,
            SH.group, SH.defaultValue, SH.path, SH.deactivated, SH.targetClass, SH.targetNode,
            SH.targetSubjectsOf, SH.targetObjectsOf, SH.flags, SH.qualifiedMinCount, SH.qualifiedMaxCount,
            SH.qualifiedValueShapesDisjoint, SH.declare, SH.prefixes}


def _severity(shapes: rdflib.Graph, shape: Node) -> str:
    sev = shapes.value(shape, SH.severity)
    return str(sev).rsplit("#", 1)[-1] if sev is not None else "Violation"


def _messages(shapes: rdflib.Graph, node: Node) -> tuple[str, ...]:
    return tuple(sorted(str(m) for m in shapes.objects(node, SH.message)))


class _Compiler:
    def __init__(self, shapes: rdflib.Graph, subclasses: dict[str, list[str]]) -> None:
        self.shapes = shapes
        self.subclasses = subclasses
        self.checks: list[Check] = []

    def target(self, shape: Node) -> str | None:
        g = self.shapes
        parts: list[str] = []
        for i, c in enumerate(g.objects(shape, SH.targetClass)):
            classes = " ".join(f"<{x}>" for x in self.subclasses.get(str(c), [str(c)]))
            parts.append(f"?this a ?_t{i} . VALUES ?_t{i} {{ {classes} }}")
        for n in g.objects(shape, SH.targetNode):
            parts.append(f"VALUES ?this {{ {_term(n)} }}")
        for p in g.objects(shape, SH.targetSubjectsOf):
            parts.append(f"?this {_iri(p)} ?_o")
        for p in g.objects(shape, SH.targetObjectsOf):
            parts.append(f"?_s {_iri(p)} ?this")
        if (shape, RDF.type, RDFS.Class) in g or (shape, RDF.type, OWL_CLASS) in g:
            parts.append(f"?this a <{shape}>")  # implicit class target
        if not parts:
            return None
        if len(parts) == 1 and parts[0].startswith("?this a ?_t"):
            return parts[0]  # one class: duplicates only from a triple stated twice, removed by DISTINCT
        return "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(f"{{ {p} }}" for p in parts) + " } }"

    def root(self, shape: Node) -> None:
        target = self.target(shape)
        if target is not None:
            self.shape(shape, target, self._subjects_of(shape))

    def _subjects_of(self, shape: Node) -> set[Node]:
        """Predicates P with ``sh:targetSubjectsOf P``: every subject with a P value is a focus node."""
        return set(self.shapes.objects(shape, SH.targetSubjectsOf))

    def shape(self, shape: Node, target: str, subjects_of: set[Node]) -> None:
        g = self.shapes
        if (shape, SH.deactivated, Literal(True)) in g:
            return
        path = g.value(shape, SH.path)
        sev = _severity(g, shape)
        msgs = _messages(g, shape)
        if path is not None:
            p = _path(g, path)
            # a value of a targetSubjectsOf predicate always belongs to a focus node
            scope = "" if isinstance(path, URIRef) and path in subjects_of else target
            values = f"{scope} ?this {p} ?value ."
        else:
            p = ""
            values = f"{target} BIND (?this AS ?value)"
        base = _Base(shape=shape, severity=sev, path=path, messages=msgs, path_sparql=p)
        preds = set(g.predicates(shape))
        for pred in preds:
            if not str(pred).startswith(str(SH)) or pred in _IGNORED:
                continue
            if pred in _VALUE_KEYS or pred in (SH.minCount, SH.maxCount, SH.qualifiedValueShape, SH.property,
                                                SH.sparql, SH.lessThan, SH.lessThanOrEquals, SH.disjoint,
                                                SH.equals):
                continue
            raise Unsupported(f"sh:{str(pred)[len(str(SH)):]} (in shape {shape!r}) is not compiled by the fast "
                              "engine; validate with --engine pyshacl")
        # value constraints: one candidate query each
        for pred in _VALUE_KEYS:
            for o in g.objects(shape, pred):
                if pred == SH.hasValue and path is not None:
                    self.checks.append(Check("hasValue", **base, query=(
                        f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS {{ ?this {p} {_term(o)} }} }}")))
                    continue
                for e in _atoms(g, shape, pred, o, self.subclasses):
                    under, _ = e.sparql("?value")
                    q = f"SELECT DISTINCT ?this ?value WHERE {{ {values} FILTER (!{under}) }}"
                    self.checks.append(Check(e.kind, **base, query=q, expr=e))
        if path is not None:
            self._counts(shape, target, p, base)
            self._pairs(shape, target, p, values, base)
        for ps in g.objects(shape, SH.property):
            if path is not None:
                raise Unsupported(f"sh:property on a property shape ({shape!r})")
            self.shape(ps, target, subjects_of)
        for c in g.objects(shape, SH.sparql):
            self._sparql(shape, c, target, base, is_node_shape=path is None)

    def _counts(self, shape: Node, target: str, p: str, base: _Base) -> None:
        g = self.shapes
        lo = g.value(shape, SH.minCount)
        hi = g.value(shape, SH.maxCount)
        lo_n = _int(lo)
        if lo_n == 1:
            self.checks.append(Check("minCount", **base, bound=1, query=(
                f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS {{ ?this {p} ?value }} }}")))
        elif lo_n > 1:
            self.checks.append(Check("minCount", **base, bound=lo_n, query=(
                f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {p} ?value }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {lo_n})")))
        if hi is not None:
            self.checks.append(Check("maxCount", **base, bound=_int(hi), query=(
                f"SELECT ?this WHERE {{ {target} ?this {p} ?value }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {_int(hi)})")))
        for q in g.objects(shape, SH.qualifiedValueShape):
            if (shape, SH.qualifiedValueShapesDisjoint, Literal(True)) in g:
                raise Unsupported(f"sh:qualifiedValueShapesDisjoint (in shape {shape!r})")
            e = _expr(g, q, self.subclasses)
            under, over = e.sparql("?value")
            qmin = g.value(shape, SH.qualifiedMinCount)
            qmax = g.value(shape, SH.qualifiedMaxCount)
            if qmin is not None and _int(qmin) > 0:
                n = _int(qmin)
                if n == 1:
                    query = (f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS "
                             f"{{ ?this {p} ?value FILTER ({under}) }} }}")
                else:
                    query = (f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {p} ?value FILTER ({under}) }} }} "
                             f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})")
                self.checks.append(Check("qualifiedMinCount", **base, query=query, bound=n,
                                         counted=("min", n, e) if under != over else None))
            if qmax is not None:
                n = _int(qmax)
                query = (f"SELECT ?this WHERE {{ {target} ?this {p} ?value FILTER ({over}) }} "
                         f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})")
                self.checks.append(Check("qualifiedMaxCount", **base, query=query, bound=n,
                                         counted=("max", n, e) if under != over else None))

    def _pairs(self, shape: Node, target: str, p: str, values: str, base: _Base) -> None:
        g = self.shapes
        for other in g.objects(shape, SH.disjoint):
            self.checks.append(Check("disjoint", **base, query=(
                f"SELECT DISTINCT ?this ?value WHERE {{ {values} ?this {_iri(other)} ?value }}")))
        for kind, op in (("lessThan", "<"), ("lessThanOrEquals", "<=")):
            for other in g.objects(shape, SH[kind]):
                self.checks.append(Check(kind, **base, pair=kind, query=(
                    f"SELECT DISTINCT ?this ?value ?other WHERE {{ {values} ?this {_iri(other)} ?other "
                    f"FILTER (!COALESCE(?value {op} ?other, false)) }}")))
        for other in g.objects(shape, SH.equals):
            o = _iri(other)
            self.checks.append(Check("equals", **base, query=(
                f"SELECT DISTINCT ?this ?value WHERE {{ {{ {values} FILTER NOT EXISTS {{ ?this {o} ?value }} }} "
                f"UNION {{ {target} ?this {o} ?value FILTER NOT EXISTS {{ ?this {p} ?value }} }} }}")))

    def _sparql(self, shape: Node, constraint: Node, target: str, base: _Base, *,
                is_node_shape: bool) -> None:
        g = self.shapes
        if (constraint, SH.deactivated, Literal(True)) in g:
            return
        select = g.value(constraint, SH.select)
        if select is None:
            raise Unsupported(f"sh:sparql without sh:select (in shape {shape!r})")
        text = str(select)
        if len(re.findall(r"\bSELECT\b", text, re.IGNORECASE)) != 1:
            raise Unsupported(f"a sh:sparql constraint with a sub-query (in shape {shape!r})")
        if re.search(r"\$(PATH|shapesGraph|currentShape|value)\b", text) or not is_node_shape:
            raise Unsupported(f"sh:sparql on a property shape or with $PATH/$value/$shapesGraph ({shape!r})")
        prefixes = []
        for decl_owner in g.objects(constraint, SH.prefixes):
            for d in g.objects(decl_owner, SH.declare):
                prefixes.append(f"PREFIX {g.value(d, SH.prefix)}: <{g.value(d, SH.namespace)}>")
        body = re.sub(r"\$this\b", "?this", text)
        m = re.search(r"\bWHERE\s*\{", body, re.IGNORECASE)
        if m is None:
            raise Unsupported(f"sh:select without WHERE {{ … }} (in shape {shape!r})")
        head, rest = body[: m.end()], body[m.end():]
        if not re.search(r"\?this\b", head):
            head = re.sub(r"\bSELECT\b(\s+DISTINCT)?", lambda mm: mm.group(0) + " ?this", head, count=1,
                          flags=re.IGNORECASE)
        query = "\n".join([*sorted(set(prefixes)), f"{head} {{ {target} }} {rest}"])
        own = _Base(**{**base, "messages": _messages(g, constraint) or base["messages"]})  # type: ignore[typeddict-item]
        self.checks.append(Check("sparql", **own, query=query, value_is_focus=True))


def _roots(shapes: rdflib.Graph) -> list[Node]:
    """Shapes with a target, in a stable order."""
    roots: set[Node] = set()
    for pred in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf):
        roots.update(shapes.subjects(pred, None))
    for kind in (SH.NodeShape, SH.PropertyShape):
        for s in shapes.subjects(RDF.type, kind):
            if (s, RDF.type, RDFS.Class) in shapes or (s, RDF.type, OWL_CLASS) in shapes:
                roots.add(s)
    return sorted(roots, key=str)


def compile_shapes(shapes: rdflib.Graph, data: Dataset) -> list[Check]:
    """Compile every shape with a target into :class:`Check` queries for *data*.

    The ``rdfs:subClassOf`` closure of each target class is read from *data* (as pySHACL does).

    Raises
    ------
    Unsupported
        A shape uses a SHACL feature this engine does not compile.
    """
    classes = {str(c) for p in (SH.targetClass, SH["class"]) for c in shapes.objects(None, p)}
    subclasses: dict[str, list[str]] = {}
    for c in sorted(classes):
        rows = data.query(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* <{c}> }}")
        found = sorted({r["c"].value for r in rows if isinstance(r["c"], ox.NamedNode)} | {c})
        subclasses[c] = found
    compiler = _Compiler(shapes, subclasses)
    for root in _roots(shapes):
        compiler.root(root)
    return compiler.checks


# ---------------------------------------------------------------- running

@dataclass
class _Run:
    data: Dataset
    shapes: rdflib.Graph
    names: rdflib.Graph = field(default_factory=lambda: _bound(rdflib.Graph()))
    origins: dict[object, str | None] = field(default_factory=dict)
    results: set[Result] = field(default_factory=set)

    def add(self, check: Check, focus: ox.NamedNode | ox.BlankNode | ox.Literal, path: Node | None,
            value: Node | None, message: str | None) -> None:
        key = str(focus)
        if key not in self.origins:
            origin = self.data.origin(focus)
            self.origins[key] = _display(origin) if origin else None
        self.results.add(Result(
            severity=check.severity,
            focus=_short(self.names, _from_ox(focus)) or "",
            path=_path_text(self.names, path, self.shapes),
            message=message or "",
            shape=_shape_name(self.shapes, check.shape),
            value=_short(self.names, value),
            file=self.origins[key],
        ))

    def message(self, check: Check, focus: Node | None, value: Node | None) -> str:
        if check.messages:
            return check.messages[0]
        return _generic_message(check, self.names, focus, value)

    def run(self, check: Check, rows: list[dict[str, _Term | None]]) -> None:
        """Turn the rows of *check*'s query into results (candidates decided in Python)."""
        if check.kind == "sparql":
            for row in rows:
                focus = row["this"]
                if focus is None:
                    continue
                bound_path = _opt(row, "path")
                bound_value = _opt(row, "value")
                path_node = _from_ox(bound_path) if bound_path is not None else check.path
                value_node = _value(bound_value) if bound_value is not None else _from_ox(focus)
                msg = check.messages[0] if check.messages else ""
                msg = _format_message(msg, row)
                self.add(check, focus, path_node, value_node, msg)
            return
        if check.counted is not None:
            self._counted(check, [t for row in rows if (t := row["this"]) is not None])
            return
        for row in rows:
            focus = row["this"]
            if focus is None:
                continue
            raw = _opt(row, "value")
            value = _value(raw) if raw is not None else None
            if check.expr is not None and raw is not None and value is not None:
                if check.expr.check(value, raw, self.data):
                    continue  # a candidate pySHACL accepts
            elif check.pair is not None and value is not None:
                other = _opt(row, "other")
                if other is not None and _pair_ok(value, _value(other), check.pair):
                    continue
            f = _from_ox(focus)
            self.add(check, focus, check.path, value if check.kind not in _NO_VALUE else None,
                     self.message(check, f, value))

    def _counted(self, check: Check, candidates: Iterable[ox.NamedNode | ox.BlankNode | ox.Literal]) -> None:
        assert check.counted is not None
        side, n, expr = check.counted
        for focus in candidates:
            if isinstance(focus, ox.Literal):
                continue
            term = f"<{focus.value}>" if isinstance(focus, ox.NamedNode) else None
            if term is None:
                raise Unsupported("a qualified count on a blank-node focus node with an inexact value test")
            rows = self.data.query(f"SELECT DISTINCT ?value WHERE {{ {term} {check.path_sparql} ?value }}")
            count = sum(1 for r in rows if expr.check(_value(r["value"]), r["value"], self.data))
            if (side == "min" and count < n) or (side == "max" and count > n):
                self.add(check, focus, check.path, None, self.message(check, _from_ox(focus), None))


_NO_VALUE = {"minCount", "maxCount", "qualifiedMinCount", "qualifiedMaxCount", "hasValue"}


def _value(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Node:
    """*term* as rdflib reads it from Turtle: Oxigraph writes ``1.0`` as ``"1"^^xsd:decimal``."""
    node = _from_ox(term)
    if isinstance(node, Literal) and node.datatype == XSD.decimal and "." not in str(node):
        return Literal(f"{node}.0", datatype=XSD.decimal)
    return node  # type: ignore[return-value]


def _opt(row: dict[str, _Term | None], name: str) -> _Term | None:
    return row.get(name)


def _fetch(data: Dataset, check: Check) -> list[dict[str, _Term | None]]:
    """Run *check*'s query and read its rows (in a worker thread: the iterator stays in it)."""
    solutions = data.query(check.query)
    names = [v.value for v in solutions.variables]
    return [{n: s[n] for n in names} for s in solutions]


def _format_message(msg: str, row: dict[str, _Term | None]) -> str:
    def sub(m: re.Match[str]) -> str:
        term = _opt(row, m.group(1))
        return str(_from_ox(term)) if term is not None else m.group(0)

    return re.sub(r"\{[?$](\w+)\}", sub, msg)


def _generic_message(check: Check, names: rdflib.Graph, focus: Node | None, value: Node | None) -> str:
    """Messages in pySHACL's words for shapes without ``sh:message``."""
    path = _path_text(names, check.path, rdflib.Graph()) or ""
    f = _short(names, focus) or ""
    v = _short(names, value) or ""
    e = check.expr
    if check.kind in ("minCount", "qualifiedMinCount"):
        return f"Less than {check.bound} values on {f}->{path}"
    if check.kind in ("maxCount", "qualifiedMaxCount"):
        return f"More than {check.bound} values on {f}->{path}"
    if e is not None and e.kind == "class":
        return f"Value does not have class {_short(names, e.arg)}"
    if e is not None and e.kind == "datatype":
        return f"Value is not Literal with datatype {_short(names, e.arg)}"
    if e is not None and e.kind == "pattern":
        return f"Value does not match pattern '{e.arg}'"
    if e is not None and e.kind == "in":
        return f"Value {v} not in list {[str(i) for i in e.arg]}"
    if e is not None and e.kind == "languageIn":
        return "String language is not in the allowed list"
    if e is not None and e.kind in ("minInclusive", "minExclusive", "maxInclusive", "maxExclusive"):
        op = _RANGES[SH[e.kind]]
        return f"Value is not {op} {_short(names, e.arg)}"
    if check.kind in ("lessThan", "lessThanOrEquals"):
        return f"Value of {f}->{path} {'>=' if check.kind == 'lessThan' else '>'} {v}"
    if check.kind == "disjoint":
        return f"Value of {f}->{path} == {v}"
    return f"Value {v} does not conform to the {check.kind} constraint"


def validate_dataset(data: Dataset, shapes: rdflib.Graph | None = None) -> Report:
    """Validate a loaded :class:`Dataset` with the shapes (default: the project's).

    Raises
    ------
    Unsupported
        The shapes use a feature this engine does not compile.
    """
    shapes = shapes if shapes is not None else load_shapes()
    run = _Run(data, shapes)
    checks = compile_shapes(shapes, data)
    with _quiet_rdflib():
        _execute(run, data, checks)
    out = sorted(run.results, key=lambda x: (x.severity != "Violation", x.file or "", x.focus, x.path or "",
                                             x.message))
    return Report(results=tuple(out), triples=data.triples())


@contextlib.contextmanager
def _quiet_rdflib() -> Iterator[None]:
    """Ill-typed literals are results here, not log noise: rdflib logs a traceback for each."""
    rdflib_log = logging.getLogger("rdflib.term")
    level = rdflib_log.level
    rdflib_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        rdflib_log.setLevel(level)


def _execute(run: _Run, data: Dataset, checks: list[Check]) -> None:
    # Oxigraph evaluates a query without holding the GIL: run them on every core, the sh:sparql
    # constraints (the slowest) first; results are made in this thread, in check order.
    order = sorted(range(len(checks)), key=lambda i: checks[i].kind != "sparql")
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futures = {i: pool.submit(_fetch, data, checks[i]) for i in order}
        for i, check in enumerate(checks):
            log.debug("check %s of %s: %s", check.kind, check.shape, check.query)
            run.run(check, futures[i].result())


def validate(paths: Sequence[Path | str] | None = None) -> Report:
    """Load the ontology and data (default ``graph_data/``) with Oxigraph and validate them.

    Raises
    ------
    kg.errors.TurtleSyntaxError
        If a file does not parse.
    Unsupported
        The shapes use a feature this engine does not compile.
    """
    files = ontology_sources() + (expand(paths) if paths else data_sources())
    return validate_dataset(Dataset(files))
