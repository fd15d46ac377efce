"""The RS named queries on the real data (METI subset), checked against figures computed from the CSVs.

The 13 zips are read from ``../shared/data/rs2024``; the tests skip when it is absent. The import of
the METI sheets (政策所管府省庁 = 経済産業省) is done once for the module; every expected figure is computed
here with the csv module, independently of the importer's code.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterator

import pytest

from kg import queries
from kg.importers.rs import RSImporter, corporate_number_ok, discover
from kg.load import ontology_sources, project_root
from kg.store import EmbeddedStore, Table

RS_DIR = project_root().parent / "shared" / "data" / "rs2024"
pytestmark = pytest.mark.skipif(not RS_DIR.is_dir(), reason=f"RS open data not found at {RS_DIR}")
METI = "経済産業省"
CORP = "https://w3id.org/jp-funding/id/corp/"


def _csv(code: str) -> Iterator[dict[str, str]]:
    """Distinct rows of one RS file (the importer skips exact duplicates; so do the figures)."""
    z = next(RS_DIR.glob(f"{code}_*.zip"))
    with zipfile.ZipFile(z) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".csv"))
        with zf.open(name) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
            header = next(reader)
            seen: set[tuple[str, ...]] = set()
            for row in reader:
                t = tuple(row)
                if t in seen:
                    continue
                seen.add(t)
                yield dict(zip(header, row, strict=True))


def _meti(code: str) -> list[dict[str, str]]:
    """Rows of METI's sheets: 政策所管府省庁 (所管府省庁 in 1-1) is METI; 府省庁 may be 特許庁 etc."""
    return [r for r in _csv(code) if (r.get("政策所管府省庁", r.get("所管府省庁")) or r["府省庁"]) == METI]


def _rows_in(code: str) -> int:
    z = next(RS_DIR.glob(f"{code}_*.zip"))
    with zipfile.ZipFile(z) as zf, zf.open(zf.namelist()[0]) as raw:
        return sum(1 for _ in csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))) - 1


@pytest.fixture(scope="module")
def meti() -> tuple[EmbeddedStore, RSImporter]:
    store = EmbeddedStore()
    store.load(ontology_sources() + [project_root() / "graph_data" / "organisations.ttl"])
    imp = RSImporter(ministries=[METI])
    store.raw.bulk_extend(imp.quads(discover([RS_DIR])))
    return store, imp


def _run(store: EmbeddedStore, name: str, **params: str) -> Table:
    answer = queries.get(name).run(store, params)
    assert isinstance(answer, Table)
    return answer


