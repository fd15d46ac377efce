"""Stateless replicas: two ``kg serve --store URL`` on one remote store answer identically.

A replica keeps no state of its own beyond caches, so any of N replicas behind a load balancer
gives the same page and the same ``/sparql`` answer (README, "Scaling out"). Each remote store
(``oxigraph serve``, Virtuoso) gets two replicas started as ``make serve`` would start them, on
ports of their own; every page type and a ``/sparql`` query are asked of both, and the SPARQL
answer is also checked against the embedded store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kg.launch import free_port, kg_serve_command, launched
from kg.store import EmbeddedStore, Table

pytestmark = pytest.mark.remote

ROOT = Path(__file__).resolve().parents[2]

PAGES = [  # path, media type, text the page must hold
    ("/", "text/html", "jp-funding-kg"),
    ("/programs", "text/html", "中小企業生産性革命推進事業"),
    ("/programs/sme-productivity-revolution-r6s", "text/html", "中小企業生産性革命推進事業"),
    ("/bodies/jetro", "text/html", "日本貿易振興機構"),
    ("/id/org/jetro", "text/turtle", "日本貿易振興機構"),
]

SELECT = """PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?program ?label WHERE { ?program a jf:Program ; rdfs:label ?label . FILTER (LANG(?label) = "ja") }"""



HOST = {"Host": "kg.example.org"}
"""A load balancer passes the public host name to every replica; pages link with it."""


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def replicas(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Base URLs of two ``kg serve --store URL`` replicas on one filled store."""
    url = request.getfixturevalue(f"{request.param}_url")
    env = {k: v for k, v in os.environ.items() if k != "KG_STORE"}
    logs = tmp_path_factory.mktemp("replicas")
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    with launched(kg_serve_command(ports[0], "--store", url), f"{bases[0]}/programs", env=env,
                  cwd=ROOT, log=logs / "a.log", describe="replica a"), \
         launched(kg_serve_command(ports[1], "--store", url), f"{bases[1]}/programs", env=env,
                  cwd=ROOT, log=logs / "b.log", describe="replica b"):
        yield bases




@pytest.mark.parametrize(("path", "accept", "text"), PAGES, ids=[p for p, *_ in PAGES])
def test_replicas_serve_the_same_page(request: pytest.FixtureRequest, replicas: list[str], path: str, accept: str,
                                      text: str) -> None:
    answers = [httpx.get(f"{base}{path}", headers={"Accept": accept, **HOST}, timeout=60) for base in replicas]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text[-2000:]
    assert answers[0].headers["content-type"].startswith(accept)
    assert answers[0].text == answers[1].text
    assert text in answers[0].text


def test_replicas_answer_sparql_identically(request: pytest.FixtureRequest, replicas: list[str],
                                            store: EmbeddedStore) -> None:
    answers = [httpx.get(f"{base}/sparql", params={"query": SELECT},
                         headers={"Accept": "application/sparql-results+json"}, timeout=60) for base in replicas]
    assert [a.status_code for a in answers] == [200, 200]
    rows = [sorted((b["program"]["value"], b["label"]["value"], b["label"]["xml:lang"])
                   for b in a.json()["results"]["bindings"]) for a in answers]
    assert rows[0] == rows[1]
    local = store.query(SELECT)
    assert isinstance(local, Table)
    assert rows[0] == sorted((str(p), str(label), "ja") for p, label in local.rows)
    assert len(rows[0]) > 27
