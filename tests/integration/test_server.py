"""The HTTP server in process (FastAPI TestClient) on the real ontology and graph_data.

Expected values come from the store itself or from sheets 14–27 of graph_data (final); every
error response is checked by :func:`assert_error`, the one test helper for the error shape.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import re
import threading
import time
from http import HTTPStatus

import pyoxigraph as ox
import pytest
import rdflib
from fastapi.testclient import TestClient
from rdflib import Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from kg import queries, views
from kg.load import ontology_sources, project_root
from kg.store import EmbeddedStore, Table
from server.app import create_app
from server.engine import QueryRunner
from server.errors import ApiError, QueryTimeout

JF = Namespace("https://w3id.org/jp-funding/ont#")
ID = "https://w3id.org/jp-funding/id/"
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
JETRO = URIRef(ID + "org/jetro")
SMRJ = URIRef(ID + "org/smrj")
SHEET14 = "sme-productivity-revolution-r6s"
SUPPLEMENTARY_14 = URIRef(ID + f"budget/{SHEET14}-2024-supplementary")
PROGRAMS = project_root() / "graph_data" / "programs"

AMOUNT_QUERY = f"""PREFIX jf: <https://w3id.org/jp-funding/ont#>
SELECT ?amount WHERE {{ <{SUPPLEMENTARY_14}> jf:amount ?amount }}"""
ASK_QUERY = f"ASK {{ <{SUPPLEMENTARY_14}> <{JF.amount}> 340000000000 }}"
CONSTRUCT_QUERY = f"""PREFIX jf: <https://w3id.org/jp-funding/ont#>
CONSTRUCT {{ <{SUPPLEMENTARY_14}> jf:amount ?amount }} WHERE {{ <{SUPPLEMENTARY_14}> jf:amount ?amount }}"""
DESCRIBE_QUERY = f"DESCRIBE <{SUPPLEMENTARY_14}>"
HEAVY_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }"  # ~2 s on the embedded store
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


# ---------------------------------------------------------------- fixtures and the error helper

@pytest.fixture(scope="session")
def app_store() -> EmbeddedStore:
    return EmbeddedStore.from_paths()


@pytest.fixture(scope="session")
def client(app_store: EmbeddedStore) -> TestClient:
    with TestClient(create_app(app_store)) as c:
        yield c


@pytest.fixture(scope="session")
def sheet14() -> rdflib.Graph:
    """Sheet 14 (final) parsed on its own: the source of expected values."""
    return rdflib.Graph().parse(PROGRAMS / f"14-{SHEET14}.ttl")


def assert_error(resp, status: int, *needles: str) -> dict:
    """The one check of the error shape: ``{"error": {"status", "title", "detail"}}``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].split(";")[0] == "application/json"
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"status", "title", "detail"}
    assert err["status"] == status
    assert err["title"] == HTTPStatus(status).phrase
    assert isinstance(err["detail"], str) and err["detail"]
    for needle in needles:
        assert needle in err["detail"], (needle, err["detail"])
    return err


def media(resp) -> str:
    return resp.headers["content-type"].split(";")[0].strip()


def select(store: EmbeddedStore, sparql: str) -> Table:
    t = store.query(sparql)
    assert isinstance(t, Table)
    return t


# ---------------------------------------------------------------- content negotiation

RESULT_TYPES = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"]
GRAPH_TYPES = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]

