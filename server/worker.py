"""One SPARQL worker: a process opening the server's on-disk store read-only, running queries and updates.

An in-process pyoxigraph query cannot be interrupted from Python, so the server runs every user
query and update in worker processes it can kill (:mod:`server.pool`). All workers open the *same*
on-disk store (``Store.read_only``), so memory does not grow with their number: the graph is in
the page cache once. An update is applied by a worker to a new copy of the store (a RocksDB
checkpoint: hard links, made in milliseconds) that no other process has open, flushed, and then
served by new workers (:mod:`server.graphs`). This module is both sides' shared code —
:func:`execute`, which runs a query and captures at most ``rows`` lines of its answer, and
:func:`answer`, which writes it in the negotiated format — and the worker's main program, started as
a script (``python -P server/worker.py …``) so that it imports nothing but the standard library and
pyoxigraph and starts in about 0.1 s.

Before it reads anything the worker locks itself in:

* a new, empty network namespace (``unshare(CLONE_NEWUSER | CLONE_NEWNET)``) where the kernel
  allows it: no interface but a downed loopback, so even a ``SERVICE`` clause that slipped past the
  server's refusal cannot open a connection (pyoxigraph 0.5 does call out for ``SERVICE``);
* ``PR_SET_PDEATHSIG``: it is killed when the server thread that started it goes away;
* ``RLIMIT_AS`` when a memory limit is given, set once the store is open (the limit counts from
  there): a query that would exhaust memory kills only itself.

Protocol (``multiprocessing.connection`` framing on two pipes, no pickle in either direction): the
worker first sends a JSON ``ready`` message; then, for each request (a JSON object, ``op`` ``query``
or ``update``), one reply: a 4-byte big-endian header length, a JSON header (``kind``, ``media``,
``boolean``, ``truncated``, ``size``, or ``error``) and the first chunk (at most :data:`CHUNK`
bytes) of the answer; when ``size`` is larger the further chunks follow as their own messages, then
an empty one.

Examples
--------
>>> import pyoxigraph as ox, time
>>> store = ox.Store()
>>> store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("1")))
>>> answer = execute(store, "SELECT ?o WHERE { ?s ?p ?o }", time.monotonic() + 5, rows=10)
>>> answer.kind, answer.data, answer.truncated
('solutions', b'?o\\n"1"\\n', False)
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import pyoxigraph as ox

__all__ = [
    "Answer",
    "Capture",
    "Deadline",
    "EvaluationError",
    "QuerySyntaxError",
    "TooLarge",
    "answer",
    "execute",
    "limit_memory",
    "main",
    "neutralise_cell",
    "sandbox",
    "serialize_triples",
    "used_prefixes",
    "write_csv",
]

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
MAX_BYTES = 64 * 1024 * 1024
"""Default cap on the bytes of one answer; rows past it are dropped like rows past ``max_rows``."""
CHUNK = 1 << 20
"""Bytes per message of a streamed answer."""
LONG_ROW = 2 * 1024 * 1024
"""A row (or triple) longer than this is never read back by pyoxigraph's TSV / N-Triples parsers:
they take time growing with the square of a line's length (12 s for 16 MiB) and refuse more than
16 MiB. Such an answer is written again straight in the format asked for (when it is whole)."""
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula."""


class Deadline(Exception):
    """The deadline passed while the answer was being written."""


class QuerySyntaxError(Exception):
    """The query does not parse; the message is pyoxigraph's, with the position."""


class EvaluationError(Exception):
    """The query parsed but pyoxigraph could not evaluate it (e.g. a SERVICE that failed)."""


class TooLarge(Exception):
    """The answer cannot be written within the limits (a row over :data:`LONG_ROW` to cut, or over ``max_bytes``)."""


class _Full(Exception):
    """Raised by :class:`Capture` to stop a writer once enough lines have come."""


