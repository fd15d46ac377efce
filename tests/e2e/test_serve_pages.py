"""``kg serve`` started as ``make serve`` starts it: every page type answers 200, every picture renders.

The Makefile's serve target runs ``python -m kg serve`` after installing the locked packages and
the Debian packages the pictures need (Graphviz, CJK fonts); this test starts the same command and
fetches one page of each type, parsing what it gets (HTML, SVG, JSON, Turtle), and checks that the
start-up line reports no missing renderer.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import rdflib

from kg import launch, renderers

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_makefile_serve_runs_kg_serve() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^serve:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe and recipe.group(1).strip() == "$(PYTHON) -m kg serve"
    assert re.search(r"^serve:.*\binstall\b", makefile, re.MULTILINE), "make serve installs first"
    assert re.search(r"^serve:.*\bsystem-deps-serve\b", makefile, re.MULTILINE), "and the Debian packages"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    if not all(renderers.check().values()):
        pytest.fail(f"make serve installs the renderers, but here: {renderers.missing()}")
    port = launch.free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with launch.launched(launch.kg_serve_command(port), f"{base}/", log=log, cwd=ROOT, timeout=120):
        yield base, log.read_text(encoding="utf-8", errors="replace")


def _svg(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    assert root.tag.endswith("svg")
    return root


def test_start_up_line_reports_no_missing_renderer(served: tuple[str, str]) -> None:
    _, log = served
    assert "serving embedded pyoxigraph" in log
    assert "diagrams need" not in log


PAGES = [
    ("/", "text/html"),
    ("/programs/sme-productivity-revolution-r6s", "text/html"),
    ("/bodies/jetro", "text/html"),
    ("/search?q=JETRO", "text/html"),
    ("/query", "text/html"),
    ("/query?name=caps&program=program%3Alarge-scale-growth-investment-r6s", "text/html"),
    ("/sankey", "text/html"),
    ("/sankey?fy=2024&category=supplementary", "text/html"),
    ("/ont", "text/html"),
    ("/id/program/go-tech-r7", "text/html"),
    ("/docs", "text/html"),
    ("/api/programs", "application/json"),
    ("/api/programs/go-tech-r7", "application/json"),
    ("/api/bodies/jetro/channels", "application/json"),
    ("/openapi.json", "application/json"),
]


@pytest.mark.parametrize(("path", "media"), PAGES, ids=[p for p, _ in PAGES])
def test_every_page_type_answers(served: tuple[str, str], path: str, media: str) -> None:
    base, _ = served
    r = httpx.get(base + path, headers={"Accept": media}, timeout=60, follow_redirects=True)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith(media)
    if media == "application/json":
        assert r.json() is not None
    else:
        assert "<html" in r.text[:500].lower()


@pytest.mark.parametrize("slug", ["sme-productivity-revolution-r6s", "go-tech-r7", "large-scale-growth-investment-r6s"])
def test_program_diagrams_render(served: tuple[str, str], slug: str) -> None:
    base, _ = served
    root = _svg(httpx.get(f"{base}/programs/{slug}/diagram.svg", timeout=60))
    texts = "".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "国" in texts


def test_sankey_svg_renders(served: tuple[str, str]) -> None:
    base, _ = served
    root = _svg(httpx.get(f"{base}/sankey.svg?fy=2024&category=supplementary", timeout=60))
    texts = "".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "国" in texts


def test_sparql_and_linked_data(served: tuple[str, str]) -> None:
    base, _ = served
    r = httpx.get(f"{base}/sparql", params={"query": "ASK { ?s ?p ?o }"},
                  headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert r.status_code == 200 and r.json()["boolean"] is True
    r = httpx.get(f"{base}/id/program/go-tech-r7", headers={"Accept": "text/turtle"}, timeout=30)
    assert r.status_code == 200
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    assert (rdflib.URIRef("https://w3id.org/jp-funding/id/program/go-tech-r7"), None, None) in g
