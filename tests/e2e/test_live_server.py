"""A real server (``python -m kg serve``) on a free loopback port, used by unmodified clients.

SPARQLWrapper (SELECT in JSON, XML, CSV, TSV; CONSTRUCT in Turtle and JSON-LD), rdflib's
``SPARQLStore`` and ``Graph.parse`` of a linked-data IRI; and the server forwarding to a remote
store (the live server itself) through :class:`kg.store.RemoteStore`. Expected values come from
sheet 14 (final) or from the live server's own answers.
"""

from __future__ import annotations

import csv
import io
import urllib.error
from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, JSONLD, POST, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from kg.store import RemoteStore

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
JF = Namespace("https://w3id.org/jp-funding/ont#")
ID = "https://w3id.org/jp-funding/id/"
SHEET14 = "sme-productivity-revolution-r6s"
BUDGET = URIRef(ID + f"budget/{SHEET14}-2024-supplementary")
PROGRAM = URIRef(ID + f"program/{SHEET14}")
JETRO = URIRef(ID + "org/jetro")

SELECT = f"""PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?amount ?label WHERE {{
  <{PROGRAM}> jf:budget ?b ; rdfs:label ?label .
  ?b jf:amount ?amount .
  FILTER (LANG(?label) = "ja")
}}"""
CONSTRUCT = f"""PREFIX jf: <https://w3id.org/jp-funding/ont#>
CONSTRUCT {{ ?b jf:amount ?amount ; jf:fiscalYear ?fy }} WHERE {{ <{PROGRAM}> jf:budget ?b .
  ?b jf:amount ?amount ; jf:fiscalYear ?fy }}"""
LABEL = "中小企業生産性革命推進事業"


def _wrapper(live: str, query: str, fmt: str) -> SPARQLWrapper:
    sparql = SPARQLWrapper(f"{live}/sparql")
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    return sparql


# ---------------------------------------------------------------- SPARQLWrapper

def test_sparqlwrapper_select_json(live: str) -> None:
    result = _wrapper(live, SELECT, JSON).queryAndConvert()
    assert result["head"]["vars"] == ["amount", "label"]
    (row,) = result["results"]["bindings"]
    assert row["amount"]["value"] == "340000000000"
    assert row["amount"]["datatype"] == "http://www.w3.org/2001/XMLSchema#integer"
    assert row["label"] == {"type": "literal", "value": LABEL, "xml:lang": "ja"}


def test_sparqlwrapper_select_xml(live: str) -> None:
    doc = _wrapper(live, SELECT, XML).queryAndConvert()
    literals = {b.getAttribute("name"): b.getElementsByTagName("literal")[0] for b in doc.getElementsByTagName("binding")}
    assert literals["amount"].firstChild.data == "340000000000"
    assert literals["label"].firstChild.data == LABEL
    assert literals["label"].getAttribute("xml:lang") == "ja"


def test_sparqlwrapper_select_csv(live: str) -> None:
    raw = _wrapper(live, SELECT, CSV).queryAndConvert()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    assert rows == [{"amount": "340000000000", "label": LABEL}]


def test_sparqlwrapper_select_tsv(live: str) -> None:
    raw = _wrapper(live, SELECT, TSV).queryAndConvert()
    lines = raw.decode("utf-8").strip().split("\n")
    assert lines[0].split("\t") == ["?amount", "?label"]
    assert lines[1].split("\t") == ["340000000000", f'"{LABEL}"@ja']


def test_sparqlwrapper_post_and_ask(live: str) -> None:
    sparql = _wrapper(live, f"ASK {{ <{BUDGET}> <{JF.amount}> 340000000000 }}", JSON)
    sparql.setMethod(POST)
    assert sparql.queryAndConvert() == {"head": {}, "boolean": True}


def test_sparqlwrapper_construct_turtle(live: str) -> None:
    raw = _wrapper(live, CONSTRUCT, TURTLE).queryAndConvert()
    g = rdflib.Graph().parse(data=raw, format="turtle")
    assert g.value(BUDGET, JF.amount) == Literal(340000000000)
    assert str(g.value(BUDGET, JF.fiscalYear)) == "2024"


def test_sparqlwrapper_construct_jsonld(live: str) -> None:
    g = _wrapper(live, CONSTRUCT, JSONLD).queryAndConvert()
    assert isinstance(g, rdflib.Graph)
    assert g.value(BUDGET, JF.amount) == Literal(340000000000)


