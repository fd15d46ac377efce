"""The RS importer on small files in the RS layouts (tests/fixtures/rs/): counts, report, errors."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.cli import main
from kg.importers.output import write_quads
from kg.importers.rs import RSImporter, RSImportError, corporate_number_ok, discover, normalize_name

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rs"
JF = "https://w3id.org/jp-funding/ont#"
ID = "https://w3id.org/jp-funding/id/"
PROG = f"{ID}program/rs2024-3649"


def _rows(path: Path) -> int:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def _import(paths: list[Path], **kw: object) -> tuple[ox.Store, RSImporter]:
    imp = RSImporter(**kw)  # type: ignore[arg-type]
    store = ox.Store()
    store.extend(imp.quads(discover(paths)))
    return store, imp


def _select(store: ox.Store, q: str) -> list[list[str]]:
    res = store.query(f"PREFIX jf: <{JF}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> {q}",
                      use_default_graph_as_union=True)
    return [[t.value if t is not None else "" for t in row] for row in res]  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def imported() -> tuple[ox.Store, RSImporter]:
    return _import([FIXTURES])


def test_corporate_number_check_digit_on_numbers_from_the_data() -> None:
    # 5-3 of RS 2024 lists these with the bodies' names
    assert corporate_number_ok("2010405004147")  # 独立行政法人中小企業基盤整備機構
    assert corporate_number_ok("1020001120059")  # 株式会社ブルーコンシャス
    assert not corporate_number_ok("7010000500687")  # printed for 独立行政法人日本芸術文化振興会; fails
    assert not corporate_number_ok("0") and not corporate_number_ok("20104050041470")


def test_normalized_name_folds_width_and_spaces() -> None:
    assert normalize_name("ＣＩＣ　Ｉｎｎｏｖａｔｉｏｎ ＬＬＣ") == "CICInnovationLLC"


def test_counts_add_up_to_the_rows_of_every_file(imported: tuple[ox.Store, RSImporter]) -> None:
    _, imp = imported
    by_name = {c.file: c for c in imp.report.files}
    assert len(by_name) == len(list(FIXTURES.glob("*.csv")))
    for path in FIXTURES.glob("*.csv"):
        c = by_name[path.name]
        assert c.read == _rows(path), path.name
        assert c.read == c.used + c.skipped + c.filtered
        assert c.reported >= c.skipped


def test_program_and_ministry_chain(imported: tuple[ox.Store, RSImporter]) -> None:
    store, _ = imported
    rows = _select(store, f"SELECT ?id ?label ?m WHERE {{ <{PROG}> a jf:ReviewProgram ; jf:rsProjectId ?id ; "
                          "rdfs:label ?label ; jf:ministry ?m }")
    assert rows == [["3649", "中小企業生産性革命推進事業", f"{ID}org/meti"]]  # METI: the curated IRI
    unit = _select(store, f"SELECT ?u WHERE {{ <{PROG}> jf:responsibleOrganization ?u }}")
    assert unit and unit[0][0].startswith(ID)


def test_5_2_edges_are_flows_between_blocks_with_hops(imported: tuple[ox.Store, RSImporter]) -> None:
    store, _ = imported
    rows = _select(store, f"""SELECT ?from ?to ?hop WHERE {{
        ?f a jf:FundingFlow ; jf:ofProgram <{PROG}> ; jf:funder ?a ; jf:recipient ?b ; jf:hop ?hop .
        OPTIONAL {{ ?a jf:blockId ?from }} ?b jf:blockId ?to }} ORDER BY ?hop ?to""")
    assert ["", "A", "1"] in rows
    assert ["A", "AA", "2"] in rows and ["AA", "AB", "3"] in rows
    with open(next(FIXTURES.glob("5-2_*.csv")), encoding="utf-8-sig", newline="") as f:
        edges = {tuple(r.values()) for r in csv.DictReader(f) if r["担当組織からの支出"] in ("TRUE", "FALSE")}
    assert len(_select(store, "SELECT ?f WHERE { ?f a jf:FundingFlow }")) == len(edges)


def test_5_3_items_link_block_payee_and_amount(imported: tuple[ox.Store, RSImporter]) -> None:
    store, _ = imported
    with open(next(FIXTURES.glob("5-3_*.csv")), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    total = sum(int(float(r["金額"])) for r in rows if r["金額"])
    got = _select(store, f"SELECT (SUM(?a) AS ?s) WHERE {{ ?i a jf:SpendingItem ; jf:ofProgram <{PROG}> ; "
                         "jf:amount ?a }")
    assert int(got[0][0]) == total
    first = rows[0]
    org = f"{ID}corp/{first['法人番号']}"
    assert _select(store, f"SELECT ?n ?l WHERE {{ <{org}> jf:corporateNumber ?n ; rdfs:label ?l }}") == [
        [first["法人番号"], first["支出先名"]]]
    assert store.query(f"ASK {{ ?b <{JF}blockId> \"{first['支出先ブロック番号']}\" ; <{JF}member> <{org}> }}",
                       use_default_graph_as_union=True)


def test_2_1_totals_are_budget_amounts_and_account_rows_are_not_added(imported: tuple[ox.Store, RSImporter]) -> None:
    store, _ = imported
    sup = _select(store, f"""SELECT ?a WHERE {{ <{PROG}> jf:budget ?b . ?b jf:fiscalYear ?y ;
        jf:budgetCategory jf:SupplementaryBudget ; jf:amount ?a . FILTER (STR(?y) = "2024") }}""")
    assert sup == [["339986201000"]]  # the issue's figure; the account row is not a second jf:budget
    acct = _select(store, """SELECT ?a ?n WHERE { ?r a jf:AccountBudget ; jf:accountAmount ?x .
        ?x jf:budgetCategory jf:SupplementaryBudget ; jf:amount ?a ; jf:sequenceNumber ?n }""")
    assert ["339986201000", "1"] in acct


def test_5_1_layout_blocks_recipients_and_report(imported: tuple[ox.Store, RSImporter]) -> None:
    store, imp = imported
    d = _select(store, f"""SELECT ?a WHERE {{ ?d a jf:Disbursement ; jf:payee <{ID}corp/2010405004147> ;
        jf:amount ?a }}""")
    assert d == [["339986201000"]]
    issues = [i for i in imp.report.issues if i.file.startswith("5-1_")]
    bad_number = [i for i in issues if "2010405004148" in i.reason]
    assert bad_number and bad_number[0].line == 5 and bad_number[0].column == "法人番号"
    # kept as text on a block-local organisation, not linked to a corp IRI
    assert not _select(store, f"SELECT ?p WHERE {{ <{ID}corp/2010405004148> ?p ?o }}")
    assert _select(store, 'SELECT ?o WHERE { ?o jf:corporateNumberText "2010405004148" }')
    amount = [i for i in issues if i.column == "金額"]
    assert amount and amount[0].line == 6 and "２０万円" in amount[0].reason


def test_3_1_unknown_columns_are_kept_as_cells(imported: tuple[ox.Store, RSImporter]) -> None:
    store, _ = imported
    cells = {r[0] for r in _select(store, "SELECT ?c WHERE { ?r a jf:ReviewRecord ; jf:cell ?c }")}
    assert "目標値=10000" in cells and "指標=付加価値額の伸び率" in cells


def test_edge_to_a_block_no_other_file_mentions_is_reported(imported: tuple[ox.Store, RSImporter]) -> None:
    _, imp = imported
    assert any("no other file mentions" in i.reason and i.file.startswith("5-2_") and i.line > 1
               for i in imp.report.issues)


def test_duplicate_row_is_reported_with_both_lines(tmp_path: Path) -> None:
    src = next(FIXTURES.glob("5-3_*.csv"))
    lines = src.read_bytes().split(b"\r\n")
    (tmp_path / src.name).write_bytes(b"\r\n".join(lines[:3] + [lines[2]] + lines[3:]))
    _, imp = _import([tmp_path / src.name])
    dup = [i for i in imp.report.issues if i.reason.startswith("duplicate")]
    assert [(d.line, d.skipped) for d in dup] == [(4, True)] and "line 3" in dup[0].reason
    c = imp.report.files[0]
    assert c.read == c.used + c.skipped and c.skipped == 1


def test_shift_jis_file_is_named_as_such(tmp_path: Path) -> None:
    src = next(FIXTURES.glob("6-1_*.csv"))
    text = src.read_text(encoding="utf-8-sig")
    bad = tmp_path / src.name
    bad.write_bytes(text.encode("cp932"))
    with pytest.raises(RSImportError, match=r"6-1_RS_2024_その他備考.csv:1: .*Shift_JIS"):
        list(RSImporter().quads(discover([bad])))


def test_truncated_zip_says_so(tmp_path: Path) -> None:
    z = tmp_path / "5-3_RS_2024_支出先_費目・使途.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(next(FIXTURES.glob("5-3_*.csv")), "5-3_RS_2024_支出先_費目・使途.csv")
    data = z.read_bytes()
    z.write_bytes(data[: len(data) // 2])
    with pytest.raises(RSImportError, match="truncated"):
        list(RSImporter().quads(discover([z])))


def test_missing_or_renamed_column_is_named(tmp_path: Path) -> None:
    src = next(FIXTURES.glob("5-3_*.csv"))
    text = src.read_text(encoding="utf-8-sig").replace("法人番号", "法人番号（13桁）", 1)
    bad = tmp_path / src.name
    bad.write_text(text, encoding="utf-8-sig")
    with pytest.raises(RSImportError, match=r":1: column '法人番号' is missing; the file has '法人番号（13桁）'"):
        list(RSImporter().quads(discover([bad])))


def test_output_is_never_half_written(tmp_path: Path) -> None:
    out = tmp_path / "national.nq"
    out.write_text("old\n")

    def failing():
        yield ox.Quad(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("o"))
        raise RSImportError("boom")

    with pytest.raises(RSImportError):
        write_quads(failing(), out)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["national.nq"]


def test_cli_import_writes_nquads_and_other_commands_read_them(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "rs"
    shutil.copytree(FIXTURES, folder)
    out = tmp_path / "rs.nq"
    assert main(["import", "rs", str(folder), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "5-3_RS_2024_支出先_費目・使途.csv" in err and (tmp_path / "rs.nq.report.csv").is_file()
    graphs = {q.graph_name.value for q in ox.parse(path=str(out), format=ox.RdfFormat.N_QUADS)}
    assert graphs == {"https://w3id.org/jp-funding/graph/rs2024"}
    assert main(["query", "rs-deep-chains", "--param", "depth=2", "--data", str(out), "-f", "csv"]) == 0
    assert "3649" in capsys.readouterr().out
    assert main(["import", "rs", str(folder), "-o", str(tmp_path / "x.xlsx")]) == 2
    assert "x.xlsx" in capsys.readouterr().err


def test_cli_location_store_is_opened_without_reimporting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loc = tmp_path / "store"
    assert main(["import", "rs", str(FIXTURES / "5-2_RS_2024_支出先_支出ブロックのつながり.csv"),
                 "--location", str(loc)]) == 0
    capsys.readouterr()
    assert main(["query", "rs-deep-chains", "--param", "depth=2", "--location", str(loc), "-f", "csv"]) == 0
    assert "3649" in capsys.readouterr().out
    assert main(["import", "rs", str(FIXTURES), "--location", str(loc)]) == 2  # never overwrites a store
    assert "already exists" in capsys.readouterr().err


def test_renamed_file_is_recognised_by_its_header(tmp_path: Path) -> None:
    src = next(FIXTURES.glob("5-3_*.csv"))
    renamed = tmp_path / "download.csv"
    renamed.write_bytes(src.read_bytes())
    _, imp = _import([renamed])
    assert imp.report.files[0].code == "5-3"


def test_a_zip_with_its_csv_reads_like_the_csv(tmp_path: Path) -> None:
    src = next(FIXTURES.glob("5-3_*.csv"))
    z = tmp_path / (src.stem + ".zip")
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(src, src.name)
    a, _ = _import([src])
    b, _ = _import([z])
    assert len(a) == len(b) > 0
    assert io.BytesIO(z.read_bytes()).getbuffer().nbytes > 0


def test_an_edge_from_a_block_to_itself_is_skipped_but_its_program_kept(tmp_path: Path) -> None:
    src = next(FIXTURES.glob("5-2_*.csv"))
    with open(src, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header, first = rows[0], rows[1]
    loop = list(first)
    loop[header.index("担当組織からの支出")] = "FALSE"
    loop[header.index("支出元の支出先ブロック")] = "A"
    loop[header.index("支出先の支出先ブロック")] = "A"
    path = tmp_path / src.name
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows([header, loop, first])
    store, imp = _import([path])
    (issue,) = [i for i in imp.report.issues if "itself" in i.reason]
    assert (issue.line, issue.skipped) == (2, True)
    assert imp.report.files[0].skipped == 1 and imp.report.files[0].used == 1
    assert not _select(store, "SELECT ?f WHERE { ?f jf:funder ?x ; jf:recipient ?x }")
    assert _select(store, f"SELECT ?id WHERE {{ <{PROG}> jf:rsProjectId ?id }}") == [["3649"]]
