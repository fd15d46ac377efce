"""Benchmark: ``kg validate`` at 100k and 1M triples, the fast engine against pySHACL.

Usage: python bench/validate.py [--repeat N] [--pyshacl-sizes 100k] [--quick]

Each run is the whole command, ``python -m kg validate FILE --engine E``, from process start to
exit (parsing, the shapes, all checks). The fast engine runs N times per size; pySHACL, which
takes minutes, runs once per size listed in ``--pyshacl-sizes`` (default 100k only), and the
two reports are compared: the sets of (severity, focus, path, shape) and the whole records. The
graphs are the clean synthetic ones; ``tests/integration/test_fastshacl.py`` compares the engines
on graphs with defects. Not a test: nothing is asserted; CI runs ``--quick``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, SIZES, fmt, machine, ratio, synthetic


def run(path: Path, engine: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kg", "validate", str(path), "--engine", engine],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr[-2000:])
    return elapsed, (proc.stdout + proc.stderr).strip().splitlines()[-1]


def same_results(path: Path) -> str:
    from kg import fastshacl
    from kg.load import load, ontology_sources
    from kg.shacl.shapes import as_written
    from kg.validate import validate_graph

    fast = fastshacl.validate_dataset(fastshacl.Dataset([*ontology_sources(), path]))
    with as_written():  # literals as the file writes them, as the fast engine reads them
        loaded = load([path])
    slow = validate_graph(loaded)
    keys = {(r.severity, r.focus, r.path, r.shape) for r in fast.results}
    same = keys == {(r.severity, r.focus, r.path, r.shape) for r in slow.results}
    return (f"identical results: {'yes' if same and set(fast.results) == set(slow.results) else 'NO'} "
            f"({len(set(fast.results))} results, {fast.triples} = {slow.triples} triples)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pyshacl-sizes", default="100k", help="sizes to run pySHACL on too (comma-separated)")
    ap.add_argument("--quick", action="store_true", help="a tiny graph, 2 runs (for CI)")
    args = ap.parse_args()
    if args.quick:
        sizes, repeat, slow_sizes = {"quick": 10}, 2, {"quick"}
    else:
        sizes, repeat, slow_sizes = SIZES, args.repeat, set(args.pyshacl_sizes.split(","))
    print(machine())
    print(f"runs per measurement: fast {repeat}, pyshacl 1\n")
    for label, programs in sizes.items():
        path = synthetic(programs)
        fast = []
        for _ in range(repeat):
            t, summary = run(path, "fast")
            fast.append(t)
        print(f"{label:>5}  kg validate --engine fast     {fmt(fast, 's')}   target ≤ 15 s at 1M   [{summary}]")
        if label in slow_sizes:
            t, summary = run(path, "pyshacl")
            print(f"{label:>5}  kg validate --engine pyshacl  {fmt([t], 's')}   [{summary}]")
            print(f"{label:>5}  pyshacl / fast {ratio([t], fast):6.1f}x; {same_results(path)}")
        print()


if __name__ == "__main__":
    main()
