"""The web pages as an analyst reads them (issue 15): one test per defect found in a real browser.

In process (FastAPI TestClient) on the real ontology and graph_data. Expected labels, amounts and
rates are read from the store with queries written here, never typed in, except where the issue
names what a person types (JETRO, 中小機構, 補助率).
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from kg.search import Entry, SearchIndex
from kg.store import EmbeddedStore, Table
from server import tables
from server.app import create_app
from server.tables import Column

ID = "https://w3id.org/jp-funding/id/"
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ID_LIKE = re.compile(r"\b(?:program|orgs|flow|category|instrument|unit|actor|jf|budget|rate|cap|target):[a-z0-9]")
RAW_YEN = re.compile(r"(?<![\d,.])\d{9,}(?![\d,])")
PFX = """PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


@pytest.fixture(scope="module")
def store() -> EmbeddedStore:
    return EmbeddedStore.from_paths()


@pytest.fixture(scope="module")
def client(store: EmbeddedStore) -> TestClient:
    with TestClient(create_app(store, workers=0)) as c:
        yield c


def rows(store: EmbeddedStore, sparql: str) -> list[dict[str, str]]:
    answer = store.query(PFX + sparql)
    assert isinstance(answer, Table)
    return [{k: str(v) for k, v in r.items() if v is not None} for r in answer.dicts()]


