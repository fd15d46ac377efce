"""One query worker: a process holding its own copy of the graph, answering queries over a pipe.

An in-process pyoxigraph query cannot be interrupted from Python, so the server runs user queries
in worker processes it can kill (:mod:`server.pool`). This module is both sides' shared code —
:func:`execute`, which runs a query and captures at most ``rows`` lines of its answer — and the
worker's main program, started as a script (``python -P server/worker.py …``) so that it imports
nothing but the standard library and pyoxigraph and starts in about 0.1 s.

Before it reads anything the worker locks itself in:

* a new, empty network namespace (``unshare(CLONE_NEWUSER | CLONE_NEWNET)``) where the kernel
  allows it: no interface but a downed loopback, so even a ``SERVICE`` clause that slipped past the
  server's refusal cannot open a connection (pyoxigraph 0.5 does call out for ``SERVICE``);
* ``PR_SET_PDEATHSIG``: it is killed when the server thread that started it goes away;
* ``RLIMIT_AS`` when a memory limit is given: a query that would exhaust memory kills only itself.

Protocol (``multiprocessing.connection`` framing on two pipes, no pickle in either direction): the
worker first sends a JSON ``ready`` message; then, for each request (a JSON object), one reply: a
4-byte big-endian header length, a JSON header (``kind``, ``boolean``, ``truncated`` or ``error``)
and the answer's bytes (SPARQL TSV or N-Triples).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import pyoxigraph as ox

__all__ = ["Answer", "Capture", "Deadline", "EvaluationError", "QuerySyntaxError", "execute", "main", "sandbox"]

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
MAX_BYTES = 64 * 1024 * 1024
"""Default cap on the bytes of one answer; rows past it are dropped like rows past ``max_rows``."""


class Deadline(Exception):
    """The deadline passed while the answer was being written."""


class QuerySyntaxError(Exception):
    """The query does not parse; the message is pyoxigraph's, with the position."""


class EvaluationError(Exception):
    """The query parsed but pyoxigraph could not evaluate it (e.g. a SERVICE that failed)."""


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


def _reply(conn: Any, header: dict[str, object], data: bytes = b"") -> None:
    head = json.dumps(header).encode()
    conn.send_bytes(struct.pack("!I", len(head)) + head + data)


def _serve(store: ox.Store, inbox: Any, outbox: Any) -> None:
    while True:
        try:
            request = json.loads(inbox.recv_bytes())
        except EOFError:  # the server closed the pipe: retire
            return
        try:
            answer = execute(store, request["sparql"], float(request["deadline"]), rows=int(request["rows"]),
                             default_graphs=request.get("default_graphs", ()),
                             named_graphs=request.get("named_graphs", ()),
                             max_bytes=int(request.get("max_bytes", MAX_BYTES)))
        except QuerySyntaxError as exc:
            _reply(outbox, {"error": "syntax", "detail": str(exc)})
        except EvaluationError as exc:
            _reply(outbox, {"error": "evaluation", "detail": str(exc)})
        except Deadline:
            _reply(outbox, {"error": "deadline"})
        except MemoryError:
            _reply(outbox, {"error": "memory"})
            return  # the heap may be in a poor state: let the pool start a fresh worker
        else:
            _reply(outbox, {"kind": answer.kind, "boolean": answer.boolean, "truncated": answer.truncated},
                   answer.data)


def main(argv: Sequence[str] | None = None) -> int:
    """``worker.py INBOX_FD OUTBOX_FD DUMP PARENT_PID [MEMORY_BYTES]``: load DUMP (N-Quads), then serve."""
    args = list(sys.argv[1:] if argv is None else argv)
    inbox_fd, outbox_fd, dump, parent = int(args[0]), int(args[1]), args[2], int(args[3])
    memory = int(args[4]) if len(args) > 4 and int(args[4]) > 0 else None
    isolated = sandbox(memory=memory)
    if os.getppid() != parent:  # the server died before the death signal was armed
        return 1
    from multiprocessing.connection import Connection

    inbox, outbox = Connection(inbox_fd, writable=False), Connection(outbox_fd, readable=False)
    try:
        store = ox.Store()
        store.load(path=dump, format=ox.RdfFormat.N_QUADS)
    except (OSError, SyntaxError, ValueError) as exc:
        outbox.send_bytes(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}).encode())
        return 1
    outbox.send_bytes(json.dumps({"ready": True, "pid": os.getpid(), "network": not isolated,
                                  "triples": len(store)}).encode())
    _serve(store, inbox, outbox)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
