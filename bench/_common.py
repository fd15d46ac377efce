"""Shared helpers of the benchmarks: synthetic data, timing statistics, servers as black boxes.

Every server is started as a subprocess on 127.0.0.1 and a free port, and stopped by its own
process id (never by name). Synthetic graphs are written once per size into
``$TMPDIR/kg-bench/`` by :mod:`kg.synth` and reused.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from kg import synth
from kg.launch import free_port
from kg.load import ontology_sources

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.gettempdir()) / "kg-bench"

SIZES = {"100k": 500, "1M": 5000}
"""Programs per size label: ``kg synth --programs 500`` is about 100,000 triples, 5000 about 1M."""


def machine() -> str:
    """One line: CPU model, cores, memory, Python and engine versions."""
    import pyoxigraph
    import rdflib

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    return (f"machine: {model or platform.processor() or platform.machine()}, {os.cpu_count()} cores{mem}; "
            f"Python {platform.python_version()}, pyoxigraph {pyoxigraph.__version__}, rdflib {rdflib.__version__}")


def synthetic(programs: int, seed: int = 1) -> Path:
    """The synthetic graph of *programs* programs (written once, then reused)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"synth-{programs}-s{seed}.ttl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        synth.write(tmp, programs, seed=seed)
        tmp.replace(path)
    return path


def data_files(programs: int) -> list[Path]:
    """What every peer loads: the ontology files and the synthetic graph."""
    return [*ontology_sources(), synthetic(programs)]


# ---------------------------------------------------------------- statistics

def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of *repeat* calls of *fn*."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fmt(ts: Sequence[float], unit: str = "ms") -> str:
    """``median (min–max)`` in ms or s."""
    k = 1000.0 if unit == "ms" else 1.0
    return f"{statistics.median(ts) * k:9.2f} {unit} ({min(ts) * k:.2f}–{max(ts) * k:.2f})"


def ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """median(a) / median(b)."""
    return statistics.median(a) / statistics.median(b)


# ---------------------------------------------------------------- servers

@dataclass
class Server:
    """A running server: its process, query URL and the seconds from spawn to first answer."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    ready_after: float
    children: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        for p in [self.proc, *self.children]:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


ASK = "ASK { ?s ?p ?o }"


def wait_ready(proc: subprocess.Popen[bytes], url: str, t0: float, timeout: float = 600.0) -> float:
    """Poll *url* with a query until it answers 200; return seconds since *t0*."""
    with httpx.Client(timeout=30) as client:
        while True:
            try:
                r = client.get(url, params={"query": ASK}, headers={"Accept": "application/sparql-results+json"})
                if r.status_code == 200:
                    return time.perf_counter() - t0
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}: {err}")
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(0.05)


def start_kg(programs: int, *, extra: Sequence[str] = ()) -> Server:
    """``python -m kg serve --data FILE --port P`` (loads the ontology with the file)."""
    port = free_port()
    data = synthetic(programs)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kg", "serve", "--data", str(data), "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/sparql"
    return Server("kg serve", proc, url, wait_ready(proc, url, t0), [])


def oxigraph_exe() -> str:
    exe = shutil.which("oxigraph")
    if exe is None:
        raise SystemExit("the oxigraph server is not installed: pip install oxigraph (or make install-test)")
    return exe


def oxigraph_load(programs: int, location: Path) -> float:
    """``oxigraph load --location DIR --file F`` for every file; return the seconds it took."""
    shutil.rmtree(location, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([oxigraph_exe(), "load", "--location", str(location), "--file", *map(str, data_files(programs))],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def start_oxigraph(programs: int, location: Path, *, load: bool = True) -> Server:
    """``oxigraph load`` then ``oxigraph serve`` on the same folder; ready_after counts both."""
    t0 = time.perf_counter()
    if load:
        oxigraph_load(programs, location)
    port = free_port()
    proc = subprocess.Popen([oxigraph_exe(), "serve", "--location", str(location), "--bind",
                             f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/query"
    return Server("oxigraph serve", proc, url, wait_ready(proc, url, t0), [])


def _limit_memory(limit: int = 8 << 30) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def start_rdflib_endpoint(programs: int, timeout: float = 900.0) -> Server:
    """``rdflib-endpoint serve FILES`` (rdflib's in-memory store and SPARQL engine), at most 8 GB."""
    exe = shutil.which("rdflib-endpoint")
    if exe is None:
        raise SystemExit("rdflib-endpoint is not installed: pip install rdflib-endpoint (or make install-test)")
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe, "serve", *map(str, data_files(programs)), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_limit_memory)  # noqa: PLW1509 - no threads in this process yet
    url = f"http://127.0.0.1:{port}/"
    return Server("rdflib-endpoint", proc, url, wait_ready(proc, url, t0, timeout), [])


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_pids(pid: int) -> list[int]:
    """*pid* and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():  # children of every thread, not only the main one
                with contextlib.suppress(OSError):
                    todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def pss_mb(pid: int) -> float:
    """Proportional set size of *pid* and its descendants in MB (shared pages split between them)."""
    total = 0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def program_iri(programs: int) -> str:
    """The IRI of a sheet of the synthetic graph with sub-measures and flows (for single lookups)."""
    import pyoxigraph as ox

    store = ox.Store()
    store.load(path=str(synthetic(programs)), format=ox.RdfFormat.TURTLE)
    rows = store.query("""PREFIX jf: <https://w3id.org/jp-funding/ont#>
        SELECT ?p (COUNT(?f) AS ?n) WHERE { ?s jf:partOf ?p . ?f jf:ofProgram ?s } GROUP BY ?p ORDER BY DESC(?n) ?p
        LIMIT 1""")
    return next(iter(rows))["p"].value  # type: ignore[union-attr, index]
