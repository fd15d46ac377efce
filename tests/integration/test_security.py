"""Security promises of the server, in process (FastAPI TestClient, real worker processes).

* Headers: CSP, nosniff, Referrer-Policy, frame denial on every page; the Sankey's CSP names its
  inline scripts by hash; CORS only on the data routes.
* SSRF: SERVICE (in many spellings), LOAD and every other way a query could name a URL make no
  connection to a local listener socket; the query workers have no network at all.
* Updates (opt-in): 401 without a bearer token, 403 with a wrong one, nothing changed; an update is
  atomic; LOAD and SERVICE stay refused.
* Reload: ``POST /admin/reload`` swaps in the new files; a Turtle syntax error or a SHACL violation
  is rejected with ``file:line`` and the old graph keeps serving.

Every error response is checked with :func:`assert_error` of ``test_server.py``, the one helper
for the error shape.
"""

from __future__ import annotations

import importlib.util
import re
import select
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from kg.load import project_root
from kg.store import EmbeddedStore
from server.app import create_app
from server.engine import classify, keywords, uses_load, uses_service

_spec = importlib.util.spec_from_file_location("_test_server_helpers", Path(__file__).with_name("test_server.py"))
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
assert_error = _helpers.assert_error

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
GRAPH_DATA = project_root() / "graph_data"
SMALL = ["organisations.ttl", "source.ttl", "programs/14-sme-productivity-revolution-r6s.ttl"]
EX = "http://example.org/"


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def store() -> EmbeddedStore:
    return EmbeddedStore.from_paths()


@pytest.fixture(scope="module")
def client(store: EmbeddedStore) -> Iterator[TestClient]:
    """The default, read-only app: no token, no updates."""
    with TestClient(create_app(store, workers=2)) as c:
        yield c


