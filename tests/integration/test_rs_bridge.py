"""The PR↔RS bridge (graph_data/rs-bridge.ttl) checked against the RS CSVs and our PR sheets.

The RS zips are read here with zipfile + csv (UTF-8 with BOM), independently of any importer, from
``../shared/data/rs2024`` beside the project; the tests that need them skip when it is absent.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from kg import queries
from kg.formats import plain
from kg.load import data_sources, project_root
from kg.store import EmbeddedStore

JF = Namespace("https://w3id.org/jp-funding/ont#")
ROOT = project_root()
BRIDGE = ROOT / "graph_data" / "rs-bridge.ttl"
PROGRAMS = sorted((ROOT / "graph_data" / "programs").glob("*.ttl"))
RS_DIR = ROOT.parent / "shared" / "data" / "rs2024"
OKU = 100_000_000
CORP = "https://w3id.org/jp-funding/id/corp/"
# PR figures are printed to two or three significant digits of 億円; RS amounts are exact yen.
# The largest gap among the bridged sheets is sheet 17 (six RS sheets, 2.5 %); see docs/rs-bridge-review.md.
TOLERANCE = Decimal("0.03")

needs_rs = pytest.mark.skipif(not RS_DIR.is_dir(), reason=f"RS open data not found at {RS_DIR} (../shared/data/rs2024)")


def _graph() -> rdflib.Graph:
    g = rdflib.Graph()
    for f in PROGRAMS + [BRIDGE]:
        g.parse(f)
    return g


GRAPH = _graph()
MATCHES = sorted(GRAPH.subjects(RDF.type, JF.RsMatch))
BODIES = sorted(GRAPH.subjects(RDF.type, JF.RsBodyMatch))
SHEETS = sorted(GRAPH.subjects(JF.budgetLineText, None))


def _id(node: URIRef) -> str:
    return str(node).rsplit("/", 1)[1]


def _one(s: URIRef, p: URIRef) -> str:
    values = list(GRAPH.objects(s, p))
    assert len(values) == 1, (s, p, values)
    return str(values[0])


def rs_rows(prefix: str) -> Iterator[dict[str, str]]:
    """Rows of one RS zip (its single CSV), as published."""
    (path,) = RS_DIR.glob(f"{prefix}_*.zip")
    with zipfile.ZipFile(path) as zf:
        (name,) = zf.namelist()
        with zf.open(name) as raw:
            yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))


BRIDGED_IDS = {_one(m, JF.rsProjectId) for m in MATCHES}


@pytest.fixture(scope="module")
def overview() -> dict[str, list[dict[str, str]]]:
    """1-2 rows of the bridged sheets, by 予算事業ID."""
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rs_rows("1-2"):
        if row["予算事業ID"] in BRIDGED_IDS:
            out[row["予算事業ID"]].append(row)
    return out


@pytest.fixture(scope="module")
def budget_rows() -> dict[str, list[dict[str, str]]]:
    """2-1 rows of the bridged sheets, by 予算事業ID."""
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rs_rows("2-1"):
        if row["予算事業ID"] in BRIDGED_IDS:
            out[row["予算事業ID"]].append(row)
    return out


def _yen(text: str) -> int:
    value = Decimal(text)
    assert value == value.to_integral_value(), text
    return int(value)


def _total_2024(rows: list[dict[str, str]]) -> dict[str, int]:
    (total,) = [r for r in rows if r["予算年度"] == "2024" and r["会計区分"] == ""]
    return {
        "initial": _yen(total["当初予算（合計）"]),
        "supplementary": _yen(total["補正予算（合計）"]),
        "request": _yen(total["翌年度要求額（合計）"]),
    }


def _accounts_2024(rows: list[dict[str, str]]) -> dict[str, int]:
    """The same figures added up from the account rows (非空の会計区分) instead of the total row."""
    accounts = [r for r in rows if r["予算年度"] == "2024" and r["会計区分"] != ""]
    supplementary = [f"第{i}次補正予算" for i in range(1, 6)]
    return {
        "initial": sum(_yen(r["当初予算"] or "0") for r in accounts),
        "supplementary": sum(_yen(r[c] or "0") for r in accounts for c in supplementary),
        "request": sum(_yen(r["翌年度要求額"] or "0") for r in accounts),
    }


def _recorded(match: URIRef) -> dict[str, int]:
    return {
        "initial": int(_one(match, JF.rsInitialBudget)),
        "supplementary": int(_one(match, JF.rsSupplementaryBudget)),
        "request": int(_one(match, JF.rsNextYearRequest)),
    }


def _pr_budgets(sheet: URIRef) -> dict[tuple[int, str], int]:
    out = {}
    for b in GRAPH.objects(sheet, JF.budget):
        key = (int(str(GRAPH.value(b, JF.fiscalYear))), _category(GRAPH.value(b, JF.budgetCategory)))
        out[key] = int(GRAPH.value(b, JF.amount))
    return out


def _category(node: URIRef) -> str:
    return str(node).rsplit("#", 1)[1]


# ---------------------------------------------------------------- the table itself


def test_every_pr_sheet_is_bridged() -> None:
    bridged = {GRAPH.value(m, JF.prSheet) for m in MATCHES}
    assert len(SHEETS) == 27
    assert bridged == set(SHEETS)


def test_issue_example_sheet_14_is_3649() -> None:
    sheet = URIRef("https://w3id.org/jp-funding/id/program/sme-productivity-revolution-r6s")
    (match,) = GRAPH.subjects(JF.prSheet, sheet)
    assert _one(match, JF.rsProjectId) == "3649"
    assert _one(match, JF.rsProgramName) == "中小企業生産性革命推進事業"
    assert int(_one(match, JF.rsSupplementaryBudget)) == 339_986_201_000
    assert _pr_budgets(sheet) == {(2024, "SupplementaryBudget"): 340_000_000_000}


def test_programs_carry_the_ids_of_their_matches() -> None:
    for sheet in SHEETS:
        ids = {_one(m, JF.rsProjectId) for m in GRAPH.subjects(JF.prSheet, sheet)}
        assert {str(v) for v in GRAPH.objects(sheet, JF.rsProjectId)} == ids, _id(sheet)
        for sub in GRAPH.subjects(JF.partOf, sheet):
            sub_ids = {str(v) for v in GRAPH.objects(sub, JF.rsProjectId)}
            assert sub_ids <= ids, _id(sub)


def test_part_matches_name_the_sub_measures_and_others_do_not() -> None:
    for m in MATCHES:
        sheet, rs_id = GRAPH.value(m, JF.prSheet), _one(m, JF.rsProjectId)
        subs = [s for s in GRAPH.subjects(JF.partOf, sheet) if (s, JF.rsProjectId, Literal(rs_id)) in GRAPH]
        if GRAPH.value(m, JF.matchKind) == JF.PartMatch:
            assert subs, f"{_id(m)}: a part match names the sub-measure(s) it covers"
        else:
            assert len(list(GRAPH.subjects(JF.prSheet, sheet))) == 1, f"{_id(m)}: only a part shares its sheet"


def test_exact_title_matches_have_the_pr_title() -> None:
    for m in MATCHES:
        label = str(GRAPH.value(GRAPH.value(m, JF.prSheet), RDFS.label))
        labels = {str(x) for x in GRAPH.objects(GRAPH.value(m, JF.prSheet), RDFS.label)}
        if GRAPH.value(m, JF.matchKind) == JF.ExactTitleMatch:
            assert _one(m, JF.rsProgramName) in labels, (_id(m), label)
        elif GRAPH.value(m, JF.matchKind) == JF.RenamedMatch:
            assert _one(m, JF.rsProgramName) not in labels, _id(m)


def test_pr_figures_quoted_in_the_notes_are_the_sheets_amounts() -> None:
    """Every 「PRの…X億円」 in a note is one of the sheet's budget amounts."""
    checked = 0
    for m in MATCHES:
        note = next(str(c) for c in GRAPH.objects(m, RDFS.comment) if c.language == "ja")
        amounts = set(_pr_budgets(GRAPH.value(m, JF.prSheet)).values())
        for figure in re.findall(r"PR[のは][^。]*?([\d,.]+)億円", note):
            assert int(Decimal(figure.replace(",", "")) * OKU) in amounts, (_id(m), figure)
            checked += 1
    assert checked >= 27


