"""Fuzzing the inputs of the server with hypothesis: no 5xx, no traceback in a body, no hang.

The SPARQL query string (random text, and random assemblies of real SPARQL fragments), the
``Accept`` header, POST bodies and their ``Content-Type``, raw query strings with stray
percent-escapes, the REST API's path and query parameters, the named queries' parameters and
``format``, linked-data paths and the Sankey's parameters. The app runs with its worker processes
and a 3 s query timeout; a query that hits the timeout is answered 503 by design, so a 503 is
accepted only with the timeout's (or the busy server's) message — every other 5xx fails.

Examples are bounded (``max_examples``) so the whole file runs in seconds; ``derandomize`` keeps CI
reproducible. Raise ``KG_FUZZ_EXAMPLES`` for a longer local run, set ``KG_FUZZ_RANDOM=1`` for new examples.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg import queries
from kg.store import EmbeddedStore
from server.app import create_app

EXAMPLES = int(os.environ.get("KG_FUZZ_EXAMPLES", "60"))
RANDOM = bool(os.environ.get("KG_FUZZ_RANDOM"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
MAX_SECONDS = 8.0  # per request: the 3 s query timeout plus generous slack


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(EmbeddedStore.from_paths(), query_timeout=3.0, workers=2),
                    raise_server_exceptions=False) as c:
        yield c


def check(resp, started: float) -> None:
    """The promises: no 5xx (but a timeout's 503), no traceback, an answer in bounded time."""
    elapsed = time.monotonic() - started
    assert elapsed < MAX_SECONDS, f"took {elapsed:.1f} s"
    body = resp.text
    assert "Traceback" not in body and 'File "/' not in body, body[:500]
    if resp.status_code >= 500:
        assert resp.status_code == 503, body[:500]
        detail = resp.json()["error"]["detail"]
        assert "did not finish within" in detail or "busy" in detail, detail
    if resp.status_code >= 400 and resp.headers.get("content-type", "").startswith("application/json"):
        err = resp.json()["error"]
        assert set(err) == {"status", "title", "detail"} and err["status"] == resp.status_code


def get(client: TestClient, url: str, **kwargs) -> None:
    started = time.monotonic()
    check(client.get(url, **kwargs), started)


# ---------------------------------------------------------------- strategies

header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)
MEDIA = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values",
         "text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml", "text/html",
         "application/json", "*/*", "text/*", "application/*", "image/png", "", "*", "/", ";;", "text/"]
accept = st.one_of(
    header_text,
    st.lists(st.tuples(st.sampled_from(MEDIA), st.one_of(st.none(), st.floats(-2, 3), header_text)), max_size=5).map(
        lambda items: ", ".join(m + ("" if q is None else f";q={q}") for m, q in items)),
)

FRAGMENTS = [
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "*", "?s", "?p", "?o", "?x", "{", "}", "(", ")", ".", ";", ",",
    "a", "<https://w3id.org/jp-funding/id/org/jetro>", "<http://example.org/>", "PREFIX jf: <https://w3id.org/jp-funding/ont#>",
    "jf:amount", "jf:budget", "rdfs:label", "FILTER", "OPTIONAL", "UNION", "MINUS", "BIND", "AS", "VALUES", "LIMIT 5",
    "OFFSET 2", "ORDER BY", "GROUP BY", "HAVING", "COUNT(*)", "DISTINCT", "REGEX(?o, \"a\")", "STR(?o)", "LANG(?o)",
    "\"text\"", "\"テキスト\"@ja", "'x'", "42", "-1.5e3", "true", "_:b", "[]", "^^", "@en", "<<", ">>", "#", "\\u0041",
    "GRAPH", "FROM", "NAMED", "SERVICE", "INSERT", "DELETE", "LOAD", "DROP", "CLEAR", "SILENT", "EXISTS", "NOT", "IN",
    "IF(", "COALESCE(", "CONCAT(?o, ?o)", "STRLEN(", "SUBSTR(", "NOW()", "UUID()", "RAND()", "|", "/", "^", "+", "?",
]
sparql_like = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=25).map(" ".join)
query_text = st.one_of(st.text(max_size=300), sparql_like,
                       sparql_like.map(lambda q: f"SELECT * WHERE {{ {q} }} LIMIT 3"))