def _members() -> dict[tuple[str, str], set[str]]:
    """(sheet, block) -> valid corporate numbers named in it (5-3 and 5-4)."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in _meti("5-3"):
        if corporate_number_ok(r["法人番号"]):
            out[(r["予算事業ID"], r["支出先ブロック番号"])].add(r["法人番号"])
    for r in _meti("5-4"):
        n = r["契約先の法人番号（国庫債務負担行為等による契約）"]
        if corporate_number_ok(n):
            out[(r["予算事業ID"], r["支出先ブロック（国庫債務負担行為等による契約）"])].add(n)
    return out


def test_import_counts_add_up_to_the_rows_of_every_file(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    _, imp = meti
    assert len(imp.report.files) == 13
    for c in imp.report.files:
        assert c.read == _rows_in(c.code), c.file
        assert c.read == c.used + c.skipped + c.filtered, c.file
    sheets = {r["予算事業ID"] for r in _meti("6-1")}
    assert imp.report.files[-1].used == len(sheets)


def test_top_recipients_by_amount(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    store, _ = meti
    totals: dict[str, int] = defaultdict(int)
    for r in _meti("5-3"):
        if corporate_number_ok(r["法人番号"]) and r["金額"]:
            totals[r["法人番号"]] += int(float(r["金額"]))
    expected = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    got = [(str(r["corporate_number"]), int(r["amount"])) for r in _run(store, "rs-top-recipients").dicts()]  # type: ignore[arg-type]
    assert got == expected


def test_recipients_by_number_of_programs(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    store, _ = meti
    programs: dict[str, set[str]] = defaultdict(set)
    for (pid, _block), numbers in _members().items():
        for n in numbers:
            programs[n].add(pid)
    rows = _run(store, "rs-recipients-by-programs").dicts()
    assert len(rows) == 100
    for r in rows:
        assert int(r["programs"]) == len(programs[str(r["corporate_number"])]), r["label"]  # type: ignore[arg-type]
    top = max(len(v) for v in programs.values())
    assert int(rows[0]["programs"]) == top  # type: ignore[arg-type]


def test_bodies_that_pass_money_on(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    store, _ = meti
    members = _members()
    passed: dict[str, int] = defaultdict(int)
    for r in _meti("5-2"):
        if r["担当組織からの支出"] == "FALSE" and r["支出元の支出先ブロック"]:
            for n in members.get((r["予算事業ID"], r["支出元の支出先ブロック"]), ()):
                passed[n] += 1
    rows = _run(store, "rs-pass-on").dicts()
    for r in rows[:20]:
        assert int(r["edges"]) == passed[str(r["corporate_number"])], r["label"]  # type: ignore[arg-type]
    assert int(rows[0]["edges"]) == max(passed.values())  # type: ignore[arg-type]


def test_ministry_programs_with_budget_and_execution(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    store, _ = meti
    executed = {r["予算事業ID"]: int(float(r["執行額（合計）"])) for r in _meti("2-1")
                if r["予算年度"] == "2023" and not r["会計区分"] and r["執行額（合計）"]}
    rows = _run(store, "rs-ministry-programs", ministry=METI, year="2023").dicts()
    assert len(rows) == len({r["予算事業ID"] for r in _meti("6-1")})
    got = {str(r["rs_project_id"]): int(r["executed"]) for r in rows if r["executed"] is not None}  # type: ignore[arg-type]
    assert got == {k: v for k, v in executed.items() if v != 0}


def test_programs_through_which_one_body_received_money(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    store, _ = meti
    number = "2010405004147"  # 独立行政法人中小企業基盤整備機構
    expected = {pid for (pid, _b), ns in _members().items() if number in ns}
    rows = _run(store, "rs-recipient-programs", number=number).dicts()
    assert {str(r["rs_project_id"]) for r in rows} == expected and expected


def _depths() -> dict[str, int]:
    """Deepest level of each sheet's 5-2 chain, by expanding level sets from the ministry."""
    edges: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for r in _meti("5-2"):
        if r["担当組織からの支出"] in ("TRUE", "FALSE"):
            edges[r["予算事業ID"]].append((r["担当組織からの支出"], r["支出元の支出先ブロック"], r["支出先の支出先ブロック"]))
    out: dict[str, int] = {}
    for pid, es in edges.items():
        level = {d for f, _s, d in es if f == "TRUE"}
        reached = set(level)
        depth = 1 if level else 0
        while True:
            nxt = {d for f, s, d in es if f == "FALSE" and s in level and d not in reached}
            if not nxt:
                break
            reached |= nxt
            level = nxt
            depth += 1
        # an edge from a reached block to an already reached block sits one below its source
        out[pid] = depth
    return out


def test_chains_deeper_than_n(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    store, _ = meti
    depths = _depths()
    for n in (2, 3):
        rows = _run(store, "rs-deep-chains", depth=str(n)).dicts()
        got = {str(r["rs_project_id"]) for r in rows}
        assert got == {pid for pid, d in depths.items() if d > n}, n
    assert "3649" in {str(r["rs_project_id"]) for r in _run(store, "rs-deep-chains", depth="3").dicts()}


def test_full_chain_of_one_program_names_its_bodies(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    store, _ = meti
    rows = _run(store, "rs-program-chain", id="3649").dicts()
    edges = {(r["支出元の支出先ブロック"], r["支出先の支出先ブロック"], r["資金の流れの補足情報"])
             for r in _meti("5-2") if r["予算事業ID"] == "3649" and r["担当組織からの支出"] in ("TRUE", "FALSE")}
    assert len({r["flow"] for r in rows}) == len(edges)
    named = {(r["支出先ブロック番号"], r["法人番号"]) for r in _meti("5-3")
             if r["予算事業ID"] == "3649" and corporate_number_ok(r["法人番号"])}
    got = {(str(r["block_id"]), str(r["corporate_number"])) for r in rows if r["corporate_number"] is not None}
    reached = {b for _s, b, _k in edges}
    assert got == {(b, n) for b, n in named if b in reached}
    labels = {str(r["recipient_label"]) for r in rows if r["recipient_label"] is not None}
    assert "株式会社電通" in labels or any("電通" in x for x in labels)


def test_networkx_views_of_the_money_graph(meti: tuple[EmbeddedStore, RSImporter]) -> None:
    from kg import views

    store, _ = meti
    money = views.rs_money_graph(store)
    number = "2010405004147"
    expected = {pid for (pid, _b), ns in _members().items() if number in ns}
    assert money.degree(CORP + number) == len(expected)
    assert money.nodes[CORP + number]["corporate_number"] == number
    chains = views.rs_block_chains(store)
    flows = {(r["予算事業ID"], tuple(r.values())) for r in _meti("5-2") if r["担当組織からの支出"] in ("TRUE", "FALSE")}
    assert chains.number_of_edges() == len(flows)
    depths = _depths()
    deepest = max(d for _u, _v, d in chains.edges(data="hop"))
    assert deepest == max(depths.values())
