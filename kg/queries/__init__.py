"""Named SPARQL queries: the competency questions of the graph.

Each ``*.rq`` file in this folder starts with a header of ``# key: value`` lines::

    # title-ja: …
    # title-en: …
    # param: body iri  the body, e.g. orgs:jetro      (a trailing ? makes it optional: iri?)
    # description: …
    # example: kg query body-programs --param body=orgs:jetro

Parameters are typed and bound with a ``VALUES`` block (:func:`kg.store.inject_values`), never by
formatting user text into the query.

Examples
--------
>>> q = get("body-programs")
>>> [p.name for p in q.params]
['body']
>>> q.bind({"body": "orgs:jetro"})["body"]
rdflib.term.URIRef('https://w3id.org/jp-funding/id/org/jetro')
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from kg.errors import QueryError, UnknownName
from kg.load import PREFIXES
from kg.store import Answer, Store, Term

__all__ = ["TYPES", "NamedQuery", "Param", "all_queries", "get", "parse_query_file", "to_term"]

HERE = Path(__file__).parent
TYPES = ("iri", "string", "integer", "decimal", "year")


@dataclass(frozen=True)
class Param:
    """One parameter of a named query."""

    name: str
    type: str
    required: bool
    doc: str


@dataclass(frozen=True)
class NamedQuery:
    """A query file with its header."""

    name: str
    path: Path
    title_ja: str
    title_en: str
    description: str
    example: str
    params: tuple[Param, ...]
    text: str

    def bind(self, values: Mapping[str, str], *, store: Store | None = None) -> dict[str, Term]:
        """Check and convert raw parameter strings to RDF terms.

        With a ``store``, an ``iri`` parameter may be any name :func:`kg.names.resolve` knows (a
        title, an abbreviation, a slug …); an IRI the store does not hold is refused with
        suggestions rather than answering no rows. Without one it must be an IRI or prefixed name.

        Raises
        ------
        QueryError
            Unknown, missing or ill-typed parameter; the message lists the valid ones.
        UnknownName, AmbiguousName
            A name that matches nothing, or several things (with the candidates).
        """
        self.check(values)
        out: dict[str, Term] = {}
        for p in self.params:
            if p.name not in values:
                continue
            if p.type == "iri" and store is not None:
                out[p.name] = _resolve_iri(store, p, values[p.name])
            else:
                out[p.name] = to_term(values[p.name], p.type, name=p.name)
        return out

    def check(self, values: Mapping[str, str]) -> None:
        """Check names, presence and types of ``values`` without a store (IRI parameters may be names).

        Raises
        ------
        QueryError
            As :meth:`bind`.
        """
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            valid = ", ".join(f"{p.name} ({p.type})" for p in self.params) or "none"
            raise QueryError(f"query {self.name!r} has no parameter {', '.join(unknown)}; parameters: {valid}")
        for p in self.params:
            if p.name in values:
                if p.type != "iri":
                    to_term(values[p.name], p.type, name=p.name)
                elif not values[p.name].strip():
                    raise QueryError(f"parameter {p.name}: empty; give a name, an id or an IRI ({p.doc})")
            elif p.required:
                raise QueryError(
                    f"query {self.name!r} needs --param {p.name}=<{p.type}> ({p.doc}); example: {self.example}"
                )

    def run(self, store: Store, values: Mapping[str, str] | None = None) -> Answer:
        """Bind *values* (names resolved in *store*) and run the query on *store*."""
        return store.query(self.text, bindings=self.bind(values or {}, store=store))


def _resolve_iri(store: Store, p: Param, raw: str) -> URIRef:
    from kg import names

    kinds = names.PARAM_KINDS.get(p.name)
    try:
        return URIRef(names.resolve(store, raw, kinds=kinds, what=p.name).iri)
    except UnknownName:
        if kinds is None:  # a parameter of no known kind: any IRI will do
            return URIRef(str(to_term(raw, "iri", name=p.name)))
        raise


def to_term(raw: str, kind: str, *, name: str = "value") -> Term:
    """Convert a parameter string to an RDF term of the declared type.

    Examples
    --------
    >>> to_term("program:go-tech-r7", "iri")
    rdflib.term.URIRef('https://w3id.org/jp-funding/id/program/go-tech-r7')
    >>> to_term("2025", "year")
    rdflib.term.Literal('2025', datatype=rdflib.term.URIRef('http://www.w3.org/2001/XMLSchema#gYear'))
    >>> to_term("x1", "integer", name="n")
    Traceback (most recent call last):
    ...
    kg.errors.QueryError: parameter n: 'x1' is not an integer
    """
    raw = raw.strip()
    if kind == "iri":
        if raw.startswith("<") and raw.endswith(">"):
            raw = raw[1:-1]
        m = re.fullmatch(r"([A-Za-z][\w-]*):([^\s:/][^\s]*)?", raw)
        if m and m.group(1) in PREFIXES and not raw.startswith(("http:", "https:")):
            raw = PREFIXES[m.group(1)] + (m.group(2) or "")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\]+", raw):
            prefixes = ", ".join(f"{k}:" for k in sorted(PREFIXES))
            raise QueryError(f"parameter {name}: {raw!r} is not an IRI or a known prefixed name ({prefixes})")
        return URIRef(raw)
    if kind == "string":
        return Literal(raw)
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise QueryError(f"parameter {name}: {raw!r} is not an integer")
        return Literal(int(raw), datatype=XSD.integer)
    if kind == "decimal":
        try:
            return Literal(Decimal(raw), datatype=XSD.decimal)
        except InvalidOperation:
            raise QueryError(f"parameter {name}: {raw!r} is not a decimal number") from None
    if kind == "year":
        if not re.fullmatch(r"\d{4}", raw):
            raise QueryError(f"parameter {name}: {raw!r} is not a year like 2025")
        return Literal(raw, datatype=XSD.gYear)
    raise QueryError(f"unknown parameter type {kind!r}; types: {', '.join(TYPES)}")


def parse_query_file(path: Path) -> NamedQuery:
    """Read a ``.rq`` file and its header.

    Raises
    ------
    QueryError
        A malformed header line, naming the file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"{path}: cannot read the query file: {exc}") from None
    meta: dict[str, str] = {}
    params: list[Param] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*([\w-]+):\s*(.*)$", line)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "param":
            pm = re.fullmatch(r"(\w+)\s+(\w+)(\??)\s*(.*)", value)
            if not pm or pm.group(2) not in TYPES:
                raise QueryError(
                    f"{path}:{lineno}: malformed param line; write '# param: NAME TYPE[?] description' "
                    f"with TYPE one of {', '.join(TYPES)}"
                )
            params.append(Param(pm.group(1), pm.group(2), not pm.group(3), pm.group(4)))
        else:
            meta[key] = value
    for p in params:
        if not re.search(rf"\?{p.name}\b", text):
            raise QueryError(f"{path}: parameter {p.name!r} is declared but the query never uses ?{p.name}")
    return NamedQuery(
        name=path.stem,
        path=path,
        title_ja=meta.get("title-ja", ""),
        title_en=meta.get("title-en", ""),
        description=meta.get("description", ""),
        example=meta.get("example", f"kg query {path.stem}"),
        params=tuple(params),
        text=text,
    )


def all_queries(folder: Path = HERE) -> dict[str, NamedQuery]:
    """Every named query in *folder*, by name."""
    return {p.stem: parse_query_file(p) for p in sorted(folder.glob("*.rq"))}


def get(name: str) -> NamedQuery:
    """The named query *name*, or a ``.rq`` file path.

    Raises
    ------
    UnknownName
        With the close matches.
    """
    if name.endswith(".rq"):
        path = Path(name)
        if not path.is_file():
            raise QueryError(f"{path}: no such query file")
        return parse_query_file(path)
    queries = all_queries()
    if name not in queries:
        raise UnknownName("query", name, difflib.get_close_matches(name, list(queries), n=3, cutoff=0.4)
                          or sorted(queries))
    return queries[name]
