"""Benchmark: ``kg serve --store URL`` in front of a remote store, beside the store queried directly.

Usage: python bench/remote.py [--sizes 100k,1M] [--repeat N] [--quick]

For each engine — ``oxigraph serve`` (PyPI ``oxigraph``) and OpenLink Virtuoso 7.2 (Debian
``virtuoso-opensource``), both started by :mod:`kg.launch` on loopback and filled with
``kg load --store`` (:meth:`kg.store.RemoteStore.load`) — this measures, medians over N runs:

* the channels aggregate (``kg/queries/channels.rq``) and a one-program lookup, POSTed to the
  engine directly and asked of ``kg serve --store`` at ``/sparql``: the HTTP layer's cost is
  the ratio (issue 14 target: ≤ 1.2×);
* a program page and a body page through ``kg serve --store``, and how many queries each page
  sends to the store (counted in-process on :mod:`server.data`) with their time in-process.

A request that fails is reported with its status and the store's message, not timed. Not a test;
CI runs ``--quick`` (a 10-program graph, 2 runs).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import ROOT, SIZES, data_files, fmt, machine, ratio

from kg import queries, views
from kg.launch import free_port, kg_serve_command, launched, virtuoso, virtuoso_command
from kg.store import EmbeddedStore, RemoteStore

LOOKUP = """PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?label ?fy ?category ?amount WHERE {
  VALUES ?program { <%s> }
  ?program rdfs:label ?label ; jf:budget ?b .
  ?b jf:fiscalYear ?fy ; jf:budgetCategory ?category ; jf:amount ?amount .
}"""


class Counting(RemoteStore):
    """A RemoteStore that counts its queries (the round trips a page makes)."""

    calls = 0

    def query(self, sparql, *, bindings=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().query(sparql, bindings=bindings)


@contextlib.contextmanager
def oxigraph_store(tmp: Path) -> Iterator[tuple[str, tuple[str, str] | None]]:
    import shutil

    exe = shutil.which("oxigraph")
    if exe is None:
        raise SystemExit("oxigraph is not installed (pip install oxigraph)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/query"
    with launched([exe, "serve", "--location", str(tmp / "ox"), "--bind", f"127.0.0.1:{port}"],
                  f"{url}?query=ASK%20%7B%7D", describe="oxigraph serve"):
        yield url, None


@contextlib.contextmanager
def virtuoso_store(tmp: Path) -> Iterator[tuple[str, tuple[str, str] | None]]:
    with virtuoso(tmp / "virtuoso", memory_mb=1000) as server:
        yield server.url, (server.user, server.password)


def timed_request(fn: Callable[[], httpx.Response], repeat: int) -> tuple[list[float], str]:
    """Seconds of each of *repeat* requests after a warm-up, or ``([], why)`` when one fails."""
    first = fn()
    if first.status_code != 200:
        return [], f"HTTP {first.status_code}: {first.text.strip()[-200:]}"
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = fn()
        out.append(time.perf_counter() - t0)
        if r.status_code != 200:
            return [], f"HTTP {r.status_code}"
    return out, ""


def line(label: str, ts: list[float], why: str) -> str:
    return f"  {label:<34}{fmt(ts) if ts else 'failed: ' + why}"


def pick(embedded: EmbeddedStore) -> tuple[str, str, str]:
    """A program with budgets and flows, and a body that channels money: (program IRI, slugs…)."""
    ch = views.channels(embedded)[0]
    program = ch.programs[0]
    body = ch.body
    iri = program.replace("program:", "https://w3id.org/jp-funding/id/program/")
    return iri, program.split(":", 1)[1], body.split(":", 1)[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100k,1M", help="comma-separated: 100k, 1M")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="a tiny graph, 2 runs (for CI)")
    args = ap.parse_args()
    sizes = {"quick": 10} if args.quick else {k: SIZES[k] for k in args.sizes.split(",")}
    repeat = 2 if args.quick else args.repeat
    engines: list[tuple[str, Callable[[Path], contextlib.AbstractContextManager[tuple[str, tuple[str, str] | None]]]]]
    engines = [("oxigraph serve", oxigraph_store)]
    if virtuoso_command() is not None:
        engines.append(("Virtuoso 7.2", virtuoso_store))
    else:
        print("virtuoso-t is not installed (apt-get install virtuoso-opensource): Virtuoso rows left out")
    print(machine())
    print(f"runs per measurement: {repeat}\n")
    for label, programs in sizes.items():
        files = data_files(programs)
        embedded = EmbeddedStore.from_paths([files[-1]])
        iri, program_slug, body_slug = pick(embedded)
        lookup = LOOKUP % iri
        print(f"[{label}] {embedded.count()} triples; program {program_slug}, body {body_slug}")
        for name, start in engines:
            measure(name, start, files, lookup, program_slug, body_slug, repeat)


def measure(name: str, start: Callable[[Path], contextlib.AbstractContextManager[tuple[str, tuple[str, str] | None]]],
            files: list[Path], lookup: str, program_slug: str, body_slug: str, repeat: int) -> None:
    """Start one engine, fill it, put ``kg serve --store`` in front of it, print its rows."""
    from server import data  # the pages' own queries, counted in-process

    channels = queries.get("channels").text
    env = {k: v for k, v in os.environ.items() if k != "KG_STORE"}
    with tempfile.TemporaryDirectory(prefix="kg-bench-remote-") as tmp, start(Path(tmp)) as (url, auth):
        t0 = time.perf_counter()
        RemoteStore(url, auth=auth, timeout=600).load(files)
        loaded = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with launched(kg_serve_command(port, "--store", url), f"{base}/favicon.ico", env=env, cwd=ROOT,
                      log=Path(tmp) / "serve.log", describe="kg serve --store"), httpx.Client(timeout=600) as client:
            def direct(q: str) -> httpx.Response:
                return client.post(url, data={"query": q}, headers={"Accept": "application/sparql-results+json"})

            def through(q: str) -> httpx.Response:
                return client.post(f"{base}/sparql", data={"query": q},
                                   headers={"Accept": "application/sparql-results+json"})

            rows = {
                "channels direct": timed_request(lambda: direct(channels), repeat),
                "channels kg serve": timed_request(lambda: through(channels), repeat),
                "lookup direct": timed_request(lambda: direct(lookup), repeat),
                "lookup kg serve": timed_request(lambda: through(lookup), repeat),
                "program page": timed_request(lambda: client.get(f"{base}/programs/{program_slug}"), repeat),
                "body page": timed_request(lambda: client.get(f"{base}/bodies/{body_slug}"), repeat),
            }
        counting = Counting(url)
        trips = {}
        pages: tuple[tuple[str, Callable[[], object]], ...] = (
            ("program page", lambda: data.program_detail(counting, program_slug)),
            ("body page", lambda: data.body_detail(counting, body_slug)))
        for page, fn in pages:
            counting.calls = 0
            t0 = time.perf_counter()
            try:
                fn()
                trips[page] = f"{counting.calls} queries, {1000 * (time.perf_counter() - t0):.0f} ms in-process"
            except Exception as exc:  # noqa: BLE001 - a benchmark reports what failed and goes on
                last = [ln for ln in str(exc).splitlines() if "Error" in ln][:1] or [str(exc)[:160]]
                trips[page] = f"failed after {counting.calls} queries: {last[0][-200:]}"
        count = RemoteStore(url).count()
    print(f" {name}: loaded {count} triples with kg load in {loaded:.1f} s")
    for k, (ts, why) in rows.items():
        extra = f"   [{trips[k]}]" if k in trips else ""
        print(line(k, ts, why) + extra)
    for q in ("channels", "lookup"):
        a, b = rows[f"{q} kg serve"][0], rows[f"{q} direct"][0]
        if a and b:
            print(f"  {q}: kg serve / direct {ratio(a, b):5.2f}x (target ≤ 1.2x); "
                  f"added {1000 * (statistics.median(a) - statistics.median(b)):.1f} ms")
    print()


if __name__ == "__main__":
    main()
