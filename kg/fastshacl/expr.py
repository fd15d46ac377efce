"""SHACL value conditions as SPARQL text and as Python tests on one value.

A condition on a value node (``sh:class``, ``sh:datatype`` … and ``sh:and``/``sh:or``/``sh:not``/
``sh:xone``/``sh:node`` over them) is an :class:`Expr`. Its :meth:`Expr.sparql` gives two FILTER
expressions, *under* (true ⇒ the value surely conforms) and *over* (false ⇒ it surely does not):
the query selects the values *under* does not accept — a superset of the violations, cheap for
Oxigraph — and :meth:`Expr.check` decides each of them with pySHACL's own rules on the literal as
the file wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import BNode, Literal, Node, URIRef

from kg.errors import KGError

__all__ = ["COMPONENTS", "VALUE_KEYS", "Expr", "Unsupported", "expr", "iri", "pair_ok", "path", "string", "term",
           "value_atoms"]


class Unsupported(KGError, NotImplementedError):
    """A shape uses a SHACL feature this engine does not compile (that shape goes to pySHACL)."""


class Instances(Protocol):
    """What :meth:`Expr.check` needs of the data: the ``sh:class`` test."""

    def is_instance(self, term: ox.NamedNode | ox.BlankNode | ox.Literal, cls: str) -> bool: ...


# ---------------------------------------------------------------- SPARQL text

def iri(node: Node) -> str:
    """*node*, an IRI of the shapes graph, as SPARQL text (``<…>``)."""
    if not isinstance(node, URIRef):
        raise Unsupported(f"expected an IRI in the shapes, got {node!r}")
    text = str(node)
    if re.search(r'[\s<>"{}|^`\\]', text):
        raise Unsupported(f"IRI {text!r} cannot be written in SPARQL")
    return f"<{text}>"


def string(text: str) -> str:
    """*text* as a SPARQL string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def term(node: Node) -> str:
    """A shapes-graph term as SPARQL text (IRIs and literals; blank nodes cannot be written)."""
    if isinstance(node, URIRef):
        return iri(node)
    if isinstance(node, Literal):
        if node.language:
            return f"{string(str(node))}@{node.language}"
        if node.datatype is not None:
            return f"{string(str(node))}^^{iri(node.datatype)}"
        return string(str(node))
    raise Unsupported(f"a blank node ({node!r}) cannot be used as a value in a compiled constraint")


def _list(shapes: rdflib.Graph, node: Node) -> list[Node]:
    return list(shapes.items(node))


def path(shapes: rdflib.Graph, node: Node) -> str:
    """A SHACL path as a SPARQL property path."""
    if isinstance(node, URIRef):
        return iri(node)
    if (node, RDF.first, None) in shapes:
        return "(" + "/".join(path(shapes, p) for p in _list(shapes, node)) + ")"
    for pred, fmt in ((SH.inversePath, "^({})"), (SH.zeroOrMorePath, "({})*"), (SH.oneOrMorePath, "({})+"),
                      (SH.zeroOrOnePath, "({})?")):
        inner = shapes.value(node, pred)
        if inner is not None:
            return fmt.format(path(shapes, inner))
    alt = shapes.value(node, SH.alternativePath)
    if alt is not None:
        return "(" + "|".join(path(shapes, p) for p in _list(shapes, alt)) + ")"
    raise Unsupported(f"unknown SHACL path {node!r}")


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
VALUE_KEYS = (SH["class"], SH.datatype, SH.nodeKind, SH["in"], SH.hasValue, SH.pattern, SH.languageIn,
              SH.minInclusive, SH.minExclusive, SH.maxInclusive, SH.maxExclusive, SH.minLength, SH.maxLength,
              SH["and"], SH["or"], SH["not"], SH.xone, SH.node)
"""The parameters that are a condition on each value node on its own."""
COMPONENTS = {k: SH[f"{k[0].upper()}{k[1:]}ConstraintComponent"] for k in (
    "class", "datatype", "nodeKind", "in", "hasValue", "pattern", "languageIn", "minInclusive", "minExclusive",
    "maxInclusive", "maxExclusive", "minLength", "maxLength", "and", "or", "not", "xone", "node", "minCount",
    "maxCount", "qualifiedMinCount", "qualifiedMaxCount", "lessThan", "lessThanOrEquals", "equals", "disjoint",
    "closed", "uniqueLang")}
COMPONENTS["sparql"] = SH.SPARQLConstraintComponent
COMPONENTS["qualifiedMinCount"] = SH.QualifiedMinCountConstraintComponent
COMPONENTS["qualifiedMaxCount"] = SH.QualifiedMaxCountConstraintComponent
"""The constraint component of each kind of check."""


