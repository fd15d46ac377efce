"""Start servers as child processes on loopback, wait until they answer, and stop them.

Used by the end-to-end tests and the benchmarks (``kg serve``, ``oxigraph serve``); one place for
port choice, readiness polling and clean shutdown.

Examples
--------
>>> 1024 <= free_port() < 65536
True
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx

from kg.errors import KGError

__all__ = ["free_port", "kg_serve_command", "launched", "start", "stop", "wait_ready"]

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
