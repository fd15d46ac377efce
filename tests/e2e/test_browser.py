"""A person's path through the web UI, in Debian's Chromium driven by Playwright.

Search (JETRO, 中小機構, 補助率), open a program (its scheme diagram must load), sort, filter and
download the program list, the Sankey with its year selector, a named query, and every page type at
phone width (390 px: nothing may scroll sideways). Screenshots go to tests/e2e/screenshots/ (CI keeps
them as artifacts; git ignores them). No browser is downloaded: Playwright launches /usr/bin/chromium
(Debian package ``chromium``).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ID_LIKE = re.compile(r"\b(?:program|orgs|flow|category|instrument|unit|actor|jf|budget|rate|cap|target):[a-z0-9]")
RAW_YEN = re.compile(r"(?<![\d,])\d{9,}(?![\d,])")  # 95460000000 written out without separators


@pytest.fixture(scope="module")
def browser(live: str) -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (make test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _page(browser, live: str, *, width: int = 1280, height: int = 900):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="ja-JP", viewport={"width": width, "height": height}, accept_downloads=True)
    pg = context.new_page()
    outside: list[str] = []
    errors: list[str] = []
    pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live, "data:", "about:", "blob:"))
          else None)
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.outside = outside  # type: ignore[attr-defined]
    pg.errors = errors  # type: ignore[attr-defined]
    return pg


@pytest.fixture
def page(browser, live: str) -> Iterator[object]:
    pg = _page(browser, live)
    yield pg
    assert pg.outside == [], f"the pages asked for outside resources: {pg.outside}"
    assert pg.errors == [], f"console errors: {pg.errors}"
    pg.context.close()


def _visible_text(pg) -> str:  # type: ignore[no-untyped-def]
    """What a person reads: the page's text without code (SPARQL in the editor, ``<code>``, ``<pre>``)."""
    return str(pg.evaluate("""() => { const b = document.body.cloneNode(true);
        b.querySelectorAll('textarea, code, pre, script').forEach(e => e.remove());
        document.documentElement.appendChild(b); const text = b.innerText; b.remove(); return text; }"""))


def _no_ids_or_raw_yen(pg, where: str) -> None:  # type: ignore[no-untyped-def]
    text = _visible_text(pg)
    assert not ID_LIKE.findall(text), (where, ID_LIKE.findall(text)[:5])
    assert not RAW_YEN.findall(text), (where, RAW_YEN.findall(text)[:5])
    assert "@ja" not in text and "@en" not in text, where


def test_search_open_program_and_run_a_named_query(page, live: str) -> None:
    page.goto(f"{live}/")
    assert "予算事業ナレッジグラフ" in page.title()
    _no_ids_or_raw_yen(page, "home")
    page.screenshot(path=str(SHOTS / "01-home.png"), full_page=True)

    page.fill("header input[name=q]", "生産性革命")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/search?q=" in page.url
    link = page.get_by_role("link", name="中小企業生産性革命推進事業").first
    link.wait_for(state="visible", timeout=10_000)
    page.screenshot(path=str(SHOTS / "02-search.png"), full_page=True)

    with page.expect_navigation():
        link.click()
    page.wait_for_load_state("networkidle")
    assert "/programs/sme-productivity-revolution-r6s" in page.url
    body = _visible_text(page)
    assert "3,400億円" in body and "令和6年度補正" in body
    assert "独立行政法人中小企業基盤整備機構" in body
    assert "（定額）（定額）" not in body
    diagram = page.locator("figure.diagram img").first
    assert diagram.evaluate("img => img.naturalWidth") > 100, "the scheme diagram did not load"
    # readable: drawn at its own size (scrolling inside its box), not shrunk to the column
    assert diagram.evaluate("img => img.getBoundingClientRect().width / img.naturalWidth") >= 0.99
    _no_ids_or_raw_yen(page, "program")
    page.screenshot(path=str(SHOTS / "03-program.png"), full_page=True)

    page.goto(f"{live}/query")
    page.wait_for_load_state()
    page.screenshot(path=str(SHOTS / "04-query-form.png"), full_page=True)
    form = page.locator("form:has(input[name=name][value=body-programs])")
    form.locator("select[name=body]").select_option(label="独立行政法人日本貿易振興機構")
    with page.expect_navigation():
        form.locator("button").first.click()
    assert "name=body-programs" in page.url  # the result's URL is shareable
    text = _visible_text(page)
    assert "グローバルサウス未来志向型共創等事業" in text
    assert "global-south-co-creation-r6s" not in text  # labels, not ids
    page.screenshot(path=str(SHOTS / "05-query-result.png"), full_page=True)


