"""Compile the shapes into SPARQL queries over all focus nodes at once.

Each shape with a target (a *root*) is compiled on its own into :class:`Check` records. A root
that uses anything this module does not compile — a SPARQL-based constraint component, a property
shape inside ``sh:and``/``sh:or``/``sh:not``/``sh:xone``/``sh:node``/a qualified shape,
``sh:qualifiedValueShapesDisjoint``, a ``sh:sparql`` query whose ``$this`` the join cannot pre-bind,
an unknown ``sh:`` term … — is returned in :attr:`Compiled.fallback` with the reason, and the
engine validates that shape with pySHACL (:mod:`kg.fastshacl.fallback`). Nothing is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypedDict

import pyoxigraph as ox
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SH
from rdflib.term import Literal, Node, URIRef

from kg.fastshacl.dataset import SHAPES_GRAPH, Dataset, from_ox
from kg.fastshacl.expr import COMPONENTS, VALUE_KEYS, Expr, Unsupported, expr, iri, path, term, value_atoms
from kg.shacl.report import shape_name
from kg.shacl.shapes import ShapesError, prefixes, strip_query

_EMPTY = ox.Store()

__all__ = ["Check", "Compiled", "compile_shapes", "roots"]


@dataclass
class Check:
    """One compiled constraint: its query and what its results are."""

    kind: str
    shape: Node
    severity: Node
    path: Node | None
    messages: tuple[str, ...]
    query: str
    expr: Expr | None = None
    """For value constraints: the exact test of a candidate ``?value``."""
    pair: str | None = None
    """For lessThan / lessThanOrEquals: compare ``?value`` with ``?other`` in Python."""
    bound: int | None = None
    """For counts: the bound in the generic message."""
    counted: tuple[str, int, Expr] | None = None
    """For qualified counts with inexact value tests: (``min``/``max``, bound, value test)."""
    path_sparql: str = ""
    component: Node = SH.SPARQLConstraintComponent
    constraint: Node | None = None
    """For ``sh:sparql``: the constraint node (``sh:sourceConstraint``)."""
    values_query: str = ""
    """For qualified counts decided in Python: every (focus node, value) pair."""
    shapes_graph: bool = False
    """The query reads the shapes graph (``$shapesGraph``)."""


@dataclass
class Compiled:
    """The checks of the compiled shapes, and the shapes left to pySHACL with the reason."""

    checks: list[Check] = field(default_factory=list)
    fallback: dict[Node, str] = field(default_factory=dict)


class _Base(TypedDict):
    """What every check of one shape shares."""

    shape: Node
    severity: Node
    path: Node | None
    messages: tuple[str, ...]
    path_sparql: str


def _int(node: Node | None) -> int:
    if node is None:
        return 0
    if not isinstance(node, Literal) or not isinstance(node.value, int):
        raise Unsupported(f"expected an integer, got {node!r}")
    return node.value


_IGNORED = {RDF.type, SH.message, SH.severity, SH.name, SH.description, SH.order, SH.group, SH.defaultValue,
            SH.path, SH.deactivated, SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf,
            SH.flags, SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.declare, SH.prefixes, SH.ignoredProperties}
_PROPERTY_ONLY = {SH.minCount, SH.maxCount, SH.qualifiedValueShape, SH.lessThan, SH.lessThanOrEquals,
                  SH.uniqueLang}
_BOTH = {*VALUE_KEYS, SH.equals, SH.disjoint}
_NODE_ONLY = {SH.property, SH.sparql, SH.closed}


def _severity(shapes: rdflib.Graph, shape: Node) -> Node:
    return shapes.value(shape, SH.severity) or SH.Violation


def _messages(shapes: rdflib.Graph, node: Node) -> tuple[str, ...]:
    return tuple(sorted(str(m) for m in shapes.objects(node, SH.message)))


def _is_class(shapes: rdflib.Graph, node: Node) -> bool:
    return (node, RDF.type, RDFS.Class) in shapes or (node, RDF.type, OWL.Class) in shapes


def roots(shapes: rdflib.Graph) -> list[Node]:
    """Shapes with a target (explicit, or implicit: a shape that is also a class), in a stable order."""
    found: set[Node] = set()
    for pred in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf):
        found.update(shapes.subjects(pred, None))
    for kind in (SH.NodeShape, SH.PropertyShape):
        for s in shapes.subjects(RDF.type, kind):
            if _is_class(shapes, s):
                found.add(s)
    return sorted(found, key=str)


def _this_is_joinable(body: str) -> bool:
    """Whether joining the focus nodes to the outer ``WHERE`` group pre-binds every ``?this``.

    True when each ``?this`` is in the outer group itself, directly in an ``OPTIONAL`` group of it
    (a left join on ``?this``), or anywhere inside ``EXISTS`` / ``NOT EXISTS`` (evaluated with the
    outer solution substituted). Inside a nested group, a ``UNION`` branch or a ``GRAPH`` block, a
    ``FILTER`` would see ``?this`` unbound, so such queries are left to pySHACL, which substitutes.
    """
    text = strip_query(body)
    m = re.search(r"\bWHERE\s*\{", text, re.IGNORECASE)
    if m is None:
        return False
    stack: list[str] = []
    i = m.end()
    depth_start = True
    for tok in re.finditer(r"\{|\}|[?$]this\b", text[i:]):
        t = tok.group(0)
        if t == "{":
            before = text[: i + tok.start()].rstrip()
            kind = "exists" if re.search(r"\bEXISTS$", before, re.IGNORECASE) else (
                "optional" if re.search(r"\bOPTIONAL$", before, re.IGNORECASE) else "group")
            stack.append(kind)
        elif t == "}":
            if not stack:
                depth_start = False
                continue
            stack.pop()
        elif depth_start and stack and not (stack[0] == "exists" or stack == ["optional"]):
            return False
    return True


class _Compiler:
    def __init__(self, shapes: rdflib.Graph, subclasses: dict[str, list[str]], data: Dataset) -> None:
        self.shapes = shapes
        self.subclasses = subclasses
        self.checks: list[Check] = []
        self.parameters = {p for c in set(shapes.subjects(SH.parameter, None))
                           for param in shapes.objects(c, SH.parameter)
                           if (p := shapes.value(param, SH.path)) is not None}
        """Predicates that are parameters of SPARQL-based constraint components (left to pySHACL)."""
        rewritten = sorted(data.rewritten, key=str)
        if not rewritten:
            self.rewritten = ""
        elif len(rewritten) <= 64:
            self.rewritten = "(" + " || ".join(f"sameTerm(?value, {term(from_ox(r))})" for r in rewritten) + ")"
        else:
            types = sorted({r.datatype.value for r in rewritten})
            self.rewritten = f"(isLiteral(?value) && DATATYPE(?value) IN ({', '.join(f'<{t}>' for t in types)}))"
        """A FILTER true for values the store rewrote (decided on the file's literal, in Python)."""

    def under_over(self, e: Expr) -> tuple[str, str]:
        """*e*'s SPARQL bounds on ``?value``, widened so that rewritten literals are always decided in Python."""
        under, over = e.sparql("?value")
        if self.rewritten and e.lexical():
            return f"({under} && !{self.rewritten})", f"({over} || {self.rewritten})"
        return under, over

    def target(self, shape: Node) -> str | None:
        g = self.shapes
        parts: list[str] = []
        classes_of = list(g.objects(shape, SH.targetClass))
        if _is_class(g, shape):
            classes_of.append(shape)  # implicit class target
        for i, c in enumerate(classes_of):
            classes = " ".join(iri(URIRef(x)) for x in self.subclasses.get(str(c), [str(c)]))
            parts.append(f"?this a ?_t{i} . VALUES ?_t{i} {{ {classes} }}")
        for n in g.objects(shape, SH.targetNode):
            parts.append(f"VALUES ?this {{ {term(n)} }}")
        for p in g.objects(shape, SH.targetSubjectsOf):
            parts.append(f"?this {iri(p)} ?_o")
        for p in g.objects(shape, SH.targetObjectsOf):
            parts.append(f"?_s {iri(p)} ?this")
        if not parts:
            return None
        if len(parts) == 1 and parts[0].startswith("?this a ?_t"):
            return parts[0]  # one class: duplicates only from a triple stated twice, removed by DISTINCT
        return "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(f"{{ {p} }}" for p in parts) + " } }"

    def root(self, shape: Node) -> None:
        target = self.target(shape)
        if target is not None:
            self.shape(shape, target, set(self.shapes.objects(shape, SH.targetSubjectsOf)))

    def _known(self, shape: Node, pred: Node, *, is_property: bool) -> bool:
        """Whether *pred* on *shape* is compiled (False: not a constraint); raise if it must go to pySHACL."""
        name = str(pred)[len(str(SH)):] if str(pred).startswith(str(SH)) else None
        if pred in self.parameters:
            raise Unsupported(f"{pred} is a parameter of a SPARQL-based constraint component")
        if name is None:
            return False
        if pred not in SH:  # type: ignore[operator,attr-defined]
            raise Unsupported(f"sh:{name} is not a SHACL term (a typo?)")
        if pred in _IGNORED:
            return False
        if pred in _BOTH or pred in (_PROPERTY_ONLY if is_property else _NODE_ONLY):
            return True
        if pred == SH.property and is_property:
            raise Unsupported("sh:property on a property shape")
        if pred == SH.qualifiedValueShapesDisjoint:
            raise Unsupported("sh:qualifiedValueShapesDisjoint")
        if pred in (SH.targetClass, SH.targetNode):
            return False
        raise Unsupported(f"sh:{name} on a {'property' if is_property else 'node'} shape")

    def shape(self, shape: Node, target: str, subjects_of: set[Node]) -> None:
        g = self.shapes
        if (shape, SH.deactivated, Literal(True)) in g:
            return
        shape_path = g.value(shape, SH.path)
        is_property = shape_path is not None
        for pred in set(g.predicates(shape)):
            self._known(shape, pred, is_property=is_property)
        sev = _severity(g, shape)
        msgs = _messages(g, shape)
        if shape_path is not None:
            p = path(g, shape_path)
            # a value of a targetSubjectsOf predicate always belongs to a focus node
            scope = "" if isinstance(shape_path, URIRef) and shape_path in subjects_of else target
            values = f"{scope} ?this {p} ?value ."
        else:
            p = ""
            values = f"{target} BIND (?this AS ?value)"
        base = _Base(shape=shape, severity=sev, path=shape_path, messages=msgs, path_sparql=p)
        # value constraints: one candidate query each
        for pred in VALUE_KEYS:
            for o in g.objects(shape, pred):
                if pred == SH.hasValue:
                    self._has_value(o, target, p, base, is_property=is_property)
                    continue
                for e in value_atoms(g, shape, pred, o, self.subclasses):
                    under, _ = self.under_over(e)
                    q = f"SELECT DISTINCT ?this ?value WHERE {{ {values} FILTER (!{under}) }}"
                    self.checks.append(Check(e.kind, **base, query=q, expr=e, component=COMPONENTS[e.kind]))
        if shape_path is not None:
            self._counts(shape, target, p, base)
            self._pairs(shape, target, p, values, base)
            if (shape, SH.uniqueLang, Literal(True)) in g:
                self.checks.append(Check("uniqueLang", **base, component=SH.UniqueLangConstraintComponent, query=(
                    f"SELECT DISTINCT ?this WHERE {{ {values} ?this {p} ?_v2 FILTER (!sameTerm(?value, ?_v2) "
                    f'&& LANG(?value) != "" && LANG(?value) = LANG(?_v2)) }}')))
            return
        self._node_pairs(shape, target, base)
        if (shape, SH.closed, Literal(True)) in g:
            self._closed(shape, target, base)
        for ps in g.objects(shape, SH.property):
            self.shape(ps, target, subjects_of)
        for c in g.objects(shape, SH.sparql):
            self._sparql(shape, c, target, base)

    def _has_value(self, o: Node, target: str, p: str, base: _Base, *, is_property: bool) -> None:
        if is_property:
            query = f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS {{ ?this {p} {term(o)} }} }}"
        else:
            query = f"SELECT DISTINCT ?this (?this AS ?value) WHERE {{ {target} FILTER (!sameTerm(?this, {term(o)})) }}"
        self.checks.append(Check("hasValue", **base, query=query, component=SH.HasValueConstraintComponent,
                                 expr=None if is_property else Expr("hasValue", o)))

    def _closed(self, shape: Node, target: str, base: _Base) -> None:
        g = self.shapes
        allowed = {q for ps in g.objects(shape, SH.property) if isinstance(q := g.value(ps, SH.path), URIRef)}
        for lst in g.objects(shape, SH.ignoredProperties):
            allowed.update(x for x in g.items(lst) if isinstance(x, URIRef))
        listed = ", ".join(iri(a) for a in sorted(allowed, key=str))
        cond = f"FILTER (?path NOT IN ({listed}))" if listed else ""
        own = _Base(**{**base, "path": None})  # type: ignore[typeddict-item]
        self.checks.append(Check("closed", **own, component=SH.ClosedConstraintComponent, query=(
            f"SELECT DISTINCT ?this ?path ?value WHERE {{ {target} ?this ?path ?value {cond} }}")))

    def _counts(self, shape: Node, target: str, p: str, base: _Base) -> None:
        g = self.shapes
        lo_n = _int(g.value(shape, SH.minCount))
        hi = g.value(shape, SH.maxCount)
        comp = SH.MinCountConstraintComponent
        if lo_n == 1:
            self.checks.append(Check("minCount", **base, bound=1, component=comp, query=(
                f"SELECT DISTINCT ?this WHERE {{ {target} FILTER NOT EXISTS {{ ?this {p} ?value }} }}")))
        elif lo_n > 1:
            self.checks.append(Check("minCount", **base, bound=lo_n, component=comp, query=(
                f"SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {p} ?value }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {lo_n})")))
        if hi is not None:
            self.checks.append(Check("maxCount", **base, bound=_int(hi), component=SH.MaxCountConstraintComponent,
                                     query=(f"SELECT ?this WHERE {{ {target} ?this {p} ?value }} "
                                            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {_int(hi)})")))
        pairs = f"SELECT DISTINCT ?this ?value WHERE {{ {target} ?this {p} ?value }}"
        for q in g.objects(shape, SH.qualifiedValueShape):
            e = expr(g, q, self.subclasses)
            under, over = self.under_over(e)
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
                                         component=COMPONENTS["qualifiedMinCount"], values_query=pairs,
                                         counted=("min", n, e) if under != over else None))
            if qmax is not None:
                n = _int(qmax)
                query = (f"SELECT ?this WHERE {{ {target} ?this {p} ?value FILTER ({over}) }} "
                         f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})")
                self.checks.append(Check("qualifiedMaxCount", **base, query=query, bound=n,
                                         component=COMPONENTS["qualifiedMaxCount"], values_query=pairs,
                                         counted=("max", n, e) if under != over else None))

    def _pairs(self, shape: Node, target: str, p: str, values: str, base: _Base) -> None:
        g = self.shapes
        for other in g.objects(shape, SH.disjoint):
            self.checks.append(Check("disjoint", **base, component=SH.DisjointConstraintComponent, query=(
                f"SELECT DISTINCT ?this ?value WHERE {{ {values} ?this {iri(other)} ?value }}")))
        for kind, op in (("lessThan", "<"), ("lessThanOrEquals", "<=")):
            for other in g.objects(shape, SH[kind]):
                self.checks.append(Check(kind, **base, pair=kind, component=COMPONENTS[kind], query=(
                    f"SELECT DISTINCT ?this ?value ?other WHERE {{ {values} ?this {iri(other)} ?other "
                    f"FILTER (!COALESCE(?value {op} ?other, false)) }}")))
        for other in g.objects(shape, SH.equals):
            o = iri(other)
            self.checks.append(Check("equals", **base, component=SH.EqualsConstraintComponent, query=(
                f"SELECT DISTINCT ?this ?value WHERE {{ {{ {values} FILTER NOT EXISTS {{ ?this {o} ?value }} }} "
                f"UNION {{ {target} ?this {o} ?value FILTER NOT EXISTS {{ ?this {p} ?value }} }} }}")))

    def _node_pairs(self, shape: Node, target: str, base: _Base) -> None:
        """``sh:equals`` / ``sh:disjoint`` on a node shape: the focus node is the one value node."""
        g = self.shapes
        for other in g.objects(shape, SH.disjoint):
            self.checks.append(Check("disjoint", **base, component=SH.DisjointConstraintComponent, query=(
                f"SELECT DISTINCT ?this (?this AS ?value) WHERE {{ {target} ?this {iri(other)} ?this }}")))
        for other in g.objects(shape, SH.equals):
            o = iri(other)
            self.checks.append(Check("equals", **base, component=SH.EqualsConstraintComponent, query=(
                f"SELECT DISTINCT ?this ?value WHERE {{ {{ {target} ?this {o} ?value FILTER (!sameTerm(?value, ?this)) }} "
                f"UNION {{ {target} FILTER NOT EXISTS {{ ?this {o} ?this }} BIND (?this AS ?value) }} }}")))

    def _sparql(self, shape: Node, constraint: Node, target: str, base: _Base) -> None:
        g = self.shapes
        if (constraint, SH.deactivated, Literal(True)) in g:
            return
        select = g.value(constraint, SH.select)
        if select is None:
            raise Unsupported("sh:sparql without sh:select")
        text = str(select)
        used = {m.group(1) for m in re.finditer(r"\$(\w+)", strip_query(text))}
        if used - {"this", "shapesGraph", "currentShape"}:
            raise Unsupported(f"sh:sparql using ${', $'.join(sorted(used - {'this'}))}")
        if "currentShape" in used and not isinstance(shape, URIRef):
            raise Unsupported("$currentShape of a blank-node shape")
        body = re.sub(r"\$this\b", "?this", text)
        # the other pre-bound variables are constants: the shapes graph (a named graph of the store
        # for this query) and the shape's IRI
        body = re.sub(r"\bbound\s*\(\s*[?$](shapesGraph|currentShape)\s*\)", "(true)", body, flags=re.IGNORECASE)
        body = re.sub(r"[?$]shapesGraph\b", f"<{SHAPES_GRAPH}>", body)
        if isinstance(shape, URIRef):
            body = re.sub(r"[?$]currentShape\b", iri(shape), body)
        if not _this_is_joinable(body):
            raise Unsupported("a sh:sparql query with $this inside a nested group, UNION or GRAPH")
        m = re.search(r"\bWHERE\s*\{", body, re.IGNORECASE)
        if m is None:
            raise Unsupported("sh:select without WHERE { … }")
        head, rest = body[: m.end()], body[m.end():]
        if not re.search(r"\?this\b", strip_query(head)):
            head = re.sub(r"\bSELECT\b(\s+DISTINCT)?", lambda mm: mm.group(0) + " ?this", head, count=1,
                          flags=re.IGNORECASE)
        declared = prefixes(g, constraint)
        lines = [f"PREFIX {k}: <{v}>" for k, v in sorted(declared.items())]
        query = "\n".join([*lines, f"{head} {{ {target} }} {rest}"])
        try:
            _EMPTY.query(query)  # parse it now: a broken query is the shapes' fault, named before anything runs
        except SyntaxError as exc:
            where = shape_name(g, shape)
            detail = str(exc).splitlines()[0][:120]
            raise ShapesError(f"{where}: its sh:select does not parse ({detail}…); check its syntax, and declare "
                              "each prefix it uses with sh:prefixes / sh:declare") from None
        own = _Base(**{**base, "messages": _messages(g, constraint) or base["messages"]})  # type: ignore[typeddict-item]
        self.checks.append(Check("sparql", **own, query=query, constraint=constraint,
                                 component=SH.SPARQLConstraintComponent, shapes_graph="shapesGraph" in used))


