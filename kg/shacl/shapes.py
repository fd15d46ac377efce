"""Read a shapes graph and refuse, before anything runs, shapes a SHACL validator must refuse.

The SHACL-SPARQL rules (section 5.2 of the specification): a query in a shape must not use
``MINUS``, ``VALUES``, ``SERVICE`` or a sub-``SELECT``, and must not assign (``AS ?x``) a variable
that is pre-bound (``$this``, ``$value``, ``$PATH``, ``$currentShape``, ``$shapesGraph`` and the
parameters of a constraint component). Refusing ``SERVICE`` here also means that SPARQL in shapes
never reaches the network.

Examples
--------
>>> check_query("SELECT $this WHERE { $this ?p ?o . MINUS { $this ?p 1 } }", "ex:S")
Traceback (most recent call last):
...
kg.shacl.shapes.ShapesError: ex:S: MINUS is not allowed in SHACL-SPARQL; rewrite it with FILTER NOT EXISTS
>>> check_query('SELECT $this WHERE { $this ?p "MINUS" }', "ex:S")
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import rdflib
from rdflib.namespace import OWL, SH
from rdflib.term import Literal, Node, URIRef

from kg.errors import KGError
from kg.load import PREFIXES, parse, shapes_sources

__all__ = ["PREBOUND", "ShapesError", "as_written", "check_query", "check_shapes", "load_shapes", "prefixes",
           "strip_query"]

PREBOUND = ("this", "value", "PATH", "currentShape", "shapesGraph")
"""Variables SHACL pre-binds in the queries of shapes."""


class ShapesError(KGError, ValueError):
    """The shapes graph breaks a rule of the SHACL specification (the run is refused)."""


_STRIP = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""' r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"' r"|'(?:[^'\\\n]|\\.)*'"
    r"|<[^<>\"{}|^`\\\x00-\x20]*>" r"|#[^\n]*",
    re.DOTALL,
)


def strip_query(text: str) -> str:
    """*text* with strings, IRIs and comments blanked out, so keywords are read only where they are keywords."""
    return _STRIP.sub(lambda m: " " * len(m.group(0)) if m.group(0).startswith("#") else '""', text)


_FORBIDDEN = (
    ("MINUS", "rewrite it with FILTER NOT EXISTS"),
    ("VALUES", "use FILTER (?x IN (…)) instead"),
    ("SERVICE", "a shape may not query other endpoints"),
)


def check_query(text: str, where: str, prebound: Iterable[str] = ()) -> None:
    """Raise :class:`ShapesError` if *text* uses SPARQL that SHACL-SPARQL forbids.

    Parameters
    ----------
    text : str
        The query (``sh:select`` or ``sh:ask``).
    where : str
        The shape or constraint, for the message.
    prebound : iterable of str
        Extra pre-bound variables (a constraint component's parameter names).
    """
    body = strip_query(text)
    for word, fix in _FORBIDDEN:
        if re.search(rf"\b{word}\b", body, re.IGNORECASE):
            raise ShapesError(f"{where}: {word} is not allowed in SHACL-SPARQL; {fix}")
    selects = [m.end() for m in re.finditer(r"\bSELECT\b", body, re.IGNORECASE)]
    nested = selects[1:] if not re.match(r"\s*(PREFIX\s+\S*\s*\S+\s*|BASE\s+\S+\s*)*ASK\b", body, re.IGNORECASE) \
        else selects
    for start in nested:
        projection = re.split(r"\bWHERE\b|\{", body[start:], maxsplit=1, flags=re.IGNORECASE)[0]
        if not re.search(r"[?$]this\b", projection):
            raise ShapesError(f"{where}: a sub-query must project $this (SELECT $this …), or the pre-bound "
                              "value of $this would not reach it")
    names = {*PREBOUND, *prebound}
    for m in re.finditer(r"\bAS\s*[?$](\w+)", body, re.IGNORECASE):
        if m.group(1) in names:
            raise ShapesError(f"{where}: ?{m.group(1)} is pre-bound by SHACL and cannot be assigned with AS; "
                              "use another variable name")


def _where(shapes: rdflib.Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        return shapes.namespace_manager.normalizeUri(node)
    owner = next(shapes.subjects(None, node), None)
    return f"a query of {_where(shapes, owner)}" if owner is not None and owner != node else "a blank node shape"


def check_shapes(shapes: rdflib.Graph) -> None:
    """Refuse the shapes graph if any of its queries breaks the SHACL-SPARQL rules.

    Raises
    ------
    ShapesError
        Naming the shape and the rule, with the fix.
    """
    for constraint in set(shapes.objects(None, SH.sparql)):
        for pred in (SH.select, SH.ask):
            for text in shapes.objects(constraint, pred):
                check_query(str(text), _where(shapes, constraint))
    components = {c for p in (SH.parameter, SH.validator, SH.nodeValidator, SH.propertyValidator)
                  for c in shapes.subjects(p, None)}
    for component in components:
        params = [str(shapes.value(p, SH.path)).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
                  for p in shapes.objects(component, SH.parameter) if shapes.value(p, SH.path) is not None]
        for pred in (SH.validator, SH.nodeValidator, SH.propertyValidator):
            for v in shapes.objects(component, pred):
                for q in (SH.select, SH.ask):
                    for text in shapes.objects(v, q):
                        check_query(str(text), _where(shapes, component), params)


def prefixes(shapes: rdflib.Graph, constraint: Node) -> dict[str, str]:
    """The ``sh:prefixes`` declarations of *constraint*, following ``owl:imports`` inside the shapes graph.

    Raises
    ------
    ShapesError
        If a declaration lacks ``sh:prefix`` or ``sh:namespace``, or one prefix has two namespaces.
    """
    out: dict[str, str] = {}
    todo = list(shapes.objects(constraint, SH.prefixes))
    seen: set[Node] = set()
    while todo:
        owner = todo.pop()
        if owner in seen:
            continue
        seen.add(owner)
        todo.extend(shapes.objects(owner, OWL.imports))
        for d in shapes.objects(owner, SH.declare):
            prefix, ns = shapes.value(d, SH.prefix), shapes.value(d, SH.namespace)
            if not isinstance(prefix, Literal) or ns is None:
                raise ShapesError(f"{_where(shapes, owner)}: a sh:declare needs sh:prefix and sh:namespace")
            if out.get(str(prefix), str(ns)) != str(ns):
                raise ShapesError(f"{_where(shapes, owner)}: prefix {prefix}: is declared twice, as "
                                  f"{out[str(prefix)]} and {ns}")
            out[str(prefix)] = str(ns)
    return out


@contextlib.contextmanager
def as_written() -> Iterator[None]:
    """Parse literals with rdflib as the files write them (``"01"^^xsd:integer`` stays ``"01"``).

    rdflib rewrites some lexical forms by default (``rdflib.NORMALIZE_LITERALS``); SHACL checks
    and reports literals as written, and ``sh:uniqueLang "1"^^xsd:boolean`` is not ``true``.
    """
    before = rdflib.NORMALIZE_LITERALS
    rdflib.NORMALIZE_LITERALS = False
    try:
        yield
    finally:
        rdflib.NORMALIZE_LITERALS = before


def load_shapes(paths: Sequence[Path | str] | None = None) -> rdflib.Graph:
    """Parse the shapes files (default: ``ontology/shapes*.ttl``) into one graph.

    ``owl:imports`` are not fetched: a shapes graph is the files given, nothing from the network.

    Raises
    ------
    kg.errors.TurtleSyntaxError
        If a file does not parse.
    """
    g = rdflib.Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    g.bind("sh", str(SH))
    for p in paths or shapes_sources():
        with as_written():
            parsed = parse(p)
        for prefix, ns in parsed.namespaces():
            if prefix and prefix not in dict(g.namespaces()):
                g.bind(prefix, ns, override=False)
        g += parsed
    return g