class Listener:
    """A TCP socket on 127.0.0.1 that records whether anything tried to connect to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/"

    def connections(self, wait: float = 0.05) -> int:
        """Connections made so far (accepted and closed here), after waiting *wait* seconds for late ones."""
        n = 0
        deadline = time.monotonic() + wait
        while True:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return n
            conn, _ = self.sock.accept()
            conn.close()
            n += 1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


# ---------------------------------------------------------------- headers

HEADER_CASES = [
    # (id, path, Accept, kind of CSP)
    ("home", "/", HTML_ACCEPT, "page"),
    ("program", "/programs/sme-productivity-revolution-r6s", HTML_ACCEPT, "page"),
    ("query-page", "/query?name=programs", HTML_ACCEPT, "page"),
    ("query-error-page", "/query?sparql=SELECT", HTML_ACCEPT, "page"),
    ("docs", "/docs", HTML_ACCEPT, "page"),
    ("linked-data-html", "/id/org/jetro", HTML_ACCEPT, "page"),
    ("ontology-html", "/ont", HTML_ACCEPT, "page"),
    ("not-found-page", "/no/such/page", HTML_ACCEPT, "page"),  # a browser gets the HTML error page
    ("not-found", "/no/such/page", "application/json", "data"),
    ("sparql-json", "/sparql?query=ASK%7B%7D", None, "data"),
    ("api", "/api/programs", None, "data"),
    ("diagram", "/programs/sme-productivity-revolution-r6s/diagram.svg", None, "svg"),
    ("stylesheet", "/static/style.css", None, "data"),
]
CSP = {
    "page": "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'",
    "svg": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'none'",
    "data": "default-src 'none'; frame-ancestors 'none'",
}


@pytest.mark.parametrize(("path", "accept", "kind"), [c[1:] for c in HEADER_CASES], ids=[c[0] for c in HEADER_CASES])
def test_security_headers(client, path: str, accept: str | None, kind: str) -> None:
    resp = client.get(path, headers={"Accept": accept} if accept else {})
    assert resp.headers["content-security-policy"] == CSP[kind]
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["x-frame-options"] == "DENY"
    assert "server" not in resp.headers
    if kind == "page":
        assert "<script" not in resp.text


def test_sankey_csp_allows_only_its_own_scripts(client) -> None:
    resp = client.get("/sankey")
    assert resp.status_code == 200
    policy = resp.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1).split()
    assert script_src == ["'self'"]  # plotly.js and sankey.js from this server; no inline script runs
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    executable = re.findall(r"<script(?![^>]*type=\"application/json\")[^>]*>([\s\S]*?)</script>", resp.text)
    assert executable and all(s.strip() == "" for s in executable)  # only <script src=…></script>
    sources = re.findall(r"<script[^>]*\ssrc=\"([^\"]+)\"", resp.text)
    assert sources and all(s.startswith(("/", "http://testserver/")) for s in sources)
    assert not re.search(r"(src|href)=\"https?://(?!testserver)", resp.text)  # nothing from a CDN


CORS_CASES = [
    # (id, method, path, requested method, allowed)
    ("sparql-get", "GET", "/sparql", None, True),
    ("sparql-preflight-post", "OPTIONS", "/sparql", "POST", True),
    ("api-get", "GET", "/api/programs", None, True),
    ("void-get", "GET", "/void", None, True),
    ("linked-data-get", "GET", "/id/org/jetro", None, True),
    ("api-preflight-delete", "OPTIONS", "/api/programs", "DELETE", False),
    ("sparql-preflight-put", "OPTIONS", "/sparql", "PUT", False),
    ("home-page", "GET", "/", None, False),
    ("query-page", "GET", "/query", None, False),
    ("admin-preflight", "OPTIONS", "/admin/reload", "POST", False),
]


@pytest.mark.parametrize(("method", "path", "requested", "allowed"), [c[1:] for c in CORS_CASES],
                         ids=[c[0] for c in CORS_CASES])
def test_cors_only_on_the_data_routes(client, method: str, path: str, requested: str | None, allowed: bool) -> None:
    headers = {"Origin": "https://elsewhere.example", "Accept": HTML_ACCEPT if path in ("/", "/query") else "*/*"}
    if requested:
        headers["Access-Control-Request-Method"] = requested
    resp = client.request(method, path, headers=headers)
    origin = resp.headers.get("access-control-allow-origin")
    if method == "OPTIONS" and requested and allowed:
        assert resp.status_code == 200 and origin == "*"
        assert set(resp.headers["access-control-allow-methods"].replace(" ", "").split(",")) <= {"GET", "POST"}
    elif method == "OPTIONS":
        assert resp.status_code >= 400 or origin is None
    elif allowed:
        assert origin == "*" and "x-result-truncated" in resp.headers["access-control-expose-headers"].lower()
    else:
        assert origin is None
    assert "access-control-allow-credentials" not in resp.headers


def test_cors_never_lets_a_page_elsewhere_send_a_token(client) -> None:
    pre = client.options("/sparql", headers={"Origin": "https://elsewhere.example",
                                             "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 400 and "authorization" not in pre.headers.get("access-control-allow-headers", "").lower()


# ---------------------------------------------------------------- SSRF

def test_the_listener_sees_a_real_service_call(listener) -> None:
    """Control: pyoxigraph itself does call out for SERVICE, and the listener notices."""
    def accept_and_close() -> None:
        listener.sock.setblocking(True)
        listener.sock.settimeout(5)
        conn, _ = listener.sock.accept()
        conn.close()

    t = threading.Thread(target=accept_and_close)
    t.start()
    with pytest.raises(OSError):
        list(ox.Store().query(f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"))
    t.join(5)
    assert not t.is_alive()


SERVICE_SPELLINGS = [
    ("plain", "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"),
    ("lowercase-silent", "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}"),
    ("mixed-case", "SeLeCt * WhErE {{ SeRvIcE <{url}> {{ ?s ?p ?o }} }}"),
    ("no-spaces", "SELECT*WHERE{{?s ?p ?o.SERVICE<{url}>{{?s ?p ?o}}}}"),
    ("after-brace", "SELECT * WHERE {{ {{ ?s ?p ?o }}SERVICE <{url}> {{ ?s ?p ?o }} }}"),
    ("newlines-tabs", "SELECT *\nWHERE {{\n\tSERVICE\n\t<{url}>\n{{ ?s ?p ?o }} }}"),
    ("comment-between", "SELECT * WHERE {{ SERVICE # where?\n <{url}> {{ ?s ?p ?o }} }}"),
    ("escaped-u", "SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}"),
    ("escaped-U", "SELECT * WHERE {{ SERV\\U00000049CE <{url}> {{ ?s ?p ?o }} }}"),
    ("after-escaped-hash", "PREFIX ex: <http://e/> SELECT * WHERE {{ ?s ?p ex:o\\# SERVICE <{url}> {{ ?s ?p ?o }} }}"),
    ("prefixed-endpoint", "PREFIX ep: <{url}> SELECT * WHERE {{ SERVICE ep:sparql {{ ?s ?p ?o }} }}"),
    ("base-relative", "BASE <{url}> SELECT * WHERE {{ SERVICE <> {{ ?s ?p ?o }} }}"),
    ("variable-values", "SELECT * WHERE {{ VALUES ?e {{ <{url}> }} SERVICE ?e {{ ?s ?p ?o }} }}"),
    ("variable-bind", "SELECT * WHERE {{ BIND(<{url}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}"),
    ("subquery", "SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }} }}"),
    ("optional", "SELECT * WHERE {{ ?a ?b ?c OPTIONAL {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }} LIMIT 1"),
    ("union", "SELECT * WHERE {{ {{ ?a ?b ?c }} UNION {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }} LIMIT 1"),
    ("minus", "SELECT * WHERE {{ ?a ?b ?c MINUS {{ SERVICE <{url}> {{ ?a ?b ?c }} }} }} LIMIT 1"),
    ("filter-exists", "SELECT * WHERE {{ ?a ?b ?c FILTER EXISTS {{ SERVICE <{url}> {{ ?a ?b ?c }} }} }} LIMIT 1"),
    ("graph", "SELECT * WHERE {{ GRAPH ?g {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}"),
    ("ask", "ASK {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"),
    ("construct", "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"),
    ("describe", "DESCRIBE ?s WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"),
    ("localhost", "SELECT * WHERE {{ SERVICE <http://localhost:{port}/> {{ ?s ?p ?o }} }}"),
    ("decimal-ip", "SELECT * WHERE {{ SERVICE <http://2130706433:{port}/> {{ ?s ?p ?o }} }}"),
    ("short-ip", "SELECT * WHERE {{ SERVICE <http://127.1:{port}/> {{ ?s ?p ?o }} }}"),
]


@pytest.mark.parametrize("template", [s[1] for s in SERVICE_SPELLINGS], ids=[s[0] for s in SERVICE_SPELLINGS])
def test_service_is_refused_and_makes_no_connection(client, listener, template: str) -> None:
    query = template.format(url=listener.url, port=listener.port)
    assert uses_service(query)
    assert_error(client.get("/sparql", params={"query": query}), 403, "SERVICE", "no outbound requests")
    assert_error(client.post("/sparql", data={"query": query}), 403, "SERVICE")
    assert_error(client.post("/sparql", content=query.encode(), headers={"Content-Type": "application/sparql-query"}),
                 403, "SERVICE")
    page = client.get("/query", params={"sparql": query}, headers={"Accept": HTML_ACCEPT})
    assert page.status_code == 403 and "SERVICE" in page.text
    assert listener.connections() == 0


def test_other_ways_to_name_a_url_make_no_connection(client, listener) -> None:
    url = listener.url
    asks = [
        ("GET", {"query": f"SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }}"}),
        ("GET", {"query": f"SELECT * FROM NAMED <{url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"}),
        ("GET", {"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1", "default-graph-uri": url, "named-graph-uri": url}),
        ("GET", {"query": f"DESCRIBE <{url}>"}),
        ("GET", {"query": f"SELECT * WHERE {{ <{url}> ?p ?o }}"}),
        ("GET", {"query": f'SELECT (IRI("{url}") AS ?i) (<{url}x>(1) AS ?f) WHERE {{}}'}),
    ]
    for method, params in asks:
        resp = client.request(method, "/sparql", params=params)
        assert resp.status_code in (200, 400), (params, resp.text)
    assert client.get("/query", params={"name": "caps", "program": url}).status_code in (200, 400, 404)
    assert client.get(f"/id/{url}").status_code in (200, 400, 404)
    assert client.get("/api/flows", params={"program": url}).status_code in (200, 400, 404)
    assert listener.connections() == 0


def test_query_workers_have_no_network(client, listener) -> None:
    """Second layer: a SERVICE that got past the refusal still cannot connect from a worker."""
    pool = client.app.state.kg.runner.pool
    assert pool is not None
    pool.run({"sparql": "ASK {}", "rows": 1}, time.monotonic() + 30)  # started
    if pool.network:
        pytest.skip("this kernel does not allow unprivileged network namespaces; only the refusal applies")
    started = time.monotonic()
    header, _ = pool.run({"sparql": f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}", "rows": 10},
                         time.monotonic() + 10)
    assert header["error"] == "evaluation" and time.monotonic() - started < 5
    assert listener.connections() == 0


KEYWORD_CASES = [
    # (id, text, uses SERVICE, uses LOAD, form)
    ("prefix-named-load", "PREFIX load: <http://e/> SELECT * WHERE { ?s load:p ?o }", False, False, "SELECT"),
    ("variable-service", "SELECT ?service WHERE { ?service ?p ?o }", False, False, "SELECT"),
    ("string", 'SELECT * WHERE { ?s ?p "SERVICE <http://e/> {}" }', False, False, "SELECT"),
    ("long-string", "SELECT * WHERE { ?s ?p '''\nSERVICE <x> {}\n''' }", False, False, "SELECT"),
    ("comment", "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://e/> {}", False, False, "SELECT"),
    ("iri", "SELECT * WHERE { ?s <http://e/SERVICE> ?o }", False, False, "SELECT"),
    ("local-name", "PREFIX ex: <http://e/> SELECT * WHERE { ?s ex:public.service ?o }", False, False, "SELECT"),
    ("lang-tag", 'SELECT * WHERE { ?s ?p "x"@en-service }', False, False, "SELECT"),
    ("service-keyword", "SELECT * WHERE { SERVICE <http://e/> { } }", True, False, "SELECT"),
    ("load", "LOAD <http://e/x.ttl>", False, True, "UPDATE"),
    ("load-escaped", r"\u004cOAD <http://e/x.ttl>", False, True, None),
    ("load-after-insert", "INSERT DATA { <a:b> <a:c> 1 } ; load silent <http://e/>", False, True, "UPDATE"),
    ("load-into-graph", "LOAD <http://e/x.ttl> INTO GRAPH <http://e/g>", False, True, "UPDATE"),
]


@pytest.mark.parametrize(("text", "service", "load", "form"), [c[1:] for c in KEYWORD_CASES],
                         ids=[c[0] for c in KEYWORD_CASES])
def test_keyword_lexer(text: str, service: bool, load: bool, form: str | None) -> None:
    assert uses_service(text) is service, keywords(text)
    assert uses_load(text) is load, keywords(text)
    assert classify(text) == form


def test_lexer_is_linear_on_hostile_input() -> None:
    started = time.monotonic()
    for text in ["a." * 200_000, "ex:" + "a." * 200_000, "'" * 100_000, '"' * 100_000, "<" * 100_000, "\\" * 100_000,
                 "?" * 100_000, "#" * 100_000, "%" * 100_000, "@a-" * 100_000]:
        keywords(text)
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- updates (opt-in)

@pytest.fixture(scope="module")
def writable() -> Iterator[TestClient]:
    """An app on its own store taking updates with the token."""
    store = EmbeddedStore.from_paths([GRAPH_DATA / f for f in SMALL])
    with TestClient(create_app(store, workers=2, admin_token=TOKEN, allow_update=True)) as c:
        yield c


def _count(client: TestClient, pattern: str = "?s ?p ?o") -> int:
    resp = client.get("/sparql", params={"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}"})
    assert resp.status_code == 200, resp.text
    return int(resp.json()["results"]["bindings"][0]["n"]["value"])


INSERT = f"INSERT DATA {{ <{EX}s> <{EX}p> \"updated\" }}"

AUTH_CASES = [
    # (id, headers, status, needle)
    ("no-header", {}, 401, "bearer token"),
    ("basic-scheme", {"Authorization": "Basic dXNlcjpwYXNz"}, 401, "bearer token"),
    ("empty-bearer", {"Authorization": "Bearer "}, 401, "bearer token"),
    ("wrong-token", {"Authorization": "Bearer not-the-token-at-all-000"}, 403, "not this server's"),
    ("token-prefix", {"Authorization": f"Bearer {TOKEN[:-1]}"}, 403, "not this server's"),
]


@pytest.mark.parametrize(("headers", "status", "needle"), [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES])
def test_updates_need_the_token_and_change_nothing_without_it(writable, headers, status: int, needle: str) -> None:
    before = _count(writable)
    direct = writable.post("/sparql", content=INSERT.encode(),
                           headers={**headers, "Content-Type": "application/sparql-update"})
    err = assert_error(direct, status, needle)
    if status == 401:
        assert direct.headers["www-authenticate"].startswith("Bearer")
    assert_error(writable.post("/sparql", data={"update": INSERT}, headers=headers), status, needle)
    assert_error(writable.post("/admin/reload", headers=headers), status, needle)
    assert _count(writable) == before
    assert TOKEN not in err["detail"]


def test_update_is_applied_and_seen_by_queries_and_pages(writable) -> None:
    before = _count(writable)
    resp = writable.post("/sparql", content=INSERT.encode(), headers={**AUTH, "Content-Type": "application/sparql-update"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["updated"] is True and resp.json()["triples"] == before + 1
    assert _count(writable) == before + 1
    label = ('INSERT DATA { <https://w3id.org/jp-funding/id/program/sme-productivity-revolution-r6s> '
             '<http://www.w3.org/2000/01/rdf-schema#altLabel> "更新済み"@ja }')
    assert writable.post("/sparql", data={"update": label}, headers=AUTH).status_code == 200
    assert writable.get("/sparql", params={"query": 'ASK { ?s ?p "更新済み"@ja }'}).json()["boolean"] is True
    delete = f"DELETE DATA {{ <{EX}s> <{EX}p> \"updated\" }}"
    assert writable.post("/sparql", data={"update": delete}, headers=AUTH).status_code == 200
    assert _count(writable) == before + 1


def test_a_failing_update_changes_nothing(writable) -> None:
    before = _count(writable)
    for update in [
        f"INSERT DATA {{ <{EX}a> <{EX}p> 1 }} ; DROP GRAPH <{EX}no-such-graph>",
        f"INSERT DATA {{ <{EX}b> <{EX}p> 1 }} ; CREATE GRAPH <{EX}g> ; CREATE GRAPH <{EX}g>",
        f"DELETE WHERE {{ ?s ?p ?o }} ; DROP GRAPH <{EX}no-such-graph>",
    ]:
        assert_error(writable.post("/sparql", data={"update": update}, headers=AUTH), 400, "changed nothing")
        assert _count(writable) == before
    assert_error(writable.post("/sparql", data={"update": "INSERT DATA { <a:b> <a:c> "}, headers=AUTH), 400,
                 "syntax error")
    assert _count(writable) == before


def test_load_and_service_are_refused_in_updates_too(writable, listener) -> None:
    before = _count(writable)
    url = listener.url
    for update, needle in [
        (f"LOAD <{url}x.ttl>", "LOAD"),
        (f"load silent <{url}x.ttl> into graph <{EX}g>", "LOAD"),
        (f"\\u004cOAD <{url}x.ttl>", "LOAD"),
        (f"INSERT DATA {{ <{EX}c> <{EX}p> 1 }} ; LOAD <{url}>", "LOAD"),
        (f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}", "SERVICE"),
        (f"PREFIX ex: <http://e/> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ex:o\\# SERVICE <{url}> {{ ?s ?p ?o }} }}",
         "SERVICE"),
    ]:
        assert_error(writable.post("/sparql", data={"update": update}, headers=AUTH), 403, needle)
        assert_error(writable.post("/sparql", content=update.encode(),
                                   headers={**AUTH, "Content-Type": "application/sparql-update"}), 403, needle)
    assert listener.connections() == 0
    assert _count(writable) == before


def test_update_request_shape(writable, client) -> None:
    assert_error(writable.get("/sparql", params={"update": INSERT}, headers=AUTH), 405, "POST")
    assert_error(writable.get("/sparql", params={"query": INSERT}, headers=AUTH), 400, "update, sent as a query")
    assert_error(writable.post("/sparql", data={"update": "ASK {}"}, headers=AUTH), 400, "query, not an update")
    assert_error(writable.post("/sparql", data={"update": INSERT, "query": "ASK {}"}, headers=AUTH), 400, "exactly one")
    assert_error(writable.post("/sparql", data={"update": INSERT, "using-graph-uri": EX}, headers=AUTH), 400,
                 "not supported")
    big = "INSERT DATA { " + " ".join(f"<{EX}{i}> <{EX}p> {i} ." for i in range(40_000)) + " }"
    assert len(big) > 1_000_000
    assert_error(writable.post("/sparql", content=big.encode(),
                               headers={**AUTH, "Content-Type": "application/sparql-update"}), 413, "limit")
    # the read-only app refuses updates even with a token: it has none to compare with
    assert_error(client.post("/sparql", data={"update": INSERT}, headers=AUTH), 403, "read-only")
    assert_error(client.post("/admin/reload", headers=AUTH), 403, "disabled")


def test_tokens_and_options_are_checked(store) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        create_app(store, admin_token="short")
    with pytest.raises(ValueError, match="needs an admin_token"):
        create_app(store, allow_update=True)
    with pytest.raises(ValueError, match="watch needs reload_from"):
        create_app(store, watch=1.0)


# ---------------------------------------------------------------- reload

@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A small, valid copy of graph_data (three files) plus a marker file."""
    for name in SMALL:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GRAPH_DATA / name, tmp_path / name)
    (tmp_path / "marker.ttl").write_text(f'<{EX}marker> <{EX}version> "A" .\n', encoding="utf-8")
    return tmp_path