# ---------------------------------------------------------------- /sparql

@FUZZ
@given(query=query_text, accept=accept)
def test_sparql_get(client, query: str, accept: str) -> None:
    get(client, "/sparql", params={"query": query}, headers={"Accept": accept})


@FUZZ
@given(body=st.binary(max_size=400) | query_text.map(str.encode) | st.sampled_from([b"ASK { ?s ?p '+3AA-' }",
                                                                                 b"query=ASK+%7B+%3Fs+%3Fp+'+2AA-'+%7D"]),
       ctype=st.sampled_from(["application/sparql-query", "application/x-www-form-urlencoded",
                              "application/sparql-update", "application/sparql-query; charset=latin-1",
                              "application/sparql-query; charset=nonsense", "application/sparql-query; charset=utf-7",
                              "application/x-www-form-urlencoded; charset=utf-16", "text/plain", "",
                              "multipart/form-data"]),
       accept=accept)
def test_sparql_post(client, body: bytes, ctype: str, accept: str) -> None:
    started = time.monotonic()
    check(client.post("/sparql", content=body, headers={"Content-Type": ctype, "Accept": accept}), started)


@FUZZ
@given(raw=st.binary(max_size=200), key=st.sampled_from(["query", "default-graph-uri", "named-graph-uri", "update", "x"]))
def test_sparql_raw_query_string(client, raw: bytes, key: str) -> None:
    # stray '%', invalid UTF-8 after decoding, repeated keys: the query string as bytes on the wire
    encoded = urllib.parse.quote_from_bytes(raw, safe=b"%&=+")
    get(client, f"/sparql?{key}={encoded}&query=ASK%7B%7D" if key != "query" else f"/sparql?query={encoded}")


@FUZZ
@given(graphs=st.lists(st.text(max_size=40), max_size=3), query=sparql_like)
def test_sparql_dataset_parameters(client, graphs: list[str], query: str) -> None:
    get(client, "/sparql", params={"query": f"SELECT * WHERE {{ {query} }} LIMIT 1", "default-graph-uri": graphs,
                                   "named-graph-uri": graphs[::-1]})


# ---------------------------------------------------------------- REST API and pages

slug = st.one_of(st.text(max_size=60), st.sampled_from(["sme-productivity-revolution-r6s", "jetro", "smrj",
                                                        "program:go-tech-r7", "orgs:jetro", "..", "%2e%2e", "a/b"]))


@FUZZ
@given(q=st.one_of(st.none(), st.text(max_size=250)), sheets=st.one_of(st.none(), header_text), slug=slug)
def test_rest_api(client, q: str | None, sheets: str | None, slug: str) -> None:
    params = {k: v for k, v in {"q": q, "sheets_only": sheets}.items() if v is not None}
    get(client, "/api/programs", params=params)
    path = urllib.parse.quote(slug, safe="")
    get(client, f"/api/programs/{path}")
    get(client, f"/api/bodies/{path}/channels")
    get(client, "/api/flows", params={"program": slug, "body": q or ""})


@FUZZ
@given(name=st.one_of(st.sampled_from(sorted(queries.all_queries())), st.text(max_size=30)),
       values=st.dictionaries(st.sampled_from(["program", "body", "unit", "category", "x"]), st.text(max_size=80),
                              max_size=3),
       fmt=st.one_of(st.none(), st.sampled_from(["csv", "tsv", "json", "xml", "ttl", "jsonld", "nt", "rdf", "html"]),
                     st.text(max_size=10)))
def test_named_query_parameters(client, name: str, values: dict[str, str], fmt: str | None) -> None:
    params = {"name": name, **values}
    if fmt is not None:
        params["format"] = fmt
    get(client, "/query", params=params, headers={"Accept": "text/html"})


@FUZZ
@given(path=st.text(max_size=80), accept=accept, fmt=st.one_of(st.none(), st.text(max_size=10)))
def test_linked_data_and_pages(client, path: str, accept: str, fmt: str | None) -> None:
    quoted = urllib.parse.quote(path, safe="/")
    get(client, f"/id/{quoted}", params={"format": fmt} if fmt is not None else None, headers={"Accept": accept})
    get(client, "/search", params={"q": path}, headers={"Accept": accept})
    get(client, f"/programs/{urllib.parse.quote(path, safe='')}", headers={"Accept": accept})


