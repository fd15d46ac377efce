"""Benchmark: HTTP ``/sparql`` latency and throughput of kg serve, oxigraph serve and rdflib-endpoint.

Usage: python bench/sparql_http.py [--sizes 100k,1M] [--repeat N] [--seconds S] [--clients C] [--quick]

All three servers run on 127.0.0.1, each loaded with the ontology and the same synthetic graph:
``python -m kg serve --data FILE`` (a black box), ``oxigraph load`` + ``oxigraph serve`` and
``rdflib-endpoint serve FILES``. Two queries:

* ``channels`` — the aggregate of ``kg/queries/channels.rq`` (GROUP BY, SUM, ``jf:partOf*``);
* ``lookup``   — every statement about one program (``SELECT ?p ?o WHERE { <program> ?p ?o }``).

Latency: one client, N sequential GETs after a warm-up, JSON results; medians, min–max, and the
ratios against the peers and against the same query run in-process on pyoxigraph (the HTTP
layer's cost). Throughput: C client processes (default 8) each sending the query in a loop over
one keep-alive connection for S seconds (default 30); counts 200 answers and the rest (503 …).
The clients run on the same 2 cores as the server, so cheap queries measure the machine as much
as the server. A request to rdflib-endpoint that takes longer than ``--timeout`` is cut and
counted as failed; when not even the first request is answered in time, the throughput run is
skipped and reported as 0 (rdflib's engine needed more than 7 GB and 6 minutes for the channels
aggregate at 100k triples; rdflib-endpoint runs with an 8 GB address-space limit here so that eight
such requests cannot take the machine down). Not a test: nothing is asserted; CI runs ``--quick``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SIZES,
    Server,
    data_files,
    fmt,
    machine,
    program_iri,
    start_kg,
    start_oxigraph,
    start_rdflib_endpoint,
)

from kg import queries

ACCEPT = {"Accept": "application/sparql-results+json"}


def _queries(programs: int) -> dict[str, str]:
    return {
        "channels": queries.get("channels").text,
        "lookup": f"SELECT ?p ?o WHERE {{ <{program_iri(programs)}> ?p ?o }}",
    }


def latency(url: str, query: str, repeat: int, timeout: float) -> list[float] | None:
    """Seconds per request (one client, sequential); None when the server did not answer in time."""
    out = []
    with httpx.Client(timeout=timeout) as client:
        try:
            client.get(url, params={"query": query}, headers=ACCEPT).raise_for_status()  # warm-up
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = client.get(url, params={"query": query}, headers=ACCEPT)
                r.raise_for_status()
                r.json()
                out.append(time.perf_counter() - t0)
        except httpx.TimeoutException:
            return None
    return out


def _client(url: str, query: str, seconds: float, timeout: float, start: float, q: mp.Queue) -> None:
    ok = failed = 0
    while time.time() < start:
        time.sleep(0.001)
    end = start + seconds
    with httpx.Client(timeout=timeout) as client:
        while time.time() < end:
            try:
                r = client.get(url, params={"query": query}, headers=ACCEPT)
                if r.status_code == 200:
                    ok += 1
                else:
                    failed += 1
            except httpx.HTTPError:
                failed += 1
    q.put((ok, failed))


def throughput(url: str, query: str, clients: int, seconds: float, timeout: float) -> tuple[float, int]:
    """Answers per second with *clients* processes for *seconds*, and the number of failed requests."""
    q: mp.Queue = mp.Queue()
    start = time.time() + 1.0  # every process starts sending at the same moment
    procs = [mp.Process(target=_client, args=(url, query, seconds, timeout, start, q)) for _ in range(clients)]
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds + timeout + 60) for _ in procs]
    for p in procs:
        p.join()
    return sum(ok for ok, _ in results) / seconds, sum(f for _, f in results)


def in_process(programs: int, query: str, repeat: int) -> list[float]:
    """The same query on an in-memory pyoxigraph store in this process (serialized to JSON too)."""
    store = ox.Store()
    for f in data_files(programs):
        store.load(path=str(f), format=ox.RdfFormat.TURTLE)
    store.query(query).serialize(format=ox.QueryResultsFormat.JSON)  # warm-up
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        store.query(query).serialize(format=ox.QueryResultsFormat.JSON)  # type: ignore[union-attr]
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100k,1M", help="comma-separated: 100k, 1M")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a request is given up")
    ap.add_argument("--no-rdflib", action="store_true", help="leave rdflib-endpoint out")
    ap.add_argument("--quick", action="store_true", help="a tiny graph, 3 runs, 2 s of 2 clients (for CI)")
    args = ap.parse_args()
    if args.quick:
        sizes, repeat, seconds, clients = {"quick": 10}, 3, 2.0, 2
        args.timeout = min(args.timeout, 15.0)
    else:
        sizes = {k: SIZES[k] for k in args.sizes.split(",")}
        repeat, seconds, clients = args.repeat, args.seconds, args.clients
    print(machine())
    print(f"latency: {repeat} sequential requests after a warm-up; throughput: {clients} client processes "
          f"for {seconds:.0f} s\n")
    with tempfile.TemporaryDirectory(prefix="kg-bench-ox-") as tmp:
        for label, programs in sizes.items():
            qs = _queries(programs)
            starts = {"kg serve": lambda p=programs: start_kg(p),
                      "oxigraph serve": lambda p=programs: start_oxigraph(p, Path(tmp) / "db")}
            if not args.no_rdflib:
                starts["rdflib-endpoint"] = lambda p=programs: start_rdflib_endpoint(p)
            lat: dict[tuple[str, str], list[float] | None] = {}
            rps: dict[tuple[str, str], tuple[float, int]] = {}
            for name, start in starts.items():
                for qname, text in qs.items():
                    # a fresh server per query: a slow query still running must not delay the next
                    server: Server = start()
                    try:
                        lat[name, qname] = latency(server.url, text, repeat, args.timeout)
                        if lat[name, qname] is None:  # not one answer in time: 8 clients would only pile up
                            rps[name, qname] = (0.0, 0)
                            continue
                        rps[name, qname] = throughput(server.url, text, clients, seconds, args.timeout)
                    finally:
                        server.stop()
            for qname, text in qs.items():
                local = in_process(programs, text, repeat)
                print(f"[{label}] {qname}")
                print(f"  in-process pyoxigraph   {fmt(local)}")
                base = lat["kg serve", qname]
                for name in starts:
                    ts = lat[name, qname]
                    ok, failed = rps[name, qname]
                    shown = fmt(ts) if ts else f"> {args.timeout:.0f} s (no answer)"
                    print(f"  {name:<23} {shown}   {ok:9.1f} req/s with {clients} clients"
                          + (f" ({failed} failed)" if failed else ""))
                if base:
                    kg_med = statistics.median(base)
                    print(f"  HTTP cost: kg serve / in-process {kg_med / statistics.median(local):6.2f}x "
                          "(target ≤ 1.2x)")
                    ox_lat = lat["oxigraph serve", qname]
                    if ox_lat:
                        print(f"  kg serve / oxigraph serve latency {kg_med / statistics.median(ox_lat):6.2f}x "
                              "(target ≤ 0.6x)")
                    rl = lat.get(("rdflib-endpoint", qname))
                    if "rdflib-endpoint" in starts:
                        speedup = (f"{statistics.median(rl) / kg_med:8.1f}x" if rl else
                                   f"> {args.timeout / kg_med:.0f}x (rdflib-endpoint gave no answer)")
                        print(f"  rdflib-endpoint / kg serve latency {speedup} (target ≥ 15x)")
                kg_rps = rps["kg serve", qname][0]
                for peer, target in (("oxigraph serve", "≥ 2x"), ("rdflib-endpoint", "≥ 20x")):
                    if (peer, qname) in rps:
                        peer_rps = rps[peer, qname][0]
                        shown = f"{kg_rps / peer_rps:8.1f}x" if peer_rps else "∞ (peer answered none)"
                        print(f"  throughput kg serve / {peer} {shown} (target {target})")
                print()


if __name__ == "__main__":
    main()
