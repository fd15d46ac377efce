r"""Run SPARQL queries and updates for the server: with a deadline that really stops them, at most ``max_rows`` rows.

For an :class:`~kg.store.EmbeddedStore` user queries and updates run in killable worker processes
(:mod:`server.pool`, :mod:`server.worker`) that all open one on-disk store read-only
(:mod:`server.graphs`): when a query's deadline passes its worker is killed and replaced, so a
runaway query costs nothing after its timeout. The worker writes the answer in the negotiated
format (:meth:`QueryRunner.respond`); a long one is spooled to a temporary file and streamed, so it
is never whole in the server. Each client (address or bearer token) may hold at most its share of
the workers (:class:`ClientShare`: 429 beyond). The page and API queries that want rows
(:meth:`QueryRunner.query`) get SPARQL TSV or N-Triples, cut to ``max_rows`` lines by
:class:`server.worker.Capture`. The server's own bounded queries (the description of one resource)
run in a thread on the server's read-only view of the store. For a :class:`~kg.store.RemoteStore`
the query is forwarded over the SPARQL 1.1 Protocol (an HTTP timeout stops it) and the answer goes
through the same capture, so both backends truncate alike.

Keywords are found by :mod:`server.lexer` (re-exported here: :func:`classify`, :func:`keywords`,
:func:`uses_service`, :func:`uses_load`), a linear-time tokenizer that skips comments, strings,
IRIs, variables and prefixed names the way the SPARQL grammar does.

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
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

import httpx
import pyoxigraph as ox

from kg.load import PREFIXES
from kg.store import EmbeddedStore, RemoteStore, Store
from server.errors import ApiError, QueryTimeout
from server.graphs import Graphs
from server.lexer import Reader, classify, keywords, uses_load, uses_service
from server.negotiation import GRAPH_TYPES, RESULT_TYPES
from server.pool import NoWorker, PoolBusy, PoolError, WorkerCrashed, WorkerPool, WorkerTimeout
from server.security import CLIENT
from server.worker import (
    LONG_ROW,
    Answer,
    Capture,
    Deadline,
    EvaluationError,
    QuerySyntaxError,
    empty_rows,
    execute,
    serialize_triples,
    write_csv,
)
from server.worker import used_prefixes as _used_prefixes

__all__ = [
    "SERIALIZE_PREFIXES",
    "ClientShare",
    "Outcome",
    "QueryRunner",
    "Streamed",
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

# ---------------------------------------------------------------- answers

def used_prefixes(iris: Iterable[str]) -> dict[str, str]:
    """The entries of :data:`SERIALIZE_PREFIXES` whose namespace some IRI in *iris* starts with.

    Examples
    --------
    >>> used_prefixes(["https://w3id.org/jp-funding/id/org/jetro"])
    {'orgs': 'https://w3id.org/jp-funding/id/org/'}
    """
    return _used_prefixes(iris, SERIALIZE_PREFIXES)


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


def serialize_graph(triples: Sequence[ox.Triple], media_type: str, *, first: str | None = None) -> bytes:
    """Write *triples* with pyoxigraph in the graph format of *media_type*, with the prefixes used.

    Statements are grouped by subject (so Turtle writes each subject once), the subject IRI
    *first* before the others.
    """
    return serialize_triples(triples, GRAPH_TYPES[media_type], SERIALIZE_PREFIXES, first=first)


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
        if max(map(len, self.data.split(b"\n")), default=0) > LONG_ROW:  # the parser is quadratic in a row
            raise ApiError(422, _TOO_LONG)
        return ox.parse_query_results(self.data, ox.QueryResultsFormat.TSV)

    def _no_variables(self) -> bool:
        return self.kind == "solutions" and self.data.startswith(b"\n")

    def serialize(self, media_type: str, *, csv_raw: bool = False) -> bytes:
        """The answer in *media_type* (a key of the table :attr:`offered` lists).

        CSV cells that a spreadsheet would run as formulas are neutralised unless *csv_raw*
        (:func:`server.worker.neutralise_cell`).
        """
        if self.kind == "graph":
            if media_type == "application/n-triples":
                return self.data
            return serialize_graph(self.triples(), media_type)
        fmt = RESULT_TYPES[media_type]
        if self.kind == "solutions" and fmt == ox.QueryResultsFormat.TSV:
            return self.data
        if self._no_variables():
            return empty_rows(self.data.count(b"\n") - 1, fmt)
        parsed = self._parsed()
        if fmt == ox.QueryResultsFormat.CSV and isinstance(parsed, ox.QuerySolutions):
            return write_csv(parsed, sys.maxsize, sys.maxsize, float("inf"), neutralise=not csv_raw)[0]
        return cast(bytes, parsed.serialize(format=fmt))

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
        if max(map(len, self.data.split(b"\n")), default=0) > LONG_ROW:
            raise ApiError(422, _TOO_LONG)
        return [q.triple for q in ox.parse(self.data, format=ox.RdfFormat.N_TRIPLES)]


_XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
_TOO_LONG = (f"a row of this answer is over {LONG_ROW // (1 << 20)} MiB, longer than the server shows or converts; "
             "ask /sparql for text/tab-separated-values or application/n-triples, or select fewer or shorter values")


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


class ClientShare:
    """How many SPARQL worker slots each client may hold at once (running or waiting); 429 beyond.

    A client is its bearer token when it sends one, else its address, so one client running
    runaway queries can take at most *share* of the workers and every other client still finds one.
    """

    def __init__(self, share: int) -> None:
        self.share = share
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, client: str) -> None:
        """Take a slot for *client*.

        Raises
        ------
        ApiError
            429 with ``Retry-After`` when *client* holds its share already.
        """
        with self._lock:
            held = self._held.get(client, 0)
            if held >= self.share:
                raise ApiError(429, f"this client already has {held} SPARQL "
                                    f"{'query' if held == 1 else 'queries'} running or waiting, its share of the "
                                    "server's workers; wait for an answer before sending the next query",
                               headers={"Retry-After": "1"})
            self._held[client] = held + 1

    def leave(self, client: str) -> None:
        """Give back a slot of *client*."""
        with self._lock:
            held = self._held.get(client, 1) - 1
            if held > 0:
                self._held[client] = held
            else:
                self._held.pop(client, None)


@dataclass
class Streamed:
    """An answer written by a worker in the negotiated format, read chunk by chunk (never all in memory)."""

    media: str
    kind: str
    truncated: bool
    chunks: list[bytes] | Iterator[bytes]
    """The whole answer as a list when it came in one message, else an iterator that must be read or closed."""


class QueryRunner:
    """Runs the queries and updates of one app on its store, each with a deadline.

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
        query that computes before its first row cannot be stopped). Updates always run in a worker.
    worker_memory : int, optional
        Address-space limit of each worker process in bytes.
    max_waiting : int
        User queries that may wait for a free worker; more get 503 at once.
    graphs : server.graphs.Graphs, optional
        The store folders (default: a temporary folder, the store copied to disk when it is in memory).
    share : int, optional
        Worker slots one client may hold (default: half the workers, at least one).

    Notes
    -----
    With ``workers`` > 0 a user query runs in a worker process that is killed at the deadline
    (:mod:`server.pool`): the 503 is answered as soon as the deadline passes and the CPU is free
    from then on. All workers read one on-disk store (:mod:`server.graphs`). In threads
    (``workers=0``, the server's own queries and remote stores) a query still writing rows stops at
    its next write, but one that computes for long before its first row runs on to its end and
    holds one of the *max_threads* slots meanwhile.
    """

    def __init__(self, store: Store, *, timeout: float, max_rows: int, max_threads: int = 4, workers: int = 0,
                 worker_memory: int | None = None, max_waiting: int = 64, graphs: Graphs | None = None,
                 share: int | None = None, csv_raw: bool = False) -> None:
        if not isinstance(store, EmbeddedStore | RemoteStore):
            raise TypeError(f"the server runs on an EmbeddedStore or a RemoteStore, not {type(store).__name__}")
        self.store = store
        self.timeout = timeout
        self.max_rows = max_rows
        self.max_threads = max_threads
        self.csv_raw = csv_raw
        self._slots = threading.BoundedSemaphore(max_threads)
        self._client = httpx.Client() if isinstance(store, RemoteStore) else None
        self.pool: WorkerPool | None = None
        self._update_pool: WorkerPool | None = None
        self.graphs = graphs
        self._executor: ThreadPoolExecutor | None = None
        self._admitted = 0
        self._admit_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._capacity = 0
        self.worker_memory = worker_memory
        self.shares = ClientShare(share if share is not None else max(1, workers // 2))
        self.reader = Reader()
        """Reads large SPARQL texts in a child process (:class:`server.lexer.Reader`)."""
        if workers > 0 and isinstance(store, EmbeddedStore):
            self.pool = WorkerPool(size=workers, memory=worker_memory, max_waiting=max_waiting)
            self._capacity = workers + max_waiting
        if isinstance(store, EmbeddedStore):
            self._executor = ThreadPoolExecutor(max_workers=max(self._capacity, 4), thread_name_prefix="kg-query")

    def _on_disk(self) -> Path:
        """The current store folder, making one when the store is in memory (called with the start lock)."""
        assert isinstance(self.store, EmbeddedStore)
        if self.graphs is None:
            self.graphs = Graphs.temporary(self.store.location)
        if self.graphs.current is None:
            path = self.graphs.next_path()
            disk = ox.Store(str(path))
            disk.bulk_extend(self.store.raw)
            disk.flush()
            del disk
            self.graphs.commit(path)
        assert self.graphs.current is not None
        return self.graphs.current

    def start(self, *, wait: float = 0.0) -> None:
        """Start the worker processes (if any) on the store folder; wait up to *wait* seconds until one is ready."""
        if self.pool is None or not isinstance(self.store, EmbeddedStore):
            return
        if not self.pool.generation:
            with self._start_lock:
                self.pool.start(self._on_disk())
        if wait > 0:  # one worker is enough to answer; the others come up meanwhile
            self.pool.wait_ready(wait, count=1)

    def folders(self) -> Graphs:
        """The store folders (made on first use: an in-memory store is copied to disk then)."""
        with self._start_lock:
            self._on_disk()
        assert self.graphs is not None
        return self.graphs

    def updates(self) -> WorkerPool:
        """The pool updates run in: the query workers, or (``workers=0``) one worker of its own."""
        if self.pool is not None:
            self.start()
            return self.pool
        with self._start_lock:
            if self._update_pool is None:
                self._update_pool = WorkerPool(size=1, memory=self.worker_memory)
                self._update_pool.start(self._on_disk())
            return self._update_pool

    def swap(self, path: Path) -> EmbeddedStore:
        """Serve the store folder *path* from now on: new workers are started on it and switched to in one step.

        Blocking; call it from a thread. Returns the folder opened read-only for the server's own queries.

        Raises
        ------
        server.pool.PoolError
            The new workers did not start; the old graph keeps serving.
        """
        for pool in (self.pool, self._update_pool):
            if pool is not None:
                pool.swap(path)
        assert self.graphs is not None
        self.graphs.commit(path)
        store = self.graphs.open(path)
        if isinstance(self.store, EmbeddedStore):
            store.files = self.store.files
        self.store = store
        return store

    def close(self) -> None:
        """Stop the worker processes, release the HTTP client of a remote store, remove temporary folders."""
        for pool in (self.pool, self._update_pool):
            if pool is not None:
                pool.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        if self.graphs is not None:
            self.graphs.close()
        self.reader.close()

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
                    truncate: bool = True, client: str | None = None) -> Outcome:
        """Run *sparql* with the deadline: a user query in a worker process, the server's own in a thread.

        With ``truncate=False`` every row is kept: for the server's own queries whose size the
        data bounds (the description of one resource), never for user queries.

        Raises
        ------
        ApiError
            400 malformed query; 429 *client* holds its share of the workers; 503 timeout
            (:class:`QueryTimeout`), all workers busy, or a worker that died (out of memory);
            502 a remote store failed.
        """
        if truncate and self.pool is not None:
            request = {"sparql": sparql, "default_graphs": list(default_graphs), "named_graphs": list(named_graphs),
                       "rows": self.max_rows}
            header, chunks = await self._in_worker(self.pool, request, client)
            data = (b"".join(chunks) if isinstance(chunks, list) else
                    await asyncio.get_running_loop().run_in_executor(self._executor, b"".join, chunks))
            return Outcome(str(header["kind"]), data, boolean=bool(header.get("boolean")),
                           truncated=bool(header.get("truncated")))
        return await self.run(lambda deadline: self.execute(sparql, deadline, default_graphs=default_graphs,
                                                            named_graphs=named_graphs, truncate=truncate))

    async def respond(self, sparql: str, *, results: str, graph: str, default_graphs: Sequence[str] = (),
                      named_graphs: Sequence[str] = (), client: str | None = None) -> Streamed:
        """Run a user query and have its answer written in *results* (SELECT, ASK) or *graph* (CONSTRUCT,
        DESCRIBE) media type — in the worker, streamed from it, never whole in this process.

        Raises
        ------
        ApiError
            As :meth:`query`; 422 when the answer cannot be written within the limits.
        """
        if self.pool is None:
            outcome = await self.query(sparql, default_graphs=default_graphs, named_graphs=named_graphs)
            media = graph if outcome.kind == "graph" else results
            body = await self.run(lambda deadline: outcome.serialize(media, csv_raw=self.csv_raw))
            return Streamed(media, outcome.kind, outcome.truncated, [body])
        request = {"sparql": sparql, "default_graphs": list(default_graphs), "named_graphs": list(named_graphs),
                   "rows": self.max_rows, "results": results, "graph": graph, "prefixes": SERIALIZE_PREFIXES,
                   "csv_raw": self.csv_raw}
        header, chunks = await self._in_worker(self.pool, request, client)
        return Streamed(str(header["media"]), str(header["kind"]), bool(header.get("truncated")), chunks)

    async def update(self, text: str, *, client: str | None = None) -> tuple[int, Path]:
        """Apply the update *text* in a worker, to a copy of the current store in a new folder.

        Returns the quads after the update and the new folder, not yet served (see :meth:`swap`).

        Raises
        ------
        ApiError
            400 the update does not parse or fails (nothing changed, the folder is removed); 429,
            503 as :meth:`query`.
        """
        loop = asyncio.get_running_loop()
        pool = await loop.run_in_executor(self._executor, self.updates)
        graphs = self.folders()
        target = graphs.next_path()
        try:
            header, _ = await self._in_worker(pool, {"op": "update", "update": text, "target": str(target)}, client,
                                              what="update")
        except QueryTimeout:
            graphs.discard(target)
            raise ApiError(503, f"the update did not finish within {self.timeout:g} s and was stopped; "
                                "nothing was changed", headers={"Retry-After": "2"}) from None
        except BaseException:
            graphs.discard(target)
            raise
        return int(str(header["triples"])), target

    async def _in_worker(self, pool: WorkerPool, request: dict[str, object], client: str | None, *,
                         what: str = "query") -> tuple[dict[str, object], list[bytes] | Iterator[bytes]]:
        assert self._executor is not None
        who = client or CLIENT.get() or "-"  # the request's client (server.security.ClientIdentity)
        self.shares.enter(who)
        with self._admit_lock:
            if self._capacity and self._admitted >= self._capacity:
                self.shares.leave(who)
                raise ApiError(503, f"{self._admitted} queries are running or waiting; try again shortly",
                               headers={"Retry-After": "2"})
            self._admitted += 1
        try:
            deadline = time.monotonic() + self.timeout

            def call() -> tuple[dict[str, object], list[bytes] | Iterator[bytes]]:
                self.start()  # a no-op once started (the app starts the pool at startup)
                return pool.stream(request, deadline)

            loop = asyncio.get_running_loop()
            try:
                header, chunks = await loop.run_in_executor(self._executor, call)
            except WorkerTimeout:
                raise QueryTimeout(self.timeout) from None
            except (NoWorker, PoolBusy) as exc:
                raise ApiError(503, f"the server is busy: {exc}; try again shortly",
                               headers={"Retry-After": "2"}) from None
            except WorkerCrashed as exc:
                raise ApiError(503 if what == "query" else 400,
                               f"the {what}'s worker process {exc}; "
                               + ("ask for less (add a LIMIT, avoid building huge strings)" if what == "query"
                                  else "nothing was changed; simplify the update"),
                               headers={"Retry-After": "1"}) from None
            except PoolError as exc:
                raise ApiError(503, f"no query worker is available: {exc}", headers={"Retry-After": "5"}) from None
            error = header.get("error")
            if error is None:  # the worker is free again: the slot is given back now (finally)
                return header, chunks
        finally:
            with self._admit_lock:
                self._admitted -= 1
            self.shares.leave(who)
        changed = "; nothing was changed" if what == "update" else ""
        if error == "syntax":
            raise ApiError(400, f"SPARQL syntax error{' in the update' if what == 'update' else ''}: "
                                f"{header.get('detail', '')}{changed}")
        if error == "evaluation":
            if what == "update":
                raise ApiError(400, f"the update failed and changed nothing: {header.get('detail', '')}")
            raise ApiError(400, f"the query could not be evaluated: {header.get('detail', '')}")
        if error == "too-large":
            raise ApiError(422, str(header.get("detail", "")))
        if error == "deadline":
            raise QueryTimeout(self.timeout)
        if error == "memory":
            raise ApiError(503, f"the {what} ran out of memory in its worker process; ask for less{changed}",
                           headers={"Retry-After": "1"})
        raise ApiError(500, f"the worker answered an unknown error {error!r}")  # pragma: no cover - a bug

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
                  # JSON first: Virtuoso 7.2 writes TSV with quoted IRIs and variable names
                  "application/sparql-results+json, text/tab-separated-values;q=0.9, "
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
