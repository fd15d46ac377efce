"""Benchmark: the named queries on the embedded store (pyoxigraph) vs plain rdflib.

Usage: python bench/named_queries.py [--programs N] [--repeat N] [--timeout S] [--quick]

Without ``--programs`` the graph is ``graph_data/`` (4,826 triples); with it, the synthetic graph
of ``kg synth --programs N`` (500 ≈ 100k triples, 5000 ≈ 1M), with the query parameters taken
from that graph where the examples name real programs. Prints per query the median, min and max
over N runs on each engine and the speed ratio (rdflib time / embedded time), and the loading
times. rdflib runs in a child process: a query that takes longer than ``--timeout`` seconds is
stopped (the child is replaced) and reported as a lower bound. Not a test: nothing is asserted;
CI runs it with --quick so it cannot rot.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import rdflib

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import data_files, fmt, machine, program_iri, timed

from kg import queries
from kg.load import data_sources, ontology_sources
from kg.store import EmbeddedStore, Table, inject_values

FALLBACK = {
    # parameters whose example names something only graph_data/ has
    "unit": "SELECT ?x WHERE { ?x <http://www.w3.org/ns/org#classification> "
            "<https://w3id.org/jp-funding/id/unit-level/bureau> } ORDER BY ?x LIMIT 1",
    "category": "SELECT ?x WHERE { ?r <https://w3id.org/jp-funding/ont#appliesTo> ?x } ORDER BY ?x LIMIT 1",
    "body": "SELECT ?x (COUNT(?f) AS ?n) WHERE { ?f <https://w3id.org/jp-funding/ont#recipient> ?x . "
            "?x a <https://w3id.org/jp-funding/ont#NamedBody> } GROUP BY ?x ORDER BY DESC(?n) ?x LIMIT 1",
}


def _rdflib_child(files: list[str], conn: Connection) -> None:
    graph = rdflib.Graph()
    t0 = time.perf_counter()
    for f in files:
        graph.parse(f, format="turtle")
    conn.send(("loaded", time.perf_counter() - t0))
    while True:
        msg = conn.recv()
        if msg is None:
            return
        text, repeat = msg
        try:
            conn.send(("ok", timed(lambda t=text: list(graph.query(t)), repeat)))
        except Exception as exc:  # noqa: BLE001 - report rdflib's own engine failures, keep benchmarking
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class RdflibChild:
    """rdflib in a child process, so that a query running for hours can be stopped."""

    def __init__(self, files: list[Path]) -> None:
        self.files = [str(f) for f in files]
        self.load_times: list[float] = []
        self._start()

    def _start(self) -> None:
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(target=_rdflib_child, args=(self.files, child), daemon=True)
        self.proc.start()
        _, seconds = self.conn.recv()
        self.load_times.append(seconds)

    def run(self, text: str, repeat: int, timeout: float) -> list[float] | str:
        self.conn.send((text, repeat))
        if not self.conn.poll(timeout):
            self.proc.kill()
            self.proc.join()
            self._start()
            return f"no answer within {timeout:.0f} s"
        kind, value = self.conn.recv()
        return value if kind == "ok" else f"failed: {value}"

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()


def _params(store: EmbeddedStore, q: queries.NamedQuery, programs: int | None) -> dict[str, str]:
    params = {}
    for p in q.params:
        if f"{p.name}=" not in q.example:
            continue
        value = q.example.split(f"{p.name}=", 1)[1].split()[0]
        if programs:
            iri = str(queries.to_term(value, "iri"))
            if not store.query(f"ASK {{ <{iri}> ?p ?o }}"):
                if p.name == "program":
                    value = f"<{program_iri(programs)}>"
                else:
                    table = store.query(FALLBACK[p.name])
                    assert isinstance(table, Table)
                    value = f"<{table.rows[0][0]}>"
        params[p.name] = value
    return params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--programs", type=int, help="use the synthetic graph of N programs instead of graph_data/")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--timeout", type=float, help="seconds an rdflib query may take (default 300; --quick: 10)")
    ap.add_argument("--quick", action="store_true", help="3 runs each, rdflib cut at 10 s (for CI)")
    args = ap.parse_args()
    repeat = 3 if args.quick else args.repeat
    if args.timeout is None:
        args.timeout = 10.0 if args.quick else 300.0
    files = data_files(args.programs) if args.programs else ontology_sources() + data_sources()
    print(machine())
    print(f"files: {len(files)}; runs per measurement: {repeat}\n")

    load_ox = timed(lambda: EmbeddedStore.from_paths(files[len(ontology_sources()):]), min(repeat, 5))
    store = EmbeddedStore.from_paths(files[len(ontology_sources()):])
    child = RdflibChild(files)
    print(f"{'load':<18} embedded {fmt(load_ox)}   rdflib {fmt(child.load_times)}   "
          f"ratio {statistics.median(child.load_times) / statistics.median(load_ox):6.1f}x   "
          f"({store.count()} triples)")
    ratios, lower = [], []
    try:
        for name, q in queries.all_queries().items():
            text = inject_values(q.text, q.bind(_params(store, q, args.programs)))
            t_ox = timed(lambda t=text: store.query(t), repeat)
            t_rdf = child.run(text, 1, args.timeout)  # once, then again only if it was quick
            if isinstance(t_rdf, list) and t_rdf[0] < 2.0 and repeat > 1:
                more = child.run(text, repeat - 1, args.timeout)
                t_rdf = t_rdf + more if isinstance(more, list) else t_rdf
            if isinstance(t_rdf, str):
                bound = args.timeout / statistics.median(t_ox)
                if t_rdf.startswith("no answer"):
                    lower.append(bound)
                print(f"{name:<18} embedded {fmt(t_ox)}   rdflib {t_rdf}"
                      + (f"   ratio > {bound:.0f}x" if t_rdf.startswith("no answer") else ""))
                continue
            ratio = statistics.median(t_rdf) / statistics.median(t_ox)
            ratios.append(ratio)
            print(f"{name:<18} embedded {fmt(t_ox)}   rdflib {fmt(t_rdf)}   ratio {ratio:6.1f}x")
    finally:
        child.close()
    if ratios:
        print(f"\nmedian speed-up of the embedded store over rdflib: {statistics.median(ratios):.1f}x "
              f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x) over {len(ratios)} named queries"
              + (f"; {len(lower)} more gave no rdflib answer in {args.timeout:.0f} s" if lower else ""))


if __name__ == "__main__":
    main()