NEGOTIATION = [
    # (id, query, Accept, expected type or 406)
    ("select-default", AMOUNT_QUERY, None, "application/sparql-results+json"),
    ("select-json", AMOUNT_QUERY, "application/sparql-results+json", "application/sparql-results+json"),
    ("select-xml", AMOUNT_QUERY, "application/sparql-results+xml", "application/sparql-results+xml"),
    ("select-csv", AMOUNT_QUERY, "text/csv", "text/csv"),
    ("select-tsv", AMOUNT_QUERY, "text/tab-separated-values", "text/tab-separated-values"),
    ("select-q-values", AMOUNT_QUERY, "text/csv;q=0.5, application/sparql-results+xml;q=0.9",
     "application/sparql-results+xml"),
    ("select-q-reversed", AMOUNT_QUERY, "text/csv;q=0.9, application/sparql-results+xml;q=0.5", "text/csv"),
    ("select-any", AMOUNT_QUERY, "*/*", "application/sparql-results+json"),
    ("select-text-wildcard", AMOUNT_QUERY, "text/*", "text/csv"),
    ("select-q0-excludes", AMOUNT_QUERY, "text/csv;q=0, text/*;q=0.5", "text/tab-separated-values"),
    ("select-sparqlwrapper-json", AMOUNT_QUERY,
     "application/sparql-results+json,application/json,text/javascript,application/javascript",
     "application/sparql-results+json"),
    ("select-browser", AMOUNT_QUERY, HTML_ACCEPT, "application/sparql-results+json"),
    ("select-turtle-406", AMOUNT_QUERY, "text/turtle", 406),
    ("select-plain-json-406", AMOUNT_QUERY, "application/json", 406),
    ("select-html-406", AMOUNT_QUERY, "text/html", 406),
    ("select-all-q0-406", AMOUNT_QUERY, "application/sparql-results+json;q=0", 406),
    ("ask-default", ASK_QUERY, None, "application/sparql-results+json"),
    ("ask-xml", ASK_QUERY, "application/sparql-results+xml", "application/sparql-results+xml"),
    ("ask-ntriples-406", ASK_QUERY, "application/n-triples", 406),
    ("construct-default", CONSTRUCT_QUERY, None, "text/turtle"),
    ("construct-turtle", CONSTRUCT_QUERY, "text/turtle", "text/turtle"),
    ("construct-ntriples", CONSTRUCT_QUERY, "application/n-triples", "application/n-triples"),
    ("construct-jsonld", CONSTRUCT_QUERY, "application/ld+json", "application/ld+json"),
    ("construct-rdfxml", CONSTRUCT_QUERY, "application/rdf+xml", "application/rdf+xml"),
    ("construct-q-values", CONSTRUCT_QUERY, "text/turtle;q=0.2, application/ld+json;q=0.8", "application/ld+json"),
    ("construct-any", CONSTRUCT_QUERY, "*/*", "text/turtle"),
    ("construct-sparqlwrapper-turtle", CONSTRUCT_QUERY, "application/turtle,text/turtle", "text/turtle"),
    ("construct-results-406", CONSTRUCT_QUERY, "application/sparql-results+json", 406),
    ("construct-csv-406", CONSTRUCT_QUERY, "text/csv", 406),
    ("describe-default", DESCRIBE_QUERY, None, "text/turtle"),
    ("describe-ntriples", DESCRIBE_QUERY, "application/n-triples", "application/n-triples"),
]


def _results_value(body: bytes, mtype: str) -> str:
    """The single ?amount value of a result document, read with a parser for its format."""
    if mtype == "text/csv":
        rows = list(csv.reader(io.StringIO(body.decode())))
        assert rows[0] == ["amount"]
        return rows[1][0]
    fmt = {"application/sparql-results+json": ox.QueryResultsFormat.JSON,
           "application/sparql-results+xml": ox.QueryResultsFormat.XML,
           "text/tab-separated-values": ox.QueryResultsFormat.TSV}[mtype]
    solutions = list(ox.parse_query_results(body, fmt))
    assert len(solutions) == 1
    return solutions[0]["amount"].value


@pytest.mark.parametrize(("query", "accept", "expected"), [n[1:] for n in NEGOTIATION],
                         ids=[n[0] for n in NEGOTIATION])
def test_content_negotiation(client, query: str, accept: str | None, expected: str | int) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    resp = client.get("/sparql", params={"query": query}, headers=headers)
    if expected == 406:
        err = assert_error(resp, 406, "supported types")
        offered = GRAPH_TYPES if "CONSTRUCT" in query or "DESCRIBE" in query else RESULT_TYPES
        for t in offered:
            assert t in err["detail"]
        return
    assert resp.status_code == 200, resp.text
    assert media(resp) == expected
    assert "Accept" in resp.headers.get("vary", "")
    if query is ASK_QUERY:
        if expected.endswith("json"):
            assert resp.json() == {"head": {}, "boolean": True}
        else:
            assert "<boolean>true</boolean>" in resp.text
    elif expected in RESULT_TYPES:
        assert _results_value(resp.content, expected) == "340000000000"
    else:
        g = rdflib.Graph().parse(data=resp.content, format={
            "text/turtle": "turtle", "application/n-triples": "nt", "application/ld+json": "json-ld",
            "application/rdf+xml": "xml"}[expected])
        assert g.value(SUPPLEMENTARY_14, JF.amount) == Literal(340000000000)


def test_post_forms_answer_like_get(client) -> None:
    get = client.get("/sparql", params={"query": AMOUNT_QUERY}, headers={"Accept": "text/csv"})
    form = client.post("/sparql", data={"query": AMOUNT_QUERY}, headers={"Accept": "text/csv"})
    direct = client.post("/sparql", content=AMOUNT_QUERY.encode(),
                         headers={"Content-Type": "application/sparql-query; charset=utf-8", "Accept": "text/csv"})
    assert get.status_code == form.status_code == direct.status_code == 200
    assert get.text == form.text == direct.text
    assert get.text.splitlines() == ["amount", "340000000000"]


def test_dataset_parameters(client) -> None:
    # The data is in the default graph; naming another graph as the default graph leaves it empty.
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    resp = client.get("/sparql", params={"query": count, "default-graph-uri": "http://example.org/no-such-graph"})
    assert resp.status_code == 200
    assert resp.json()["results"]["bindings"][0]["n"]["value"] == "0"
    resp = client.post("/sparql", data={"query": count, "named-graph-uri": "http://example.org/g"})
    assert resp.status_code == 200 and int(resp.json()["results"]["bindings"][0]["n"]["value"]) > 1000
    assert_error(client.get("/sparql", params={"query": count, "default-graph-uri": "not an iri"}), 400,
                 "default-graph-uri", "not an absolute IRI")