# ---------------------------------------------------------------- against the RS CSVs


@needs_rs
@pytest.mark.parametrize("match", MATCHES, ids=[_id(m) for m in MATCHES])
def test_bridged_id_has_the_recorded_name_and_ministry(match: URIRef, overview, budget_rows) -> None:
    rs_id = _one(match, JF.rsProjectId)
    assert overview[rs_id], f"{rs_id} not in 1-2"
    assert budget_rows[rs_id], f"{rs_id} not in 2-1"
    for row in overview[rs_id] + budget_rows[rs_id]:
        assert row["事業名"] == _one(match, JF.rsProgramName)
        assert row["府省庁"] == _one(match, JF.rsMinistry)
        assert row["政策所管府省庁"] == _one(match, JF.rsPolicyMinistry)
    row = overview[rs_id][0]
    for prop, column in ((JF.rsBureau, "局・庁"), (JF.rsDepartment, "部"), (JF.rsDivision, "課"), (JF.rsOffice, "室")):
        assert [str(v) for v in GRAPH.objects(match, prop)] == ([row[column]] if row[column] else [])


@needs_rs
def test_bridged_sheets_are_meti_sheets(overview) -> None:
    """経済産業省 runs every bridged sheet: as 府省庁, else as policy ministry (特許庁), else by transfer (復興庁)."""
    others = defaultdict(set)
    for row in rs_rows("1-1"):
        if row["予算事業ID"] in BRIDGED_IDS:
            others[row["予算事業ID"]].add(row["府省庁（その他担当組織）"])
    ministries = {}
    for rs_id in BRIDGED_IDS:
        row = overview[rs_id][0]
        if row["府省庁"] == "経済産業省":
            ministries[rs_id] = "経済産業省"
        elif row["政策所管府省庁"] == "経済産業省":
            ministries[rs_id] = f"policy: {row['府省庁']}"
        else:
            assert "経済産業省" in others[rs_id], rs_id
            ministries[rs_id] = f"other unit: {row['府省庁']}"
    assert {k: v for k, v in ministries.items() if v != "経済産業省"} == {
        "7142": "policy: 特許庁",
        "617": "other unit: 復興庁",
    }