@pytest.fixture
def reloadable(data_dir: Path) -> Iterator[TestClient]:
    store = EmbeddedStore.from_paths([data_dir])
    with TestClient(create_app(store, workers=1, admin_token=TOKEN, reload_from=[data_dir])) as c:
        yield c


def _version(client: TestClient) -> list[str]:
    resp = client.get("/sparql", params={"query": f"SELECT ?v WHERE {{ <{EX}marker> <{EX}version> ?v }}"})
    return [b["v"]["value"] for b in resp.json()["results"]["bindings"]]


def test_reload_swaps_in_the_new_files(reloadable, data_dir: Path) -> None:
    assert _version(reloadable) == ["A"]
    (data_dir / "marker.ttl").write_text(f'<{EX}marker> <{EX}version> "B" .\n', encoding="utf-8")
    (data_dir / "extra.ttl").write_text(f'<{EX}extra> <{EX}p> "new file" .\n', encoding="utf-8")
    resp = reloadable.post("/admin/reload", headers=AUTH)
    assert resp.status_code == 200, resp.text
    assert resp.json()["reloaded"] is True and resp.json()["generation"] == 2
    assert _version(reloadable) == ["B"]
    assert reloadable.get("/sparql", params={"query": f"ASK {{ <{EX}extra> ?p ?o }}"}).json()["boolean"] is True
    status = reloadable.get("/admin/status", headers=AUTH).json()
    assert status["generation"] == 2 and status["last_reload"]["reloaded"] is True
    assert status["workers"]["network"] is False or status["workers"]["network"] is True


