"""Attack benchmark (issue 13): what one hostile client costs everyone else, on loopback.

Usage: python bench/attack.py [--quick] [--only runaway,idle,adversarial,memory]

Starts ``python -m kg serve --workers 2`` on a free 127.0.0.1 port (and stops it). The attacker
connects from 127.0.0.10 and up, the victim — a second client sending a cheap ``ASK {}`` — from
127.0.0.2, so each is its own client for the per-client share of the query workers. Sections:

* ``runaway``: the attacker runs cross-product queries on every worker slot it may hold, again and
  again; the victim's p50/p99 beside the same queries with nobody attacking (target p99 ≤ 100 ms);
* ``idle``: 1,000 idle TCP connections (50 from each of 20 addresses) stay open; the victim's p99
  (target ≤ 100 ms);
* ``adversarial``: 1 MB query bodies built to be slow to lex (the old lexer took 27 s for 48 KB);
  each is refused or answered (target ≤ 1 s) while the victim's worst wait is measured (≤ 100 ms);
* ``memory``: 16 concurrent answers cut at the 64 MiB answer limit; RSS of the server and of the
  server with its workers before, at the peak and 60 s after (target ≤ 1.3x before).

Prints each figure beside its target. Not a test; CI runs ``--quick`` (fewer requests, 4 answers
of 8 MiB, 5 s of waiting).
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, rss_mb, tree_pids

from kg.launch import free_port, kg_serve_command, launched

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
CHEAP = "ASK {}"


def client(address: str, base: str, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=timeout, transport=httpx.HTTPTransport(local_address=address))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def victim(base: str, n: int) -> list[float]:
    """Seconds of *n* cheap queries from 127.0.0.2, one after another."""
    out = []
    with client("127.0.0.2", base) as http:
        for _ in range(n):
            t0 = time.perf_counter()
            resp = http.get("/sparql", params={"query": CHEAP})
            out.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise SystemExit(f"the victim's query failed: {resp.status_code} {resp.text[:200]}")
            time.sleep(0.005)
    return out


def line(name: str, values: list[float], target: str) -> str:
    return (f"  {name:<44} n={len(values):<4} p50 {pct(values, 50):7.1f} ms  p99 {pct(values, 99):7.1f} ms  "
            f"max {max(values) * 1000:7.1f} ms   (target {target})")


@contextmanager
def attacker(target: object, *args: object) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=target, args=(stop, *args), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(60)


def runaways(stop: threading.Event, base: str, counts: dict[str, int]) -> None:
    def one() -> None:
        with client("127.0.0.10", base, timeout=120) as http:
            while not stop.is_set():
                status = http.get("/sparql", params={"query": RUNAWAY}).status_code
                counts[str(status)] = counts.get(str(status), 0) + 1
                if status == 429:
                    time.sleep(0.05)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(3)]  # more than its share of 1
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def section_runaway(base: str, n: int) -> None:
    alone = victim(base, n)
    counts: dict[str, int] = {}
    with attacker(runaways, base, counts):
        time.sleep(1.0)
        attacked = victim(base, n)
    print(line("cheap query, nobody attacking", alone, "-"))
    print(line("cheap query, runaways on all the attacker's slots", attacked, "p99 <= 100 ms"))
    print(f"  attacker's answers by status: {dict(sorted(counts.items()))}")


def section_idle(base: str, n: int, total: int) -> None:
    port = int(base.rsplit(":", 1)[1])
    sockets = []
    t0 = time.perf_counter()
    for i in range(total):
        s = socket.socket()
        s.bind((f"127.0.0.{20 + i % 20}", 0))
        s.connect(("127.0.0.1", port))
        sockets.append(s)
    opened = time.perf_counter() - t0
    time.sleep(1.0)  # measured while they are open, not while the server accepts them
    try:
        attacked = victim(base, n)
    finally:
        for s in sockets:
            s.close()
    print(f"  {total} idle connections opened in {opened:.2f} s (closed by the server after --header-timeout)")
    print(line(f"cheap query, {total} idle connections open", attacked, "p99 <= 100 ms"))


ADVERSARIAL = {
    "escaped quotes (old lexer: quadratic)": 'SELECT * WHERE { ?s ?p "' + '0\\"' * 333_000 + " }",
    "unclosed long strings": "SELECT * WHERE { ?s ?p " + '"""a"' * 199_000 + " }",
    "one million brackets": "SELECT * WHERE " + "{" * 999_900,
    "words and escapes": "SELECT * WHERE { " + "ex:a\\# ?v " * 99_000 + "}",
    "a valid 1 MB query": "SELECT * WHERE { VALUES ?v { " + " ".join(f'"v{i}"' for i in range(110_000))
                          + " } } LIMIT 1",
}