@needs_rs
@pytest.mark.parametrize("match", MATCHES, ids=[_id(m) for m in MATCHES])
def test_recorded_rs_amounts_equal_the_csv(match: URIRef, budget_rows) -> None:
    rows = budget_rows[_one(match, JF.rsProjectId)]
    assert str(GRAPH.value(match, JF.rsBudgetYear)) == "2024"
    assert _recorded(match) == _total_2024(rows)
    assert _recorded(match) == _accounts_2024(rows)


@needs_rs
@pytest.mark.parametrize("sheet", SHEETS, ids=[_id(s) for s in SHEETS])
def test_pr_and_rs_2024_amounts_agree_within_rounding(sheet: URIRef, budget_rows) -> None:
    """Where the PR sheet states a 2024 initial or supplementary amount, the RS sheets' sum is within 3 %."""
    ids = {_one(m, JF.rsProjectId) for m in GRAPH.subjects(JF.prSheet, sheet)}
    rs = {"InitialBudget": 0, "SupplementaryBudget": 0}
    for rs_id in ids:
        total = _total_2024(budget_rows[rs_id])
        rs["InitialBudget"] += total["initial"]
        rs["SupplementaryBudget"] += total["supplementary"]
    compared = 0
    for (year, category), pr in _pr_budgets(sheet).items():
        if year == 2024 and category in rs:
            assert abs(rs[category] - pr) <= TOLERANCE * pr, (_id(sheet), category, pr, rs[category])
            compared += 1
    if _id(sheet) != "global-south-co-creation-r6s":  # states only a multi-year total
        assert compared >= 1


def _check_digit_ok(number: str) -> bool:
    """National Tax Agency rule: check = 9 - (Σ Pn·Qn mod 9), Pn = 1 for odd n, 2 for even n from the right."""
    body = number[1:]
    total = sum(int(d) * (2 if n % 2 == 0 else 1) for n, d in enumerate(reversed(body), start=1))
    return int(number[0]) == 9 - total % 9


@needs_rs
def test_body_matches_are_the_blocks_of_5_2_and_5_3() -> None:
    wanted = {}
    for b in BODIES:
        (match,) = GRAPH.subjects(JF.bodyMatch, b)
        wanted[b] = (match, _one(match, JF.rsProjectId), _one(b, JF.rsBlockId))
    ids = {v[1] for v in wanted.values()}
    names: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rs_rows("5-2"):
        if row["予算事業ID"] in ids:
            names[(row["予算事業ID"], row["支出先の支出先ブロック"])].add(row["支出先の支出先ブロック名"])
    payees: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for row in rs_rows("5-3"):
        if row["予算事業ID"] in ids and row["支出先名"]:
            payees[(row["予算事業ID"], row["支出先ブロック番号"])].add((row["支出先名"], row["法人番号"]))
    for b, (match, rs_id, block) in wanted.items():
        key = (rs_id, block)
        assert {str(v) for v in GRAPH.objects(b, JF.rsBlockName)} == names[key], _id(b)
        recipient = GRAPH.value(b, JF.rsRecipientName)
        number = GRAPH.value(b, JF.rsCorporateNumber)
        if recipient is None:
            assert not payees[key], f"{_id(b)}: 5-3 names {payees[key]}"
        else:
            assert payees[key] == {(str(recipient), str(number) if number else "")}, _id(b)
        if number is not None:
            assert _check_digit_ok(str(number)), _id(b)
            assert GRAPH.value(b, JF.rsRecipient) == URIRef(f"{CORP}{number}"), _id(b)
        else:
            assert GRAPH.value(b, JF.rsRecipient) is None, _id(b)
        actor = GRAPH.value(b, JF.genericActor)
        assert (actor, JF.actorInProgram, GRAPH.value(match, JF.prSheet)) in GRAPH, _id(b)
    assert len(wanted) >= 20