def test_sparqlwrapper_errors(live: str) -> None:
    with pytest.raises(QueryBadFormed, match="SPARQL syntax error"):
        _wrapper(live, "SELECT * WHERE { ?s ?p }", JSON).queryAndConvert()
    update = SPARQLWrapper(f"{live}/sparql")
    update.setQuery(f"DELETE WHERE {{ <{BUDGET}> ?p ?o }}")
    update.setMethod(POST)
    with pytest.raises(urllib.error.HTTPError) as info:
        update.query()
    assert info.value.code == 403
    still = _wrapper(live, f"ASK {{ <{BUDGET}> <{JF.amount}> 340000000000 }}", JSON).queryAndConvert()
    assert still["boolean"] is True


# ---------------------------------------------------------------- rdflib

def test_rdflib_sparqlstore(live: str) -> None:
    graph = rdflib.Graph(store=SPARQLStore(f"{live}/sparql"))
    rows = list(graph.query(SELECT))
    assert [(r.amount, r.label) for r in rows] == [(Literal(340000000000), Literal(LABEL, lang="ja"))]
    built = graph.query(CONSTRUCT).graph
    assert built.value(BUDGET, JF.amount) == Literal(340000000000)
    assert (BUDGET, JF.amount, Literal(340000000000)) in graph  # a triple pattern sent as a query
    count = _wrapper(live, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", JSON).queryAndConvert()
    assert len(graph) == int(count["results"]["bindings"][0]["n"]["value"])


def test_rdflib_parses_linked_data(live: str) -> None:
    g = rdflib.Graph().parse(f"{live}/id/org/jetro")  # rdflib negotiates an RDF type itself
    assert (JETRO, RDFS.label, Literal("独立行政法人日本貿易振興機構", lang="ja")) in g
    assert (JETRO, RDF.type, JF.NamedBody) in g


def test_browser_gets_html_and_cors(live: str) -> None:
    page = httpx.get(f"{live}/programs/{SHEET14}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and LABEL in page.text and "340,000,000,000" in page.text
    resp = httpx.get(f"{live}/sparql", params={"query": "ASK {}"}, headers={"Origin": "https://example.org"})
    assert resp.headers["access-control-allow-origin"] == "*"
    sd = httpx.get(f"{live}/sparql", headers={"Accept": "text/turtle"})
    g = rdflib.Graph().parse(data=sd.text, format="turtle")
    assert (URIRef(f"{live}/sparql"), RDF.type, URIRef("http://www.w3.org/ns/sparql-service-description#Service")) in g


# ---------------------------------------------------------------- forwarding to a remote store

@pytest.fixture(scope="module")
def forwarding(live: str):
    """An in-process app whose store is the live server, reached as a RemoteStore."""
    from fastapi.testclient import TestClient

    from server.app import create_app

    with TestClient(create_app(RemoteStore(f"{live}/sparql"), max_rows=3)) as client:
        yield client


def test_remote_store_select_and_construct(forwarding) -> None:
    resp = forwarding.get("/sparql", params={"query": SELECT}, headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.text.splitlines() == ["amount,label", f"340000000000,{LABEL}"]
    resp = forwarding.post("/sparql", data={"query": CONSTRUCT}, headers={"Accept": "application/ld+json"})
    g = rdflib.Graph().parse(data=resp.text, format="json-ld")
    assert g.value(BUDGET, JF.amount) == Literal(340000000000)
    resp = forwarding.get("/sparql", params={"query": f"ASK {{ <{BUDGET}> ?p ?o }}"},
                          headers={"Accept": "application/sparql-results+xml"})
    assert "<boolean>true</boolean>" in resp.text


def test_remote_store_truncates_and_reports_errors(forwarding) -> None:
    resp = forwarding.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert resp.headers["x-result-truncated"] == "true" and len(resp.json()["results"]["bindings"]) == 3
    bad = forwarding.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert bad.status_code == 400 and "SPARQL syntax error" in bad.json()["error"]["detail"]
    assert forwarding.get("/sparql", params={"query": "DROP ALL"}).status_code == 403


def test_remote_store_pages_and_api(forwarding) -> None:
    program = forwarding.get(f"/api/programs/{SHEET14}").json()
    assert program["budgets"][0]["amount"] == 340000000000
    page = forwarding.get("/id/org/jetro", headers={"Accept": "text/turtle"})
    g = rdflib.Graph().parse(data=page.text, format="turtle")
    assert (JETRO, RDFS.label, Literal("Japan External Trade Organization", lang="en")) in g
