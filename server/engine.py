r"""Run SPARQL queries for the server: with a deadline that really stops them, at most ``max_rows`` rows.

For an :class:`~kg.store.EmbeddedStore` user queries run in killable worker processes
(:mod:`server.pool`, :mod:`server.worker`), each holding a copy of the graph: when a query's
deadline passes its worker is killed and replaced, so a runaway query costs nothing after its
timeout. The answer is written by pyoxigraph's own serializers: a result set first as SPARQL TSV
and a graph as N-Triples, one row or triple per line, into a writer that stops the query once
``max_rows`` lines have come (:class:`server.worker.Capture`). The kept lines are then parsed back
by pyoxigraph and written in the negotiated format, so truncation never needs a Python loop over
rows and every format is pyoxigraph's. The server's own bounded queries (the description of one
resource) run in a thread on the server's store. For a :class:`~kg.store.RemoteStore` the query is
forwarded over the SPARQL 1.1 Protocol (an HTTP timeout stops it) and the answer goes through the
same capture, so both backends truncate alike.

Keywords are found by a small SPARQL lexer (:func:`keywords`) that skips comments, strings, IRIs,
variables and prefixed names the way the SPARQL grammar does, so ``PREFIX load: <…>`` or
``?service`` never look like keywords, and an escaped ``\#`` in a local name never hides one.

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
>>> uses_service(r"SELECT * WHERE { ?s ?p ex:o\# SERVICE <http://e/> { ?s ?p ?o } }")
True
>>> uses_service("SELECT * WHERE { ?s ?p ?o .SERVICE <http://e/> { ?s ?p ?o } }")
True
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, cast

import httpx
import pyoxigraph as ox

from kg.load import PREFIXES
from kg.store import EmbeddedStore, RemoteStore, Store
from server.errors import ApiError, QueryTimeout
from server.negotiation import GRAPH_TYPES, RESULT_TYPES
from server.pool import NoWorker, PoolBusy, PoolError, WorkerCrashed, WorkerPool, WorkerTimeout
from server.worker import Answer, Capture, Deadline, EvaluationError, QuerySyntaxError, execute

__all__ = [
    "SERIALIZE_PREFIXES",
    "Outcome",
    "QueryRunner",
    "classify",
    "compact_name",
    "keywords",
    "serialize_graph",
    "used_prefixes",
    "uses_load",
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

_PN_CHARS = r"[\w\-\u00B7\u0300-\u036F\u203F-\u2040]"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_LEX = re.compile(
    r"(?P<skip>"
    r"#[^\n\r]*"                                                 # comment
    r'|"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""'                       # long strings
    r"|'''(?:[^'\\]|\\[\s\S]|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\[\s\S])*"'                               # short strings
    r"|'(?:[^'\\\n\r]|\\[\s\S])*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'                                # IRIs
    r"|[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+"                # variables
    r"|@[A-Za-z]+(?:-[A-Za-z0-9]+)*"                             # language tags
    r")"
    rf"|(?P<run>(?:{_PN_CHARS}|[.:]|{_PLX})++)"                  # words, numbers, prefixed names
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_WORD = re.compile(r"[A-Za-z]+")
_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "INSERT", "DELETE", "LOAD", "CLEAR", "CREATE",
                    "DROP", "COPY", "MOVE", "ADD", "WITH"})
_QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


def _decode(text: str) -> str:
    def char(m: re.Match[str]) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group(0)

    return _ESCAPE.sub(char, text)


def _words(text: str) -> Iterator[str]:
    for m in _LEX.finditer(text):
        run = m.group("run")
        if run is None:
            continue
        head, colon, _ = run.partition(":")
        if colon and head[:1] not in (".", "-") and not head.endswith("."):
            continue  # a prefixed name (or blank node label): keywords never hide inside one
        for word in _WORD.findall(head if colon else run):
            yield word.upper()


def keywords(sparql: str) -> list[str]:
    """The bare words of *sparql* in upper case: keywords and function names, nothing inside a
    string, IRI, comment, variable or prefixed name.

    SPARQL allows ``\\u`` escapes; since engines differ on whether they apply outside strings, the
    words of the text as written and of the text with escapes decoded are both returned, so a
    keyword cannot hide behind either reading.

    Examples
    --------
    >>> keywords('PREFIX ex: <http://e/#x> SELECT ?load WHERE { ?s ex:p "INSERT" } # DROP')
    ['PREFIX', 'SELECT', 'WHERE']
    >>> keywords(r"\\u0053ERVICE")
    ['U', 'ERVICE', 'SERVICE']
    """
    out = list(_words(sparql))
    decoded = _decode(sparql)
    if decoded != sparql:
        out += _words(decoded)
    return out


def classify(sparql: str) -> str | None:
    """``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``, ``UPDATE``, or ``None`` when no keyword is found.

    Unlike :func:`kg.store.query_form` this ignores keywords inside variables and prefixed names
    (``PREFIX load: <…>`` is not an update), so a read-only server never refuses a real query.
    """
    for word in _words(sparql):
        if word in _FORMS:
            return word if word in _QUERY_FORMS else "UPDATE"
    return None


def uses_service(sparql: str) -> bool:
    """Whether the query has a ``SERVICE`` clause (a federated query that would call out)."""
    return "SERVICE" in keywords(sparql)


def uses_load(sparql: str) -> bool:
    """Whether an update has a ``LOAD`` operation (which would fetch a document from a URL)."""
    return "LOAD" in keywords(sparql)


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


def _outcome(answer: Answer) -> Outcome:
    return Outcome(answer.kind, answer.data, boolean=answer.boolean, truncated=answer.truncated)


class QueryRunner:
    """Runs the queries of one app on its store, each with a deadline.

    Parameters
    ----------
    store : EmbeddedStore or RemoteStore
    timeout : float
        Seconds a query may take, from the request until its last row is written.
    max_rows : int
        Rows (or triples) kept; more are dropped and :attr:`Outcome.truncated` is set.
    max_threads : int
        Queries running at once in threads (the server's own queries, remote stores); a further
        one is answered 503 at once.
    workers : int
        Worker processes for user queries on an embedded store (0: run them in threads, where a
        query that computes before its first row cannot be stopped).
    worker_memory : int, optional
        Address-space limit of each worker process in bytes.
    max_waiting : int
        User queries that may wait for a free worker; more get 503 at once.

    Notes
    -----
    With ``workers`` > 0 a user query (:meth:`query` with ``truncate=True``) runs in a worker
    process that is killed at the deadline (:mod:`server.pool`): the 503 is answered as soon as the
    deadline passes and the CPU is free from then on. In threads (``workers=0``, the server's own
    queries and remote stores) a query still writing rows stops at its next write, but one that
    computes for long before its first row runs on to its end and holds one of the *max_threads*
    slots meanwhile. Worker threads are daemons, so an abandoned query never keeps the server from
    exiting.
    """

    def __init__(self, store: Store, *, timeout: float, max_rows: int, max_threads: int = 4, workers: int = 0,
                 worker_memory: int | None = None, max_waiting: int = 64) -> None:
        if not isinstance(store, EmbeddedStore | RemoteStore):
            raise TypeError(f"the server runs on an EmbeddedStore or a RemoteStore, not {type(store).__name__}")
        self.store = store
        self.timeout = timeout
        self.max_rows = max_rows
        self.max_threads = max_threads
        self._slots = threading.BoundedSemaphore(max_threads)
        self._client = httpx.Client() if isinstance(store, RemoteStore) else None
        self.pool: WorkerPool | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._admitted = 0
        self._admit_lock = threading.Lock()
        self._capacity = 0
        if workers > 0 and isinstance(store, EmbeddedStore):
            self.pool = WorkerPool(size=workers, memory=worker_memory, max_waiting=max_waiting)
            self._capacity = workers + max_waiting
            self._executor = ThreadPoolExecutor(max_workers=self._capacity, thread_name_prefix="kg-query")

    def start(self) -> None:
        """Start the worker processes (if any) on the current graph; returns before they are ready."""
        if self.pool is not None and isinstance(self.store, EmbeddedStore):
            self.pool.start(self.store.raw)

    def swap(self, store: EmbeddedStore) -> None:
        """Serve *store* from now on: new workers are started on it and switched to in one step.

        Blocking; call it from a thread.

        Raises
        ------
        server.pool.PoolError
            The new workers did not start; the old graph keeps serving.
        """
        if self.pool is not None:
            self.pool.swap(store.raw)
        self.store = store

    def close(self) -> None:
        """Stop the worker processes and release the HTTP client of a remote store."""
        if self.pool is not None:
            self.pool.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
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
        """Run *sparql* with the deadline: a user query in a worker process, the server's own in a thread.

        With ``truncate=False`` every row is kept: for the server's own queries whose size the
        data bounds (the description of one resource), never for user queries.

        Raises
        ------
        ApiError
            400 malformed query; 503 timeout (:class:`QueryTimeout`), all workers busy, or a
            worker that died (out of memory); 502 a remote store failed.
        """
        if truncate and self.pool is not None:
            return await self._in_worker(sparql, list(default_graphs), list(named_graphs))
        return await self.run(lambda deadline: self.execute(sparql, deadline, default_graphs=default_graphs,
                                                            named_graphs=named_graphs, truncate=truncate))

    async def _in_worker(self, sparql: str, default_graphs: list[str], named_graphs: list[str]) -> Outcome:
        assert self.pool is not None and self._executor is not None
        with self._admit_lock:
            if self._admitted >= self._capacity:
                raise ApiError(503, f"{self._admitted} queries are running or waiting; try again shortly",
                               headers={"Retry-After": "2"})
            self._admitted += 1
        try:
            deadline = time.monotonic() + self.timeout
            request = {"sparql": sparql, "default_graphs": default_graphs, "named_graphs": named_graphs,
                       "rows": self.max_rows}
            pool = self.pool

            def call() -> tuple[dict[str, object], bytes]:
                self.start()  # a no-op once started (the app starts the pool at startup)
                return pool.run(request, deadline)

            loop = asyncio.get_running_loop()
            try:
                header, data = await loop.run_in_executor(self._executor, call)
            except WorkerTimeout:
                raise QueryTimeout(self.timeout) from None
            except (NoWorker, PoolBusy) as exc:
                raise ApiError(503, f"the server is busy: {exc}; try again shortly",
                               headers={"Retry-After": "2"}) from None
            except WorkerCrashed as exc:
                raise ApiError(503, f"the query's worker process {exc}; ask for less "
                                    "(add a LIMIT, avoid building huge strings)", headers={"Retry-After": "1"}) from None
            except PoolError as exc:
                raise ApiError(503, f"no query worker is available: {exc}", headers={"Retry-After": "5"}) from None
        finally:
            with self._admit_lock:
                self._admitted -= 1
        error = header.get("error")
        if error == "syntax":
            raise ApiError(400, f"SPARQL syntax error: {header.get('detail', '')}")
        if error == "evaluation":
            raise ApiError(400, f"the query could not be evaluated: {header.get('detail', '')}")
        if error == "deadline":
            raise QueryTimeout(self.timeout)
        if error == "memory":
            raise ApiError(503, "the query ran out of memory in its worker process; ask for less",
                           headers={"Retry-After": "1"})
        return Outcome(str(header["kind"]), data, boolean=bool(header.get("boolean")),
                       truncated=bool(header.get("truncated")))

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
        store = self.store  # one graph for the whole query, even if a reload swaps it meanwhile
        if isinstance(store, EmbeddedStore):
            try:
                return _outcome(execute(store.raw, sparql, deadline, rows=rows, default_graphs=default_graphs,
                                        named_graphs=named_graphs))
            except QuerySyntaxError as exc:
                raise ApiError(400, f"SPARQL syntax error: {exc}") from None
            except EvaluationError as exc:
                raise ApiError(400, f"the query could not be evaluated: {exc}") from None
            except Deadline:
                raise QueryTimeout(self.timeout) from None
        return self._remote(store, sparql, deadline, default_graphs, named_graphs, rows)

    def _remote(self, store: RemoteStore, sparql: str, deadline: float, default_graphs: Sequence[str],
                named_graphs: Sequence[str], rows: int) -> Outcome:
        assert self._client is not None
        form = classify(sparql)
        graph = form in ("CONSTRUCT", "DESCRIBE")
        accept = ("application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5" if graph else
                  "text/tab-separated-values, application/sparql-results+json;q=0.9, "
                  "application/sparql-results+xml;q=0.8")
        form_data = {"query": sparql, "default-graph-uri": list(default_graphs),
                     "named-graph-uri": list(named_graphs)}
        url = store.url
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
                    capture = Capture(lines, deadline)
                    capture.write_all(resp.iter_bytes())
                    kind = "solutions" if media.startswith("text/") else "graph"
                    return Outcome(kind, capture.value(), truncated=capture.full)
                body = resp.read()
        except Deadline:
            raise QueryTimeout(self.timeout) from None
        except httpx.TimeoutException:
            raise QueryTimeout(self.timeout) from None
        except httpx.HTTPError as exc:
            raise ApiError(502, f"cannot reach the SPARQL store at {url}: {exc}") from None
        try:
            return self._reencode(body, media, deadline, url, rows)
        except Deadline:
            raise QueryTimeout(self.timeout) from None

    def _reencode(self, body: bytes, media: str, deadline: float, url: str, rows: int) -> Outcome:
        """Bring a remote answer in another format to TSV / N-Triples through the same capture."""
        results = ox.QueryResultsFormat.from_media_type(media)
        if results is not None:
            parsed = ox.parse_query_results(body, results)
            if isinstance(parsed, ox.QueryBoolean):
                return Outcome("boolean", boolean=bool(parsed))
            capture = Capture(rows + 1, deadline)
            capture.serialize(parsed, ox.QueryResultsFormat.TSV)
            return Outcome("solutions", capture.value(), truncated=capture.full)
        rdf = ox.RdfFormat.from_media_type(media)
        if rdf is None:
            raise ApiError(502, f"the SPARQL store at {url} answered in an unknown type {media!r}")
        capture = Capture(rows, deadline)
        capture.collect(lambda out: ox.serialize((q.triple for q in ox.parse(body, format=rdf)), out,
                                                 format=ox.RdfFormat.N_TRIPLES))
        return Outcome("graph", capture.value(), truncated=capture.full)