def test_select_without_variables_keeps_its_row(client) -> None:
    resp = client.get("/sparql", params={"query": "SELECT * WHERE {}"})
    assert resp.json() == {"head": {"vars": []}, "results": {"bindings": [{}]}}


# ---------------------------------------------------------------- errors: 400 403 413 415 503

@pytest.mark.parametrize("query", [
    "SELECT * WHERE { ?s ?p }",
    "SELEKT ?s WHERE { ?s ?p ?o }",
    "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT * WHERE { ?s jfx:amount ?o }",
], ids=["missing-object", "misspelt-keyword", "unknown-prefix"])
def test_malformed_query_is_400_with_the_parsers_message(client, query: str) -> None:
    for resp in (client.get("/sparql", params={"query": query}),
                 client.post("/sparql", data={"query": query})):
        err = assert_error(resp, 400, "SPARQL syntax error")
        assert re.search(r"error at 1:\d+", err["detail"]), err["detail"]


def test_bad_requests_are_400(client) -> None:
    assert_error(client.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D"), 400, "exactly one")
    assert_error(client.get("/sparql", params={"query": "   "}), 400, "empty")
    assert_error(client.post("/sparql", data={"default-graph-uri": "http://e/g"}), 400, "exactly one")
    assert_error(client.post("/sparql", content=b"\xff\xfeSELECT", headers={"Content-Type": "application/sparql-query"}),
                 400, "not valid utf-8")


UPDATES = [
    ("insert-data", "get", "PREFIX ex: <http://example.org/> INSERT DATA { ex:x ex:p ex:y }"),
    ("insert-data-form", "form", "INSERT DATA { <http://example.org/x> <http://example.org/p> <http://example.org/y> }"),
    ("update-field", "update-field", "INSERT DATA { <http://example.org/x> <http://example.org/p> <http://example.org/y> }"),
    ("sparql-update-type", "update-type",
     "INSERT DATA { <http://example.org/x> <http://example.org/p> <http://example.org/y> }"),
    ("delete-where", "direct", "DELETE WHERE { ?s ?p ?o }"),
    ("with-delete", "get", "WITH <http://example.org/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }"),
    ("drop-all", "get", "DROP ALL"),
    ("clear-default-lower", "form", "clear default"),
    ("load", "get", "LOAD <http://example.org/data.ttl>"),
]


@pytest.mark.parametrize(("how", "text"), [u[1:] for u in UPDATES], ids=[u[0] for u in UPDATES])
def test_updates_are_refused_and_change_nothing(client, app_store, how: str, text: str) -> None:
    before = app_store.count()
    if how == "get":
        resp = client.get("/sparql", params={"query": text})
    elif how == "form":
        resp = client.post("/sparql", data={"query": text})
    elif how == "update-field":
        resp = client.post("/sparql", data={"update": text})
    elif how == "update-type":
        resp = client.post("/sparql", content=text.encode(), headers={"Content-Type": "application/sparql-update"})
    else:
        resp = client.post("/sparql", content=text.encode(), headers={"Content-Type": "application/sparql-query"})
    assert_error(resp, 403, "read-only")
    assert app_store.count() == before
    ask = client.get("/sparql", params={"query": "ASK { <http://example.org/x> ?p ?o }"})
    assert ask.json()["boolean"] is False


def test_keywords_inside_names_are_not_updates_or_service(client) -> None:
    query = ('PREFIX load: <http://example.org/> SELECT ?service WHERE { BIND ("SERVICE INSERT" AS ?service) '
             "OPTIONAL { ?x load:drop ?y } }  # SERVICE <http://example.org/> in a comment")
    resp = client.get("/sparql", params={"query": query})
    assert resp.status_code == 200, resp.text
    assert resp.json()["results"]["bindings"] == [{"service": {"type": "literal", "value": "SERVICE INSERT"}}]


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * where { service silent <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "PREFIX ex: <http://127.0.0.1:9/> SELECT * WHERE { ?s ?p ?o SERVICE ex:sparql { ?s ?p ?o } }",
    "SELECT * WHERE { VALUES ?e { <http://127.0.0.1:9/sparql> } SERVICE ?e { ?s ?p ?o } }",
    r"SELECT * WHERE { \u0053ERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
], ids=["plain", "silent-lowercase", "prefixed", "variable", "escaped"])
def test_service_is_refused(client, query: str) -> None:
    assert_error(client.get("/sparql", params={"query": query}), 403, "SERVICE", "no outbound requests")
    assert_error(client.post("/sparql", data={"query": query}), 403, "SERVICE")


@pytest.fixture(scope="module")
def small_client(app_store) -> TestClient:
    with TestClient(create_app(app_store, max_body=200, max_rows=5)) as c:
        yield c


