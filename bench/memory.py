"""Benchmark: resident memory after load at 1M triples, kg serve against oxigraph serve.

Usage: python bench/memory.py [--sizes 100k,1M] [--repeat N] [--rdflib] [--quick]

Each server is started on the same files and measured once ``/sparql`` has answered and after one
channels query: RSS of the main process, and PSS (proportional set size) summed over the process
and its children, since ``kg serve`` may run query workers in child processes (shared pages are
split between them, so the PSS sum is what the tree really holds). ``kg serve`` runs with 2 and
with 3 workers (issue 14: all workers open one on-disk store read-only, so a worker adds a process,
not a copy of the graph) and with ``--workers 0``. Peers: ``oxigraph serve`` (RocksDB: its page
cache is not in its RSS), a bare Python process holding an in-memory pyoxigraph store, and
(``--rdflib``) a Python process holding an rdflib Graph. Medians over N starts. Targets: ≤ 500 MB
after load at 1M (issue 6); with 2 workers PSS ≤ 3x ``oxigraph serve``'s, and one more worker
≤ 50 MB (issue 14). Not a test; CI runs ``--quick``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    SIZES,
    Server,
    data_files,
    machine,
    pss_mb,
    rss_mb,
    start_kg,
    start_oxigraph,
    wait_ready,
)

from kg import queries

# kg serve runs queries in worker processes (each holding the graph) where it has --workers; also
# measure it with threads only, the store held once
_HELP = subprocess.run([sys.executable, "-m", "kg", "serve", "--help"], capture_output=True, text=True,
                       cwd=ROOT, check=False).stdout
THREADS = ["--workers", "0"] if "--workers" in _HELP else []

HOLD = {
    "pyoxigraph (bare)": "import pyoxigraph as ox, sys\ns = ox.Store()\n"
                         "for f in sys.argv[1:]: s.load(path=f, format=ox.RdfFormat.TURTLE)\n",
    "rdflib Graph (bare)": "import rdflib, sys\ng = rdflib.Graph()\nfor f in sys.argv[1:]: g.parse(f)\n",
}


def bare(code: str, files: list[Path]) -> tuple[float, float]:
    """RSS and PSS of a Python process that loads *files* and then waits."""
    script = code + "print('ready', flush=True)\nsys.stdin.read()\n"
    proc = subprocess.Popen([sys.executable, "-c", script, *map(str, files)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(0.5)
        return rss_mb(proc.pid), pss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def served(server: Server) -> tuple[float, float]:
    """Memory once the server answered, then after one channels aggregate (the larger of both)."""
    wait_ready(server.proc, server.url, time.perf_counter())
    time.sleep(1.0)  # let workers started after the first answer come up
    first = rss_mb(server.proc.pid), pss_mb(server.proc.pid)
    httpx.get(server.url, params={"query": queries.get("channels").text},
              headers={"Accept": "application/sparql-results+json"}, timeout=600)
    time.sleep(0.5)
    second = rss_mb(server.proc.pid), pss_mb(server.proc.pid)
    return max(first[0], second[0]), max(first[1], second[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100k,1M", help="comma-separated: 100k, 1M")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rdflib", action="store_true", help="also an rdflib Graph (slow to load at 1M)")
    ap.add_argument("--quick", action="store_true", help="a tiny graph, 1 run (for CI)")
    args = ap.parse_args()
    sizes = {"quick": 10} if args.quick else {k: SIZES[k] for k in args.sizes.split(",")}
    repeat = 1 if args.quick else args.repeat
    print(machine())
    print(f"starts per measurement: {repeat}; MB = 2^20 bytes\n")
    with tempfile.TemporaryDirectory(prefix="kg-bench-ox-") as tmp:
        for label, programs in sizes.items():
            results: dict[str, list[tuple[float, float]]] = {}
            for _ in range(repeat):
                peers = [("kg serve --workers 2", lambda p=programs: start_kg(p, extra=["--workers", "2"])),
                         ("kg serve --workers 3", lambda p=programs: start_kg(p, extra=["--workers", "3"]))]
                if THREADS:
                    peers.append(("kg serve --workers 0", lambda p=programs: start_kg(p, extra=THREADS)))
                peers.append(("oxigraph serve", lambda p=programs: start_oxigraph(p, Path(tmp) / "db")))
                for name, start in peers:
                    server = start()
                    try:
                        results.setdefault(name, []).append(served(server))
                    finally:
                        server.stop()
                for name, code in HOLD.items():
                    if "rdflib" in name and not (args.rdflib or args.quick):
                        continue
                    results.setdefault(name, []).append(bare(code, data_files(programs)))
            print(f"[{label}]  {'':<22} {'RSS (main)':>12} {'PSS (tree)':>12}")
            med = {}
            for name, values in results.items():
                rss = sorted(v[0] for v in values)[len(values) // 2]
                pss = sorted(v[1] for v in values)[len(values) // 2]
                med[name] = pss
                spread = f"  (PSS {min(v[1] for v in values):.0f}–{max(v[1] for v in values):.0f})"
                print(f"  {name:<22} {rss:9.0f} MB {pss:9.0f} MB{spread if len(values) > 1 else ''}")
            for name in [n for n in med if n.startswith("kg serve")]:
                print(f"  {name} / oxigraph serve (PSS) {med[name] / med['oxigraph serve']:5.2f}x;  "
                      f"/ bare pyoxigraph {med[name] / med['pyoxigraph (bare)']:5.2f}x   "
                      "(targets: ≤ 500 MB at 1M; --workers 2 ≤ 3x oxigraph serve)")
            print(f"  one more worker (3 - 2) adds {med['kg serve --workers 3'] - med['kg serve --workers 2']:5.1f} MB PSS"
                  "   (target ≤ 50 MB)")
            print()


if __name__ == "__main__":
    main()