def section_adversarial(base: str) -> None:
    worst: list[float] = []
    for name, text in ADVERSARIAL.items():
        body = text.encode()[:1_000_000]
        seconds: dict[str, float] = {}

        def attack(stop: threading.Event, body: bytes = body, seconds: dict[str, float] = seconds) -> None:
            with client("127.0.0.30", base) as http:
                t0 = time.perf_counter()
                status = http.post("/sparql", content=body,
                                   headers={"Content-Type": "application/sparql-query"}).status_code
                seconds["t"], seconds["status"] = time.perf_counter() - t0, status

        waits: list[float] = []
        with attacker(attack) as _stop, client("127.0.0.2", base) as http:
            while "t" not in seconds:
                t0 = time.perf_counter()
                http.get("/sparql", params={"query": CHEAP})
                waits.append(time.perf_counter() - t0)
        worst += waits
        print(f"  {name:<40} {len(body):>9} bytes  {seconds['status']}  in {seconds['t'] * 1000:6.0f} ms "
              f"(target <= 1000 ms)   victim max {max(waits) * 1000:6.1f} ms over {len(waits)} queries")
    print(line("cheap query while 1 MB bodies are read", worst, "max <= 100 ms"))


def _rss(pid: int) -> float:
    try:
        return rss_mb(pid)
    except OSError:  # a worker recycled meanwhile
        return 0.0


def _memory(pid: int) -> tuple[float, float]:
    return _rss(pid), sum(_rss(p) for p in tree_pids(pid))


def section_memory(base: str, pid: int, answers: int, mib: int, wait: float) -> None:
    width = mib * 1024 * 1024 // 10_000  # 10,000 rows (the row limit) of this many characters
    doublings = max(1, (width // 16).bit_length())
    binds = " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(doublings))
    values = " ".join(str(i) for i in range(10_000))
    query = (f'SELECT ?i ?x{doublings} WHERE {{ VALUES ?i {{ {values} }} BIND("0123456789abcdef" AS ?x0) '
             f"{binds} }}")
    before = _memory(pid)
    peak = list(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = _memory(pid)
            peak[0], peak[1] = max(peak[0], now[0]), max(peak[1], now[1])
            time.sleep(0.1)

    sizes: list[int] = []

    def fetch(i: int) -> None:
        with client(f"127.0.0.{100 + i}", base, timeout=120) as http, \
                http.stream("GET", "/sparql", params={"query": query},
                            headers={"Accept": "text/tab-separated-values"}) as resp:
            sizes.append(sum(len(c) for c in resp.iter_bytes()) if resp.status_code == 200 else -resp.status_code)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(answers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    time.sleep(wait)
    done.set()
    sampler.join()
    after = _memory(pid)
    got = sorted(sizes)
    print(f"  {answers} concurrent answers of ~{mib} MiB in {took:.1f} s; sizes {got[0] / 2**20:.1f}–"
          f"{got[-1] / 2**20:.1f} MiB" if got and got[0] > 0 else f"  answers: {got}")
    for i, name in enumerate(("server", "server + workers")):
        print(f"  RSS {name:<17} before {before[i]:7.1f} MB  peak {peak[i]:7.1f} MB  {wait:.0f} s after "
              f"{after[i]:7.1f} MB  after/before {after[i] / before[i]:4.2f}x   (target <= 1.3x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer requests, smaller answers (for CI)")
    ap.add_argument("--only", default="runaway,idle,adversarial,memory")
    args = ap.parse_args()
    only = set(args.only.split(","))
    n = 40 if args.quick else 300
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(machine())
    with launched(kg_serve_command(port, "--workers", "2", "--timeout", "3" if args.quick else "30"),
                  f"{base}/sparql?query=ASK%20%7B%7D", cwd=ROOT, describe="kg serve") as proc:
        with suppress(httpx.HTTPError):
            victim(base, 5)  # warm
        if "runaway" in only:
            print("\n[runaway queries]")
            section_runaway(base, n)
        if "idle" in only:
            print("\n[idle connections]")
            section_idle(base, n, 1000)
        if "adversarial" in only:
            print("\n[1 MB adversarial bodies]")
            section_adversarial(base)
        if "memory" in only:
            print("\n[large answers]")
            section_memory(base, proc.pid, 4 if args.quick else 16, 8 if args.quick else 64,
                           5.0 if args.quick else 60.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