def test_body_over_max_body_is_413(small_client) -> None:
    long_query = "SELECT * WHERE { ?s ?p ?o } " + "#" * 300
    assert_error(small_client.post("/sparql", data={"query": long_query}), 413, "limit of 200 bytes")
    assert_error(small_client.post("/sparql", content=long_query.encode(),
                                   headers={"Content-Type": "application/sparql-query"}), 413, "200 bytes")
    ok = small_client.post("/sparql", content=b"ASK {}", headers={"Content-Type": "application/sparql-query"})
    assert ok.status_code == 200 and ok.json()["boolean"] is True


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "multipart/form-data; boundary=x", None],
                         ids=["text", "json", "multipart", "none"])
def test_wrong_post_content_type_is_415(client, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    err = assert_error(client.post("/sparql", content=b"query=ASK%7B%7D", headers=headers), 415)
    assert "application/x-www-form-urlencoded" in err["detail"] and "application/sparql-query" in err["detail"]


def test_max_rows_truncates_and_says_so(small_client) -> None:
    resp = small_client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert resp.headers["x-result-truncated"] == "true"
    assert len(resp.json()["results"]["bindings"]) == 5
    resp = small_client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}, headers={"Accept": "text/csv"})
    assert resp.headers["x-result-truncated"] == "true" and len(resp.text.strip().splitlines()) == 1 + 5
    resp = small_client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                            headers={"Accept": "application/n-triples"})
    assert resp.headers["x-result-truncated"] == "true" and len(resp.text.strip().splitlines()) == 5
    exact = small_client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 5"})
    assert "x-result-truncated" not in exact.headers and len(exact.json()["results"]["bindings"]) == 5


def test_timeout_is_503_and_the_server_goes_on(app_store) -> None:
    with TestClient(create_app(app_store, query_timeout=0.2)) as c:
        assert_error(c.get("/sparql", params={"query": HEAVY_QUERY}), 503, "did not finish within 0.2 s")
        after = c.get("/sparql", params={"query": ASK_QUERY})
        assert after.status_code == 200 and after.json()["boolean"] is True


def test_runner_refuses_when_all_workers_are_busy(app_store) -> None:
    runner = QueryRunner(app_store, timeout=5, max_rows=10, max_threads=1)
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.ensure_future(runner.run(lambda deadline: release.wait(5)))
        await asyncio.sleep(0.05)
        with pytest.raises(ApiError) as info:
            await runner.run(lambda deadline: True)
        assert info.value.status == 503 and "already running" in info.value.detail
        release.set()
        assert await first is True
        outcome = await runner.query(ASK_QUERY)
        assert outcome.kind == "boolean" and outcome.boolean is True

    asyncio.run(scenario())


def test_a_streaming_query_stops_at_its_deadline(app_store) -> None:
    # 4,000+ triples cubed: without the deadline check in the writer this would run for hours.
    runner = QueryRunner(app_store, timeout=0.3, max_rows=10**12, max_threads=1)
    endless = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"

    async def scenario() -> None:
        with pytest.raises(QueryTimeout):
            await runner.query(endless)
        stop = time.monotonic() + 5
        while True:  # the worker slot comes back once the abandoned query stopped writing
            try:
                outcome = await runner.query(ASK_QUERY)
                break
            except ApiError as exc:
                assert exc.status == 503 and "already running" in exc.detail
                assert time.monotonic() < stop, "the abandoned query kept running"
                await asyncio.sleep(0.05)
        assert outcome.boolean is True

    asyncio.run(scenario())


def test_create_app_checks_its_arguments(app_store) -> None:
    with pytest.raises(ValueError, match="max_rows must be positive"):
        create_app(app_store, max_rows=0)
    with pytest.raises(TypeError, match="EmbeddedStore or a RemoteStore"):
        create_app(object())  # type: ignore[arg-type]


def test_importing_the_app_module_builds_no_graph() -> None:
    import server.app as module

    assert module._built == {}
    assert "app" not in vars(module)


def test_unknown_route_and_method_use_the_error_shape(client) -> None:
    assert_error(client.get("/no/such/page"), 404, "/no/such/page")
    assert_error(client.delete("/sparql"), 405, "DELETE")
    assert_error(client.get("/api/flows", params={"program": "bad slug!"}), 400, "program")


# ---------------------------------------------------------------- service description, VoID, CORS

def test_service_description(client, app_store) -> None:
    resp = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert resp.status_code == 200 and media(resp) == "text/turtle"
    g = rdflib.Graph().parse(data=resp.text, format="turtle")
    endpoint = URIRef("http://127.0.0.1:8000/sparql")  # --public-url, never the Host header
    assert (endpoint, RDF.type, SD.Service) in g
    assert (endpoint, SD.supportedLanguage, SD.SPARQL11Query) in g
    formats = set(g.objects(endpoint, SD.resultFormat))
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in formats
    assert URIRef("http://www.w3.org/ns/formats/Turtle") in formats
    graph = g.value(g.value(endpoint, SD.defaultDataset), SD.defaultGraph)
    assert g.value(graph, VOID.triples).toPython() == app_store.count()


