"""The national pages of issue 11 (/orgs, /ministries, /rs, the PR page's RS section), in process.

The store holds graph_data plus the RS importer's output for tests/fixtures/rs/. Expected names,
amounts and edges are read from the fixture CSV files here, never typed in.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from kg.importers.rs import RSImporter, discover
from kg.importers.rs_model import CORP_PAGE
from kg.store import EmbeddedStore
from server.app import create_app
from server.data import local_path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rs"
HTML_ACCEPT = "text/html,application/xhtml+xml"


def _csv(name: str) -> list[dict[str, str]]:
    (path,) = FIXTURES.glob(f"{name}_*.csv")
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def client() -> TestClient:
    store = EmbeddedStore.from_paths()
    store.raw.extend(RSImporter().quads(discover([FIXTURES])))
    with TestClient(create_app(store, workers=0)) as c:
        yield c


def text_of(page: str) -> str:
    page = re.sub(r"<(script|style)\b[\s\S]*?</\1>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _json(client: TestClient, url: str) -> dict:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return json.loads(r.content)


def _items() -> dict[tuple[str, str], int]:
    """Sum of 5-3 amounts per (法人番号, 予算事業ID)."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for row in _csv("5-3"):
        if row["法人番号"] and row["金額"]:
            sums[(row["法人番号"], row["予算事業ID"])] += int(row["金額"])
    return sums


def test_org_page_lists_its_program_with_the_amount_of_the_fixture_rows(client: TestClient) -> None:
    sums = _items()
    assert sums
    names = {r["法人番号"]: r["支出先名"] for r in _csv("5-3")}
    programs = {r["予算事業ID"]: r["事業名"] for r in _csv("5-3")}
    for (number, pid), amount in sums.items():
        r = client.get(f"/orgs/{number}", headers={"Accept": HTML_ACCEPT})
        assert r.status_code == 200
        text = text_of(r.text)
        assert names[number] in text and number in text
        assert re.search(rf'<a href="{re.escape(CORP_PAGE)}{number}"', r.text)  # the registry (rdfs:seeAlso)
        assert programs[pid] in text
        rows = _json(client, f"/orgs/{number}?table=programs&format=json")["rows"]
        (row,) = [x for x in rows if x["rs_id"] == pid]
        assert row["amount"] == amount
        assert row["program_href"] == f"/rs/{pid}"


def test_org_page_roles_and_neighbours(client: TestClient) -> None:
    edges = _csv("5-2")
    number, pid = next(iter(_items()))
    name = {r["法人番号"]: r["支出先名"] for r in _csv("5-3")}[number]
    blocks = {r["支出先ブロック番号"] for r in _csv("5-3") if r["法人番号"] == number and r["予算事業ID"] == pid}
    roles = _json(client, f"/orgs/{number}?table=roles&format=json")["rows"]
    assert {r["block_id"] for r in roles} >= blocks
    funders = {e["支出元の支出先ブロック名"] for e in edges if e["支出先の支出先ブロック"] in blocks and e["予算事業ID"] == pid}
    up = _json(client, f"/orgs/{number}?table=upstream&format=json")["rows"]
    assert funders and funders <= {r["other"] for r in up} | {name}
    paid = {e["支出先の支出先ブロック"] for e in edges if e["支出元の支出先ブロック"] in blocks and e["予算事業ID"] == pid}
    down = _json(client, f"/orgs/{number}?table=downstream&format=json")["rows"]
    assert paid and len(down) >= len(paid)
    unnamed = {e["支出先の支出先ブロック名"] for e in edges if e["支出先の支出先ブロック"] in paid and e["予算事業ID"] == pid}
    assert unnamed & {r["other"] for r in down}


@pytest.mark.parametrize("number", ["1234567890123", "12345", "abc", "0" * 14])
def test_unknown_or_invalid_org_is_404(client: TestClient, number: str) -> None:
    r = client.get(f"/orgs/{number}", headers={"Accept": HTML_ACCEPT})
    assert r.status_code == 404
    assert "Traceback" not in r.text


