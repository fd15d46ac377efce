"""The findings of issue 13 that an in-process app shows (the live-server ones are in tests/e2e/test_reliability.py).

* Finding 5, no 500 for bad input: charsets Python cannot decode as text are 415 naming the
  supported ones; a value over pyoxigraph's 16 MiB parser buffer is answered in every format (or,
  when it would have to be cut to the row limit, refused with a 422 naming the 2 MiB row limit);
  terms nested past the limit are 400.
* Finding 7, memory comes back: a worker that wrote a large answer is replaced after it, and the
  answer reaches the client in chunks.
* Finding 8: the service description and VoID name ``public_url``, whatever the ``Host`` header;
  a ``javascript:`` IRI in a result is no link; CSV cells starting with ``= + - @`` (or tab, CR)
  are neutralised unless ``csv_raw``.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from fastapi.testclient import TestClient
from rdflib import URIRef

from kg.load import project_root
from kg.store import EmbeddedStore
from server.app import create_app
from server.sparql import CHARSETS

_spec = importlib.util.spec_from_file_location("_test_server_helpers", Path(__file__).with_name("test_server.py"))
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
assert_error = _helpers.assert_error

SMALL = ["organisations.ttl", "source.ttl", "programs/14-sme-productivity-revolution-r6s.ttl"]
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def store() -> EmbeddedStore:
    return EmbeddedStore.from_paths([project_root() / "graph_data" / f for f in SMALL])


@pytest.fixture(scope="module")
def client(store: EmbeddedStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, workers=1, max_rows=1, public_url="https://kg.example.jp")) as c:
        yield c


# ---------------------------------------------------------------- finding 5: no 500 for bad input

CHARSET_CASES = [
    # (id, charset): codecs Python knows that are not text encodings, unknown names, exotic text codecs
    ("hex", "hex"), ("base64", "base64"), ("rot13", "rot13"), ("zlib", "zlib"), ("uu", "uu"), ("bz2", "bz2"),
    ("quopri", "quopri"), ("idna", "idna"), ("punycode", "punycode"), ("utf-7", "utf-7"), ("unknown", "klingon-8"),
    ("nul", "utf\x008"), ("undefined", "undefined"), ("mbcs", "mbcs"),
]


@pytest.mark.parametrize("charset", [c[1] for c in CHARSET_CASES], ids=[c[0] for c in CHARSET_CASES])
def test_charsets_that_are_not_supported_text_are_415(client, charset: str) -> None:
    for ctype in ("application/sparql-query", "application/x-www-form-urlencoded", "application/sparql-update"):
        body = b"ASK {}" if ctype.endswith("query") else b"query=ASK+%7B%7D"
        resp = client.post("/sparql", content=body, headers={"Content-Type": f"{ctype}; charset={charset}"})
        if ctype.endswith("update"):
            assert resp.status_code == 403  # read-only: refused before the body is read
            continue
        assert_error(resp, 415, "unsupported charset", "utf-8, us-ascii")


@pytest.mark.parametrize("charset", CHARSETS)
def test_supported_charsets_are_read(client, charset: str) -> None:
    body = 'ASK { FILTER("予算" != "") }'.encode(charset, errors="replace") if charset != "us-ascii" else b"ASK {}"
    resp = client.post("/sparql", content=body, headers={"Content-Type": f"application/sparql-query; charset={charset}"})
    assert resp.status_code in (200, 400), resp.text  # a Japanese literal in a charset without it: 400, never 500


HUGE = 17 * (1 << 20)  # over pyoxigraph's 16 MiB parser buffer
_DOUBLINGS = " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(20))
HUGE_QUERY = f'SELECT (STRLEN(?x20) AS ?n) ?x20 WHERE {{ BIND("0123456789abcdefg" AS ?x0) {_DOUBLINGS} }}'


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                                    "text/tab-separated-values"])
def test_a_value_over_the_parser_buffer_is_answered(client, accept: str) -> None:
    resp = client.get("/sparql", params={"query": HUGE_QUERY}, headers={"Accept": accept})
    assert resp.status_code == 200, resp.text[:300]
    if accept.endswith("json"):
        row = resp.json()["results"]["bindings"][0]
        assert int(row["n"]["value"]) == HUGE and len(row["x20"]["value"]) == HUGE
    elif accept == "text/csv":
        csv.field_size_limit(HUGE + 1)
        rows = list(csv.reader(io.StringIO(resp.text)))
        assert rows[0] == ["n", "x20"] and int(rows[1][0]) == HUGE and len(rows[1][1]) == HUGE
    else:
        assert resp.text.count("0123456789abcdefg") == HUGE // 17


def test_a_value_over_the_parser_buffer_that_must_be_cut_is_a_clear_422(client) -> None:
    two_rows = HUGE_QUERY.replace("WHERE {", "WHERE { VALUES ?k { 1 2 }")  # max_rows=1: the answer must be cut
    resp = client.get("/sparql", params={"query": two_rows}, headers={"Accept": "application/sparql-results+json"})
    assert_error(resp, 422, "over 2 MiB", "text/tab-separated-values")
    tsv = client.get("/sparql", params={"query": two_rows}, headers={"Accept": "text/tab-separated-values"})
    assert tsv.status_code == 200 and tsv.headers["x-result-truncated"] == "true"


def test_terms_nested_past_the_limit_are_400(client) -> None:
    term = "<http://e/a>"
    for _ in range(100):
        term = f"<< {term} <http://e/p> <http://e/o> >>"
    for query in [f"SELECT * WHERE {{ {term} ?p ?o }}", "SELECT (" + "(" * 100 + "1" + ")" * 100 + " AS ?x) {}",
                  "SELECT * WHERE " + "{ " * 100 + "}" * 100]:
        assert_error(client.get("/sparql", params={"query": query}), 400, "deep", "at most 64")
    ok = "SELECT (" + "(" * 30 + "1" + ")" * 30 + " AS ?x) {}"
    assert client.get("/sparql", params={"query": ok}).json()["results"]["bindings"][0]["x"]["value"] == "1"


# ---------------------------------------------------------------- finding 7: memory comes back

def test_a_worker_is_recycled_after_a_large_answer_and_the_answer_is_streamed(client) -> None:
    pool = client.app.state.kg.runner.pool
    before, recycled = pool.pids(), pool.recycled
    with client.stream("GET", "/sparql", params={"query": HUGE_QUERY}, headers={"Accept": "text/tab-separated-values"}) as resp:
        assert resp.status_code == 200 and "content-length" not in resp.headers  # chunked: never whole in memory
        chunks = [len(c) for c in resp.iter_bytes()]
    assert sum(chunks) > HUGE and len(chunks) > 1
    assert pool.recycled == recycled + 1
    assert pool.wait_ready(30) and set(pool.pids()).isdisjoint(before)


# ---------------------------------------------------------------- finding 8: Host header, links, CSV

def test_the_endpoint_iri_is_the_public_url_never_the_host_header(client) -> None:
    for path, subject in (("/sparql", "https://kg.example.jp/sparql"), ("/void", "https://kg.example.jp/void#dataset")):
        resp = client.get(path, headers={"Host": "evil.example", "Accept": "text/turtle"})
        assert resp.status_code == 200
        g = rdflib.Graph().parse(data=resp.text, format="turtle")
        assert (URIRef(subject), None, None) in g
        assert not any("evil.example" in str(t) for triple in g for t in triple)
    void = rdflib.Graph().parse(data=client.get("/void").text, format="turtle")
    assert void.value(URIRef("https://kg.example.jp/void#dataset"), VOID.sparqlEndpoint) == \
        URIRef("https://kg.example.jp/sparql")
    with pytest.raises(ValueError, match="http"):
        create_app(EmbeddedStore(), public_url="javascript:alert(1)")


def test_only_http_iris_become_links(client) -> None:
    query = ('SELECT ?x WHERE { VALUES ?x { <javascript:alert(1)> <data:text/html,hi> <vbscript:x> '
             '<https://w3id.org/jp-funding/id/org/jetro> } }')
    with TestClient(client.app) as c:
        c.app.state.kg.runner.max_rows = 10
        page = c.get("/query", params={"sparql": query}, headers={"Accept": HTML_ACCEPT})
        c.app.state.kg.runner.max_rows = 1
    assert page.status_code == 200
    html = page.text.lower()
    assert "javascript:alert(1)" in html  # shown as text
    for scheme in ("javascript:", "data:text", "vbscript:"):
        assert f'href="{scheme}' not in html
    assert 'href="/bodies/jetro"' in html


CSV_QUERY = ('SELECT ?v WHERE { VALUES ?v { "=HYPERLINK(\\"http://e/\\")" "+1" "-2" "@SUM(A1)" "\\tx" "\\rx" '
             '"ok" "a=b" } }')


def test_csv_cells_are_neutralised_unless_raw(store: EmbeddedStore) -> None:
    expected = ['=HYPERLINK("http://e/")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok", "a=b"]
    for raw in (False, True):
        with TestClient(create_app(store, workers=1, csv_raw=raw)) as c:
            resp = c.get("/sparql", params={"query": CSV_QUERY}, headers={"Accept": "text/csv"})
            assert resp.status_code == 200
            cells = [row[0] for row in csv.reader(io.StringIO(resp.text, newline=""))][1:]
            assert cells == (expected if raw else ["'" + v if v[0] in "=+-@\t\r" else v for v in expected])
            as_json = c.get("/sparql", params={"query": CSV_QUERY}).json()  # other formats keep the data
            assert [b["v"]["value"] for b in as_json["results"]["bindings"]] == expected
    assert json.dumps(expected)  # the table above is the data, not a format's spelling