def test_void(client, app_store) -> None:
    resp = client.get("/void")
    assert resp.status_code == 200 and media(resp) == "text/turtle"
    g = rdflib.Graph().parse(data=resp.text, format="turtle")
    ds = URIRef("http://127.0.0.1:8000/void#dataset")
    assert (ds, RDF.type, VOID.Dataset) in g
    assert g.value(ds, VOID.triples).toPython() == app_store.count()
    programs = int(select(app_store, f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p a <{JF.Program}> }}").rows[0][0])
    parts = {g.value(p, VOID["class"]): g.value(p, VOID.entities).toPython() for p in g.objects(ds, VOID.classPartition)}
    assert parts[JF.Program] == programs
    assert parts[OWL.Class] == len(set(rdflib.Graph().parse(ontology_sources()[0]).subjects(RDF.type, OWL.Class)))


def test_cors(client) -> None:
    resp = client.get("/sparql", params={"query": ASK_QUERY}, headers={"Origin": "https://example.org"})
    assert resp.headers["access-control-allow-origin"] == "*"
    pre = client.options("/sparql", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200
    assert "POST" in pre.headers["access-control-allow-methods"]


# ---------------------------------------------------------------- linked data

def test_jetro_html(client) -> None:
    resp = client.get("/id/org/jetro", headers={"Accept": HTML_ACCEPT})
    assert resp.status_code == 200 and media(resp) == "text/html"
    page = resp.text
    assert "<h1>独立行政法人日本貿易振興機構" in page
    assert "Japan External Trade Organization" in page
    assert "JETRO" in page
    assert 'href="/id/category/incorporated-administrative-agency"' in page  # object link, with its label:
    assert "独立行政法人</a>" in page
    assert 'href="/bodies/jetro"' in page
    # Referenced by: flows that pay JETRO (in sheets 09-12; any one suffices)
    assert re.search(r'href="/id/flow/[\w-]+"', page)


@pytest.mark.parametrize(("accept", "fmt", "rdflib_format"), [
    ("text/turtle", None, "turtle"),
    ("application/ld+json", None, "json-ld"),
    ("application/n-triples", None, "nt"),
    (HTML_ACCEPT, "ttl", "turtle"),
    (None, None, "turtle"),
], ids=["turtle", "jsonld", "ntriples", "format-param", "no-accept"])
def test_jetro_rdf(client, accept: str | None, fmt: str | None, rdflib_format: str) -> None:
    headers = {"Accept": accept} if accept else {}
    resp = client.get("/id/org/jetro", params={"format": fmt} if fmt else {}, headers=headers)
    assert resp.status_code == 200
    g = rdflib.Graph().parse(data=resp.text, format=rdflib_format)
    assert (JETRO, RDFS.label, Literal("独立行政法人日本貿易振興機構", lang="ja")) in g
    assert (JETRO, RDFS.label, Literal("Japan External Trade Organization", lang="en")) in g
    assert (JETRO, JF.abbreviation, Literal("JETRO")) in g
    assert (JETRO, RDF.type, JF.NamedBody) in g
    category = URIRef(ID + "category/incorporated-administrative-agency")
    assert (JETRO, JF.actorCategory, category) in g
    assert (category, RDFS.label, Literal("独立行政法人", lang="ja")) in g  # label of an object
    assert set(g.subjects()) <= {JETRO, category, JF.NamedBody}


def test_linked_data_matches_the_store(client, app_store) -> None:
    resp = client.get(f"/id/program/{SHEET14}", headers={"Accept": "application/n-triples"})
    g = rdflib.Graph().parse(data=resp.text, format="nt")
    subject = URIRef(ID + f"program/{SHEET14}")
    expected = select(app_store, f"SELECT ?p ?o WHERE {{ <{subject}> ?p ?o }}").rows
    assert {(p, o) for p, o in g.predicate_objects(subject)} == {(p, o) for p, o in expected}
    assert g.value(SUPPLEMENTARY_14, JF.amount) is None  # objects get labels, not their other triples


def test_linked_data_errors(client) -> None:
    assert_error(client.get("/id/org/no-such-body"), 404, "no triples", "org/no-such-body")
    assert_error(client.get("/id/org/jetro", params={"format": "pdf"}), 400, "pdf", "ttl")
    assert_error(client.get("/id/org/jetro", headers={"Accept": "application/pdf"}), 406, "text/turtle", "text/html")


def test_ontology(client) -> None:
    resp = client.get("/ont", headers={"Accept": "text/turtle"})
    assert resp.status_code == 200 and media(resp) == "text/turtle"
    g = rdflib.Graph().parse(data=resp.text, format="turtle")
    files = rdflib.Graph()
    for f in ontology_sources():
        files.parse(f)
    assert len(g) == len(files) and isomorphic(g, files)
    assert (JF.Program, RDF.type, OWL.Class) in g
    html = client.get("/ont", headers={"Accept": HTML_ACCEPT})
    assert media(html) == "text/html"
    doc = html.text
    assert 'id="Program"' in doc and "予算事業" in doc and "budget program" in doc
    assert 'id="amount"' in doc and 'id="InitialBudget"' in doc
    label = files.value(JF.FundingFlow, RDFS.comment)
    assert str(label) in doc


# ---------------------------------------------------------------- web pages

def test_home_headline_numbers(client, app_store) -> None:
    page = client.get("/").text
    totals = queries.get("budget-totals").run(app_store)
    assert isinstance(totals, Table)
    fy2025 = [r for r in totals.dicts() if str(r["fiscal_year"]) == "2025" and str(r["category"]) == str(JF.InitialBudget)]
    total = int(fy2025[0]["total"])
    assert f"{total:,}円" in page
    sheets = int(select(app_store, f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p <{JF.budgetLineText}> ?t }}").rows[0][0])
    flows = int(select(app_store, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?f a <{JF.FundingFlow}> }}").rows[0][0])
    assert re.search(rf'id="sheets"><div class="value">{sheets}<', page)
    assert re.search(rf'id="flows"><div class="value">{flows}<', page)
    assert 'action="/search"' in page
    assert f'href="/programs/{SHEET14}"' in page


@pytest.mark.parametrize("q", ["ものづくり", "MONOZUKURI", "ｍｏｎｏｚｕｋｕｒｉ"], ids=["ja", "en-upper", "fullwidth"])
def test_search(client, q: str) -> None:
    page = client.get("/search", params={"q": q}).text
    assert f'href="/programs/{SHEET14}-2"' in page
    assert "ものづくり・商業・サービス生産性向上促進事業" in page


def test_search_without_hits(client) -> None:
    page = client.get("/search", params={"q": "存在しない事業名xyz"}).text
    assert 'id="count"' in page and "0 件" in page


def test_user_text_is_escaped(client) -> None:
    evil = "<script>alert(1)</script>"
    for resp in (client.get("/search", params={"q": evil}),
                 client.get("/query", params={"sparql": f'SELECT ("{evil}" AS ?x) WHERE {{}}'})):
        assert resp.status_code == 200
        assert "<script>" not in resp.text and "&lt;script&gt;" in resp.text


def test_program_page(client, sheet14) -> None:
    page = client.get(f"/programs/{SHEET14}", headers={"Accept": HTML_ACCEPT}).text
    program = URIRef(ID + f"program/{SHEET14}")
    assert str(sheet14.value(program, JF.budgetLineText)) in page  # verbatim budget line
    start, end = sheet14.value(program, JF.sourceLineStart), sheet14.value(program, JF.sourceLineEnd)
    assert f"{start}–{end}" in page
    assert "3,400億円" in page and "340,000,000,000" in page
    subs = list(sheet14.subjects(JF.partOf, program))
    assert len(subs) == 6
    for sub in subs:
        assert f'href="/programs/{sub.removeprefix(ID + "program/")}"' in page
        for label in sheet14.objects(sub, RDFS.label):
            assert html.escape(str(label), quote=False) in page
    flows = list(sheet14.subjects(RDF.type, JF.FundingFlow))
    assert len(flows) == 4
    for flow in flows:
        assert f'id="flow-{flow.removeprefix(ID + "flow/")}"' in page
    assert "→ 補助（1/2等） →" in page  # hop 3: instrument 補助 with its rate 1/2等


def test_program_page_change(client) -> None:
    page = client.get("/programs/sme-support-r7").text
    # sheet 17: 263億円 (FY2025 request) vs 260億円 (FY2024 initial)
    assert 'id="change"' in page and "+3億円" in page and "+300,000,000" in page


def test_body_page(client, app_store) -> None:
    page = client.get("/bodies/smrj").text
    channel = views.channels(app_store, "orgs:smrj")[0]
    assert "<h1>独立行政法人中小企業基盤整備機構" in page
    for sheet in channel.sheets:
        assert f'href="/programs/{sheet.removeprefix("program:")}"' in page
    assert f"{channel.budgets['2024 SupplementaryBudget']:,}" in page
    labels = {str(c): str(label) for c, label in select(app_store, f"""SELECT ?c ?label WHERE {{
        VALUES ?c {{ <{ID}instrument/grant> <{ID}instrument/fixed-amount-subsidy> }}
        ?c <{SKOS.prefLabel}> ?label FILTER (LANG(?label) = "ja") }}""").rows}
    assert labels[ID + "instrument/grant"] == "交付金"
    for iri, label in labels.items():  # instruments in and out, by their Japanese labels (ids only in data-id)
        assert re.search(rf'data-id="instrument:{iri.rsplit("/", 1)[1]}"[^>]*>{label}</a>', page)
    assert_error(client.get("/bodies/no-such-body"), 404, "orgs:no-such-body")


def test_query_page_named_query(client, app_store) -> None:
    resp = client.get("/query", params={"name": "body-programs", "body": "orgs:smrj"})
    assert resp.status_code == 200
    page = resp.text
    expected = queries.get("body-programs").run(app_store, {"body": "orgs:smrj"})
    assert isinstance(expected, Table)
    assert f'id="row-count">{len(expected.rows)} 行' in page
    assert f'href="/programs/{SHEET14}"' in page
    share = re.search(r'class="share" type="text" readonly value="([^"]+)"', page).group(1)
    assert "name=body-programs" in share and "body=orgs%3Asmrj" in share
    links = dict(re.findall(r'<a class="download" href="([^"]+)">(\w+)</a>', page))
    assert set(links.values()) == {"CSV", "JSON"}
    csv_url = next(u for u, label in links.items() if label == "CSV").replace("&amp;", "&")
    download = client.get("/query" + csv_url)
    assert media(download) == "text/csv" and "attachment" in download.headers["content-disposition"]
    assert download.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel on Japanese Windows reads it
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(rows) == len(expected.rows)
    assert "中小企業生産性革命推進事業" in {r["program"] for r in rows}  # labels, not IRIs
    assert not any(v.startswith(("http", "program:")) for r in rows for v in r.values())
    json_url = next(u for u, label in links.items() if label == "JSON").replace("&amp;", "&")
    assert len(client.get("/query" + json_url).json()["rows"]) == len(expected.rows)
    raw = dict(re.findall(r'<a href="([^"]+)" class="raw-download">([\w ]+)</a>', page))
    srj = next(u for u, label in raw.items() if label == "SPARQL JSON").replace("&amp;", "&")
    assert len(client.get(srj).json()["results"]["bindings"]) == len(expected.rows)


def test_query_page_free_sparql_and_errors(client) -> None:
    page = client.get("/query", params={"sparql": AMOUNT_QUERY}).text
    assert 'data-sort="amount"' in page and 'data-yen="340000000000"' in page and ">3,400億円<" in page
    bad = client.get("/query", params={"sparql": "SELECT * WHERE {"})
    assert bad.status_code == 400 and media(bad) == "text/html"
    assert 'id="error"' in bad.text and "SPARQL syntax error" in bad.text
    update = client.get("/query", params={"sparql": "DROP ALL"})
    assert update.status_code == 403 and "read-only" in update.text
    missing = client.get("/query", params={"name": "caps", "program": "not an iri"})
    assert missing.status_code == 404 and "unknown program" in missing.text
    assert_error(client.get("/query", params={"sparql": CONSTRUCT_QUERY, "format": "csv"}), 400, "ttl")
    turtle = client.get("/query", params={"sparql": CONSTRUCT_QUERY, "format": "ttl"})
    assert rdflib.Graph().parse(data=turtle.text, format="turtle").value(SUPPLEMENTARY_14, JF.amount) == Literal(
        340000000000)


def test_pages_load_nothing_from_elsewhere(client) -> None:
    for path in ["/", "/query", "/docs", "/ont", f"/programs/{SHEET14}", "/bodies/jetro", "/id/org/jetro",
                 "/search?q=IT"]:
        page = client.get(path, headers={"Accept": HTML_ACCEPT}).text
        assets = re.findall(r'(?:src|href)="([^"]*\.(?:js|css|woff2?|png|svg|ico)(?:\?[^"]*)?)"', page)
        assert "http://testserver/static/style.css" in assets, path
        # every other asset is the icon or a picture this server draws itself (scheme diagrams, the Sankey)
        local = ("http://testserver/static/style.css", "http://testserver/static/favicon.svg", "/favicon.ico")
        others = [a for a in assets if a not in local]
        assert all(re.fullmatch(r"/(programs/[\w-]+/diagram\.svg|sankey\.svg\?[^\"]*)", a) for a in others), (path, others)
        assert "<script" not in page, path
    assert client.get("/static/style.css").status_code == 200


# ---------------------------------------------------------------- REST API

def test_api_program(client, sheet14) -> None:
    resp = client.get(f"/api/programs/{SHEET14}")
    assert resp.status_code == 200
    p = resp.json()
    assert p["id"] == f"program:{SHEET14}"
    assert p["label_ja"] == "中小企業生産性革命推進事業"
    budget = {(b["fiscal_year"], b["category"]): b["amount"] for b in p["budgets"]}
    assert budget == {(2024, "jf:SupplementaryBudget"): 340000000000}
    assert p["change"] is None
    program = URIRef(ID + f"program/{SHEET14}")
    subs = {f"program:{s.removeprefix(ID + 'program/')}" for s in sheet14.subjects(JF.partOf, program)}
    assert {s["id"] for s in p["sub_measures"]} == subs and len(subs) == 6
    flows = {f"flow:{f.removeprefix(ID + 'flow/')}": int(sheet14.value(f, JF.hop))
             for f in sheet14.subjects(RDF.type, JF.FundingFlow)}
    assert {f["id"]: f["hop"] for f in p["flows"]} == flows
    hop3 = next(f for f in p["flows"] if f["hop"] == 3)
    assert hop3["instruments"] == ["instrument:subsidy"] and hop3["rates"] == ["1/2等"]
    assert p["budget_line_text"] == str(sheet14.value(program, JF.budgetLineText))
    assert (p["line_start"], p["line_end"]) == (983, 1082)
    assert {u["id"] for u in p["units"]} >= {"unit:smea", "unit:smea-innovation-team"}
    assert [t["id"] for t in p["targets"]] == [f"target:{SHEET14}-1"]


def test_api_program_change_and_rates(client, app_store) -> None:
    p = client.get("/api/programs/sme-support-r7").json()
    assert p["change"] == {"fy2024_initial": 26000000000, "fy2025_initial": 26300000000, "change": 300000000,
                           "ratio": 1.0115}
    change = queries.get("budget-change").run(app_store)
    assert isinstance(change, Table)
    row = next(r for r in change.dicts() if str(r["program"]).endswith("/sme-support-r7"))
    assert int(row["change"]) == p["change"]["change"]
    go_tech = client.get("/api/programs/go-tech-r7").json()
    rates = queries.get("rates-by-class").run(app_store)
    assert isinstance(rates, Table)
    expected = {(str(r["rate_text"]), str(r["category"]).rsplit("/", 1)[-1]) for r in rates.dicts()
                if "/program/go-tech-r7" in str(r["program"])}
    with_class = {(r["text"], c.split(":")[1]) for r in go_tech["rates"] for c in r["classes"]}
    assert with_class == expected and expected


def test_api_programs_list(client, app_store) -> None:
    rows = client.get("/api/programs").json()
    n = int(select(app_store, f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p a <{JF.Program}> }}").rows[0][0])
    assert len(rows) == n
    by_id = {r["id"]: r for r in rows}
    for nn in range(14, 28):
        slug = next(PROGRAMS.glob(f"{nn}-*.ttl")).stem.split("-", 1)[1]
        assert by_id[f"program:{slug}"]["is_sheet"] is True
    sheets = client.get("/api/programs", params={"sheets_only": "true"}).json()
    assert all(r["is_sheet"] for r in sheets) and len(sheets) < len(rows)
    found = client.get("/api/programs", params={"q": "Monozukuri"}).json()
    assert [r["id"] for r in found] == [f"program:{SHEET14}-2"]
    assert_error(client.get("/api/programs", params={"sheets_only": "maybe"}), 400, "sheets_only")


def test_api_channels(client, app_store) -> None:
    resp = client.get("/api/bodies/smrj/channels")
    assert resp.status_code == 200
    assert resp.json() == views.channels(app_store, "orgs:smrj")[0].__dict__
    assert f"program:{SHEET14}" in resp.json()["sheets"]
    assert resp.json()["budgets"]["2024 SupplementaryBudget"] >= 340000000000
    state = client.get("/api/bodies/state/channels").json()
    assert state["body"] == "orgs:state" and state["sheets"] == [] and state["label_ja"] == "国"
    assert_error(client.get("/api/bodies/nope/channels"), 404, "orgs:nope", "jetro")


def test_api_flows(client, app_store, sheet14) -> None:
    everything = client.get("/api/flows").json()
    n = int(select(app_store, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?f a <{JF.FundingFlow}> }}").rows[0][0])
    assert len(everything) == n
    mine = client.get("/api/flows", params={"program": SHEET14}).json()
    assert {f["id"] for f in mine} == {f"flow:{f.removeprefix(ID + 'flow/')}"
                                       for f in sheet14.subjects(RDF.type, JF.FundingFlow)}
    smrj = client.get("/api/flows", params={"body": "smrj"}).json()
    assert smrj and all("orgs:smrj" in (f["funder"]["id"], f["recipient"]["id"]) for f in smrj)
    expected = select(app_store, f"SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE {{ {{ ?f <{JF.funder}> <{SMRJ}> }} UNION "
                                 f"{{ ?f <{JF.recipient}> <{SMRJ}> }} }}").rows[0][0]
    assert len(smrj) == int(expected)
    actor = f"actor:{SHEET14}-smes-1"
    assert [f["id"] for f in client.get("/api/flows", params={"body": actor}).json()] == [f"flow:{SHEET14}-3"]


def test_openapi_and_docs(client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ["/api/programs", "/api/programs/{slug}", "/api/bodies/{slug}/channels", "/api/flows", "/sparql"]:
        assert path in spec["paths"], path
    assert spec["paths"]["/api/programs/{slug}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProgramDetail"}
    docs = client.get("/docs").text
    assert "/api/bodies/{slug}/channels" in docs and 'id="schema-ProgramDetail"' in docs
    assert "/openapi.json" in docs


def test_json_answers_are_valid_json_documents(client) -> None:
    for path in ["/api/programs", f"/api/programs/{SHEET14}", "/api/flows", "/api/bodies"]:
        resp = client.get(path)
        assert media(resp) == "application/json"
        json.loads(resp.text)