class Capture(io.RawIOBase):
    """A binary writer keeping the first *limit* lines (and at most *max_bytes*), then stopping the writer.

    It checks the deadline on every write, so a query still streaming rows when its time is up
    stops by itself.
    """

    def __init__(self, limit: int, deadline: float, *, max_bytes: int = MAX_BYTES) -> None:
        super().__init__()
        self.limit = limit
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.chunks: list[bytes] = []
        self.lines = 0
        self.size = 0
        self.full = False

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if time.monotonic() > self.deadline:
            raise Deadline
        chunk = bytes(b)
        self.chunks.append(chunk)
        self.lines += chunk.count(b"\n")
        self.size += len(chunk)
        if self.lines > self.limit or self.size > self.max_bytes:
            self.full = True
            raise _Full
        return len(chunk)

    def io(self) -> IO[bytes]:
        """This writer, typed as the binary file pyoxigraph's serializers take."""
        return cast(IO[bytes], self)

    def value(self) -> bytes:
        """The kept lines: all of them, or the first *limit* whole lines within *max_bytes*."""
        data = b"".join(self.chunks)
        if not self.full:
            return data
        end = -1
        for _ in range(self.limit):
            nxt = data.find(b"\n", end + 1)
            if nxt < 0 or nxt >= self.max_bytes:
                break
            end = nxt
        return data[: end + 1]

    def write_all(self, chunks: Any) -> None:
        """Feed an iterable of byte chunks (a streamed HTTP answer), stopping quietly when full."""
        try:
            for chunk in chunks:
                self.write(chunk)
        except _Full:
            pass

    def collect(self, write: Callable[[IO[bytes]], object]) -> None:
        """Call ``write(file)`` with this capture as the file, stopping it quietly once full."""
        try:
            write(self.io())
        except _Full:
            pass

    def serialize(self, answer: Any, fmt: Any) -> None:
        """Let pyoxigraph write *answer* (solutions or triples) in *fmt* into this capture."""
        self.collect(lambda out: answer.serialize(out, format=fmt))


@dataclass(frozen=True)
class Answer:
    """A captured answer: ``kind`` is ``solutions`` (TSV), ``graph`` (N-Triples) or ``boolean``."""

    kind: str
    data: bytes = b""
    boolean: bool = False
    truncated: bool = False


