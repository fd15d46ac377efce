"""Stores: one small interface, two backends.

:class:`EmbeddedStore` holds the graph in this process (pyoxigraph, chosen by measurement, see
``bench/``); :class:`RemoteStore` speaks the SPARQL 1.1 Protocol to any endpoint (Oxigraph server,
Fuseki, Virtuoso, GraphDB) and pushes data with the Graph Store Protocol. Both return the same
result types, so callers never care which one they hold.

Examples
--------
>>> store = EmbeddedStore.from_paths()
>>> store.count() > 1000
True
>>> table = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?p a <https://w3id.org/jp-funding/ont#Program> }")
>>> int(table.rows[0][0]) > 27
True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pyoxigraph as ox
import rdflib
from rdflib.namespace import XSD
from rdflib.term import BNode, Literal, URIRef

from kg.errors import QueryError, StoreError
from kg.load import check_syntax, data_sources, expand, ontology_sources

__all__ = [
    "EmbeddedStore",
    "RemoteStore",
    "Store",
    "Table",
    "Term",
    "as_table",
    "inject_values",
    "open_store",
    "query_form",
]

Term = URIRef | Literal | BNode


@dataclass(frozen=True)
class Table:
    """The answer to a SELECT query: variable names and rows of RDF terms (``None`` = unbound)."""

    variables: tuple[str, ...]
    rows: tuple[tuple[Term | None, ...], ...]

    def dicts(self) -> list[dict[str, Term | None]]:
        """Rows as ``{variable: term}`` dictionaries."""
        return [dict(zip(self.variables, row)) for row in self.rows]

    def column(self, name: str) -> list[Term | None]:
        """All values of one variable."""
        i = self.variables.index(name)
        return [row[i] for row in self.rows]


Answer = Table | bool | rdflib.Graph


def as_table(answer: Answer) -> Table:
    """Return *answer* if it is a :class:`Table` (the answer to a SELECT query).

    Raises
    ------
    QueryError
        For an ASK or CONSTRUCT answer.
    """
    if not isinstance(answer, Table):
        raise QueryError(f"expected the rows of a SELECT query, got {type(answer).__name__}")
    return answer

_FORM_RE = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)
_UPDATE_RE = re.compile(r"\b(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD)\b", re.IGNORECASE)


def _strip(sparql: str) -> str:
    """Remove comments, IRIs and strings so keywords can be found."""
    s = re.sub(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'', '""', sparql)
    s = re.sub(r"<[^<>\s]*>", "<>", s)
    return re.sub(r"#[^\n]*", "", s)


def query_form(sparql: str) -> str:
    """Return ``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE`` or ``UPDATE``.

    Examples
    --------
    >>> query_form("PREFIX x: <http://e/#select> ASK { ?s ?p ?o }")
    'ASK'
    >>> query_form("INSERT DATA { <a:b> <a:c> 1 }")
    'UPDATE'
    """
    s = _strip(sparql)
    m = _FORM_RE.search(s)
    u = _UPDATE_RE.search(s)
    if u and (not m or u.start() < m.start()):
        return "UPDATE"
    if not m:
        raise QueryError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    return m.group(1).upper()


def inject_values(sparql: str, bindings: Mapping[str, Term]) -> str:
    """Bind variables by adding a ``VALUES`` block at the start of the outermost ``WHERE``.

    Terms are written with rdflib's escaping, so user text can never change the query's shape.

    Examples
    --------
    >>> inject_values("SELECT ?x WHERE { ?x ?p ?o }", {"o": Literal('a" } DROP ALL #')})
    'SELECT ?x WHERE { VALUES (?o) { ("a\\\\" } DROP ALL #") }  ?x ?p ?o }'
    """
    if not bindings:
        return sparql
    m = re.search(r"\bWHERE\s*\{", _strip(sparql), re.IGNORECASE)
    # _strip keeps lengths of everything but strings/IRIs; find the same WHERE in the original
    m2 = None
    for cand in re.finditer(r"\bWHERE\s*\{", sparql, re.IGNORECASE):
        if _strip(sparql[: cand.end()]).rstrip().endswith("{"):
            m2 = cand
            break
    if m is None or m2 is None:
        raise QueryError("cannot bind parameters: the query has no WHERE { … } clause")
    names = " ".join(f"?{k}" for k in bindings)
    values = " ".join(_n3(v) for v in bindings.values())
    block = f" VALUES ({names}) {{ ({values}) }} "
    return sparql[: m2.end()] + block + sparql[m2.end() :]


def _n3(term: Term) -> str:
    if isinstance(term, URIRef):
        if re.search(r'[\s<>"{}|^`\\]', str(term)):
            raise QueryError(f"not a valid IRI: {str(term)!r}")
        return f"<{term}>"
    if isinstance(term, Literal):
        return term.n3()
    raise QueryError(f"cannot bind a blank node ({term!r}) as a parameter")


# ---------------------------------------------------------------- terms

def _from_ox(term: object) -> Term | None:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        dt = term.datatype.value if term.datatype else None
        if term.language:
            return Literal(term.value, lang=term.language)
        if dt == str(XSD.string):
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(dt) if dt else None)
    raise StoreError(f"unexpected term from the store: {term!r}")


def _from_json(cell: Mapping[str, str] | None) -> Term | None:
    if cell is None:
        return None
    kind = cell["type"]
    if kind == "uri":
        return URIRef(cell["value"])
    if kind == "bnode":
        return BNode(cell["value"])
    lang = cell.get("xml:lang")
    dt = cell.get("datatype")
    if lang:
        return Literal(cell["value"], lang=lang)
    if dt and dt != str(XSD.string):
        return Literal(cell["value"], datatype=URIRef(dt))
    return Literal(cell["value"])


# ---------------------------------------------------------------- the interface

class Store(Protocol):
    """What every backend offers."""

    def query(self, sparql: str, *, bindings: Mapping[str, Term] | None = None) -> Answer:
        """Run a SELECT, ASK, CONSTRUCT or DESCRIBE query."""
        ...

    def load(self, paths: Sequence[Path | str]) -> int:
        """Add Turtle files; return the number of triples read."""
        ...

    def count(self) -> int:
        """Number of triples in the default graph."""
        ...

    def describe(self) -> str:
        """A one-line description for humans (engine and location)."""
        ...


def _parse_into(target: ox.Store, path: Path) -> int:
    """Parse *path* with Oxigraph straight into *target* (atomic per file); return the triples added.

    No Python object is made per triple: at a million triples this takes a fifth of the time and
    a third of the memory of parsing to a list of quads first.
    """
    before = len(target)
    try:
        target.load(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri())
    except (SyntaxError, ValueError, OSError):
        check_syntax(path)  # raises TurtleSyntaxError with file:line:column
        raise
    return len(target) - before


class EmbeddedStore:
    """An in-memory pyoxigraph store.

    Parameters
    ----------
    store : pyoxigraph.Store, optional
        An existing store to wrap.
    """

    def __init__(self, store: ox.Store | None = None) -> None:
        self.raw = store if store is not None else ox.Store()
        self.files: list[Path] = []

    @classmethod
    def from_paths(cls, paths: Sequence[Path | str] | None = None, *, ontology: bool = True) -> EmbeddedStore:
        """A store holding the ontology (optional) and the data files (default ``graph_data/``)."""
        store = cls()
        files = (ontology_sources() if ontology else []) + (expand(paths) if paths else data_sources())
        store.load(files)
        return store

    def load(self, paths: Sequence[Path | str]) -> int:
        """Add Turtle files; return the number of triples added.

        All or nothing: if a file does not parse, nothing of *paths* is added. An empty store is
        filled directly and emptied again on failure; a store that holds data gets the files
        through a staging store first.

        Raises
        ------
        kg.errors.TurtleSyntaxError
            A file does not parse (with its line and column).
        """
        files = expand(paths)
        target = self.raw if len(self.raw) == 0 else ox.Store()
        added = 0
        try:
            for f in files:
                added += _parse_into(target, f)
        except BaseException:
            if target is self.raw:
                self.raw.clear()
            raise
        if target is not self.raw:
            before = len(self.raw)
            self.raw.extend(target)
            added = len(self.raw) - before
        self.files.extend(files)
        return added

    def query(self, sparql: str, *, bindings: Mapping[str, Term] | None = None) -> Answer:
        """Run a query; see :class:`Store`.

        Raises
        ------
        QueryError
            The query does not parse; the message has the parser's position.
        """
        text = inject_values(sparql, bindings or {})
        form = query_form(text)
        if form == "UPDATE":
            raise QueryError("updates are not run through query(); this store is read-only here")
        try:
            res = self.raw.query(text)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}") from None
        if isinstance(res, ox.QueryBoolean):
            return bool(res)
        if isinstance(res, ox.QuerySolutions):
            names = tuple(v.value for v in res.variables)
            rows = tuple(tuple(_from_ox(sol[i]) for i in range(len(names))) for sol in res)
            return Table(names, rows)
        g = rdflib.Graph()
        for t in res:
            g.add((_from_ox(t.subject), _from_ox(t.predicate), _from_ox(t.object)))  # type: ignore[arg-type]
        return g

    def count(self) -> int:
        """Number of quads held."""
        return len(self.raw)

    def describe(self) -> str:
        """Engine and size."""
        return f"embedded pyoxigraph {ox.__version__} ({self.count()} triples from {len(self.files)} files)"


class RemoteStore:
    """A SPARQL 1.1 endpoint.

    Parameters
    ----------
    url : str
        The query endpoint, e.g. ``http://127.0.0.1:7878/query``.
    graph_store : str, optional
        Graph Store Protocol endpoint for :meth:`load`; default: ``/store`` beside *url*
        (Oxigraph's layout).
    timeout : float
        Seconds to wait for an answer.
    """

    def __init__(self, url: str, *, graph_store: str | None = None, timeout: float = 60.0) -> None:
        self.url = url
        self.graph_store = graph_store or re.sub(r"/(query|sparql)/?$", "/store", url)
        self._client = httpx.Client(timeout=timeout)

    def _post(self, url: str, *, content: bytes, content_type: str, accept: str | None = None,
              params: Mapping[str, str] | None = None) -> httpx.Response:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        try:
            resp = self._client.post(url, content=content, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach the SPARQL store at {url}: {exc}") from None
        if resp.status_code == 400:
            raise QueryError(f"the store at {url} rejected the query: {resp.text.strip()[:500]}")
        if resp.status_code >= 300:
            raise StoreError(f"the store at {url} answered HTTP {resp.status_code}: {resp.text.strip()[:500]}")
        return resp

    def query(self, sparql: str, *, bindings: Mapping[str, Term] | None = None) -> Answer:
        """Run a query over HTTP; see :class:`Store`."""
        text = inject_values(sparql, bindings or {})
        form = query_form(text)
        if form == "UPDATE":
            raise QueryError("updates are not run through query()")
        if form in ("SELECT", "ASK"):
            resp = self._post(self.url, content=text.encode(), content_type="application/sparql-query",
                              accept="application/sparql-results+json")
            try:
                data = resp.json()
            except json.JSONDecodeError:
                raise StoreError(f"the store at {self.url} did not answer SPARQL JSON results") from None
            if "boolean" in data:
                return bool(data["boolean"])
            names = tuple(data["head"]["vars"])
            rows = tuple(tuple(_from_json(b.get(n)) for n in names) for b in data["results"]["bindings"])
            return Table(names, rows)
        resp = self._post(self.url, content=text.encode(), content_type="application/sparql-query",
                          accept="application/n-triples")
        g = rdflib.Graph()
        g.parse(data=resp.text, format="nt")
        return g

    def load(self, paths: Sequence[Path | str]) -> int:
        """POST each file to the default graph with the Graph Store Protocol."""
        files = expand(paths)
        for f in files:
            check_syntax(f)  # refuse before sending anything
        n = 0
        for f in files:
            data = f.read_bytes()
            self._post(self.graph_store, content=data, content_type="text/turtle", params={"default": ""})
            n += sum(1 for _ in ox.parse(data, format=ox.RdfFormat.TURTLE, base_iri=f.resolve().as_uri()))
        return n

    def count(self) -> int:
        """Number of triples, by a COUNT query."""
        table = self.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        assert isinstance(table, Table)
        return int(table.rows[0][0])  # type: ignore[arg-type]

    def describe(self) -> str:
        """The endpoint URL."""
        return f"remote SPARQL endpoint {self.url}"


def open_store(url: str | None = None, *, data: Iterable[Path | str] | None = None) -> Store:
    """Open the store to use: *url* (or ``KG_STORE``) if given, else an embedded store of *data*."""
    url = url or os.environ.get("KG_STORE") or None
    if url:
        return RemoteStore(url)
    paths = list(data) if data else None
    return EmbeddedStore.from_paths(paths)