# ---------------------------------------------------------------- the comparison query

# (PR fiscal year, PR category, PR request?) -> the 2-1 total-row column it is compared with
COMPARED = {
    (2024, "InitialBudget", False): "initial",
    (2024, "SupplementaryBudget", False): "supplementary",
    (2025, "InitialBudget", True): "request",
}


def _rs_turtle(budget_rows: dict[str, list[dict[str, str]]]) -> str:
    """RS programs as the importer writes them (jf:ReviewProgram, per-year totals, zero amounts
    left out, the request under the review year), from the 2-1 total rows only."""
    g = rdflib.Graph()
    for rs_id in sorted(BRIDGED_IDS):
        program = URIRef(f"https://example.org/rs/program/{rs_id}")
        g.add((program, RDF.type, JF.ReviewProgram))
        g.add((program, JF.rsProjectId, Literal(rs_id)))
        (total,) = [r for r in budget_rows[rs_id] if r["予算年度"] == "2024" and r["会計区分"] == ""]
        for column, category in (("当初予算（合計）", JF.InitialBudget), ("補正予算（合計）", JF.SupplementaryBudget),
                                 ("計（歳出予算現額合計）", JF.CurrentAppropriation),
                                 ("翌年度要求額（合計）", JF.NextYearRequest)):
            if _yen(total[column]) == 0:
                continue
            b = URIRef(f"https://example.org/rs/budget/{rs_id}-{_category(category)}")
            g.add((program, JF.budget, b))
            g.add((b, RDF.type, JF.BudgetAmount))
            g.add((b, JF.amount, Literal(_yen(total[column]), datatype=XSD.integer)))
            g.add((b, JF.fiscalYear, Literal("2024", datatype=XSD.gYear)))
            g.add((b, JF.budgetCategory, category))
    return g.serialize(format="turtle")


def _expected(budget_rows) -> dict[tuple[str, int, str], tuple[int, int | None, set[str]]]:
    """(sheet, year, category) -> (PR amount, RS sum or None, RS ids), computed from the CSV rows."""
    out = {}
    for sheet in SHEETS:
        ids = {_one(m, JF.rsProjectId) for m in GRAPH.subjects(JF.prSheet, sheet)}
        requests = {(int(str(GRAPH.value(b, JF.fiscalYear))), _category(GRAPH.value(b, JF.budgetCategory)))
                    for b in GRAPH.objects(sheet, JF.budget) if GRAPH.value(b, JF.isRequest) == Literal(True)}
        for (year, category), pr in _pr_budgets(sheet).items():
            column = COMPARED.get((year, category, (year, category) in requests))
            amounts = [_total_2024(budget_rows[i])[column] for i in ids] if column else []
            rs = sum(amounts) if any(amounts) else None
            out[(f"program:{_id(sheet)}", year, f"jf:{category}")] = (pr, rs, ids)
    return out


def _check_answer(rows: list[dict], expected) -> int:
    answer = {(plain(r["program"]), int(str(r["fiscal_year"])), plain(r["category"])): r for r in rows}
    assert set(answer) == set(expected)
    compared = 0
    for key, (pr, rs, ids) in expected.items():
        row = answer[key]
        assert int(row["pr_amount"]) == pr, key
        assert set(str(row["rs_project_ids"]).split()) == ids, key
        if rs is None:
            assert row["rs_amount"] is None and row["difference"] is None, key
        else:
            assert row["rs_amount"] is not None, key
            assert (int(row["rs_amount"]), int(row["difference"])) == (rs, rs - pr), key
            compared += 1
    sheet14 = answer[("program:sme-productivity-revolution-r6s", 2024, "jf:SupplementaryBudget")]
    assert (int(sheet14["rs_amount"]), int(sheet14["difference"])) == (339_986_201_000, -13_799_000)
    return compared