def test_ministry_page_lists_the_fixture_program_with_budget_and_csv(client: TestClient) -> None:
    ministry = _csv("2-1")[0]["府省庁"]
    pids = {r["予算事業ID"]: r["事業名"] for r in _csv("2-1") if r["府省庁"] == ministry}
    r = client.get(f"/ministries/{quote(ministry)}", headers={"Accept": HTML_ACCEPT})
    assert r.status_code == 200
    text = text_of(r.text)
    for name in pids.values():
        assert name in text
    got = client.get(f"/ministries/{quote(ministry)}?format=csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert table[0][0].startswith("事業") and len(table) > 1
    assert {row[1] for row in table[1:]} == set(pids)
    assert client.get("/ministries/" + quote("存在しない省"), headers={"Accept": HTML_ACCEPT}).status_code == 404


def test_rs_page_lists_the_chain_edges_and_members(client: TestClient) -> None:
    pid = _csv("5-2")[0]["予算事業ID"]
    expected = {(e["支出元の支出先ブロック名"], e["支出先の支出先ブロック"]) for e in _csv("5-2") if e["予算事業ID"] == pid}
    rows = _json(client, f"/rs/{pid}?table=edges&format=json&per=500")["rows"]
    got = {(r["source"], r["target"].split(" ")[0]) for r in rows}
    assert got == expected
    members = _json(client, f"/rs/{pid}?table=members&format=json")["rows"]
    numbers = {r["number"] for r in members if r["number"]}
    assert {n for (n, p) in _items() if p == pid} <= numbers
    page = client.get(f"/rs/{pid}", headers={"Accept": HTML_ACCEPT}).text
    assert f'href="/orgs/{next(iter(numbers))}"' in page
    svg = page.split('id="rs-chain"', 1)[1].split("</svg>", 1)[0]  # the chain drawn inline
    first = next(e for e in _csv("5-2") if e["予算事業ID"] == pid and e["担当組織からの支出"] == "FALSE")
    assert first["支出先の支出先ブロック名"] in html.unescape(svg)
    assert client.get("/rs/99999999", headers={"Accept": HTML_ACCEPT}).status_code == 404
    assert client.get("/rs/x1", headers={"Accept": HTML_ACCEPT}).status_code == 404


def test_every_table_pages(client: TestClient) -> None:
    pid = _csv("5-2")[0]["予算事業ID"]
    number, _ = next(iter(_items()))
    ministry = quote(_csv("2-1")[0]["府省庁"])
    for url, table_id in [(f"/rs/{pid}", "edges"), (f"/rs/{pid}", "members"), (f"/ministries/{ministry}", "programs"),
                          (f"/orgs/{number}", "programs"), (f"/orgs/{number}", "roles"),
                          (f"/orgs/{number}", "upstream"), (f"/orgs/{number}", "downstream")]:
        total = _json(client, f"{url}?table={table_id}&format=json")["total"]
        page = client.get(f"{url}?table={table_id}&per=25", headers={"Accept": HTML_ACCEPT}).text
        block = page.split(f'id="{table_id}-block"', 1)[1].split("</table>", 1)[0]
        shown = block.count("<tr") - 1  # the heading row
        assert shown == min(total, 25), (url, table_id)
    edges = _json(client, f"/rs/{pid}?table=edges&format=json")["total"]
    assert edges > 25  # the fixture's chain has more edges than one page
    second = client.get(f"/rs/{pid}?table=edges&per=25&page=2", headers={"Accept": HTML_ACCEPT}).text
    block = second.split('id="edges-block"', 1)[1].split("</table>", 1)[0]
    assert block.count("<tr") - 1 == edges - 25


def test_pr_program_page_links_its_rs_sheet(client: TestClient) -> None:
    r = client.get("/programs/energy-saving-investment-demand-shift-r6s", headers={"Accept": HTML_ACCEPT})
    assert r.status_code == 200
    assert "RS spending chain" in r.text and 'href="/rs/7122"' in r.text


def test_search_links_corporate_numbers_to_org_pages() -> None:
    assert local_path("https://w3id.org/jp-funding/id/corp/2010405004147") == "/orgs/2010405004147"
    assert local_path("https://w3id.org/jp-funding/id/corp/x") == "/id/corp/x"
