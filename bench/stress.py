"""Stress: concurrent clients sending a mix of queries to a live server on loopback.

Usage: python bench/stress.py [--clients 8] [--requests 1000] [--quick] [--url URL] [--json]

Without ``--url`` it starts ``python -m kg serve`` on a free 127.0.0.1 port (stopped at the end,
and killed with this script if it dies) and measures the resident memory of the server and its
query workers (``/proc``; Linux) before and after the run. Each client (from its own loopback
address, 127.0.0.10 and up, so each has its own share of the query workers) sends its requests one
after another over one keep-alive connection, cycling through a mix of: every named query (on the
query page, bound server-side, and as SPARQL text with the example values bound by ``VALUES``),
SELECT in the four result formats, ASK, CONSTRUCT and DESCRIBE in the four graph formats, POST
form-encoded and ``application/sparql-query``, the REST API and two HTML pages.

Prints throughput, p50/p95/p99/max latency (overall and per kind), errors, and memory. Exit status
1 if any request failed (not 200, or no answer): "zero errors" is the promise under test. CI runs
it with ``--quick`` (8 clients x 25 requests).

``--overhead`` instead measures, in this process, what running a query in a worker process costs:
the median time of the same queries run in process and through :class:`server.pool.WorkerPool`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyoxigraph as ox

from kg import queries
from kg.errors import KGError
from kg.launch import free_port, kg_serve_command, launched
from kg.store import inject_values

ROOT = Path(__file__).resolve().parent.parent
ID = "https://w3id.org/jp-funding/id/"
JF = "https://w3id.org/jp-funding/ont#"
PROGRAM = f"{ID}program/sme-productivity-revolution-r6s"
RESULTS = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
           "text/tab-separated-values"]
GRAPHS = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]


@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] | None = None
    content: bytes | None = None


def mix() -> list[Request]:
    """The requests every client cycles through."""
    out: list[Request] = []
    for name, q in queries.all_queries().items():
        values = dict(re.findall(r"--param\s+(\w+)=(\S+)", q.example))
        out.append(Request(f"named-page:{name}", "GET", "/query", {"name": name, **values, "format": "json"}))
        text = inject_values(q.text, q.bind(values))
        accept = RESULTS[len(out) % len(RESULTS)]
        out.append(Request(f"named-sparql:{name}", "GET", "/sparql", {"query": text}, {"Accept": accept}))
    select = (f"PREFIX jf: <{JF}> SELECT ?b ?amount ?fy WHERE {{ <{PROGRAM}> jf:budget ?b . "
              "?b jf:amount ?amount ; jf:fiscalYear ?fy } ORDER BY ?fy")
    for accept in RESULTS:
        out.append(Request(f"select:{accept}", "GET", "/sparql", {"query": select}, {"Accept": accept}))
    construct = (f"PREFIX jf: <{JF}> CONSTRUCT {{ ?p jf:budget ?b . ?b jf:amount ?a }} "
                 "WHERE { ?p jf:budget ?b . ?b jf:amount ?a }")
    for accept in GRAPHS:
        out.append(Request(f"construct:{accept}", "POST", "/sparql", headers={"Accept": accept},
                           data={"query": construct}))
    out.append(Request("describe", "GET", "/sparql", {"query": f"DESCRIBE <{PROGRAM}>"},
                       {"Accept": "application/n-triples"}))
    out.append(Request("ask", "POST", "/sparql", headers={"Content-Type": "application/sparql-query",
                                                          "Accept": "application/sparql-results+xml"},
                       content=f"ASK {{ <{PROGRAM}> ?p ?o }}".encode()))
    out.append(Request("count", "GET", "/sparql", {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}))
    out.append(Request("api:programs", "GET", "/api/programs", {"sheets_only": "true"}))
    out.append(Request("api:program", "GET", "/api/programs/sme-productivity-revolution-r6s"))
    out.append(Request("api:channels", "GET", "/api/bodies/jetro/channels"))
    out.append(Request("api:flows", "GET", "/api/flows", {"program": "sme-productivity-revolution-r6s"}))
    out.append(Request("page:program", "GET", "/programs/sme-productivity-revolution-r6s", headers={"Accept": "text/html"}))
    out.append(Request("linked-data", "GET", "/id/org/jetro", headers={"Accept": "text/turtle"}))
    return out


# ---------------------------------------------------------------- the server and its memory

@contextlib.contextmanager
def server(extra: list[str]) -> Iterator[tuple[str, int]]:
    """``python -m kg serve`` on a free loopback port: (base URL, pid)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KG_STORE"}
    base = f"http://127.0.0.1:{port}"
    try:
        with launched(kg_serve_command(port, *extra), f"{base}/sparql?query=ASK%20%7B%7D", env=env, cwd=ROOT,
                      describe="kg serve") as proc:
            yield base, proc.pid
    except KGError as exc:
        raise SystemExit(str(exc)) from None


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return out


def rss(pid: int) -> tuple[int, int]:
    """Resident memory in KiB of *pid*, and of *pid* with all its descendants (the query workers)."""
    def one(p: int) -> int:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    own = one(pid)
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += one(p)
        todo += _children(p)
    return own, total


# ---------------------------------------------------------------- the run

@dataclass
class Result:
    kind: str
    seconds: float
    status: int | None
    error: str | None = None


def client_loop(base: str, requests: list[Request], n: int, offset: int, timeout: float, out: list[Result],
                address: str | None = None) -> None:
    transport = httpx.HTTPTransport(local_address=address) if address else None
    with httpx.Client(base_url=base, timeout=timeout, transport=transport) as http:
        for i in range(n):
            r = requests[(offset + i) % len(requests)]
            t0 = time.perf_counter()
            try:
                resp = http.request(r.method, r.path, params=r.params or None, headers=r.headers, data=r.data,
                                    content=r.content)
                status = resp.status_code
                error = None if status == 200 else resp.text[:200]
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            out.append(Result(r.kind, time.perf_counter() - t0, status, error))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] * 1000


