"""Benchmark: start-up, from process start until ``/sparql`` answers, on the same file.

Usage: python bench/startup.py [--repeat N] [--quick]

Peers, each loading the ontology and the synthetic graph (``kg synth``):

* ``python -m kg serve --data FILE``, first start: the files are loaded once into an on-disk store
  in the cache folder (``KG_CACHE``, a fresh one per run here): spawn → first answer;
* the same command again, the store already on disk (a restart): spawn → first answer
  (issue 14 target: ≤ 2 s at 1M);
* ``oxigraph load`` + ``oxigraph serve`` (RocksDB on disk): load start → first answer;
* ``oxigraph load`` alone, the reference of the issue-6 target (kg ready ≤ 1.5× ``oxigraph load``);
* ``kg serve --workers 0`` (queries in threads, no worker processes), where the option exists.

Prints medians over N runs, min–max and the ratios. Not a test: nothing is asserted; CI runs it
with ``--quick`` (a 2,000-triple graph, 2 runs) so it cannot rot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, SIZES, fmt, machine, oxigraph_load, ratio, start_kg, start_oxigraph

# kg serve runs queries in worker processes by default; where it has the option, also time it with
# threads only (--workers 0), which shows what starting the workers adds
_HELP = subprocess.run([sys.executable, "-m", "kg", "serve", "--help"], capture_output=True, text=True,
                       cwd=ROOT, check=False).stdout
THREADS = ["--workers", "0"] if "--workers" in _HELP else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a tiny graph, 2 runs (for CI)")
    args = ap.parse_args()
    sizes = {"quick": 10} if args.quick else SIZES
    repeat = 2 if args.quick else args.repeat
    print(machine())
    print(f"runs per measurement: {repeat}\n")
    with tempfile.TemporaryDirectory(prefix="kg-bench-ox-") as tmp:
        location = Path(tmp) / "db"
        for label, programs in sizes.items():
            kg, kg_again, kg_threads, ox_ready, ox_load = [], [], [], [], []
            for _ in range(repeat):
                cache = Path(tmp) / "kg-cache"
                shutil.rmtree(cache, ignore_errors=True)
                os.environ["KG_CACHE"] = str(cache)  # a cold cache: the first start loads the files
                server = start_kg(programs)
                kg.append(server.ready_after)
                server.stop()
                server = start_kg(programs)  # the store is on disk now: a restart
                kg_again.append(server.ready_after)
                server.stop()
                if THREADS:
                    server = start_kg(programs, extra=THREADS)
                    kg_threads.append(server.ready_after)
                    server.stop()
                ox_load.append(oxigraph_load(programs, location))
                server = start_oxigraph(programs, location)
                ox_ready.append(server.ready_after)
                server.stop()
            print(f"{label:>5}  kg serve --data (spawn → answer)     {fmt(kg, 's')}")
            print(f"{label:>5}  kg serve again, store on disk        {fmt(kg_again, 's')}   (target ≤ 2 s)")
            if kg_threads:
                print(f"{label:>5}  kg serve --data --workers 0          {fmt(kg_threads, 's')}")
            print(f"{label:>5}  oxigraph load + serve (→ answer)     {fmt(ox_ready, 's')}")
            print(f"{label:>5}  oxigraph load alone                  {fmt(ox_load, 's')}")
            print(f"{label:>5}  kg / (oxigraph load + serve) {ratio(kg, ox_ready):5.2f}x   "
                  f"kg / oxigraph load {ratio(kg, ox_load):5.2f}x   (target ≤ 1.5x)"
                  + (f"   --workers 0 / oxigraph load {ratio(kg_threads, ox_load):5.2f}x" if kg_threads else "")
                  + "\n")


if __name__ == "__main__":
    main()