@needs_rs
def test_comparison_query_gives_the_difference(tmp_path: Path, budget_rows) -> None:
    rs_file = tmp_path / "rs.ttl"
    rs_file.write_text(_rs_turtle(budget_rows), encoding="utf-8")
    store = EmbeddedStore.from_paths([*PROGRAMS, BRIDGE, rs_file])
    rows = queries.get("pr-rs-budget").run(store).dicts()
    assert _check_answer(rows, _expected(budget_rows)) >= 40
    request = {(plain(r["program"]), plain(r["compared_with"])) for r in rows if int(str(r["fiscal_year"])) == 2025}
    assert ("program:sme-support-r7", "jf:NextYearRequest") in request


def _import_cut(tmp_path: Path, prefixes: tuple[str, ...]) -> tuple[EmbeddedStore, dict[str, list[dict[str, str]]]]:
    """The PR sheets + bridge, and the real importer's quads for the METI rows of *prefixes* (policy
    ministry 経済産業省, and the bridged sheets of other ministries), each file cut to those rows in
    its published layout."""
    rs = pytest.importorskip("kg.importers.rs", reason="the RS importer (kg/importers/rs.py) is not there")
    from kg.importers.rs_files import discover

    cut: dict[str, list[dict[str, str]]] = {}
    for prefix in prefixes:
        (path,) = RS_DIR.glob(f"{prefix}_*.zip")
        with zipfile.ZipFile(path) as zf:
            (name,) = zf.namelist()
            with zf.open(name) as raw:
                reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
                fields = list(reader.fieldnames or [])
                kept = [row for row in reader
                        if row.get("政策所管府省庁", row.get("所管府省庁")) == "経済産業省" or row["予算事業ID"] in BRIDGED_IDS]
        with open(tmp_path / Path(name).name, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(kept)
        cut[prefix] = kept
    store = EmbeddedStore.from_paths([*PROGRAMS, BRIDGE])
    # The importer writes the RS named graph; the quads go to the default graph here so that the test
    # does not depend on whether the store queries the union of its graphs.
    store.raw.extend(ox.Quad(q.subject, q.predicate, q.object) for q in rs.RSImporter().quads(discover([tmp_path])))
    return store, cut


@needs_rs
def test_comparison_query_on_the_imported_rs_data(tmp_path: Path) -> None:
    """The real importer on the real METI rows of 1-2 and 2-1."""
    store, cut = _import_cut(tmp_path, ("1-2", "2-1"))
    assert len({row["予算事業ID"] for row in cut["1-2"]}) >= 500  # every METI sheet, not only the bridged ones
    rows = queries.get("pr-rs-budget").run(store).dicts()
    by_id: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in cut["2-1"]:
        by_id[row["予算事業ID"]].append(row)
    assert _check_answer(rows, _expected(by_id)) >= 40


@needs_rs
def test_named_bodies_are_members_of_the_imported_blocks(tmp_path: Path) -> None:
    """Each recorded recipient is, in the importer's output, a member of the recorded block of the sheet."""
    store, _ = _import_cut(tmp_path, ("1-2", "5-2", "5-3"))
    checked = 0
    for b in BODIES:
        recipient = GRAPH.value(b, JF.rsRecipient)
        if recipient is None:
            continue
        (match,) = GRAPH.subjects(JF.bodyMatch, b)
        ask = f"""PREFIX jf: <{JF}>
            ASK {{
                ?program jf:rsProjectId "{_one(match, JF.rsProjectId)}" .
                FILTER NOT EXISTS {{ ?m jf:prSheet ?program }}
                ?block a jf:SpendingBlock ; jf:ofProgram ?program ; jf:blockId "{_one(b, JF.rsBlockId)}" ;
                    jf:member <{recipient}> .
                <{recipient}> jf:corporateNumber "{_one(b, JF.rsCorporateNumber)}" .
            }}"""
        assert store.query(ask) is True, _id(b)
        checked += 1
    assert checked >= 20


def test_comparison_query_without_rs_data_lists_the_pr_side() -> None:
    store = EmbeddedStore.from_paths([*PROGRAMS, BRIDGE])
    rows = queries.get("pr-rs-budget").run(store).dicts()
    assert len(rows) == sum(len(_pr_budgets(s)) for s in SHEETS)
    assert all(r["rs_amount"] is None for r in rows)


def test_bridge_is_part_of_the_project_data() -> None:
    assert BRIDGE in data_sources()