@dataclass(frozen=True)
class Expr:
    """A condition on one value node: an atom (``kind`` a SHACL parameter) or ``and``/``or``/``not``/``xone``."""

    kind: str
    arg: Any = None
    flags: str | None = None
    args: tuple[Expr, ...] = ()
    classes: tuple[str, ...] = ()
    """For ``class``: the class and its subclasses in the data."""

    def lexical(self) -> bool:
        """Whether the condition reads a literal's lexical form or datatype (the store may rewrite them)."""
        if self.kind in ("class", "nodeKind", "languageIn"):
            return False
        return not self.args if self.kind not in ("and", "or", "not", "xone", "node") else any(
            a.lexical() for a in self.args)

    # -- SPARQL: (under, over) — under true ⇒ conforms; over false ⇒ does not conform
    def sparql(self, v: str) -> tuple[str, str]:
        k = self.kind
        if k in ("and", "or"):
            parts = [a.sparql(v) for a in self.args]
            op = " && " if k == "and" else " || "
            if not parts:
                return ("true", "true") if k == "and" else ("false", "false")
            return "(" + op.join(p[0] for p in parts) + ")", "(" + op.join(p[1] for p in parts) + ")"
        if k == "node":
            return self.args[0].sparql(v)
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
            same = f"(isLiteral({v}) && DATATYPE({v}) = {iri(arg)})"
            if dt in _UNCHECKED:
                return same, same
            if dt in _STRICT:
                return f"({same} && REGEX(STR({v}), {string(_STRICT[dt])}))", same
            return "false", same  # unknown lexical rules: every value is a candidate, decided in Python
        if k == "nodeKind":
            if arg not in _NODE_KINDS:
                raise Unsupported(f"unknown sh:nodeKind {arg!r}")
            cond = _NODE_KINDS[arg].format(v=v)
            return cond, cond
        if k == "in":
            items = list(arg)
            cond = "(" + (" || ".join(f"sameTerm({v}, {term(i)})" for i in items) or "false") + ")"
            return cond, cond
        if k == "hasValue":
            cond = f"sameTerm({v}, {term(arg)})"
            return cond, cond
        if k == "pattern":
            flags = f", {string(self.flags)}" if self.flags else ""
            cond = f"(!isBlank({v}) && REGEX(STR({v}), {string(str(arg))}{flags}))"
            return cond, cond
        if k == "languageIn":
            langs = [str(x).lower() for x in arg]
            if "*" in langs:
                cond = f'(isLiteral({v}) && LANG({v}) != "")'
            else:
                listed = ", ".join(string(x) for x in langs)
                cond = (f'(isLiteral({v}) && LANG({v}) != "" && (LCASE(LANG({v})) IN ({listed}) || '
                        f'LCASE(STRBEFORE(CONCAT(LANG({v}), "-"), "-")) IN ({listed})))')
            return cond, cond
        if k in ("minInclusive", "minExclusive", "maxInclusive", "maxExclusive"):
            op = _RANGES[SH[k]]
            cond = f"({v} {op} {term(arg)})"
            return cond, cond
        if k in ("minLength", "maxLength"):
            cond = f"(!isBlank({v}) && STRLEN(STR({v})) {'>=' if k == 'minLength' else '<='} {int(arg)})"
            return cond, cond
        raise Unsupported(f"sh:{k}")  # pragma: no cover - _expr only builds the kinds above

    # -- Python: pySHACL's own decision on one value
    def check(self, value: Node, raw: ox.NamedNode | ox.BlankNode | ox.Literal, data: Instances) -> bool:
        k, arg = self.kind, self.arg
        if k == "node":
            return self.args[0].check(value, raw, data)
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
        if k == "minLength":
            return not isinstance(value, BNode) and len(str(value)) >= int(arg)
        if k == "maxLength":
            return not isinstance(value, BNode) and len(str(value)) <= int(arg)
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


def pair_ok(value: Node, other: Node, kind: str) -> bool:
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


_INERT = {RDF.type, SH.message, SH.severity, SH.name, SH.description, SH.order, SH.group, SH.defaultValue,
          SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, RDFS.label, RDFS.comment, SH.flags}


def expr(shapes: rdflib.Graph, node: Node, closure: dict[str, list[str]],
         seen: frozenset[Node] = frozenset()) -> Expr:
    """The conditions of a value shape (``sh:or`` members, ``sh:not`` … ) as one :class:`Expr`.

    Raises
    ------
    Unsupported
        The shape has more than conditions on the value itself (``sh:property``, counts …).
    """
    if node in seen:
        raise Unsupported("a recursive shape")
    seen = seen | {node}
    if (node, SH.deactivated, Literal(True)) in shapes:
        return Expr("and", args=())  # a deactivated shape accepts every value
    parts: list[Expr] = []
    for p, o in shapes.predicate_objects(node):
        if p in _INERT or p == SH.deactivated or not str(p).startswith(str(SH)):
            continue
        if p not in VALUE_KEYS:
            raise Unsupported(f"sh:{str(p)[len(str(SH)):]} inside a value shape (of sh:node, sh:and, sh:or, "
                              "sh:not, sh:xone or sh:qualifiedValueShape)")
        parts.extend(value_atoms(shapes, node, p, o, closure, seen))
    return parts[0] if len(parts) == 1 else Expr("and", args=tuple(parts))


def value_atoms(shapes: rdflib.Graph, shape: Node, p: Node, o: Node, closure: dict[str, list[str]],
                seen: frozenset[Node] = frozenset()) -> list[Expr]:
    """The :class:`Expr` of the parameter *p* (with value *o*) of *shape*."""
    name = str(p)[len(str(SH)):]
    if p == SH.flags:
        return []
    if p == SH.pattern:
        flags = shapes.value(shape, SH.flags)
        return [Expr("pattern", str(o), str(flags) if flags is not None else None)]
    if p in (SH["in"], SH.languageIn):
        return [Expr(name, tuple(_list(shapes, o)))]
    if p in (SH.minLength, SH.maxLength):
        if not isinstance(o, Literal) or not isinstance(o.value, int):
            raise Unsupported(f"sh:{name} {o!r} is not an integer")
        return [Expr(name, o.value)]
    if p in (SH["and"], SH["or"], SH.xone):
        return [Expr(name, args=tuple(expr(shapes, m, closure, seen) for m in _list(shapes, o)))]
    if p == SH["not"]:
        return [Expr("not", args=(expr(shapes, o, closure, seen),))]
    if p == SH.node:
        return [Expr("node", args=(expr(shapes, o, closure, seen),))]
    if p == SH["class"]:
        return [Expr("class", o, classes=tuple(closure.get(str(o), [str(o)])))]
    return [Expr(name, o)]

