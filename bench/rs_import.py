"""Benchmark the RS import (issue 11): import time and peak memory, the on-disk store, two queries.

Measures, on the 13 zips of ``../shared/data/rs2024`` (``--rs PATH``):

* ``kg import rs … -o national.nq``: wall time, peak RSS of the process, quads written; peer: reading
  every CSV row with the csv module alone (the floor any importer pays), as a ratio.
* ``kg import rs … --location DIR`` (bulk load into an on-disk store with the ontology and graph_data/).
* Opening that store and answering a query: in-process, and in a fresh process (``kg query … --location DIR``).
* Median latency of ``rs-program-chain`` (sheet 3649) and ``rs-top-recipients`` in-process on the
  on-disk store; peer: the same queries on an in-memory store loaded from the .nq file.
* ``kg validate national.nq``: wall time (fast engine).

``--quick`` imports only METI's sheets (``--ministry 経済産業省``) and runs each query 3 times.

Examples
--------
python bench/rs_import.py            # all 13 zips (about a minute on 2 cores)
python bench/rs_import.py --quick
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import machine


def _run(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) of the child, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    dt = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dt, max(peak, before) // 1024, p.stderr + p.stdout


def _read_all(rs: Path, ministry: str | None) -> int:
    rows = 0
    for z in sorted(rs.glob("*.zip")):
        with zipfile.ZipFile(z) as zf, zf.open(zf.namelist()[0]) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
            header = next(reader)
            col = header.index("府省庁")
            for row in reader:
                if ministry is None or row[col] == ministry:
                    rows += 1
    return rows


def _median(f: object, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rs", type=Path, default=ROOT.parent / "shared" / "data" / "rs2024")
    ap.add_argument("--quick", action="store_true", help="METI's sheets only, 3 runs per query")
    args = ap.parse_args()
    if not args.rs.is_dir():
        print(f"RS data not found at {args.rs}; skipping", file=sys.stderr)
        return 0
    subset = ["--ministry", "経済産業省"] if args.quick else []
    runs = 3 if args.quick else 20
    py = sys.executable
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="kg-bench-rs-"))
    try:
        t = time.perf_counter()
        rows = _read_all(args.rs, "経済産業省" if args.quick else None)
        floor = time.perf_counter() - t
        nq = work / "national.nq"
        dt, peak, err = _run([py, "-m", "kg", "import", "rs", str(args.rs), *subset, "-o", str(nq)])
        quads = next((line.split()[1] for line in err.splitlines() if line.startswith("wrote ")), "?")
        print(f"import -o national.nq: {dt:.1f} s, peak RSS {peak} MB, {quads} quads "
              f"(target ≤ 60 s, ≤ 1,536 MB); csv module alone over {rows} rows: {floor:.1f} s "
              f"(import / read = {dt / floor:.1f}×)")
        loc = work / "store"
        dt2, peak2, _ = _run([py, "-m", "kg", "import", "rs", str(args.rs), *subset, "--location", str(loc)])
        print(f"import --location DIR: {dt2:.1f} s, peak RSS {peak2} MB")
        dt3, _, out = _run([py, "-m", "kg", "query", "rs-deep-chains", "--param", "depth=3", "--location", str(loc),
                            "-f", "csv"])
        print(f"fresh process: open the on-disk store and answer rs-deep-chains: {dt3:.2f} s (target ≤ 5 s), "
              f"{len(out.splitlines()) - 1} rows")

        import pyoxigraph as ox

        from kg import queries
        from kg.load import ontology_sources
        from kg.store import EmbeddedStore, open_store

        t = time.perf_counter()
        disk = open_store(location=loc)
        disk.query("SELECT ?p WHERE { ?p a <https://w3id.org/jp-funding/ont#ReviewProgram> } LIMIT 10")
        print(f"in-process: open the on-disk store and answer a SPARQL query: {time.perf_counter() - t:.2f} s "
              "(target ≤ 5 s)")
        mem = EmbeddedStore()
        mem.load(ontology_sources())
        mem.raw.bulk_load(path=str(nq), format=ox.RdfFormat.N_QUADS)
        for name, params in (("rs-program-chain", {"id": "3649"}), ("rs-top-recipients", {})):
            q = queries.get(name)
            d = _median(lambda q=q, params=params: q.run(disk, params), runs)
            m = _median(lambda q=q, params=params: q.run(mem, params), runs)
            print(f"{name}: on-disk {d * 1000:.0f} ms, in-memory {m * 1000:.0f} ms (median of {runs}; "
                  f"disk / memory = {d / m:.2f}×; target over HTTP ≤ 50 ms)")
        dt4, peak4, out4 = _run([py, "-m", "kg", "validate", str(nq)])
        print(f"kg validate national.nq: {dt4:.1f} s, peak RSS {peak4} MB (target ≤ 30 s): "
              f"{out4.strip().splitlines()[-1] if out4.strip() else ''}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
