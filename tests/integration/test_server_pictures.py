"""Diagram routes of the server: program scheme SVG and the Sankey pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from kg.store import EmbeddedStore
from server.app import create_app


@pytest.fixture(scope="module")
def client(store: EmbeddedStore) -> TestClient:
    return TestClient(create_app(store))


def test_program_page_embeds_its_diagram(client) -> None:
    page = client.get("/programs/sme-productivity-revolution-r6s").text
    assert '<img src="/programs/sme-productivity-revolution-r6s/diagram.svg"' in page
    svg = client.get("/programs/sme-productivity-revolution-r6s/diagram.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "中小企業基盤整備機構" in svg.text and "交付金" in svg.text


def test_unknown_program_diagram_is_404_with_suggestions(client) -> None:
    r = client.get("/programs/sme-productivity-revolutio/diagram.svg")
    assert r.status_code == 404
    assert "sme-productivity-revolution-r6s" in r.json()["error"]["detail"]


def test_home_embeds_sankey_and_links_interactive(client) -> None:
    home = client.get("/").text
    assert 'src="/sankey.svg?fy=2025&amp;category=initial"' in home
    svg = client.get("/sankey.svg", params={"fy": 2025, "category": "initial"})
    assert svg.status_code == 200 and "<svg" in svg.text
    html = client.get("/sankey", params={"fy": 2024, "category": "supplementary"})
    assert html.status_code == 200
    sources = re.findall(r"<script[^>]+src=\"([^\"]+)\"", html.text)
    assert sources and all(s.startswith(("/", "http://testserver/")) for s in sources)  # nothing from elsewhere
    assert client.get("/sankey", params={"category": "nope"}).status_code == 400
