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
from collections import defaultdict
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pyoxigraph as ox
import rdflib
from rdflib.namespace import XSD
from rdflib.term import BNode, Literal, URIRef

from kg.errors import KGError, QueryError, StoreError, TurtleSyntaxError
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


DATASET_FORMATS = {".nq": ox.RdfFormat.N_QUADS, ".trig": ox.RdfFormat.TRIG, ".nt": ox.RdfFormat.N_TRIPLES}
"""Files read by extension in another format than Turtle (e.g. the output of ``kg import rs``)."""


def _parse_into(target: ox.Store, path: Path) -> int:
    """Parse *path* with Oxigraph straight into *target* (atomic per file); return the triples added.

    No Python object is made per triple: at a million triples this takes a fifth of the time and
    a third of the memory of parsing to a list of quads first.
    """
    before = len(target)
    fmt = DATASET_FORMATS.get(path.suffix.lower(), ox.RdfFormat.TURTLE)
    try:
        if fmt == ox.RdfFormat.TURTLE:
            target.load(path=str(path), format=fmt, base_iri=path.resolve().as_uri())
        else:  # a large dataset (kg import rs): Oxigraph's parallel bulk loader; the caller's staging keeps it atomic
            target.bulk_load(path=str(path), format=fmt, base_iri=path.resolve().as_uri())
    except (SyntaxError, ValueError, OSError):
        check_syntax(path)  # raises TurtleSyntaxError with file:line:column
        raise
    return len(target) - before


class EmbeddedStore:
    """A pyoxigraph store in this process: in memory, or on disk.

    Parameters
    ----------
    store : pyoxigraph.Store, optional
        An existing store to wrap.
    location : Path, optional
        The folder of an on-disk *store* (``kg serve`` opens it read-only in every process).
    """

    def __init__(self, store: ox.Store | None = None, *, location: Path | None = None) -> None:
        self.raw = store if store is not None else ox.Store()
        self.location = location
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
            res = self.raw.query(text, use_default_graph_as_union=True)
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
        if self.location is not None:  # counting an on-disk store reads all of it: not at start-up
            return f"embedded pyoxigraph {ox.__version__} on disk at {self.location} ({len(self.files)} files)"
        return f"embedded pyoxigraph {ox.__version__} ({self.count()} triples from {len(self.files)} files)"


class _Credentials(httpx.Auth):
    """HTTP authentication as the server asks for it: Digest (Virtuoso) or Basic (Fuseki, GraphDB)."""

    def __init__(self, user: str, password: str) -> None:
        self._digest = httpx.DigestAuth(user, password)
        self._basic = httpx.BasicAuth(user, password)
        self._scheme: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._scheme == "basic":
            yield from self._basic.auth_flow(request)
            return
        if self._scheme == "digest":
            yield from self._digest.auth_flow(request)
            return
        response = yield request
        challenge = response.headers.get("www-authenticate", "")
        if response.status_code != 401 or not challenge:
            return
        self._scheme = "digest" if challenge.lower().startswith("digest") else "basic"
        flow = (self._digest if self._scheme == "digest" else self._basic).auth_flow(request)
        retry = next(flow)  # the flow's first request: with Digest, still without credentials
        if self._scheme == "digest":
            retry = flow.send(response)  # answer the challenge we already have
        yield retry


def _has_blank(triple: ox.Triple | ox.Quad) -> bool:
    return isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode)