def compile_shapes(shapes: rdflib.Graph, data: Dataset) -> Compiled:
    """Compile every shape with a target into :class:`Check` queries for *data*.

    The ``rdfs:subClassOf`` closure of each target class is read from *data* (as pySHACL does).
    A root shape that cannot be compiled is put in :attr:`Compiled.fallback` with the reason.
    """
    classes = {str(c) for p in (SH.targetClass, SH["class"]) for c in shapes.objects(None, p)}
    classes |= {str(r) for r in roots(shapes) if _is_class(shapes, r)}
    subclasses: dict[str, list[str]] = {}
    for c in sorted(classes):
        if not c.startswith(("http:", "https:", "urn:", "file:")) or re.search(r'[\s<>"{}|^`\\]', c):
            continue
        rows = data.query(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* <{c}> }}")
        found = sorted({r["c"].value for r in rows if isinstance(r["c"], ox.NamedNode)} | {c})
        subclasses[c] = found
    literal_targets = [ox.Literal(str(n), datatype=ox.NamedNode(str(n.datatype)))
                       for n in shapes.objects(None, SH.targetNode)
                       if isinstance(n, Literal) and n.datatype is not None and not n.language]
    if literal_targets:
        data.note_literals(literal_targets)
    out = Compiled()
    compiler = _Compiler(shapes, subclasses, data)
    for root in roots(shapes):
        compiler.checks = []
        try:
            compiler.root(root)
        except Unsupported as exc:
            out.fallback[root] = str(exc)
            continue
        out.checks.extend(compiler.checks)
    return out
