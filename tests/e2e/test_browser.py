"""A person's path through the web UI, in Debian's Chromium driven by Playwright.

Opens the home page, searches for a program, opens it (its scheme diagram must load), runs a
named query on the query page, and saves screenshots to tests/e2e/screenshots/.
No browser is downloaded: Playwright launches /usr/bin/chromium (Debian package `chromium`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(live: str) -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (make test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        outside: list[str] = []
        pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live, "data:", "about:")) else None)
        yield pg
        browser.close()
        assert outside == [], f"the pages asked for outside resources: {outside}"


def test_search_open_program_and_run_a_named_query(page, live: str) -> None:
    page.goto(f"{live}/")
    assert "予算" in page.title() or page.locator("h1").count() >= 1
    page.screenshot(path=str(SHOTS / "01-home.png"), full_page=True)

    page.fill("input[name=q]", "生産性革命")
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
    body = page.inner_text("body")
    assert "3,400億円" in body or "340,000,000,000" in body
    assert "独立行政法人中小企業基盤整備機構" in body
    diagram = page.locator("figure.diagram img").first
    width = diagram.evaluate("img => img.naturalWidth")
    assert width > 100, "the scheme diagram did not load"
    page.screenshot(path=str(SHOTS / "03-program.png"), full_page=True)

    page.goto(f"{live}/query")
    page.wait_for_load_state()
    page.screenshot(path=str(SHOTS / "04-query-form.png"), full_page=True)
    form = page.locator("form:has(input[name=name][value=body-programs])")
    form.locator("input[name=body]").fill("orgs:jetro")
    with page.expect_navigation():
        form.locator("button, input[type=submit]").first.click()
    assert "name=body-programs" in page.url  # the result's URL is shareable
    text = page.inner_text("body")
    for sheet in ("global-south-co-creation-r6s", "overseas-business-export-promotion-r7"):
        assert sheet in text
    page.screenshot(path=str(SHOTS / "05-query-result.png"), full_page=True)
