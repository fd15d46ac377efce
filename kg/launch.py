"""Start servers as child processes on loopback, wait until they answer, and stop them.

Used by the end-to-end tests and the benchmarks (``kg serve``, ``oxigraph serve``, OpenLink
Virtuoso); one place for port choice, readiness polling and clean shutdown.

Examples
--------
>>> 1024 <= free_port() < 65536
True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import httpx

from kg.errors import KGError

__all__ = ["VIRTUOSO_GRAPH", "Virtuoso", "free_port", "kg_serve_command", "launched", "start", "stop", "virtuoso",
           "virtuoso_ini", "wait_ready"]

# A child started through this trampoline gets SIGTERM when the process that started it dies
# (PR_SET_PDEATHSIG survives exec), so no server outlives a killed test run. No preexec_fn, which
# is unsafe in a process with threads.
_TRAMPOLINE = (
    "import ctypes, os, signal, sys; ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0); "
    "os.getppid() == int(sys.argv[1]) or sys.exit(1); os.execvp(sys.argv[2], sys.argv[2:])"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kg_serve_command(port: int, *args: str) -> list[str]:
    """``python -m kg serve`` on 127.0.0.1:*port* with extra *args*."""
    return [sys.executable, "-m", "kg", "serve", "--host", "127.0.0.1", "--port", str(port), *args]


def start(command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
          output: IO[bytes] | int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start *command*; it is terminated when this process dies."""
    on_linux = sys.platform.startswith("linux")
    argv = [sys.executable, "-c", _TRAMPOLINE, str(os.getpid()), *command] if on_linux else list(command)
    return subprocess.Popen(argv, cwd=cwd, env=dict(env) if env is not None else None,
                            stdout=output, stderr=subprocess.STDOUT if output is not None else None)


def wait_ready(proc: subprocess.Popen[bytes], url: str, *, timeout: float = 60.0,
               describe: str = "the server", log: Path | None = None) -> float:
    """Poll ``GET url`` until it answers 200; return the seconds waited.

    Raises
    ------
    KGError
        If the process exits or does not answer within *timeout* (with the end of its log).
    """
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise KGError(f"{describe} exited with {proc.returncode}{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise KGError(f"{describe} did not answer {url} within {timeout:.0f} s{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return ":\n" + log.read_text(errors="replace")[-2000:]


def stop(proc: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """Terminate *proc*, then kill it if it has not exited after *grace* seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)


@contextlib.contextmanager
def launched(command: Sequence[str], ready_url: str, *, env: Mapping[str, str] | None = None,
             cwd: Path | None = None, log: Path | None = None, timeout: float = 60.0,
             describe: str = "the server") -> Iterator[subprocess.Popen[bytes]]:
    """Start *command*, wait until *ready_url* answers, yield the process, stop it afterwards."""
    with contextlib.ExitStack() as stack:
        output: IO[bytes] | int = stack.enter_context(open(log, "wb")) if log else subprocess.DEVNULL
        proc = start(command, env=env, cwd=cwd, output=output)
        try:
            wait_ready(proc, ready_url, timeout=timeout, describe=describe, log=log)
            yield proc
        finally:
            stop(proc)


# ---------------------------------------------------------------- OpenLink Virtuoso

VIRTUOSO_GRAPH = "https://w3id.org/jp-funding/graph"
"""The graph Virtuoso keeps the data in: Virtuoso has no default graph of its own (a query without
``default-graph-uri`` sees every graph, its system graphs too)."""


@dataclass(frozen=True)
class Virtuoso:
    """A running Virtuoso: its SPARQL endpoint and the credentials :meth:`kg.store.RemoteStore.load` needs."""

    url: str
    """The SPARQL endpoint with ``default-graph-uri`` set to :data:`VIRTUOSO_GRAPH`."""
    http_port: int
    sql_port: int
    folder: Path
    user: str = "dba"
    password: str = "dba"
    """Virtuoso's initial dba password: the server listens on 127.0.0.1 only and lives as long as the test."""


def virtuoso_ini(folder: Path, http_port: int, sql_port: int, *, memory_mb: int = 100) -> str:
    """A ``virtuoso.ini`` keeping the database in *folder*, listening on 127.0.0.1 only.

    *memory_mb* sizes the page buffers (8 kB each; Virtuoso's guide: about 1 GB per 100M
    triples, plus room for the queries). Results are never cut (``ResultSetMaxRows``) and no
    time limit returns partial rows (``MaxQueryExecutionTime = 0``: the client's timeout rules).
    """
    buffers = max(memory_mb * 1024 // 8, 2000)
    db = folder / "virtuoso"
    return f"""[Database]
DatabaseFile = {db}.db
ErrorLogFile = {db}.log
LockFile = {db}.lck
TransactionFile = {db}.trx
xa_persistent_file = {db}.pxa
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {db}-temp.db
TransactionFile = {db}-temp.trx

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
DisableTcpSocket = 0
CaseMode = 2
DirsAllowed = ., {folder}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {buffers * 3 // 4}
CheckpointInterval = 60
ThreadsPerQuery = 2

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {folder}
ServerThreads = 16
MaxClientConnections = 16
MaxKeepAlives = 16
Charset = UTF-8
EnabledGzipContent = 0

[SPARQL]
ResultSetMaxRows = 100000000
MaxQueryCostEstimationTime = 100000
MaxQueryExecutionTime = 0
"""


def virtuoso_command() -> str | None:
    """The Virtuoso server program (Debian package ``virtuoso-opensource``), or ``None``."""
    return shutil.which("virtuoso-t")


@contextlib.contextmanager
def virtuoso(folder: Path, *, memory_mb: int = 100, timeout: float = 120.0) -> Iterator[Virtuoso]:
    """Run a new, empty Virtuoso with its database in *folder*; stop it afterwards.

    Raises
    ------
    KGError
        ``virtuoso-t`` is not installed, or it did not start (with the end of its log).

    Examples
    --------
    >>> print(virtuoso_ini(Path("/tmp/v"), 8890, 1111).splitlines()[1])
    DatabaseFile = /tmp/v/virtuoso.db
    """
    exe = virtuoso_command()
    if exe is None:
        raise KGError("virtuoso-t is not installed; on Debian: apt-get install virtuoso-opensource")
    folder.mkdir(parents=True, exist_ok=True)
    http_port, sql_port = free_port(), free_port()
    while sql_port == http_port:
        sql_port = free_port()
    ini = folder / "virtuoso.ini"
    ini.write_text(virtuoso_ini(folder, http_port, sql_port, memory_mb=memory_mb), encoding="utf-8")
    endpoint = f"http://127.0.0.1:{http_port}/sparql"
    with launched([exe, "+configfile", str(ini), "+foreground"], f"{endpoint}?query=ASK%20%7B%7D", cwd=folder,
                  log=folder / "virtuoso.out", timeout=timeout, describe="virtuoso-t"):
        yield Virtuoso(f"{endpoint}?default-graph-uri={quote(VIRTUOSO_GRAPH, safe='')}", http_port, sql_port,
                       folder)
