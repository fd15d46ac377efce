"""Benchmark: the named queries on the embedded store (pyoxigraph) vs plain rdflib, same process.

Usage: python bench/named_queries.py [--repeat N] [--quick]

Prints per query the median, min and max over N runs on each engine and the speed ratio
(rdflib time / embedded time). Also times loading the graph into each. Not a test: nothing is
asserted; CI runs it with --quick so it cannot rot.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import rdflib

from kg import queries
from kg.load import data_sources, load, ontology_sources
from kg.store import EmbeddedStore, inject_values


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fmt(ts: list[float]) -> str:
    return f"{statistics.median(ts) * 1000:9.2f} ms ({min(ts) * 1000:.2f}–{max(ts) * 1000:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="3 runs each (for CI)")
    args = ap.parse_args()
    repeat = 3 if args.quick else args.repeat
    files = ontology_sources() + data_sources()
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"files: {len(files)}; runs per measurement: {repeat}\n")

    load_ox = timed(lambda: EmbeddedStore.from_paths(), repeat)
    load_rdf = timed(lambda: load(), repeat)
    print(f"{'load':<18} embedded {fmt(load_ox)}   rdflib {fmt(load_rdf)}   "
          f"ratio {statistics.median(load_rdf) / statistics.median(load_ox):6.1f}x")

    store = EmbeddedStore.from_paths()
    graph: rdflib.Graph = load().graph
    ratios = []
    for name, q in queries.all_queries().items():
        params = {}
        for p in q.params:
            if f"{p.name}=" in q.example:
                params[p.name] = q.example.split(f"{p.name}=", 1)[1].split()[0]
        text = inject_values(q.text, q.bind(params))
        t_ox = timed(lambda text=text: store.query(text), repeat)
        try:
            t_rdf = timed(lambda text=text: list(graph.query(text)), repeat)
        except Exception as exc:  # noqa: BLE001 - report rdflib's own engine failures, keep benchmarking
            print(f"{name:<18} embedded {fmt(t_ox)}   rdflib failed: {type(exc).__name__}: {exc}")
            continue
        ratio = statistics.median(t_rdf) / statistics.median(t_ox)
        ratios.append(ratio)
        print(f"{name:<18} embedded {fmt(t_ox)}   rdflib {fmt(t_rdf)}   ratio {ratio:6.1f}x")
    print(f"\nmedian speed-up of the embedded store over rdflib: {statistics.median(ratios):.1f}x "
          f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x) over {len(ratios)} named queries")


if __name__ == "__main__":
    main()