def _blank_groups(triples: list[ox.Triple]) -> list[list[ox.Triple]]:
    """*triples* (each with a blank node) grouped so that triples sharing a blank node are together."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def blanks(t: ox.Triple) -> list[str]:
        return [n.value for n in (t.subject, t.object) if isinstance(n, ox.BlankNode)]

    for t in triples:
        ends = blanks(t)
        for other in ends[1:]:
            parent[find(other)] = find(ends[0])
    groups: dict[str, list[ox.Triple]] = defaultdict(list)
    for t in triples:
        groups[find(blanks(t)[0])].append(t)
    return list(groups.values())


def _batches(quads: Iterable[ox.Quad], size: int) -> Iterator[tuple[ox.NamedNode | ox.DefaultGraph, list[ox.Triple]]]:
    """Split *quads* into ``(graph, triples)`` batches of about *size* triples.

    Every request is a new document for the server, so a blank node's label means the same node
    only within one request: triples that share blank nodes (e.g. an OWL list) are kept in one
    batch, grouped with a union-find over their blank nodes.
    """
    plain: dict[ox.NamedNode | ox.DefaultGraph, list[ox.Triple]] = defaultdict(list)
    blank: dict[ox.NamedNode | ox.DefaultGraph, list[ox.Triple]] = defaultdict(list)
    for q in quads:
        graph = q.graph_name if isinstance(q.graph_name, ox.NamedNode) else ox.DefaultGraph()
        triple = ox.Triple(q.subject, q.predicate, q.object)
        if _has_blank(triple):
            blank[graph].append(triple)
            continue
        plain[graph].append(triple)
        if len(plain[graph]) >= size:
            yield graph, plain.pop(graph)
    for graph, triples in plain.items():
        yield graph, triples
    for graph, triples in blank.items():
        batch: list[ox.Triple] = []
        for group in _blank_groups(triples):
            batch.extend(group)
            if len(batch) >= size:
                yield graph, batch
                batch = []
        if batch:
            yield graph, batch


_RDF_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".nq": ox.RdfFormat.N_QUADS,
                ".trig": ox.RdfFormat.TRIG}


def _read_quads(path: Path) -> Iterator[ox.Quad]:
    """The quads of one file (Turtle, N-Triples, N-Quads or TriG, by its extension), as parsed.

    Raises
    ------
    kg.errors.TurtleSyntaxError
        The file does not parse (with its line and column).
    KGError
        The extension is none of these, or the file cannot be read.
    """
    fmt = _RDF_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise KGError(f"{path}: cannot load a {path.suffix or 'extensionless'} file; "
                      f"use one of {', '.join(sorted(_RDF_FORMATS))}")
    if fmt is ox.RdfFormat.TURTLE:
        check_syntax(path)  # file:line:column for the usual case
    try:
        yield from ox.parse(path=str(path), format=fmt, base_iri=path.resolve().as_uri())
    except SyntaxError as exc:
        raise TurtleSyntaxError(path, exc.lineno, exc.offset, str(exc.msg if hasattr(exc, "msg") else exc)) from None
    except OSError as exc:
        raise KGError(f"{path}: cannot read: {exc.strerror}") from None


class RemoteStore:
    """A SPARQL 1.1 endpoint: queries over the SPARQL Protocol, loading over the Graph Store Protocol.

    Tested against ``oxigraph serve`` and OpenLink Virtuoso 7.2 (``tests/e2e/test_parity.py``).
    Queries are sent as HTML-form POSTs (``query=…``), which every server reads; Virtuoso 7.2 never
    answers a POST of ``application/sparql-query`` (openlink/virtuoso-opensource#842).

    Parameters
    ----------
    url : str
        The query endpoint, e.g. ``http://127.0.0.1:7878/query``. SPARQL Protocol parameters in it
        are kept: ``http://127.0.0.1:8890/sparql?default-graph-uri=IRI`` queries the graph *IRI*
        (Virtuoso queries the union of all its graphs, system graphs included, without one), and
        :meth:`load` puts triples of the default graph into that graph.
    graph_store : str, optional
        Graph Store Protocol endpoint for :meth:`load`; default: ``/sparql-graph-crud-auth``
        (with *auth*) or ``/sparql-graph-crud`` beside *url* when the server says it is Virtuoso,
        else ``/store`` beside *url* (Oxigraph's layout).
    auth : (user, password), optional
        Credentials for loading; Digest or Basic, as the server asks.
    timeout : float
        Seconds to wait for an answer.
    """

    def __init__(self, url: str, *, graph_store: str | None = None, auth: tuple[str, str] | None = None,
                 timeout: float = 60.0) -> None:
        self.url = url
        parts = urlsplit(url)
        self.default_graph: str | None = parse_qs(parts.query).get("default-graph-uri", [None])[0]
        self._base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        self._path = parts.path
        self._graph_store = graph_store
        self._auth = _Credentials(*auth) if auth else None
        self._client = httpx.Client(timeout=timeout)

    def _send(self, method: str, url: str, *, content: bytes | None = None, data: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
              auth: httpx.Auth | None = None) -> httpx.Response:
        try:
            resp = self._client.request(method, url, content=content, data=data, headers=headers, params=params,
                                        auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach the SPARQL store at {url}: {exc}") from None
        if resp.status_code == 400:
            raise QueryError(f"the store at {url} rejected the request: {resp.text.strip()[:500]}")
        if resp.status_code in (401, 403):
            hint = ("give a user that may write (kg load --user NAME, password in $KG_STORE_PASSWORD)"
                    if self._auth is None else "check the user and $KG_STORE_PASSWORD")
            raise StoreError(f"the store at {url} refused access (HTTP {resp.status_code}); {hint}")
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
            resp = self._send("POST", self.url, data={"query": text},
                              headers={"Accept": "application/sparql-results+json"})
            try:
                data = resp.json()
            except json.JSONDecodeError:
                raise StoreError(f"the store at {self.url} did not answer SPARQL JSON results") from None
            if "boolean" in data:
                return bool(data["boolean"])
            names = tuple(data["head"]["vars"])
            rows = tuple(tuple(_from_json(b.get(n)) for n in names) for b in data["results"]["bindings"])
            return Table(names, rows)
        resp = self._send("POST", self.url, data={"query": text},
                          headers={"Accept": "application/n-triples, text/turtle;q=0.9"})
        media = resp.headers.get("content-type", "application/n-triples").split(";")[0].strip().lower()
        fmt = ox.RdfFormat.from_media_type(media)
        if fmt is None:
            raise StoreError(f"the store at {self.url} answered a graph in an unknown type {media!r}")
        g = rdflib.Graph()
        for t in ox.parse(resp.content, format=fmt):
            g.add((_from_ox(t.subject), _from_ox(t.predicate), _from_ox(t.object)))  # type: ignore[arg-type]
        return g

    def _server(self) -> str:
        """The ``Server`` header of the query endpoint (``Virtuoso/07.20.3229 …``), or ``""``."""
        resp = self._send("GET", self.url, params={"query": "ASK {}"},
                          headers={"Accept": "application/sparql-results+json"})
        return resp.headers.get("server", "")

    def graph_store(self) -> str:
        """The Graph Store Protocol endpoint :meth:`load` writes to (asks the server when not given)."""
        if self._graph_store is None:
            folder = re.sub(r"/[^/]*$", "", self._path)
            if self._server().lower().startswith("virtuoso"):
                crud = "/sparql-graph-crud-auth" if self._auth else "/sparql-graph-crud"
                self._graph_store = f"{self._base}{folder}{crud}"
            else:
                self._graph_store = f"{self._base}{folder}/store"
        return self._graph_store

    def load(self, paths: Sequence[Path | str], *, batch: int = 50_000) -> int:
        """Add RDF files with the Graph Store Protocol (``POST`` of Turtle); return the triples read.

        Every file is parsed here first, so a file that does not parse stops the load before
        anything is sent, and the server gets absolute IRIs only (relative ones are resolved
        against the file, as the embedded store does). Triples go in requests of about *batch*
        triples, those sharing a blank node in the same request. Triples of the default graph go
        to the store's default graph, or to the URL's ``default-graph-uri`` if it has one; quads
        of named graphs (N-Quads, TriG) to their graph.

        Raises
        ------
        kg.errors.TurtleSyntaxError
            A file does not parse.
        StoreError
            The store cannot be reached or refuses the data (the message says why).
        """
        files = expand(paths)
        for f in files:
            for _ in _read_quads(f):  # refuse before sending anything
                pass
        target = self.graph_store()
        n = 0
        for f in files:
            for graph, triples in _batches(_read_quads(f), batch):
                n += len(triples)
                if isinstance(graph, ox.NamedNode):
                    params = {"graph": graph.value}
                elif self.default_graph:
                    params = {"graph": self.default_graph}
                elif "sparql-graph-crud" in target:
                    raise StoreError(
                        f"Virtuoso keeps no default graph of its own; name one in the store URL: "
                        f"{self.url}{'&' if '?' in self.url else '?'}default-graph-uri=https://w3id.org/jp-funding/graph")
                else:
                    params = {"default": ""}
                # Turtle as pyoxigraph writes it: integers as bare numerals, which Virtuoso 7.2 keeps
                # as xsd:integer; it turns "3500000000"^^xsd:integer (past 32 bits) into xsd:decimal
                body = ox.serialize(triples, format=ox.RdfFormat.TURTLE)
                self._send("POST", target, content=body, params=params,
                           headers={"Content-Type": "text/turtle"}, auth=self._auth)
        return n

    def count(self) -> int:
        """Number of triples, by a COUNT query."""
        table = as_table(self.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"))
        return int(table.rows[0][0])  # type: ignore[arg-type]

    def describe(self) -> str:
        """The endpoint URL."""
        return f"remote SPARQL endpoint {self.url}"


def open_store(url: str | None = None, *, data: Iterable[Path | str] | None = None,
               location: str | Path | None = None) -> Store:
    """Open the store to use: *url* (or ``KG_STORE``) if given, else the on-disk store at *location*
    (read-only, as ``kg import rs --location`` wrote it), else an embedded store of *data*."""
    url = url or os.environ.get("KG_STORE") or None
    if url:
        return RemoteStore(url)
    if location is not None:
        folder = Path(location)
        if not folder.is_dir():
            raise StoreError(f"{folder}: no store here; make one with kg import rs … --location {folder}")
        try:
            return EmbeddedStore(ox.Store.read_only(str(folder)))
        except OSError as exc:
            raise StoreError(f"{folder}: cannot open the store: {exc}") from None
    paths = list(data) if data else None
    return EmbeddedStore.from_paths(paths)
