"""Run SPARQL queries for the server: in a worker thread, with a deadline, at most ``max_rows`` rows.

For an :class:`~kg.store.EmbeddedStore` the query runs on its ``raw`` pyoxigraph store and the
answer is written by pyoxigraph's own serializers: a result set is first written as SPARQL TSV and a
graph as N-Triples, one row or triple per line, into a writer that stops the query once
``max_rows`` lines have come (:class:`_Capture`). The kept lines are then parsed back by pyoxigraph
and written in the negotiated format, so truncation never needs a Python loop over rows and every
format is pyoxigraph's. For a :class:`~kg.store.RemoteStore` the query is forwarded over the SPARQL
1.1 Protocol and the answer goes through the same capture, so both backends truncate alike.

Examples
--------
>>> classify("PREFIX load: <http://e/> SELECT * WHERE { ?s load:p ?service }")
'SELECT'
>>> classify("WITH <http://e/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }")
'UPDATE'
>>> uses_service('SELECT * WHERE { ?s ?p "SERVICE" } # SERVICE')
False
>>> uses_service("SELECT * WHERE { service <http://e/sparql> { ?s ?p ?o } }")
True
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TypeVar, cast

import httpx
import pyoxigraph as ox

from kg.load import PREFIXES
from kg.store import EmbeddedStore, RemoteStore, Store
from server.errors import ApiError, QueryTimeout
from server.negotiation import GRAPH_TYPES, RESULT_TYPES

__all__ = [
    "SERIALIZE_PREFIXES",
    "Outcome",
    "QueryRunner",
    "classify",
    "compact_name",
    "serialize_graph",
    "used_prefixes",
    "uses_service",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

SERIALIZE_PREFIXES: dict[str, str] = {
    **PREFIXES,
    "dcterms": "http://purl.org/dc/terms/",
    "iati": "https://w3id.org/jp-funding/id/iati-transaction-type/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rs": "https://w3id.org/jp-funding/id/rs-method/",
    "schema": "https://schema.org/",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
    "sh": "http://www.w3.org/ns/shacl#",
    "void": "http://rdfs.org/ns/void#",
}
"""Prefixes offered to the Turtle / RDF-XML writers; only those a document uses are written."""

# ---------------------------------------------------------------- reading query text

_TOKENS = re.compile(
    r'#[^\n]*'                                   # comment
    r'|"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\''      # long strings
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''  # short strings
    r'|<[^<>\s"{}|^`\\]*>'                       # IRIs
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_KEYWORD = r"(?<![\w?$:.-])({words})(?![\w:.-])"
_FORMS = re.compile(
    _KEYWORD.format(words="SELECT|ASK|CONSTRUCT|DESCRIBE|INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH"),
    re.IGNORECASE,
)
_SERVICE = re.compile(_KEYWORD.format(words="SERVICE"), re.IGNORECASE)
_QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


def _code(text: str) -> str:
    """The query with comments, strings and IRIs blanked out and ``\\u`` escapes decoded.

    Escapes are decoded first because SPARQL allows them anywhere in a query: a server that
    honours them must not be tricked into missing a keyword.
    """
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    return _TOKENS.sub(" ", text)


def classify(sparql: str) -> str | None:
    """``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``, ``UPDATE``, or ``None`` when no keyword is found.

    Unlike :func:`kg.store.query_form` this ignores keywords inside variables and prefixed names
    (``PREFIX load: <…>`` is not an update), so a read-only server never refuses a real query.
    """
    m = _FORMS.search(_code(sparql))
    if m is None:
        return None
    word = m.group(1).upper()
    return word if word in _QUERY_FORMS else "UPDATE"


def uses_service(sparql: str) -> bool:
    """Whether the query has a ``SERVICE`` clause (a federated query that would call out)."""
    return _SERVICE.search(_code(sparql)) is not None


# ---------------------------------------------------------------- answers

def used_prefixes(iris: Iterable[str]) -> dict[str, str]:
    """The entries of :data:`SERIALIZE_PREFIXES` whose namespace some IRI in *iris* starts with.

    Examples
    --------
    >>> used_prefixes(["https://w3id.org/jp-funding/id/org/jetro"])
    {'orgs': 'https://w3id.org/jp-funding/id/org/'}
    """
    seen = set(iris)
    out = {}
    for prefix, ns in sorted(SERIALIZE_PREFIXES.items()):
        if any(i.startswith(ns) and len(i) > len(ns) for i in seen):
            out[prefix] = ns
    return out


def compact_name(iri: str) -> str:
    """*iri* shortened with :data:`SERIALIZE_PREFIXES` (``owl:Class``), or unchanged.

    Examples
    --------
    >>> compact_name("http://www.w3.org/2002/07/owl#Class")
    'owl:Class'
    """
    for prefix, ns in sorted(SERIALIZE_PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def _iris(triples: Iterable[ox.Triple]) -> set[str]:
    out: set[str] = set()
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                out.add(term.value)
            elif isinstance(term, ox.Literal) and term.datatype is not None:
                out.add(term.datatype.value)
    return out


def serialize_graph(triples: Sequence[ox.Triple], media_type: str, *, first: str | None = None) -> bytes:
    """Write *triples* with pyoxigraph in the graph format of *media_type*, with the prefixes used.

    Statements are grouped by subject (so Turtle writes each subject once), the subject IRI
    *first* before the others.
    """
    fmt = GRAPH_TYPES[media_type]
    triples = sorted(triples, key=lambda t: (str(t.subject) != f"<{first}>", isinstance(t.subject, ox.BlankNode),
                                             str(t.subject)))
    prefixes = used_prefixes(_iris(triples)) if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
    return cast(bytes, ox.serialize(triples, format=fmt, prefixes=prefixes))


@dataclass(frozen=True)
class Outcome:
    """The answer of one query, already cut to ``max_rows``.

    ``data`` holds SPARQL TSV for ``kind == "solutions"`` and N-Triples for ``kind == "graph"``,
    one row or triple per line, exactly as pyoxigraph wrote them.
    """

    kind: str
    data: bytes = b""
    boolean: bool = False
    truncated: bool = False

    @property
    def offered(self) -> list[str]:
        """The media types this answer can be written in, default first."""
        return list(GRAPH_TYPES if self.kind == "graph" else RESULT_TYPES)

    def _parsed(self) -> ox.QuerySolutions | ox.QueryBoolean:
        if self.kind == "boolean":
            doc = b'{"head":{},"boolean":%s}' % (b"true" if self.boolean else b"false")
            return ox.parse_query_results(doc, ox.QueryResultsFormat.JSON)
        return ox.parse_query_results(self.data, ox.QueryResultsFormat.TSV)

    def _no_variables(self) -> bool:
        return self.kind == "solutions" and self.data.startswith(b"\n")

    def serialize(self, media_type: str) -> bytes:
        """The answer in *media_type* (a key of the table :attr:`offered` lists)."""
        if self.kind == "graph":
            if media_type == "application/n-triples":
                return self.data
            return serialize_graph(self.triples(), media_type)
        fmt = RESULT_TYPES[media_type]
        if self.kind == "solutions" and fmt == ox.QueryResultsFormat.TSV:
            return self.data
        if self._no_variables():
            return _empty_rows(self.data.count(b"\n") - 1, fmt)
        return cast(bytes, self._parsed().serialize(format=fmt))

    def table(self) -> tuple[list[str], list[list[ox.NamedNode | ox.BlankNode | ox.Literal | None]]]:
        """Variables and rows of a result set (for HTML)."""
        if self.kind == "boolean":
            return ["boolean"], [[ox.Literal(str(self.boolean).lower(), datatype=ox.NamedNode(_XSD_BOOLEAN))]]
        if self._no_variables():
            return [], [[] for _ in range(self.data.count(b"\n") - 1)]
        solutions = self._parsed()
        assert isinstance(solutions, ox.QuerySolutions)
        names = [v.value for v in solutions.variables]
        return names, [[s[n] for n in names] for s in solutions]

    def triples(self) -> list[ox.Triple]:
        """The triples of a graph answer."""
        return [q.triple for q in ox.parse(self.data, format=ox.RdfFormat.N_TRIPLES)]


_XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"


def _empty_rows(n: int, fmt: ox.QueryResultsFormat) -> bytes:
    # A result set with no variables but n rows (``SELECT * {}`` has one). pyoxigraph's TSV
    # parser reads such a document as zero rows, so it cannot round-trip; written by hand here.
    if fmt == ox.QueryResultsFormat.JSON:
        return b'{"head":{"vars":[]},"results":{"bindings":[' + b",".join([b"{}"] * n) + b"]}}"
    if fmt == ox.QueryResultsFormat.XML:
        return (b'<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head></head>'
                b"<results>" + b"<result></result>" * n + b"</results></sparql>")
    if fmt == ox.QueryResultsFormat.CSV:
        return b"\r\n" * (n + 1)
    return b"\n" * (n + 1)


class _Full(Exception):
    """Raised by :class:`_Capture` to stop a query once enough lines have come."""


class _Capture(io.RawIOBase):
    """A binary writer that keeps the first *limit* lines and stops the writer after that.

    It also checks the deadline on every write, so a query that is still streaming rows when its
    time is up stops using the CPU.
    """

    def __init__(self, limit: int, deadline: float, timeout: float) -> None:
        super().__init__()
        self.limit = limit
        self.deadline = deadline
        self.timeout = timeout
        self.chunks: list[bytes] = []
        self.lines = 0
        self.full = False

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if time.monotonic() > self.deadline:
            raise QueryTimeout(self.timeout)
        chunk = bytes(b)
        self.chunks.append(chunk)
        self.lines += chunk.count(b"\n")
        if self.lines > self.limit:
            self.full = True
            raise _Full
        return len(chunk)

    def io(self) -> IO[bytes]:
        """This writer, typed as the binary file pyoxigraph's serializers take."""
        return cast(IO[bytes], self)

    def value(self) -> bytes:
        data = b"".join(self.chunks)
        if not self.full:
            return data
        end = -1
        for _ in range(self.limit):
            end = data.find(b"\n", end + 1)
        return data[: end + 1]


