"""A pool of killable SPARQL worker processes (:mod:`server.worker`), one generation of the graph at a time.

Every worker of a generation opens the same on-disk pyoxigraph store read-only (a folder managed
by :mod:`server.graphs`), so adding a worker adds a process, not a copy of the graph. A query or
an update is sent to an idle worker; when its deadline passes the worker is killed (``SIGKILL``:
the CPU and memory it used are freed at once) and a fresh one is started in the background. A
worker is also recycled after an answer of more than ``recycle_bytes`` or after ``max_queries``
queries, so the memory a large answer took comes back. :meth:`WorkerPool.swap` starts a whole new
generation on a new store folder and switches to it in one step once every new worker is ready, so
a query runs on the old graph or on the new one, never on a mix; workers of the old generation
finish the query they are running and are then retired.

Spawning happens in one long-lived supervisor thread: the workers arm ``PR_SET_PDEATHSIG``, which
fires when the *thread* that started them ends, so they die with the server even on ``kill -9``.

Examples
--------
>>> import pyoxigraph as ox, tempfile, time
>>> folder = tempfile.mkdtemp()
>>> store = ox.Store(folder)
>>> store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("1")))
>>> store.flush(); del store
>>> pool = WorkerPool(size=1)
>>> pool.start(folder)
>>> header, data = pool.run({"sparql": "SELECT ?o { ?s ?p ?o }", "rows": 10}, time.monotonic() + 30)
>>> header["kind"], data
('solutions', b'?o\\n"1"\\n')
>>> pool.close()
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

__all__ = ["NoWorker", "PoolBusy", "PoolError", "WorkerCrashed", "WorkerPool", "WorkerTimeout"]

log = logging.getLogger(__name__)
WORKER_SCRIPT = Path(__file__).with_name("worker.py")


class PoolError(Exception):
    """The pool cannot run the query."""


class NoWorker(PoolError):
    """No worker became free before the deadline."""


class PoolBusy(PoolError):
    """Too many queries are already waiting for a worker."""


class WorkerTimeout(PoolError):
    """The query ran past its deadline; its worker was killed."""


class WorkerCrashed(PoolError):
    """The worker exited while running the query (out of memory, or killed from outside)."""


@dataclass(eq=False)
class _Worker:
    proc: subprocess.Popen[bytes]
    inbox: Connection
    outbox: Connection
    generation: int
    network: bool
    queries: int = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:  # pragma: no cover - already gone
            pass
        for conn in (self.inbox, self.outbox):
            try:
                conn.close()
            except OSError:  # pragma: no cover
                pass


@dataclass
class _Spawn:
    generation: int
    count: int
    done: threading.Event | None = None
    started: list[_Worker] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    attempt: int = 0


class WorkerPool:
    """Worker processes answering queries on copies of one graph.

    Parameters
    ----------
    size : int
        Workers per generation: queries running at once.
    memory : int, optional
        Address-space limit of each worker in bytes (``RLIMIT_AS``); a query needing more kills
        only its worker.
    max_waiting : int
        Queries that may wait for a free worker; more are refused at once (:class:`PoolBusy`).
    startup : float
        Seconds a new worker may take to open the store.
    recycle_bytes : int
        A worker that wrote an answer larger than this is replaced after it (its heap grew).
    max_queries : int
        A worker is replaced after this many queries.
    """

    def __init__(self, *, size: int = 2, memory: int | None = None, max_waiting: int = 64,
                 startup: float = 60.0, recycle_bytes: int = 16 << 20, max_queries: int = 1000) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, got size={size}")
        self.size = size
        self.memory = memory
        self.max_waiting = max_waiting
        self.startup = startup
        self.recycle_bytes = recycle_bytes
        self.max_queries = max_queries
        self.recycled = 0
        """Workers replaced after a large answer or ``max_queries``."""
        self.network: bool | None = None
        """Whether the workers can open network connections (``None`` until one has started)."""
        self.started_workers = 0
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._generation = 0
        self._waiting = 0
        self._closed = False
        self._swap_lock = threading.Lock()
        self._stores: dict[int, Path] = {}
        self._jobs: queue.Queue[_Spawn | _Worker | None] = queue.Queue()
        self._supervisor: threading.Thread | None = None

    def _ensure_started(self) -> None:
        """Called with the swap lock held: the supervisor thread, started on first use."""
        if self._closed:
            raise PoolError("the worker pool is closed")
        if self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="kg-worker-supervisor", daemon=True)
            self._supervisor.start()

    # ------------------------------------------------------------ generations

    @property
    def generation(self) -> int:
        """The generation new queries run on (0 before :meth:`start`)."""
        return self._generation

    def pids(self) -> list[int]:
        """Process ids of the live workers of the current generation, idle or busy."""
        with self._cond:
            return sorted(w.pid for w in [*self._idle, *self._busy] if w.generation == self._generation)

    def _add(self, path: Path | str) -> tuple[int, Path]:
        self._ensure_started()
        with self._cond:
            generation = max([self._generation, *self._stores]) + 1
        self._stores[generation] = Path(path)
        return generation, Path(path)

    @property
    def path(self) -> Path | None:
        """The store folder the current generation's workers read."""
        return self._stores.get(self._generation)

    def start(self, path: Path | str) -> None:
        """Start the first generation on the store folder *path*; returns at once, queries wait for the workers."""
        if self._generation:  # started already: no lock, so queries never wait for a running swap here
            return
        with self._swap_lock:
            if self._generation:
                return
            generation, _ = self._add(path)
            with self._cond:
                self._generation = generation
            self._jobs.put(_Spawn(generation, self.size))

    def wait_ready(self, timeout: float, *, count: int | None = None) -> bool:
        """Wait until *count* (default: all) workers of the current generation have started, or *timeout*."""
        end = time.monotonic() + timeout
        want = self.size if count is None else min(count, self.size)
        with self._cond:
            while len(self._idle) + len(self._busy) < want and not self._closed:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def swap(self, path: Path | str, *, timeout: float | None = None) -> int:
        """Start a new generation on the store folder *path*, wait until all its workers are ready, switch to it.

        Returns
        -------
        int
            The new generation.

        Raises
        ------
        PoolError
            The new workers did not start; the current generation keeps serving.
        """
        with self._swap_lock:
            generation, _ = self._add(path)
            job = _Spawn(generation, self.size, done=threading.Event())
            self._jobs.put(job)
            if not job.done.wait(timeout if timeout is not None else self.startup * 2):  # type: ignore[union-attr]
                raise PoolError("the new query workers did not start in time")
            if len(job.started) < self.size:
                for w in job.started:
                    self._retire(w)
                self._stores.pop(generation, None)
                raise PoolError(f"the new query workers did not start: {'; '.join(job.errors)}")
            with self._cond:
                old = [w for w in self._idle]
                old_generation = self._generation
                self._idle = list(job.started)
                self._generation = generation
                self._cond.notify_all()
            for w in old:
                self._retire(w)
            self._stores.pop(old_generation, None)
            return generation

    # ------------------------------------------------------------ queries

    def _acquire(self, deadline: float) -> _Worker:
        with self._cond:
            if self._closed:
                raise PoolError("the worker pool is closed")
            if not self._idle and self._waiting >= self.max_waiting:
                raise PoolBusy(f"{self._waiting} queries are already waiting for a worker")
            self._waiting += 1
            try:
                while True:
                    while self._idle:
                        worker = self._idle.pop()
                        if worker.proc.poll() is None:
                            self._busy.add(worker)
                            return worker
                        self._lost(worker)  # died while idle (killed from outside)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closed:
                        raise NoWorker(f"no query worker became free within the time limit ({self.size} running)")
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1

    def _lost(self, worker: _Worker) -> None:
        """Called with the lock held: *worker* is gone; start a replacement for the current generation."""
        self._busy.discard(worker)
        worker.kill()
        self._jobs.put(worker)  # reap
        if not self._closed and worker.generation == self._generation:
            self._jobs.put(_Spawn(worker.generation, 1))

    def _release(self, worker: _Worker, *, healthy: bool, recycle: bool = False) -> None:
        with self._cond:
            if healthy and recycle and not self._closed and worker.generation == self._generation:
                self.recycled += 1
                self._lost(worker)  # retired and replaced: the memory its answer took comes back
                return
            if healthy and not self._closed and worker.generation == self._generation:
                self._busy.discard(worker)
                self._idle.append(worker)
                self._cond.notify()
                return
            if healthy:  # an old generation, or the pool closed: retire it
                self._busy.discard(worker)
                self._retire(worker)
                return
            self._lost(worker)  # killed at once, in this thread: the CPU it used is free from now on

    def run(self, request: dict[str, Any], deadline: float) -> tuple[dict[str, Any], bytes]:
        """Run one *request* (see :mod:`server.worker`) on a free worker; block until its whole answer is in.

        Returns
        -------
        (header, data)
            The worker's reply: header ``kind``/``boolean``/``truncated``, or ``error``.

        Raises
        ------
        WorkerTimeout
            The deadline passed; the worker was killed and is being replaced.
        WorkerCrashed
            The worker died while running the query.
        NoWorker, PoolBusy
            No worker was free in time / too many queries wait already.
        """
        header, chunks = self.stream(request, deadline)
        return header, b"".join(chunks)

    def stream(self, request: dict[str, Any], deadline: float, *,
               transfer: float | None = None) -> tuple[dict[str, Any], list[bytes] | Iterator[bytes]]:
        """Run one *request* on a free worker; return its header and the answer's chunks.

        An answer that came in one message is a list. A longer one is copied to a temporary file
        (within *transfer* seconds after the deadline, default the time the query had, else the
        worker is killed) and returned as an iterator over that file's chunks. Either way the worker
        is free again when this returns.

        Raises
        ------
        WorkerTimeout, WorkerCrashed, NoWorker, PoolBusy
            As :meth:`run`.
        """
        worker = self._acquire(deadline)
        healthy = False
        try:
            try:
                worker.inbox.send_bytes(json.dumps({**request, "deadline": deadline}).encode())
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not worker.outbox.poll(remaining):
                    raise WorkerTimeout(f"worker {worker.pid} killed at the deadline")
                message = worker.outbox.recv_bytes()
            except (EOFError, OSError) as exc:
                raise WorkerCrashed(self._crash_reason(worker)) from exc
            (size,) = struct.unpack("!I", message[:4])
            header: dict[str, Any] = json.loads(message[4: 4 + size])
            first = message[4 + size:]
            del message
            healthy = header.get("error") != "memory"
        except BaseException:
            self._release(worker, healthy=healthy)
            raise
        worker.queries += 1
        total = int(header.get("size", len(first)))
        recycle = total > self.recycle_bytes or worker.queries >= self.max_queries
        if total <= len(first):
            self._release(worker, healthy=healthy, recycle=recycle)
            return header, [first] if first else []
        # A longer answer is copied to a temporary file as fast as the worker writes it, and the worker
        # is free again at once: a slow reader holds a file, never a worker (nor the memory of the answer).
        until = deadline + (transfer if transfer is not None else max(deadline - time.monotonic(), 5.0))
        spool = tempfile.TemporaryFile(prefix="kg-answer-")  # noqa: SIM115 - closed by _read_back or below
        done = False
        try:
            spool.write(first)
            del first
            while True:
                remaining = until - time.monotonic()
                if remaining <= 0 or not worker.outbox.poll(remaining):
                    raise WorkerTimeout(f"worker {worker.pid} killed: its answer did not come in time")
                try:
                    chunk = worker.outbox.recv_bytes()
                except (EOFError, OSError) as exc:
                    raise WorkerCrashed(self._crash_reason(worker)) from exc
                if not chunk:
                    done = True
                    break
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        finally:
            self._release(worker, healthy=done, recycle=recycle)
        spool.seek(0)
        return header, _read_back(spool)

    def _crash_reason(self, worker: _Worker) -> str:
        try:
            code = worker.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:  # pragma: no cover
            code = None
        return _exit_reason(code)

    # ------------------------------------------------------------ processes

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        self._jobs.put(worker)

    def _supervise(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if isinstance(job, _Worker):
                try:
                    job.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent before
                    log.warning("query worker %d did not exit", job.pid)
                continue
            self._spawn(job)

    def _spawn(self, job: _Spawn) -> None:
        with self._cond:
            current = self._generation
            stale = self._closed or (job.done is None and job.generation != current)
        path = self._stores.get(job.generation)
        if stale or path is None:
            if job.done is not None:
                job.done.set()
            return
        pending = []
        for _ in range(job.count):
            try:
                pending.append(self._popen(path, job.generation))
            except OSError as exc:
                job.errors.append(f"cannot start a worker: {exc}")
        for proc, inbox, outbox in pending:
            worker = self._handshake(proc, inbox, outbox, job)
            if worker is not None:
                job.started.append(worker)
        if job.done is not None:
            job.done.set()
            return
        with self._cond:
            if self._closed or job.generation != self._generation:
                for w in job.started:
                    self._retire(w)
                return
            self._idle.extend(job.started)
            self._cond.notify_all()
        missing = job.count - len(job.started)
        if missing:
            log.error("could not start %d query worker(s): %s", missing, "; ".join(job.errors))
            if job.attempt < 5:
                time.sleep(0.5 * 2 ** job.attempt)
                self._jobs.put(_Spawn(job.generation, missing, attempt=job.attempt + 1))

    def _popen(self, path: Path, generation: int) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-P", str(WORKER_SCRIPT), str(to_worker_r), str(from_worker_w), str(path),
                 str(os.getpid()), str(self.memory or 0)],
                pass_fds=(to_worker_r, from_worker_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
        except OSError:
            for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
                os.close(fd)
            raise
        os.close(to_worker_r)
        os.close(from_worker_w)
        return proc, Connection(to_worker_w, readable=False), Connection(from_worker_r, writable=False)

    def _handshake(self, proc: subprocess.Popen[bytes], inbox: Connection, outbox: Connection,
                   job: _Spawn) -> _Worker | None:
        worker = _Worker(proc, inbox, outbox, job.generation, network=True)
        try:
            if not outbox.poll(self.startup):
                raise TimeoutError(f"no answer within {self.startup:g} s")
            hello = json.loads(outbox.recv_bytes())
        except (EOFError, OSError, TimeoutError, ValueError) as exc:
            job.errors.append(f"worker {proc.pid}: {exc or type(exc).__name__} ({_exit_reason(proc.poll())})")
            self._retire(worker)
            return None
        if not hello.get("ready"):
            job.errors.append(f"worker {proc.pid}: {hello.get('error')}")
            self._retire(worker)
            return None
        worker.network = bool(hello.get("network"))
        if worker.network and not self.network:
            log.warning("query workers run with network access: this kernel refused an unprivileged network "
                        "namespace, so only the SERVICE/LOAD refusal keeps queries from calling out")
        self.network = worker.network if self.network is None else (self.network or worker.network)
        self.started_workers += 1
        return worker

    def close(self) -> None:
        """Kill every worker."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle.clear()
            self._cond.notify_all()
        for w in workers:
            w.kill()
        self._jobs.put(None)
        if self._supervisor is not None:
            self._supervisor.join(timeout=3)
        for w in workers:
            try:
                w.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass


def _read_back(spool: IO[bytes]) -> Iterator[bytes]:
    """The chunks of a spooled answer; the file is closed (and gone) at the end or when the iterator is closed."""
    try:
        while chunk := spool.read(1 << 20):
            yield chunk
    finally:
        spool.close()
        _trim()


def _trim() -> None:
    """Give the heap's free pages back to the system (glibc keeps them per thread arena otherwise)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):  # pragma: no cover - not glibc
        pass


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code == -6:
        return "aborted (SIGABRT): it ran out of memory"
    if code == -9:
        return "killed (SIGKILL)"
    if code < 0:
        return f"killed by signal {-code}"
    return f"exited with status {code}"