def text_of(page: str) -> str:
    """What a person reads: tags, attributes, code blocks and the query editor removed."""
    page = re.sub(r"<(script|style|textarea|code|pre)\b[\s\S]*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def no_ids(page: str, where: str) -> None:
    text = text_of(page)
    assert not ID_LIKE.findall(text), (where, ID_LIKE.findall(text)[:5])
    assert "@ja" not in text and "@en" not in text, where
    assert not RAW_YEN.findall(text), (where, RAW_YEN.findall(text)[:5])


# ---------------------------------------------------------------- ids where people read

@pytest.mark.parametrize("path", [
    "/", "/programs", "/programs/sme-productivity-revolution-r6s", "/programs/energy-saving-investment-demand-shift-r6s",
    "/programs/fuel-stockpiling-r7", "/programs/large-scale-growth-investment-r6s-1", "/bodies/jetro",
    "/bodies/ameicc-secretariat", "/bodies/state", "/search?q=JETRO", "/search?q=補助率", "/query?name=budget-totals",
    "/query?name=body-programs&body=orgs:jetro", "/sankey",
], ids=lambda p: p.strip("/").replace("/", "-").replace("?", "-") or "home")
def test_pages_show_labels_not_ids_tags_or_raw_yen(client, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 200, path
    no_ids(resp.text, path)


def test_home_totals_name_the_category(client, store) -> None:
    page = client.get("/").text
    label = rows(store, 'SELECT ?l WHERE { jf:InitialBudget skos:prefLabel ?l FILTER (LANG(?l) = "ja") }')[0]["l"]
    table = re.search(r'<table id="totals">[\s\S]*?</table>', page).group(0)
    assert label in text_of(table) and "jf:InitialBudget" not in text_of(table)
    assert 'data-id="jf:InitialBudget"' in table  # the id stays in the markup


def test_same_scheme_in_another_sheet_reads_its_title_and_phase(client, store) -> None:
    other = rows(store, """SELECT ?o ?l WHERE { <https://w3id.org/jp-funding/id/program/fuel-stockpiling-r7>
        jf:sameSchemeAs ?o . ?o rdfs:label ?l FILTER (LANG(?l) = "ja") }""")[0]
    page = client.get("/programs/fuel-stockpiling-r7").text
    block = re.search(r'<ul id="same-scheme">[\s\S]*?</ul>', page).group(0)
    assert other["l"] in block and "令和6年度補正" in block
    assert "program:fuel-stockpiling-r6s" not in text_of(block)


def test_english_only_notes_say_so(client, store) -> None:
    found = rows(store, """SELECT ?p WHERE { ?p a jf:Program ; rdfs:comment ?c FILTER (LANG(?c) = "en")
        FILTER NOT EXISTS { ?p rdfs:comment ?j FILTER (LANG(?j) = "ja") } } LIMIT 1""")
    if not found:
        pytest.skip("every program note has a Japanese text")
    slug = found[0]["p"].rsplit("/", 1)[1]
    assert "英語のみ" in client.get(f"/programs/{slug}").text


# ---------------------------------------------------------------- search

@pytest.mark.parametrize(("q", "kind", "label"), [
    ("JETRO", "body", "独立行政法人日本貿易振興機構"),
    ("中小機構", "body", "独立行政法人中小企業基盤整備機構"),
    ("補助率", "query", "対象区分ごとの補助率"),
    ("ｊｅｔｒｏ", "body", "独立行政法人日本貿易振興機構"),
    ("中小 機構", "body", "独立行政法人中小企業基盤整備機構"),
    ("省エネルギー課", "unit", "省エネルギー課"),
], ids=["jetro", "smrj-abbreviation", "rates", "full-width", "space", "unit"])
def test_search_finds_what_people_type(client, q: str, kind: str, label: str) -> None:
    page = client.get("/search", params={"q": q}).text
    section = re.search(rf'<section class="hits" id="kind-{kind}">[\s\S]*?</section>', page)
    assert section is not None, (q, kind)
    assert label in section.group(0)
    api = client.get("/api/search", params={"q": q}).json()
    assert label in [h["label_ja"] for h in api["groups"][kind]]
    assert api["count"] == sum(len(v) for v in api["groups"].values())


def test_search_rates_finds_programs_with_rates(client, store) -> None:
    with_rates = {r["p"] for r in rows(store, """SELECT DISTINCT ?p WHERE {
        { ?p jf:rate ?r } UNION { ?f jf:ofProgram ?p ; jf:rate ?r } }""")}
    api = client.get("/api/search", params={"q": "補助率", "kind": "program", "limit": 500}).json()
    found = {h["iri"] for h in api["groups"]["program"]}
    assert found and found <= with_rates | {r["p"] for r in rows(store, "SELECT ?p WHERE { ?c jf:partOf+ ?p }")}


def test_search_covers_sub_measures_and_purpose_text(client, store) -> None:
    sub = rows(store, """SELECT ?parent ?l WHERE { ?c jf:partOf ?parent ; rdfs:label ?l FILTER (LANG(?l) = "ja")
        FILTER (STRLEN(?l) > 8) } LIMIT 1""")[0]
    api = client.get("/api/search", params={"q": sub["l"][:8], "kind": "program", "limit": 200}).json()
    assert sub["parent"] in {h["iri"] for h in api["groups"]["program"]}


def test_recipients_by_name_and_corporate_number() -> None:
    store = EmbeddedStore()
    store.raw.load(input=f"""@prefix jf: <https://w3id.org/jp-funding/ont#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
        <{ID}org/corp/1234567890123> jf:corporateNumber "1234567890123" ; rdfs:label "株式会社テスト商事"@ja .
        <{ID}rs/block/x/org/sample> a jf:RecipientOrganization ; rdfs:label "一般社団法人サンプル協会"@ja ;
            skos:altLabel "（一社）サンプル協会"@ja ; jf:corporateNumberText "123" .
        <{ID}gov/meti> a jf:GovernmentOrganization ; rdfs:label "経済産業省"@ja .
        """.encode(), format=__import__("pyoxigraph").RdfFormat.TURTLE)
    index = SearchIndex.build(store)
    by_number = index.search("1234567890123")
    assert [(h.kind, h.label_ja) for h in by_number][:1] == [("organisation", "株式会社テスト商事")]
    assert "法人番号 1234567890123" == by_number[0].detail
    assert [h.label_ja for h in index.search("てすと商事")] == ["株式会社テスト商事"]  # hiragana meets katakana
    assert [h.label_ja for h in index.search("（一社）サンプル")] == ["一般社団法人サンプル協会"]  # alternative name
    assert [(h.kind, h.label_ja) for h in index.search("経済産業省")] == [("ministry", "経済産業省")]


def test_search_index_replaces_by_kind_and_iri_and_handles_short_queries() -> None:
    index = SearchIndex()
    index.add([Entry("urn:a", "body", "国", text="state")])
    index.add([Entry("urn:a", "body", "国", text="the state")])
    assert len(index) == 1
    assert [h.iri for h in index.search("国")] == ["urn:a"]  # one character: the LIKE path
    assert index.search("") == [] and index.search("   ") == []
    assert index.search('"; DROP TABLE entry; --') == []


# ---------------------------------------------------------------- rates

def test_rates_are_one_row_each_with_or_without_a_class(client, store) -> None:
    program = f"{ID}program/energy-saving-investment-demand-shift-r6s"
    expected = rows(store, f"""SELECT DISTINCT ?rate WHERE {{
        ?p jf:partOf* <{program}> .
        {{ ?p jf:rate ?rate }} UNION {{ ?f jf:ofProgram ?p ; jf:rate ?rate }} }}""")
    page = client.get("/programs/energy-saving-investment-demand-shift-r6s").text
    table = re.search(r'<table id="rates">[\s\S]*?</table>', page).group(0)
    assert table.count("<tr data-id=") == len(expected) > 0
    row = next(r for r in re.findall(r"<tr data-id=[\s\S]*?</tr>", table) if "電化・脱炭素燃転型" in r)
    assert "1/2以内" in row  # a rate without a beneficiary class is in the table too
    assert not re.search(r">\s*0\.\d{3,}\s*<", table)  # fractions, not 0.3333


def test_no_doubled_instrument_text(client, store) -> None:
    fixed = rows(store, """SELECT DISTINCT ?p WHERE { ?f jf:ofProgram ?p ; jf:instrument ?i .
        ?i skos:prefLabel "補助（定額）"@ja }""")
    assert fixed
    for r in fixed[:10]:
        page = client.get("/programs/" + r["p"].rsplit("/", 1)[1]).text
        assert "（定額）（定額）" not in page, r["p"]


# ---------------------------------------------------------------- tables

def test_program_list_sorts_filters_pages_and_downloads(client, store) -> None:
    n = int(rows(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p a jf:Program }")[0]["n"])
    page = client.get("/programs", params={"per": 25}).text
    assert f"{n:,} 件" in page and page.count("<tr data-id=") == 25
    assert 'rel="next"' in page
    by_amount = client.get("/programs", params={"sort": "amount", "dir": "desc", "per": 1000}).text
    amounts = [int(a) for a in re.findall(r'data-yen="(\d+)"', by_amount)]
    assert amounts == sorted(amounts, reverse=True) and amounts
    filtered = client.get("/programs", params={"f.phase": "令和6年度補正", "format": "json"}).json()
    assert filtered["rows"] and {r["phase"] for r in filtered["rows"]} == {"令和6年度補正"}
    assert filtered["total"] == len(filtered["rows"])
    download = client.get("/programs", params={"f.phase": "令和6年度補正", "format": "csv"})
    assert download.headers["content-type"].startswith("text/csv")
    assert download.content.startswith(b"\xef\xbb\xbf")
    got = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(got) == len(filtered["rows"])  # exactly what the filtered view shows (all pages)
    assert set(got[0]) >= {"事業 program", "予算額（円） budget (yen)"}
    assert all(not v.startswith(("program:", "http")) for r in got for v in r.values())
    assert client.get("/programs", params={"sort": "nope"}).status_code == 400


def test_state_flows_sorted_grouped_and_the_two_charging_sheets_told_apart(client, store) -> None:
    flows = client.get("/bodies/state", params={"table": "flows", "format": "json"}).json()["rows"]
    n = int(rows(store, "SELECT (COUNT(*) AS ?n) WHERE { ?f a jf:FundingFlow ; jf:funder|jf:recipient "
                        "<https://w3id.org/jp-funding/id/org/state> }")[0]["n"])
    assert len(flows) == n
    phases = [f["phase"] for f in flows]
    assert phases == sorted(phases)  # grouped by fiscal year and phase, then program
    charging = {(f["program"], f["phase"]) for f in flows if "充電インフラ" in (f["program"] or "")}
    assert len({p for _, p in charging}) == 2  # same title, two sheets, told apart by phase
    page = client.get("/bodies/state").text
    assert "令和6年度補正" in page and "令和7年度予算案" in page


def test_body_budgets_say_sheet_total(client) -> None:
    for slug in ("jetro", "ameicc-secretariat"):
        page = client.get(f"/bodies/{slug}", params={"table": "budgets"}).text
        table = re.search(r'<table id="budgets"[\s\S]*?</table>', page).group(0)
        assert "シート全体の予算額" in table and "sheet total" in table
        assert "2024 InitialBudget" not in page and "InitialBudget" not in text_of(page)


def test_query_results_use_labels_and_yen_and_csv_has_a_bom(client) -> None:
    page = client.get("/query", params={"name": "budget-totals"}).text
    table = re.search(r'<table id="result-table"[\s\S]*?</table>', page).group(0)
    assert "億円" in table and "data-yen=" in table and "jf:InitialBudget" not in text_of(table)
    download = client.get("/query", params={"name": "budget-totals", "format": "csv"})
    assert download.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert lines[0][:2] == ["fiscal_year", "category"]
    assert not any(cell.startswith("http") for line in lines for cell in line)


def test_unknown_program_in_a_named_query_says_so(client) -> None:
    resp = client.get("/query", params={"name": "caps", "program": "program:large-scale-growth-investmen"})
    assert resp.status_code == 404
    error = re.search(r'<div class="error" id="error"[\s\S]*?</div>', resp.text).group(0)
    assert "unknown program" in error and "大規模成長投資補助金" in error
    assert 'id="row-count"' not in resp.text


def test_named_query_forms_offer_choices_by_label(client) -> None:
    page = client.get("/query").text
    form = re.search(r'<div class="card" id="q-body-programs">[\s\S]*?</form>', page).group(0)
    assert '<select name="body"' in form
    assert re.search(r'<option value="orgs:jetro"[^>]*>独立行政法人日本貿易振興機構</option>', form)


def test_csv_cells_cannot_be_formulas() -> None:
    cols = [Column("name", "名前", "name"), Column("amount", "金額", "amount", kind="yen")]
    view = tables.view_of(cols, [{"name": "=cmd|' /C calc'!A0", "amount": -5}, {"name": "+1", "amount": 3}], {},
                          table_id="t")
    got = list(csv.reader(io.StringIO(tables.csv_text(view).removeprefix("\ufeff"))))
    assert got[1:] == [["'=cmd|' /C calc'!A0", "-5"], ["'+1", "3"]]


def test_tables_hold_at_thirty_thousand_rows() -> None:
    cols = [Column("name", "名前", "name", filter=False), Column("amount", "金額", "amount", kind="yen"),
            Column("group", "区分", "group", filter=True)]
    data = [{"name": f"受け手{i:05d}", "amount": (i * 7919) % 100003, "group": f"g{i % 7}"} for i in range(30_000)]
    view = tables.view_of(cols, data, {"sort": "amount", "dir": "desc", "f.group": "g3", "per": "100", "page": "3"},
                          table_id="t")
    assert len(view.rows) == 100 and view.page == 3 and len(view.selected) == len([d for d in data if d["group"] == "g3"])
    assert [r["amount"] for r in view.selected] == sorted((d["amount"] for d in data if d["group"] == "g3"), reverse=True)
    assert "page=3" in view.url() and "f.group=g3" in view.url()
    assert json.loads(tables.download(view, "json", filename="t").body)["total"] == len(view.selected)


# ---------------------------------------------------------------- the Sankey

def test_sankey_in_the_site_with_selector_amounts_and_links(client) -> None:
    resp = client.get("/sankey", params={"fy": 2024, "category": "supplementary"})
    assert resp.status_code == 200
    page = resp.text
    assert '<header class="site">' in page and "<title>予算の流れ" in page
    assert '<select name="fy"' in page and '<select name="category"' in page
    assert len(resp.content) < 200_000  # plotly.js is not inlined any more
    figure = json.loads(re.search(r'<script type="application/json" id="sankey-figure">([\s\S]*?)</script>',
                                  page).group(1))
    node = figure["data"][0]["node"]
    assert all(re.search(r"[億万]?円$", label) for label in node["label"])  # amounts on the nodes
    hrefs = [c[0] for c in node["customdata"]]
    assert "/bodies/state" in hrefs and any(h.startswith("/bodies/") and h != "/bodies/state" for h in hrefs)
    assert '%{customdata[1]}' in node["hovertemplate"] and "value:,.0f" not in node["hovertemplate"]


def test_sankey_without_data_is_a_404_page(client) -> None:
    resp = client.get("/sankey", params={"fy": 2023}, headers={"Accept": HTML_ACCEPT})
    assert resp.status_code == 404 and 'id="empty"' in resp.text and "データはありません" in resp.text
    assert "合計 0円" not in resp.text
    assert client.get("/sankey.svg", params={"fy": 2023}).status_code == 404


def test_plotly_is_a_local_asset_with_a_long_cache(client) -> None:
    page = client.get("/sankey").text
    src = re.search(r'<script src="(/assets/plotly\.min\.js\?v=[^"]+)"', page).group(1)
    js = client.get(src)
    assert js.status_code == 200 and "max-age=31536000" in js.headers["cache-control"]
    assert js.headers["content-type"].startswith("text/javascript") and b"plotly" in js.content[:2000].lower()


def test_text_responses_are_compressed(client) -> None:
    for path in ("/", "/sankey", "/assets/plotly.min.js", "/api/programs", "/static/style.css"):
        resp = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert resp.headers.get("content-encoding") == "gzip", path
    raw = client.get("/api/programs", headers={"Accept-Encoding": "gzip"}).read()
    assert json.loads(raw if raw[:1] in (b"[", b"{") else gzip.decompress(raw))


# ---------------------------------------------------------------- errors, icon, docs

def test_errors_are_pages_for_browsers_and_json_for_clients(client) -> None:
    page = client.get("/no/such/page", headers={"Accept": HTML_ACCEPT})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<header class="site">' in page.text and "ページが見つかりません" in page.text
    data = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert data.status_code == 404 and data.json()["error"]["status"] == 404
    api = client.get("/api/programs/nope", headers={"Accept": HTML_ACCEPT})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
    program = client.get("/programs/nope", headers={"Accept": HTML_ACCEPT})
    assert program.status_code == 404 and "/programs" in program.text and "<html" in program.text


def test_favicon(client) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert client.get("/static/favicon.svg").text.lstrip().startswith("<svg")


def test_docs_render_markdown_without_markup_or_scripts(client) -> None:
    page = client.get("/docs").text
    description = re.search(r'<div class="prose" id="description">([\s\S]*?)</div>', page).group(1)
    assert "<code>/sparql</code>" in description and "<li>" in description
    assert "`" not in description and "* " not in text_of(description)
    assert "<script" not in page


def test_program_page_diagram_is_at_its_own_size(client) -> None:
    page = client.get("/programs/sme-productivity-revolution-r6s").text
    figure = re.search(r'<figure class="diagram scheme">[\s\S]*?</figure>', page).group(0)
    assert 'class="scroll"' in figure and 'id="diagram-full"' in figure


def test_program_page_makes_a_bounded_number_of_store_queries(store) -> None:
    class Counting(EmbeddedStore):
        pass

    counting = Counting(store.raw)
    calls: list[str] = []
    original = counting.query

    def query(sparql, **kw):  # type: ignore[no-untyped-def]
        calls.append(sparql)
        return original(sparql, **kw)

    counting.query = query  # type: ignore[method-assign]
    with TestClient(create_app(counting, workers=0)) as c:
        c.get("/programs/sme-productivity-revolution-r6s")  # warm the name index
        calls.clear()
        assert c.get("/programs/sme-productivity-revolution-r6s").status_code == 200
        small = len(calls)
        calls.clear()
        assert c.get("/programs/energy-saving-investment-demand-shift-r6s").status_code == 200
    assert small == len(calls) <= 20  # the same for a big sheet as for a small one



def test_search_finds_rs_recipients_by_corporate_number_and_name() -> None:
    """The RS import's output (the fixture of tests/fixtures/rs): a recipient by its number and its name."""
    from kg.importers.rs import RSImporter
    from kg.importers.rs_files import discover
    from kg.importers.rs_model import corporate_number_ok
    from kg.load import ontology_sources, project_root

    fixture = project_root() / "tests" / "fixtures" / "rs"
    with next(fixture.glob("5-1_*.csv")).open(encoding="utf-8-sig", newline="") as f:
        wanted = next(r for r in csv.DictReader(f) if r["支出先名"].strip() and corporate_number_ok(r["法人番号"]))
    store = EmbeddedStore()
    store.load(ontology_sources())
    store.raw.bulk_extend(RSImporter().quads(discover([fixture])))
    index = SearchIndex.build(store)
    by_number = index.search(wanted["法人番号"], kinds=["organisation"])
    assert by_number and by_number[0].detail == f"法人番号 {wanted['法人番号']}"
    by_name = index.search(wanted["支出先名"].strip(), kinds=["organisation"])
    assert by_number[0].iri in [h.iri for h in by_name]


def test_search_ignores_control_characters(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "JE\x00TRO"})
    assert r.status_code == 200
    assert [hit["id"] for hit in r.json()["groups"]["body"]] == ["orgs:jetro"]
    assert client.get("/search", params={"q": "\x00"}).status_code == 200


def test_pages_are_gzipped_sparql_answers_are_not(client: TestClient) -> None:
    page = client.get("/programs", headers={"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"
    answer = client.get("/sparql", params={"query": "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 500"},
                        headers={"Accept-Encoding": "gzip", "Accept": "application/sparql-results+json"})
    assert answer.status_code == 200 and "content-encoding" not in answer.headers
    assert len(answer.json()["results"]["bindings"]) == 500


def test_search_index_is_built_once_per_graph(store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    real = SearchIndex.build

    def counting(*args: object, **kwargs: object) -> SearchIndex:
        built.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SearchIndex, "build", staticmethod(counting))
    with TestClient(create_app(store, workers=0)) as c:
        for q in ("JETRO", "中小機構", "補助率"):
            assert c.get("/search", params={"q": q}).status_code == 200
    assert len(built) == 1