@settings(max_examples=max(10, EXAMPLES // 4), deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(fy=st.one_of(st.integers(-10**6, 10**6).map(str), header_text), category=header_text)
def test_sankey_parameters(client, fy: str, category: str) -> None:
    get(client, "/sankey.svg", params={"fy": fy, "category": category})


# ---------------------------------------------------------------- issue 13: charsets, huge values, deep nesting

CODECS = ["utf-8", "UTF8", "latin-1", "ascii", "utf-16", "utf-32", "utf-7", "hex", "base64", "rot13", "zlib", "uu",
          "bz2", "quopri", "idna", "punycode", "cp932", "shift_jis", "euc-jp", "iso-2022-jp", "mbcs", "undefined",
          "unicode_escape", "raw_unicode_escape", "charmap", "", "\"utf-8\"", "'utf-8'", "utf-8;x=1"]
charset = st.one_of(st.sampled_from(CODECS), header_text.map(lambda t: t[:30]))


@FUZZ
@given(name=charset, ctype=st.sampled_from(["application/sparql-query", "application/x-www-form-urlencoded"]),
       body=st.one_of(st.binary(max_size=200), st.sampled_from([b"ASK {}", b"query=ASK+%7B%7D",
                                                                 "ASK { FILTER(\"予算\" != \"\") }".encode("utf-16")])))
def test_sparql_charsets(client, name: str, ctype: str, body: bytes) -> None:
    started = time.monotonic()
    resp = client.post("/sparql", content=body, headers={"Content-Type": f"{ctype}; charset={name}"})
    check(resp, started)
    assert resp.status_code != 500


def _nest(depth: int, kind: str) -> str:
    if kind == "triple":
        term = "<http://e/a>"
        for _ in range(depth):
            term = f"<<{term} <http://e/p> <http://e/o>>>"
        return f"SELECT * WHERE {{ {term} ?p ?o }}"
    if kind == "paren":
        return "SELECT (" + "(" * depth + "1" + ")" * depth + " AS ?x) {}"
    if kind == "group":
        return "SELECT * WHERE " + "{ " * depth + "}" * depth
    return "SELECT * WHERE { ?s ?p ?o FILTER(" + "!" * depth + "BOUND(?o)) }"


@FUZZ
@given(depth=st.integers(0, 3000), kind=st.sampled_from(["triple", "paren", "group", "not"]), accept=accept)
def test_deep_nesting(client, depth: int, kind: str, accept: str) -> None:
    started = time.monotonic()
    resp = client.post("/sparql", content=_nest(depth, kind).encode(),
                       headers={"Accept": accept, "Content-Type": "application/sparql-query"})
    check(resp, started)
    if depth > 64 and kind != "not" and resp.status_code != 406:
        assert resp.status_code == 400 and "deep" in resp.text


@settings(max_examples=max(4, EXAMPLES // 10), deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(doublings=st.integers(0, 22), rows=st.integers(1, 3),
       media=st.sampled_from(["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                              "text/tab-separated-values", "text/turtle", "application/n-triples"]),
       construct=st.booleans())
def test_huge_single_values(client, doublings: int, rows: int, media: str, construct: bool) -> None:
    """One value of up to 64 MiB (2^22 copies of 16 characters), in one to three rows, in every format."""
    binds = " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(doublings))
    values = " ".join(str(i) for i in range(rows))
    where = f'{{ VALUES ?i {{ {values} }} BIND("0123456789abcdef" AS ?x0) {binds} }}'
    query = (f"CONSTRUCT {{ <http://e/s> <http://e/p> ?x{doublings} }} WHERE {where}" if construct
             else f"SELECT ?i ?x{doublings} WHERE {where}")
    started = time.monotonic()
    resp = client.get("/sparql", params={"query": query}, headers={"Accept": media})
    check(resp, started)
    assert resp.status_code in (200, 406, 422, 503), resp.status_code
    if resp.status_code == 200:
        assert len(resp.content) >= 16 * 2 ** doublings or resp.headers.get("x-result-truncated") == "true"