@pytest.mark.parametrize(("q", "expected"), [
    ("JETRO", "独立行政法人日本貿易振興機構"),
    ("中小機構", "独立行政法人中小企業基盤整備機構"),
    ("補助率", "対象区分ごとの補助率"),
    ("ｊｅｔｒｏ", "独立行政法人日本貿易振興機構"),  # full-width letters
    ("中小 機構", "独立行政法人中小企業基盤整備機構"),  # a space typed in the middle
], ids=["jetro", "smrj", "rates", "fullwidth", "space"])
def test_search_finds_what_people_type(page, live: str, q: str, expected: str) -> None:
    page.goto(f"{live}/search?q={q}")
    assert page.locator("#count").count() == 1
    page.get_by_role("link", name=expected).first.wait_for(state="visible", timeout=10_000)
    assert page.locator("section.hits h2").count() >= 1  # grouped by kind
    if q == "JETRO":
        page.screenshot(path=str(SHOTS / "06-search-jetro.png"), full_page=True)


def test_program_list_sorts_filters_and_downloads(page, live: str) -> None:
    page.goto(f"{live}/programs")
    first = page.locator("#programs tbody tr").count()
    assert first > 20
    with page.expect_navigation():
        page.locator('#programs a.sort[data-sort="amount"]').click()
    assert "sort=amount" in page.url and "dir=desc" in page.url
    amounts = [int(v) for v in page.locator("#programs tbody .yen").evaluate_all(
        "els => els.map(e => e.dataset.yen)")]
    assert amounts == sorted(amounts, reverse=True) and amounts
    page.select_option("select[name='f.phase']", label="令和6年度補正")
    with page.expect_navigation():
        page.locator("#programs-block form button").click()
    phases = page.locator("#programs tbody tr td:nth-child(2)").all_inner_texts()
    assert phases and set(phases) == {"令和6年度補正"}
    page.screenshot(path=str(SHOTS / "07-programs-filtered.png"), full_page=True)
    with page.expect_download() as info:
        page.locator("#programs-block a.download", has_text="CSV").click()
    path = info.value.path()
    raw = Path(path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == int(re.search(r"([\d,]+) 件", page.inner_text("#programs-count")).group(1).replace(",", ""))
    assert {r["年度・予算 fiscal year, phase"] for r in rows} == {"令和6年度補正"}
    assert all(not r["事業 program"].startswith("program:") for r in rows)


def test_sankey_year_selector_and_empty_year(page, live: str) -> None:
    page.goto(f"{live}/sankey?fy=2025&category=initial")
    assert "予算の流れ" in page.title()
    assert page.locator("header.site").count() == 1
    page.wait_for_selector("#sankey[data-ready=true]", timeout=20_000)
    labels = page.locator("#sankey .node-label").evaluate_all("els => els.map(e => e.textContent)")
    assert any("億円" in label for label in labels)  # amounts on the nodes
    page.screenshot(path=str(SHOTS / "08-sankey.png"), full_page=True)
    page.select_option("#fy", "2024")
    page.select_option("#category", "supplementary")
    with page.expect_navigation():
        page.locator("form.sankey-select button").click()
    assert "fy=2024" in page.url and "category=supplementary" in page.url
    page.wait_for_selector("#sankey[data-ready=true]", timeout=20_000)
    assert "令和" in page.inner_text("#sankey-total") or "2024年度" in page.inner_text("#sankey-total")
    response = page.goto(f"{live}/sankey?fy=2023")
    assert response is not None and response.status == 404
    assert "データはありません" in page.inner_text("#empty")
    page.errors[:] = [e for e in page.errors if "404" not in e]  # the 404 asked for above


PHONE_PAGES = [
    ("/", "09-phone-home"),
    ("/search?q=JETRO", "10-phone-search"),
    ("/programs", "11-phone-programs"),
    ("/programs/sme-productivity-revolution-r6s", "12-phone-program"),
    ("/bodies/jetro", "13-phone-body"),
    ("/bodies/state", "14-phone-state"),
    ("/query?name=budget-totals", "15-phone-query"),
    ("/sankey", "16-phone-sankey"),
    ("/docs", "17-phone-docs"),
    ("/no/such/page", "18-phone-404"),
]


def test_phone_layout_never_scrolls_sideways(browser, live: str) -> None:
    pg = _page(browser, live, width=390, height=844)
    try:
        for path, shot in PHONE_PAGES:
            pg.goto(f"{live}{path}")
            pg.wait_for_load_state("networkidle")
            width = pg.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (path, width)
            if path not in ("/docs", "/no/such/page"):
                _no_ids_or_raw_yen(pg, path)
            pg.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        assert pg.outside == []
    finally:
        pg.context.close()
