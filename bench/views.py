"""Benchmark: the NetworkX channels view (``kg channels``) at 1M triples, embedded vs a remote store.

Usage: python bench/views.py [--sizes 100k,1M] [--repeat N] [--quick]

``views.to_networkx`` builds the money-flow graph from SPARQL queries; ``views.channels``
reads the channels from plain queries without building that graph (issue 14); the peer is the
previous way, ``views.channels(store, graph=views.to_networkx(store))``, which walks the graph
(same answer, checked here on every run). Both run on the embedded store (pyoxigraph in this
process) and on ``oxigraph serve`` loaded with the same files through
:class:`kg.store.RemoteStore` (the same code, answers over HTTP). Medians over N runs, min–max,
ratios. Target (issue 14): channels view ≤ 1 s at 1M. Not a test; CI runs ``--quick``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SIZES, fmt, machine, ratio, start_oxigraph, synthetic, timed

from kg import views
from kg.store import EmbeddedStore, RemoteStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M", help="comma-separated: 100k, 1M")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a tiny graph, 2 runs (for CI)")
    args = ap.parse_args()
    sizes = {"quick": 10} if args.quick else {k: SIZES[k] for k in args.sizes.split(",")}
    repeat = 2 if args.quick else args.repeat
    print(machine())
    print(f"runs per measurement: {repeat}\n")
    with tempfile.TemporaryDirectory(prefix="kg-bench-ox-") as tmp:
        for label, programs in sizes.items():
            embedded = EmbeddedStore.from_paths([synthetic(programs)])
            server = start_oxigraph(programs, Path(tmp) / "db")
            try:
                remote = RemoteStore(server.url)
                rows = {}
                for name, store in (("embedded", embedded), ("oxigraph serve", remote)):
                    graph = views.to_networkx(store)
                    if views.channels(store) != views.channels(store, graph=graph):
                        raise SystemExit(f"{name}: the channels view differs from the graph walk")
                    rows[name] = (
                        timed(lambda s=store: views.to_networkx(s), repeat),
                        timed(lambda s=store: views.channels(s), repeat),
                        timed(lambda s=store: views.channels(s, graph=views.to_networkx(s)), repeat),
                        len(views.channels(store)),
                        graph.number_of_nodes(), graph.number_of_edges(),
                    )
            finally:
                server.stop()
            (e_graph, e_chan, e_walk, n_chan, nodes, edges) = rows["embedded"]
            (r_graph, r_chan, r_walk, *_) = rows["oxigraph serve"]
            print(f"[{label}] {embedded.count()} triples; flow graph {nodes} nodes, {edges} edges; "
                  f"{n_chan} intermediaries")
            print(f"  to_networkx   embedded {fmt(e_graph)}   oxigraph serve {fmt(r_graph)}   "
                  f"ratio {ratio(r_graph, e_graph):5.2f}x")
            print(f"  channels view embedded {fmt(e_chan)}   oxigraph serve {fmt(r_chan)}   "
                  f"ratio {ratio(r_chan, e_chan):5.2f}x   (target ≤ 1 s at 1M)")
            print(f"  graph walk    embedded {fmt(e_walk)}   oxigraph serve {fmt(r_walk)}   "
                  f"walk / view: embedded {ratio(e_walk, e_chan):5.2f}x, oxigraph serve {ratio(r_walk, r_chan):5.2f}x"
                  f"   (identical channels: yes)\n")


if __name__ == "__main__":
    main()