def _without_frames(exc: BaseException) -> BaseException:
    """Drop the tracebacks of *exc* and its chain, here in the worker thread.

    Their frames hold pyoxigraph result iterators, which must be freed by the thread that made
    them (pyoxigraph's objects are "unsendable"); the request only needs the exception itself.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return exc


def _deliver(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[T], *, result: T | None = None,
             exc: BaseException | None = None) -> None:
    def settle() -> None:
        if fut.done():  # the request gave up waiting (timeout) or went away
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)  # type: ignore[arg-type]

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the event loop is closed: nobody waits for this answer any more
        pass


class QueryRunner:
    """Runs queries of one app on its store, each in a worker thread with a deadline.

    Parameters
    ----------
    store : EmbeddedStore or RemoteStore
    timeout : float
        Seconds a query may take, from the request until its last row is written.
    max_rows : int
        Rows (or triples) kept; more are dropped and :attr:`Outcome.truncated` is set.
    max_threads : int
        Queries running at once; a further one is answered 503 at once.

    Notes
    -----
    An in-process pyoxigraph query cannot be interrupted: when the deadline passes the request is
    answered 503 and the worker thread is abandoned. A query still writing rows stops at its next
    write (:class:`_Capture`), but one that computes for long before its first row (a large ORDER BY
    or aggregate) runs on to its end and holds one of the *max_threads* slots meanwhile. Running
    queries in a separate worker process that can be killed is future work. Worker threads are
    daemons, so an abandoned query never keeps the server from exiting.
    """

    def __init__(self, store: Store, *, timeout: float, max_rows: int, max_threads: int = 4) -> None:
        if not isinstance(store, EmbeddedStore | RemoteStore):
            raise TypeError(f"the server runs on an EmbeddedStore or a RemoteStore, not {type(store).__name__}")
        self.store = store
        self.timeout = timeout
        self.max_rows = max_rows
        self.max_threads = max_threads
        self._slots = threading.BoundedSemaphore(max_threads)
        self._client = httpx.Client() if isinstance(store, RemoteStore) else None

    def close(self) -> None:
        """Release the HTTP client of a remote store."""
        if self._client is not None:
            self._client.close()

    async def run(self, work: Callable[[float], T]) -> T:
        """Run ``work(deadline)`` in a worker thread; 503 when it misses the deadline.

        Raises
        ------
        QueryTimeout
            The work did not finish in :attr:`timeout` seconds.
        ApiError
            503 when :attr:`max_threads` queries are already running.
        """
        if not self._slots.acquire(blocking=False):
            raise ApiError(503, f"{self.max_threads} queries are already running; try again shortly",
                           headers={"Retry-After": "2"})
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        deadline = time.monotonic() + self.timeout

        def target() -> None:
            failure: BaseException | None = None
            result: T | None = None
            try:
                result = work(deadline)
            except BaseException as exc:  # handed over to the waiting request as is, never swallowed
                if not isinstance(exc, ApiError):
                    log.error("query failed in a worker thread", exc_info=exc)
                failure = _without_frames(exc)
            # Free the slot before answering, so the next request of the same client finds it free.
            self._slots.release()
            _deliver(loop, fut, result=result, exc=failure)

        threading.Thread(target=target, name="kg-query", daemon=True).start()
        try:
            return await asyncio.wait_for(fut, timeout=self.timeout)
        except TimeoutError:
            raise QueryTimeout(self.timeout) from None

    async def query(self, sparql: str, *, default_graphs: Sequence[str] = (), named_graphs: Sequence[str] = (),
                    truncate: bool = True) -> Outcome:
        """Run *sparql* with the deadline; see :meth:`execute`."""
        return await self.run(lambda deadline: self.execute(sparql, deadline, default_graphs=default_graphs,
                                                            named_graphs=named_graphs, truncate=truncate))

    def execute(self, sparql: str, deadline: float, *, default_graphs: Sequence[str] = (),
                named_graphs: Sequence[str] = (), truncate: bool = True) -> Outcome:
        """Run *sparql* now, in this thread.

        With ``truncate=False`` every row is kept: for the server's own queries whose size the
        data bounds (the description of one resource), never for user queries.

        Raises
        ------
        ApiError
            400 with the parser's message when the query does not parse; 502 when a remote store fails.
        QueryTimeout
            The deadline passed while rows were being written.
        """
        rows = self.max_rows if truncate else sys.maxsize - 1
        if isinstance(self.store, EmbeddedStore):
            return self._embedded(sparql, deadline, default_graphs, named_graphs, rows)
        return self._remote(sparql, deadline, default_graphs, named_graphs, rows)

    def _embedded(self, sparql: str, deadline: float, default_graphs: Sequence[str],
                  named_graphs: Sequence[str], rows: int) -> Outcome:
        assert isinstance(self.store, EmbeddedStore)
        options: dict[str, object] = {}
        if default_graphs:
            options["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
        if named_graphs:
            options["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
        try:
            answer = self.store.raw.query(sparql, **options)  # type: ignore[arg-type]
        except SyntaxError as exc:
            raise ApiError(400, f"SPARQL syntax error: {exc}") from None
        if isinstance(answer, ox.QueryBoolean):
            return Outcome("boolean", boolean=bool(answer))
        if isinstance(answer, ox.QuerySolutions):
            capture = _Capture(rows + 1, deadline, self.timeout)  # + the header line
            try:
                answer.serialize(capture.io(), format=ox.QueryResultsFormat.TSV)
            except _Full:
                pass
            return Outcome("solutions", capture.value(), truncated=capture.full)
        capture = _Capture(rows, deadline, self.timeout)
        try:
            answer.serialize(capture.io(), format=ox.RdfFormat.N_TRIPLES)
        except _Full:
            pass
        return Outcome("graph", capture.value(), truncated=capture.full)

    def _remote(self, sparql: str, deadline: float, default_graphs: Sequence[str],
                named_graphs: Sequence[str], rows: int) -> Outcome:
        assert isinstance(self.store, RemoteStore) and self._client is not None
        form = classify(sparql)
        graph = form in ("CONSTRUCT", "DESCRIBE")
        accept = ("application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5" if graph else
                  "text/tab-separated-values, application/sparql-results+json;q=0.9, "
                  "application/sparql-results+xml;q=0.8")
        form_data = {"query": sparql, "default-graph-uri": list(default_graphs),
                     "named-graph-uri": list(named_graphs)}
        url = self.store.url
        try:
            with self._client.stream("POST", url, data=form_data, headers={"Accept": accept},
                                     timeout=max(deadline - time.monotonic(), 0.001)) as resp:
                if resp.status_code == 400:
                    resp.read()
                    raise ApiError(400, f"the SPARQL store at {url} rejected the query: {resp.text.strip()[:2000]}")
                if resp.status_code >= 300:
                    resp.read()
                    raise ApiError(502, f"the SPARQL store at {url} answered HTTP {resp.status_code}: "
                                        f"{resp.text.strip()[:500]}")
                media = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                if media in ("text/tab-separated-values", "application/n-triples"):
                    lines = rows + (1 if media.startswith("text/") else 0)
                    capture = _Capture(lines, deadline, self.timeout)
                    try:
                        for chunk in resp.iter_bytes():
                            capture.write(chunk)
                    except _Full:
                        pass
                    kind = "solutions" if media.startswith("text/") else "graph"
                    return Outcome(kind, capture.value(), truncated=capture.full)
                body = resp.read()
        except httpx.TimeoutException:
            raise QueryTimeout(self.timeout) from None
        except httpx.HTTPError as exc:
            raise ApiError(502, f"cannot reach the SPARQL store at {url}: {exc}") from None
        return self._reencode(body, media, deadline, url, rows)

    def _reencode(self, body: bytes, media: str, deadline: float, url: str, rows: int) -> Outcome:
        """Bring a remote answer in another format to TSV / N-Triples through the same capture."""
        results = ox.QueryResultsFormat.from_media_type(media)
        if results is not None:
            parsed = ox.parse_query_results(body, results)
            if isinstance(parsed, ox.QueryBoolean):
                return Outcome("boolean", boolean=bool(parsed))
            capture = _Capture(rows + 1, deadline, self.timeout)
            try:
                parsed.serialize(capture.io(), format=ox.QueryResultsFormat.TSV)
            except _Full:
                pass
            return Outcome("solutions", capture.value(), truncated=capture.full)
        rdf = ox.RdfFormat.from_media_type(media)
        if rdf is None:
            raise ApiError(502, f"the SPARQL store at {url} answered in an unknown type {media!r}")
        capture = _Capture(rows, deadline, self.timeout)
        try:
            ox.serialize((q.triple for q in ox.parse(body, format=rdf)), capture.io(), format=ox.RdfFormat.N_TRIPLES)
        except _Full:
            pass
        return Outcome("graph", capture.value(), truncated=capture.full)