def test_reload_with_a_syntax_error_is_rejected_with_file_and_line(reloadable, data_dir: Path) -> None:
    bad = data_dir / "marker.ttl"
    bad.write_text(f'<{EX}marker> <{EX}version> "B" .\n\n<{EX}x> <{EX}p> .\n', encoding="utf-8")
    err = assert_error(reloadable.post("/admin/reload", headers=AUTH), 422, "old graph keeps serving",
                       "marker.ttl:3:", "syntax error")
    assert str(data_dir) not in err["detail"] or "marker.ttl:3" in err["detail"]
    assert _version(reloadable) == ["A"]
    status = reloadable.get("/admin/status", headers=AUTH).json()
    assert status["generation"] == 1 and status["last_reload"]["status"] == 422


def test_reload_with_a_shacl_violation_is_rejected_with_file_and_line(reloadable, data_dir: Path) -> None:
    (data_dir / "marker.ttl").write_text(f'<{EX}marker> <{EX}version> "B" .\n', encoding="utf-8")
    (data_dir / "broken.ttl").write_text(
        "@prefix jf: <https://w3id.org/jp-funding/ont#> .\n"
        "@prefix program: <https://w3id.org/jp-funding/id/program/> .\n"
        "\n"
        "program:broken-r9\n"
        "    a jf:Program .\n", encoding="utf-8")
    err = assert_error(reloadable.post("/admin/reload", headers=AUTH), 422, "old graph keeps serving",
                       "broken.ttl:4:", "SHACL violation", "program:broken-r9")
    assert "jf:ProgramShape" in err["detail"]
    assert _version(reloadable) == ["A"]
    page = reloadable.get("/api/programs/broken-r9")
    assert page.status_code == 404


