"""Benchmark: the analyst's pages at national scale: search, the program list, the Sankey's bytes.

Usage: python bench/pages.py [--programs N] [--recipients N] [--repeat N] [--quick]

(1) Search: the :mod:`kg.search` FTS5 trigram index of a synthetic graph (``kg synth``) plus N
synthetic recipients (name and corporate number, as the RS import adds them), against the peer a
search box would otherwise be: a SPARQL ``CONTAINS`` scan over every label per keystroke, on the same
store. (2) The program list (``/programs``) sorted by amount and filtered, in process. (3) The
Sankey page's bytes: now (page + plotly.js once, cacheable; gzip) against plotly's standalone page
with plotly.js inline (what the server sent before). Medians over N runs, min–max, ratios. Not a
test; CI runs ``--quick``.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt, machine, ratio, synthetic, timed
from fastapi.testclient import TestClient
from rdflib import Literal

from kg import diagrams
from kg.search import Entry, SearchIndex
from kg.store import EmbeddedStore
from server.app import create_app

SCAN = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT DISTINCT ?s WHERE { ?s rdfs:label|skos:prefLabel|skos:altLabel ?l FILTER (CONTAINS(LCASE(STR(?l)), ?needle)) }
LIMIT 200"""

QUERIES = ["中小企業", "補助", "株式会社サンプル0123", "1234500000123", "jetro"]


def recipients(n: int) -> list[Entry]:
    return [Entry(f"urn:corp:{i}", "organisation", f"株式会社サンプル{i:04d}", detail=f"法人番号 {1234500000000 + i}",
                  keys=(str(1234500000000 + i),)) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--programs", type=int, default=5000)
    ap.add_argument("--recipients", type=int, default=30000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="a tiny graph, 3 runs (for CI)")
    args = ap.parse_args()
    programs, n_rec, repeat = (10, 300, 3) if args.quick else (args.programs, args.recipients, args.repeat)
    print(machine())
    store = EmbeddedStore.from_paths([synthetic(programs)])
    print(f"{store.count()} triples ({programs} synthetic programs) + {n_rec} synthetic recipients; "
          f"runs per measurement: {repeat}\n")

    t0 = time.perf_counter()
    index = SearchIndex.build(store, sources=[recipients(n_rec)])
    built = time.perf_counter() - t0
    print(f"(1) search index: {len(index)} entries built in {built:.2f} s (once per graph)")
    for q in QUERIES:
        fts = timed(lambda q=q: index.search(q, limit=50), repeat)
        scan = timed(lambda q=q: store.query(SCAN, bindings={"needle": Literal(q.lower())}), repeat)
        print(f"  {q:<22} index {fmt(fts)}   SPARQL label scan {fmt(scan)}   ratio {ratio(scan, fts):7.1f}x  "
              f"({len(index.search(q, limit=50))} hits)")

    with TestClient(create_app(store, workers=0)) as client:
        t0 = time.perf_counter()
        client.get("/programs")
        print(f"\n(2) /programs in process: first request {1000 * (time.perf_counter() - t0):.0f} ms "
              "(reads the graph; then kept per graph generation)")
        for label, params in (("first page", {}), ("sorted by amount", {"sort": "amount", "dir": "desc"}),
                              ("filtered + CSV", {"q": "事業", "format": "csv"})):
            ts = timed(lambda p=params: client.get("/programs", params=p), max(3, repeat // 4))
            print(f"  {label:<18} {fmt(ts)}")
        page = client.get("/sankey", params={"fy": 2025, "category": "initial"})
        js = client.get("/assets/plotly.min.js")
    fy = 2025
    old = diagrams.sankey_html(store, fiscal_year=fy, category="InitialBudget").encode()
    new_first = len(page.content) + len(js.content)
    new_gz = len(gzip.compress(page.content)) + len(gzip.compress(js.content))
    print("\n(3) the Sankey page, bytes")
    print(f"  before (plotly.js inline, no gzip)  {len(old):>10,}")
    print(f"  now, first visit (page + plotly.js) {new_first:>10,}   gzip {new_gz:>10,}   "
          f"ratio {len(old) / new_gz:5.1f}x")
    print(f"  now, next pages (plotly.js cached)  {len(page.content):>10,}   gzip {len(gzip.compress(page.content)):>10,}   "
          f"ratio {len(old) / len(gzip.compress(page.content)):7.1f}x")


if __name__ == "__main__":
    main()