def run(base: str, pid: int | None, clients: int, n: int, timeout: float) -> dict[str, object]:
    requests = mix()
    warm: list[Result] = []
    client_loop(base, requests, len(requests), 0, timeout, warm)  # every kind once: caches and workers warm
    before = rss(pid) if pid else None
    results: list[list[Result]] = [[] for _ in range(clients)]
    # each client from its own loopback address: eight clients, each within its share of the workers
    loopback = base.startswith(("http://127.", "https://127."))
    threads = [threading.Thread(target=client_loop, args=(base, requests, n, c * 7, timeout, results[c],
                                                          f"127.0.0.{10 + c}" if loopback else None))
               for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    after = rss(pid) if pid else None
    flat = [r for rs in results for r in rs]
    errors = [r for r in flat + warm if r.error is not None]
    times = [r.seconds for r in flat]
    kinds: dict[str, list[float]] = {}
    for r in flat:
        kinds.setdefault(r.kind.split(":")[0], []).append(r.seconds)
    return {
        "clients": clients, "requests_per_client": n, "requests": len(flat), "seconds": round(wall, 2),
        "throughput": round(len(flat) / wall, 1), "errors": len(errors),
        "error_samples": [f"{e.kind}: {e.status} {e.error}" for e in errors[:5]],
        "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2), "p99_ms": round(pct(times, 99), 2),
        "max_ms": round(max(times) * 1000, 2), "mean_ms": round(statistics.fmean(times) * 1000, 2),
        "by_kind": {k: {"n": len(v), "p50_ms": round(pct(v, 50), 2), "p95_ms": round(pct(v, 95), 2)}
                    for k, v in sorted(kinds.items())},
        "rss_kib": {"server_before": before[0], "server_after": after[0], "with_workers_before": before[1],
                    "with_workers_after": after[1]} if before and after else None,
    }


def report(r: dict[str, object]) -> str:
    lines = [f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}",
             (f"{r['clients']} clients x {r['requests_per_client']} requests = {r['requests']} in {r['seconds']} s "
              f"({r['throughput']} req/s)"),
             f"errors: {r['errors']}",
             f"latency: p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  p99 {r['p99_ms']} ms  max {r['max_ms']} ms",
             "by kind:"]
    for kind, v in r["by_kind"].items():  # type: ignore[attr-defined]
        lines.append(f"  {kind:<14} n={v['n']:<5} p50 {v['p50_ms']:8.2f} ms  p95 {v['p95_ms']:8.2f} ms")
    mem = r["rss_kib"]
    if mem:
        lines.append(f"RSS server:       {mem['server_before'] / 1024:7.1f} MiB before, "  # type: ignore[index]
                     f"{mem['server_after'] / 1024:7.1f} MiB after")  # type: ignore[index]
        lines.append(f"RSS with workers: {mem['with_workers_before'] / 1024:7.1f} MiB before, "  # type: ignore[index]
                     f"{mem['with_workers_after'] / 1024:7.1f} MiB after")  # type: ignore[index]
    for sample in r["error_samples"]:  # type: ignore[attr-defined]
        lines.append(f"error: {sample}")
    return "\n".join(lines)


def overhead(repeat: int) -> str:
    """Median time of a few queries in process vs through one worker process (pipe, JSON, copy)."""
    from kg.store import EmbeddedStore
    from server.graphs import Graphs
    from server.pool import WorkerPool
    from server.worker import execute

    store = EmbeddedStore.from_paths()
    graphs = Graphs.temporary()
    folder = graphs.next_path()
    disk = ox.Store(str(folder))
    disk.bulk_extend(store.raw)
    disk.flush()
    del disk
    pool = WorkerPool(size=1)
    pool.start(folder)
    try:
        pool.run({"sparql": "ASK {}", "rows": 1}, time.monotonic() + 60)
        cases = {"ask": "ASK { ?s ?p ?o }", "select-100": "SELECT * WHERE { ?s ?p ?o } LIMIT 100",
                 "named:programs": queries.all_queries()["programs"].text,
                 "construct-1000": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1000"}
        lines = [f"{repeat} runs each, medians"]
        for name, text in cases.items():
            inside, worker = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                execute(store.raw, text, time.monotonic() + 60, rows=10_000)
                inside.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                pool.run({"sparql": text, "rows": 10_000}, time.monotonic() + 60)
                worker.append(time.perf_counter() - t0)
            a, b = statistics.median(inside) * 1000, statistics.median(worker) * 1000
            lines.append(f"  {name:<16} in process {a:7.3f} ms   worker {b:7.3f} ms   overhead {b - a:6.3f} ms")
        return "\n".join(lines)
    finally:
        pool.close()
        graphs.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=1000, help="requests per client")
    ap.add_argument("--quick", action="store_true", help="25 requests per client (for CI)")
    ap.add_argument("--url", help="an already running server (memory is then not measured)")
    ap.add_argument("--timeout", type=float, default=30.0, help="client timeout per request, seconds")
    ap.add_argument("--serve-args", default="", help="extra arguments for kg serve, e.g. '--workers 4'")
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON")
    ap.add_argument("--overhead", action="store_true", help="measure the cost of a worker process per query")
    args = ap.parse_args(argv)
    if args.overhead:
        print(overhead(50 if args.quick else 300))
        return 0
    n = 25 if args.quick else args.requests
    if args.url:
        result = run(args.url.rstrip("/"), None, args.clients, n, args.timeout)
    else:
        with server(args.serve_args.split()) as (base, pid):
            result = run(base, pid, args.clients, n, args.timeout)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