def test_reload_of_a_graph_not_from_files_is_refused(store) -> None:
    with TestClient(create_app(store, workers=0, admin_token=TOKEN)) as c:
        assert_error(c.post("/admin/reload", headers=AUTH), 409, "not loaded from files")


# ---------------------------------------------------------------- issue 13: updates run in network-less workers

def _blind_lexer(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the app's SPARQL reading with one that sees no SERVICE, no LOAD and no nesting: the
    second layer alone must hold."""
    from server.lexer import Scan

    monkeypatch.setattr(client.app.state.kg.runner.reader, "scan", lambda text, **kw: Scan((), None, 0))


def test_an_update_past_the_lexer_still_makes_no_connection(writable, listener, monkeypatch) -> None:
    """Finding 1: an update's SERVICE or LOAD that the lexer misses cannot reach the network (it runs in a worker)."""
    pool = writable.app.state.kg.runner.updates()
    pool.run({"sparql": "ASK {}", "rows": 1}, time.monotonic() + 30)
    if pool.network:
        pytest.skip("this kernel does not allow unprivileged network namespaces; only the refusal applies")
    _blind_lexer(writable, monkeypatch)
    before = _count(writable)
    for update in [f"INSERT {{ <{EX}got> <{EX}p> ?o }} WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
                   f"LOAD <{listener.url}data.ttl>", f"LOAD SILENT <{listener.url}x> INTO GRAPH <{EX}g>"]:
        resp = writable.post("/sparql", data={"update": update}, headers=AUTH)
        assert resp.status_code in (200, 400), resp.text  # LOAD SILENT succeeds, having loaded nothing
    assert listener.connections() == 0
    assert _count(writable) == before
    assert _count(writable, f"<{EX}got> ?p ?o") == 0


def test_deep_nesting_is_refused_and_a_crashing_update_kills_only_its_worker(writable, monkeypatch) -> None:
    """Finding 6: nesting past the limit is 400 at once; past the lexer, the crash is a worker's, not the server's."""
    term = f"<{EX}a>"
    for _ in range(100):
        term = f"<< {term} <{EX}p> <{EX}o> >>"
    deep = f"INSERT DATA {{ {term} <{EX}p> 1 }}"
    assert_error(writable.post("/sparql", data={"update": deep}, headers=AUTH), 400, "101 deep", "at most 64")
    assert_error(writable.get("/sparql", params={"query": f"SELECT * WHERE {{ {term} ?p ?o }}"}), 400, "101 deep")
    before = _count(writable)
    _blind_lexer(writable, monkeypatch)
    for _ in range(19_900):  # pyoxigraph's parser overflows its stack near 20,000 levels (SIGSEGV)
        term = f"<<{term} <a:p> <a:o>>>"
    crash = writable.post("/sparql", content=f"INSERT DATA {{ {term} <{EX}p> 1 }}".encode(),
                          headers={**AUTH, "Content-Type": "application/sparql-update"})
    assert_error(crash, 400, "worker process", "nothing was changed")
    assert _count(writable) == before  # the server answers, from an unchanged graph
    assert writable.get("/sparql", params={"query": "ASK {}"}).json()["boolean"] is True


def test_a_refused_reload_leaves_no_store_behind(reloadable, data_dir: Path) -> None:
    """Finding 7 (reload): a rejected reload builds nothing in the server and leaves no store folder."""
    folders = reloadable.app.state.kg.runner.folders()
    before = sorted(p.name for p in folders.root.iterdir())
    (data_dir / "marker.ttl").write_text(f'<{EX}marker> <{EX}version> "B" ;\n', encoding="utf-8")
    assert_error(reloadable.post("/admin/reload", headers=AUTH), 422, "marker.ttl:")
    assert sorted(p.name for p in folders.root.iterdir()) == before
    assert _version(reloadable) == ["A"]