def execute(store: ox.Store, sparql: str, deadline: float, *, rows: int, default_graphs: Sequence[str] = (),
            named_graphs: Sequence[str] = (), max_bytes: int = MAX_BYTES) -> Answer:
    """Run *sparql* on *store* in this thread; keep *rows* rows (or triples) and at most *max_bytes*.

    Raises
    ------
    QuerySyntaxError
        The query does not parse.
    EvaluationError
        pyoxigraph failed while evaluating it.
    Deadline
        The deadline passed while rows were being written.
    """
    options: dict[str, object] = {}
    if default_graphs:
        options["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
    if named_graphs:
        options["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
    try:
        answer = store.query(sparql, **options)  # type: ignore[arg-type]
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise EvaluationError(str(exc)) from None
    try:
        if isinstance(answer, ox.QueryBoolean):
            return Answer("boolean", boolean=bool(answer))
        if isinstance(answer, ox.QuerySolutions):
            capture = Capture(rows + 1, deadline, max_bytes=max_bytes)  # + the header line
            capture.serialize(answer, ox.QueryResultsFormat.TSV)
            return Answer("solutions", capture.value(), truncated=capture.full)
        capture = Capture(rows, deadline, max_bytes=max_bytes)
        capture.serialize(answer, ox.RdfFormat.N_TRIPLES)
        return Answer("graph", capture.value(), truncated=capture.full)
    except (OSError, RuntimeError, ValueError) as exc:  # raised while rows are computed lazily
        raise EvaluationError(str(exc)) from None



# ---------------------------------------------------------------- writing an answer in the negotiated format

def neutralise_cell(value: str) -> str:
    """*value* made safe for a spreadsheet: a leading ``'`` when it starts with ``= + - @``, tab or CR.

    A spreadsheet opening a CSV file runs a cell starting with one of those as a formula
    (``=HYPERLINK(…)``, ``@SUM(…)``); the quote makes it text. Turn it off (``kg serve
    --csv-raw``) where the file feeds a program, not a person.

    Examples
    --------
    >>> neutralise_cell("=1+2"), neutralise_cell("-3"), neutralise_cell("ok")
    ("'=1+2", "'-3", 'ok')
    """
    return "'" + value if value.startswith(CSV_TRIGGERS) else value


def used_prefixes(iris: Iterable[str], prefixes: dict[str, str]) -> dict[str, str]:
    """The entries of *prefixes* whose namespace some IRI in *iris* starts with.

    Examples
    --------
    >>> used_prefixes(["http://e/x"], {"e": "http://e/", "f": "http://f/"})
    {'e': 'http://e/'}
    """
    seen = set(iris)
    return {prefix: ns for prefix, ns in sorted(prefixes.items())
            if any(i.startswith(ns) and len(i) > len(ns) for i in seen)}


def _iris(triples: Iterable[ox.Triple]) -> set[str]:
    out: set[str] = set()
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                out.add(term.value)
            elif isinstance(term, ox.Literal) and term.datatype is not None:
                out.add(term.datatype.value)
    return out


def serialize_triples(triples: Sequence[ox.Triple], fmt: ox.RdfFormat, prefixes: dict[str, str], *,
                      first: str | None = None) -> bytes:
    """Write *triples* with pyoxigraph in *fmt*, grouped by subject (*first* first), with the prefixes used."""
    triples = sorted(triples, key=lambda t: (str(t.subject) != f"<{first}>", isinstance(t.subject, ox.BlankNode),
                                             str(t.subject)))
    used = used_prefixes(_iris(triples), prefixes) if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
    return cast(bytes, ox.serialize(triples, format=fmt, prefixes=used))


def empty_rows(n: int, fmt: ox.QueryResultsFormat) -> bytes:
    """A result set with no variables but *n* rows (``SELECT * {}`` has one), written by hand.

    pyoxigraph's TSV parser reads such a document as zero rows, so it cannot round-trip.
    """
    if fmt == ox.QueryResultsFormat.JSON:
        return b'{"head":{"vars":[]},"results":{"bindings":[' + b",".join([b"{}"] * n) + b"]}}"
    if fmt == ox.QueryResultsFormat.XML:
        return (b'<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head></head>'
                b"<results>" + b"<result></result>" * n + b"</results></sparql>")
    if fmt == ox.QueryResultsFormat.CSV:
        return b"\r\n" * (n + 1)
    return b"\n" * (n + 1)


def _csv_value(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.NamedNode | ox.Literal):
        return term.value
    return str(term)  # a triple term: its N-Triples form


def write_csv(solutions: ox.QuerySolutions, rows: int, max_bytes: int, deadline: float, *,
              neutralise: bool) -> tuple[bytes, bool]:
    """SPARQL CSV of at most *rows* solutions and *max_bytes* bytes, cells neutralised (:func:`neutralise_cell`).

    Returns the document and whether solutions were left out.
    """
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = [v.value for v in solutions.variables]
    writer.writerow(names)
    lines: list[str] = [out.getvalue()]
    size, truncated = len(lines[0].encode()), False
    for kept, solution in enumerate(solutions):
        if kept >= rows:
            truncated = True
            break
        if time.monotonic() > deadline:
            raise Deadline
        cells = [_csv_value(solution[n]) for n in names]
        out.seek(0)
        out.truncate()
        writer.writerow([neutralise_cell(c) for c in cells] if neutralise else cells)
        line = out.getvalue()
        size += len(line.encode())
        if size > max_bytes:
            truncated = True
            break
        lines.append(line)
    return "".join(lines).encode(), truncated


def answer(store: ox.Store, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Run the query of *request* and write it in the negotiated format: ``(header, data)``.

    *request* holds ``sparql``, ``deadline``, ``rows``, the media types ``results`` (for SELECT
    and ASK) and ``graph`` (CONSTRUCT, DESCRIBE), optionally ``default_graphs``, ``named_graphs``,
    ``max_bytes``, ``prefixes`` (for Turtle and RDF/XML) and ``csv_raw``.

    Raises
    ------
    QuerySyntaxError, EvaluationError, Deadline, TooLarge
    """
    sparql, deadline, rows = request["sparql"], float(request["deadline"]), int(request["rows"])
    max_bytes = int(request.get("max_bytes", MAX_BYTES))
    results = request.get("results", "text/tab-separated-values")
    graph = request.get("graph", "application/n-triples")
    prefixes = dict(request.get("prefixes", {}))
    options = {"default_graphs": request.get("default_graphs", ()), "named_graphs": request.get("named_graphs", ())}
    rfmt = ox.QueryResultsFormat.from_media_type(results) or ox.QueryResultsFormat.TSV
    gfmt = ox.RdfFormat.from_media_type(graph) or ox.RdfFormat.N_TRIPLES
    if rfmt == ox.QueryResultsFormat.CSV:  # written row by row here (neutralised cells), no second pass
        try:
            solutions = store.query(sparql, **_dataset(options))  # type: ignore[arg-type]
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from None
        except (OSError, RuntimeError, ValueError) as exc:
            raise EvaluationError(str(exc)) from None
        if isinstance(solutions, ox.QuerySolutions):
            try:
                data, truncated = write_csv(solutions, rows, max_bytes, deadline, neutralise=not request.get("csv_raw"))
            except (OSError, RuntimeError, ValueError) as exc:
                raise EvaluationError(str(exc)) from None
            return {"kind": "solutions", "media": results, "truncated": truncated}, data
        if isinstance(solutions, ox.QueryBoolean):
            return ({"kind": "boolean", "media": results, "boolean": bool(solutions)},
                    cast(bytes, solutions.serialize(format=rfmt)))
        del solutions  # a graph: run again below, as N-Triples
    first = execute(store, sparql, deadline, rows=rows, max_bytes=max_bytes, **options)  # type: ignore[arg-type]
    if first.kind == "boolean":
        doc = ox.parse_query_results(b'{"head":{},"boolean":%s}' % (b"true" if first.boolean else b"false"),
                                     ox.QueryResultsFormat.JSON)
        return ({"kind": "boolean", "media": results, "boolean": first.boolean},
                cast(bytes, doc.serialize(format=rfmt)))
    if first.kind == "solutions":
        header = {"kind": "solutions", "media": results, "truncated": first.truncated}
        if rfmt == ox.QueryResultsFormat.TSV:
            return header, first.data
        if first.data.startswith(b"\n"):
            return header, empty_rows(first.data.count(b"\n") - 1, rfmt)
        if _longest_line(first.data) > LONG_ROW:
            return header, _direct(store, sparql, deadline, max_bytes, first.truncated, options, rfmt)
        return header, cast(bytes, ox.parse_query_results(first.data, ox.QueryResultsFormat.TSV).serialize(format=rfmt))
    header = {"kind": "graph", "media": graph, "truncated": first.truncated}
    if gfmt == ox.RdfFormat.N_TRIPLES:
        return header, first.data
    if _longest_line(first.data) > LONG_ROW:
        return header, _direct(store, sparql, deadline, max_bytes, first.truncated, options, gfmt)
    triples = [q.triple for q in ox.parse(first.data, format=ox.RdfFormat.N_TRIPLES)]
    return header, serialize_triples(triples, gfmt, prefixes)


def _longest_line(data: bytes) -> int:
    return max(map(len, data.split(b"\n")), default=0)


def _dataset(options: dict[str, Any]) -> dict[str, object]:
    out: dict[str, object] = {}
    if options.get("default_graphs"):
        out["default_graph"] = [ox.NamedNode(g) for g in options["default_graphs"]]
    if options.get("named_graphs"):
        out["named_graphs"] = [ox.NamedNode(g) for g in options["named_graphs"]]
    return out


def _direct(store: ox.Store, sparql: str, deadline: float, max_bytes: int, truncated: bool,
            options: dict[str, Any], fmt: ox.QueryResultsFormat | ox.RdfFormat) -> bytes:
    """Write a whole answer straight in *fmt* (a value too long to read back from TSV / N-Triples)."""
    if truncated:
        raise TooLarge(f"a row of this answer is over {LONG_ROW // (1 << 20)} MiB, the longest the server cuts "
                       "to its row limit in this format; ask for text/tab-separated-values or "
                       "application/n-triples, or select fewer or shorter values")
    capture = Capture(sys.maxsize, deadline, max_bytes=max_bytes)
    capture.serialize(store.query(sparql, **_dataset(options)), fmt)  # type: ignore[arg-type]
    if capture.full:
        raise TooLarge(f"this answer is over {max_bytes // (1 << 20)} MiB in the format asked for, the most "
                       "the server writes; ask for text/tab-separated-values or select less")
    return capture.value()


# ---------------------------------------------------------------- the worker process

def sandbox(*, memory: int | None = None) -> bool:
    """Lock this process in; return whether it now has no network.

    Must run before any thread starts (``unshare`` of a user namespace needs a single thread).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except AttributeError:  # pragma: no cover - not Linux
        pass
    if memory:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        unshare = libc.unshare
    except AttributeError:  # pragma: no cover - not Linux
        return False
    if unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        return True
    return bool(unshare(CLONE_NEWNET) == 0)  # root without user namespaces


def limit_memory(memory: int) -> int:
    """Let this process map at most *memory* bytes more than it has mapped now (``RLIMIT_AS``); the limit set.

    Called once the store is open: RocksDB reserves some hundred megabytes of address space for
    its threads and caches, which are not what a query may use.
    """
    import resource

    mapped = 0
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmSize:"):
                mapped = int(line.split()[1]) * 1024
    limit = mapped + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


def _reply(conn: Any, header: dict[str, object], data: bytes = b"") -> None:
    """Send *header* and *data*: the header with the first chunk, then one message per chunk, then b""."""
    header = {**header, "size": len(data)}
    head = json.dumps(header).encode()
    view = memoryview(data)
    conn.send_bytes(struct.pack("!I", len(head)) + head + bytes(view[:CHUNK]))
    if len(data) > CHUNK:
        for start in range(CHUNK, len(data), CHUNK):
            conn.send_bytes(view[start: start + CHUNK])
        conn.send_bytes(b"")


def update(source: ox.Store, text: str, target: str) -> int:
    """Apply the update *text* to a new copy of *source* at *target*; return the quads after it.

    The copy is a checkpoint of *source* (hard links); nothing else has it open. The update runs
    in one transaction and is flushed before this returns.

    Raises
    ------
    QuerySyntaxError, EvaluationError
    """
    source.backup(target)
    store = ox.Store(target)
    try:
        store.update(text)
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise EvaluationError(str(exc)) from None
    store.flush()
    n = len(store)
    del store  # closes the database (and its lock) before the server opens it read-only
    return n


def _serve(store: ox.Store, inbox: Any, outbox: Any) -> None:
    while True:
        try:
            request = json.loads(inbox.recv_bytes())
        except EOFError:  # the server closed the pipe: retire
            return
        try:
            if request.get("op") == "update":
                n = update(store, request["update"], request["target"])
                _reply(outbox, {"kind": "updated", "triples": n})
                continue
            header, data = answer(store, request)
        except QuerySyntaxError as exc:
            _reply(outbox, {"error": "syntax", "detail": str(exc)})
        except EvaluationError as exc:
            _reply(outbox, {"error": "evaluation", "detail": str(exc)})
        except TooLarge as exc:
            _reply(outbox, {"error": "too-large", "detail": str(exc)})
        except Deadline:
            _reply(outbox, {"error": "deadline"})
        except MemoryError:
            _reply(outbox, {"error": "memory"})
            return  # the heap may be in a poor state: let the pool start a fresh worker
        else:
            _reply(outbox, header, data)
            del data


def build(target: str, files: Sequence[str]) -> int:
    """Load Turtle *files* into a new on-disk store at *target*; return its quads.

    Each file's base IRI is its ``file:`` URI, as :class:`kg.store.EmbeddedStore` reads it.
    """
    from pathlib import Path

    store = ox.Store(target)
    for f in files:
        path = Path(f)
        fmt = ox.RdfFormat.from_extension(path.suffix.lstrip(".")) or ox.RdfFormat.TURTLE
        store.bulk_load(path=str(path), format=fmt, base_iri=path.resolve().as_uri())
    store.flush()
    store.optimize()
    return len(store)


def main(argv: Sequence[str] | None = None) -> int:
    """``worker.py INBOX_FD OUTBOX_FD STORE PARENT_PID [MEMORY_BYTES]``: open STORE read-only, then serve.

    ``worker.py build TARGET FILE…`` loads Turtle files into a new store (exit 0, or 1 with the
    error on stderr).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "build":
        try:
            n = build(args[1], args[2:])
        except (OSError, SyntaxError, ValueError) as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({"triples": n}))
        return 0
    inbox_fd, outbox_fd, path, parent = int(args[0]), int(args[1]), args[2], int(args[3])
    # the memory limit counts from the address space the open store takes (see limit_memory)
    memory = int(args[4]) if len(args) > 4 and int(args[4]) > 0 else None
    isolated = sandbox()  # before any thread starts (opening the store starts RocksDB's)
    if os.getppid() != parent:  # the server died before the death signal was armed
        return 1
    from multiprocessing.connection import Connection

    inbox, outbox = Connection(inbox_fd, writable=False), Connection(outbox_fd, readable=False)
    try:
        store = ox.Store.read_only(path)
    except (OSError, SyntaxError, ValueError) as exc:
        outbox.send_bytes(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}).encode())
        return 1
    if memory:
        limit_memory(memory)
    outbox.send_bytes(json.dumps({"ready": True, "pid": os.getpid(), "network": not isolated}).encode())
    _serve(store, inbox, outbox)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
