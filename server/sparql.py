"""The SPARQL 1.1 Protocol (query operation only), the service description and VoID.

``/sparql`` takes a query three ways: ``GET ?query=``, ``POST`` form-encoded
(``application/x-www-form-urlencoded`` with ``query=``) and ``POST application/sparql-query``, each
with optional ``default-graph-uri`` / ``named-graph-uri``. The answer is negotiated from
:data:`~server.negotiation.RESULT_TYPES` (SELECT, ASK) or :data:`~server.negotiation.GRAPH_TYPES`
(CONSTRUCT, DESCRIBE). The endpoint is read-only by default: updates are refused with 403, and so
are ``SERVICE`` clauses and ``LOAD``, because the server makes no outbound requests. Results past
``max_rows`` are dropped and the response carries ``X-Result-Truncated: true``.

A server started with ``--allow-update`` and a token also takes the update operation (``POST``
``application/sparql-update``, or form-encoded ``update=``) from clients that send
``Authorization: Bearer <token>`` (401 without, 403 with a wrong one); see :mod:`server.admin`.

``GET /sparql`` without a query answers the SPARQL Service Description; ``/void`` a VoID
description of the dataset (triples, classes, entities per class).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import parse_qs

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from kg.load import ID, PREFIXES
from kg.store import Store, Table
from server import admin
from server.engine import compact_name, serialize_graph
from server.errors import ApiError, NotAcceptable
from server.lexer import Scan, SparqlTextError
from server.negotiation import GRAPH_TYPES, RESULT_TYPES, content_type, negotiate
from server.security import client_key
from server.state import get_state

__all__ = ["CHARSETS", "FORM", "QUERY_TYPE", "UPDATE_TYPE", "client_of", "read_body", "router"]

FORM = "application/x-www-form-urlencoded"
QUERY_TYPE = "application/sparql-query"
UPDATE_TYPE = "application/sparql-update"

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DCTERMS = "http://purl.org/dc/terms/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"

router = APIRouter(tags=["SPARQL"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "Query results (SELECT, ASK) or a graph (CONSTRUCT, DESCRIBE), as negotiated; "
                       "without a query, the service description.",
        "content": {t: {} for t in [*RESULT_TYPES, *GRAPH_TYPES]},
    },
    400: {"description": "Malformed query, with the parser's message"},
    401: {"description": "An update without a bearer token (servers started with --allow-update)"},
    403: {"description": "Updates on a read-only server or with a wrong token; SERVICE and LOAD are always refused"},
    406: {"description": "No supported type is acceptable"},
    413: {"description": "Body over the server's limit"},
    415: {"description": "POST with another Content-Type than form-encoded or application/sparql-query, "
                         "or a charset other than those of CHARSETS"},
    422: {"description": "The answer cannot be written within the limits in the format asked for"},
    429: {"description": "This client holds its share of the query workers already (Retry-After)"},
    503: {"description": "The query did not finish in time"},
}

_READ_ONLY = ("this endpoint is read-only: SPARQL updates (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, COPY, "
              "MOVE, ADD) are not accepted; load data with `kg load` into a store of your own")


_SERVICE_REFUSED = ("SERVICE (federated query) is refused: this server makes no outbound requests; "
                    "run the federated query from a SPARQL engine of your own against this endpoint")
_LOAD_REFUSED = ("LOAD is refused: this server makes no outbound requests; add the data to the Turtle files "
                 "and reload, or INSERT DATA")


def _refuse_update() -> ApiError:
    return ApiError(403, _READ_ONLY)


def _may_update(request: Request) -> None:
    """403 on a read-only server; else the bearer token must be the server's (401/403)."""
    state = get_state(request)
    if not state.allow_update:
        raise _refuse_update()
    admin.check_token(request, state, what="SPARQL update")


def client_of(request: Request) -> str:
    """Who sent *request*, for the share of workers (:func:`server.security.client_key`)."""
    return client_key(request.headers.get("authorization"), request.client.host if request.client else None)


async def _scan(request: Request, text: str) -> Scan:
    """:func:`server.lexer.scan` in a thread, a large text in the lexer's child process
    (:class:`server.lexer.Reader`: linear, but 0.2 s on 1 MB, holding no lock of this process); 400 when unreadable."""
    reader = get_state(request).runner.reader
    try:
        return await run_in_threadpool(reader.scan, text)
    except SparqlTextError as exc:
        raise ApiError(400, f"the SPARQL text cannot be read: {exc}") from None


async def answer_update(request: Request, text: str, *, using: Sequence[str] = ()) -> Response:
    """Run one authorised update (the caller ran :func:`_may_update`) in a worker; JSON with the new size."""
    state = get_state(request)
    if using:
        raise ApiError(400, f"{', '.join(using)} are not supported; name the graphs in the update with USING/WITH")
    if not text.strip():
        raise ApiError(400, "the update is empty; send INSERT DATA, DELETE DATA, DELETE/INSERT … WHERE, CLEAR …")
    read = await _scan(request, text)
    if read.load:
        raise ApiError(403, _LOAD_REFUSED)
    if read.service:
        raise ApiError(403, _SERVICE_REFUSED)
    if read.form not in ("UPDATE", None):
        raise ApiError(400, "this is a query, not an update; send it as query=… (or application/sparql-update)")
    outcome = await admin.apply_update(state, text, client=client_of(request))
    return JSONResponse(outcome)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) one over *limit* bytes before reading it all.

    Raises
    ------
    ApiError
        413 when ``Content-Length`` or the bytes received exceed *limit*; 400 for a malformed
        ``Content-Length``.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"malformed Content-Length header: {declared!r}")
        if int(declared) > limit:
            raise ApiError(413, f"the request body has {int(declared)} bytes, over the limit of {limit} bytes; "
                                "send a shorter query")
    size = 0
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the request body is over the limit of {limit} bytes; send a shorter query")
            chunks.append(chunk)
    except ClientDisconnect:  # closed by the client, or by the server's body timeout (kg serve --body-timeout)
        raise ApiError(408, "the request body did not arrive in time; send it at once") from None
    return b"".join(chunks)


def _media_and_charset(header: str | None) -> tuple[str, str]:
    if not header:
        return "", "utf-8"
    parts = [p.strip() for p in header.split(";")]
    charset = "utf-8"
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset":
            charset = v.strip().strip('"') or "utf-8"
    return parts[0].lower(), charset


CHARSETS = ("utf-8", "us-ascii", "iso-8859-1", "utf-16", "shift_jis", "euc-jp", "iso-2022-jp")
"""Charsets a request body may declare (UTF-8 by default); any other is 415."""
_CODECS = {codecs.lookup(c).name: c for c in CHARSETS}


def _decode(body: bytes, charset: str) -> str:
    try:
        known = codecs.lookup(charset).name in _CODECS
    except (LookupError, ValueError):
        known = False
    if not known:
        raise ApiError(415, f"unsupported charset {charset[:40]!r}; send the body in one of {', '.join(CHARSETS)} "
                            "(UTF-8 is the default)")
    try:
        text = body.decode(charset)
        text.encode("utf-8")  # some codecs (UTF-7) decode to lone surrogates, which no query may hold
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not valid {charset[:40]}: {exc.reason} at byte {exc.start}") from None
    except UnicodeEncodeError as exc:
        raise ApiError(400, f"the request body decodes to a lone surrogate at character {exc.start}; "
                            "send UTF-8") from None
    return text


def _check_graphs(name: str, iris: Sequence[str]) -> list[str]:
    for iri in iris:
        try:
            ox.NamedNode(iri)
        except ValueError as exc:
            raise ApiError(400, f"{name}: {iri!r} is not an absolute IRI ({exc})") from None
        if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", iri):
            raise ApiError(400, f"{name}: {iri!r} is not an absolute IRI")
    return list(iris)


def _acceptable(accept: str | None, offered: Sequence[str]) -> str | None:
    try:
        return negotiate(accept, list(offered))
    except NotAcceptable:
        return None


async def answer_query(request: Request, sparql: str, *, default_graphs: Sequence[str] = (),
                       named_graphs: Sequence[str] = ()) -> Response:
    """Check, run and serialize one query as the protocol says; the core of both ``/sparql`` methods.

    The text is read (keywords, nesting) in a thread; the query runs in a worker process, which
    also writes the answer in the negotiated format; the answer is streamed from the worker to the
    client chunk by chunk.
    """
    state = get_state(request)
    if not sparql.strip():
        raise ApiError(400, "the query is empty; send a SELECT, ASK, CONSTRUCT or DESCRIBE query")
    read = await _scan(request, sparql)
    if read.form == "UPDATE":
        if state.allow_update:
            raise ApiError(400, "this is an update, sent as a query; POST it as update=… or "
                                "application/sparql-update, with the bearer token")
        raise _refuse_update()
    if read.service:
        raise ApiError(403, _SERVICE_REFUSED)
    dg = _check_graphs("default-graph-uri", default_graphs)
    ng = _check_graphs("named-graph-uri", named_graphs)
    accept = request.headers.get("accept")
    # Negotiate before running, by the form the text shows, so a 406 costs no query time.
    graph_form = read.form in ("CONSTRUCT", "DESCRIBE")
    negotiate(accept, list(GRAPH_TYPES if graph_form else RESULT_TYPES))
    results = _acceptable(accept, list(RESULT_TYPES)) or next(iter(RESULT_TYPES))
    graph = _acceptable(accept, list(GRAPH_TYPES)) or next(iter(GRAPH_TYPES))
    answer = await state.runner.respond(sparql, results=results, graph=graph, default_graphs=dg, named_graphs=ng,
                                        client=client_of(request))
    if (answer.kind == "graph") != graph_form:
        negotiate(accept, [answer.media])  # the text's form misled: 406 unless its type is acceptable too
    headers = {"Vary": "Accept"}
    if answer.truncated:
        headers["X-Result-Truncated"] = "true"
    media = content_type(answer.media)
    if isinstance(answer.chunks, list):
        return Response(content=b"".join(answer.chunks), media_type=media, headers=headers)
    # read in starlette's thread pool chunk by chunk; a client that goes away closes it (the worker is killed)
    return StreamingResponse(answer.chunks, media_type=media, headers=headers)


@router.get(
    "/sparql",
    name="sparql_get",
    summary="SPARQL query (GET), or the service description without a query",
    responses=_RESPONSES,
)
async def sparql_get(
    request: Request,
    query: Annotated[str | None, Query(description="A SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE)")] = None,
    default_graph_uri: Annotated[list[str] | None, Query(alias="default-graph-uri",
                                                         description="Default graph(s) of the dataset")] = None,
    named_graph_uri: Annotated[list[str] | None, Query(alias="named-graph-uri",
                                                       description="Named graph(s) of the dataset")] = None,
) -> Response:
    """Run ``query``; without it, answer the SPARQL Service Description (Turtle by default)."""
    params = request.query_params
    if "update" in params:
        if get_state(request).allow_update:
            raise ApiError(405, "send updates with POST (application/sparql-update, or form-encoded update=…)",
                           headers={"Allow": "POST"})
        raise _refuse_update()
    queries = params.getlist("query")
    if len(queries) > 1:
        raise ApiError(400, f"{len(queries)} query parameters given; send exactly one")
    if query is None:
        return await _service_description(request)
    return await answer_query(request, query, default_graphs=default_graph_uri or [],
                              named_graphs=named_graph_uri or [])


@router.post(
    "/sparql",
    name="sparql_post",
    summary="SPARQL query (POST form-encoded or application/sparql-query)",
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM: {"schema": {"type": "object", "properties": {
                    "query": {"type": "string"},
                    "default-graph-uri": {"type": "array", "items": {"type": "string"}},
                    "named-graph-uri": {"type": "array", "items": {"type": "string"}},
                }, "required": ["query"]}},
                QUERY_TYPE: {"schema": {"type": "string"}},
            },
        },
        "parameters": [
            {"name": "default-graph-uri", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
            {"name": "named-graph-uri", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
        ],
    },
)
async def sparql_post(request: Request) -> Response:
    """Run a query sent in the body; updates are refused (403) unless enabled, and need the token."""
    state = get_state(request)
    media, charset = _media_and_charset(request.headers.get("content-type"))
    if media == UPDATE_TYPE:
        _may_update(request)
        text = await run_in_threadpool(_decode, await read_body(request, state.max_body), charset)
        params = request.query_params
        return await answer_update(request, text, using=[k for k in ("using-graph-uri", "using-named-graph-uri")
                                                         if k in params])
    if media not in (FORM, QUERY_TYPE):
        shown = media or "none"
        raise ApiError(415, f"Content-Type {shown!r} is not accepted; POST a query as {FORM} (query=…) "
                            f"or as {QUERY_TYPE}")
    body = await read_body(request, state.max_body)
    text = await run_in_threadpool(_decode, body, charset)  # decoding and parsing 1 MB: off the event loop
    del body
    if media == QUERY_TYPE:
        params = request.query_params
        return await answer_query(request, text, default_graphs=params.getlist("default-graph-uri"),
                                  named_graphs=params.getlist("named-graph-uri"))
    form = await run_in_threadpool(lambda: parse_qs(text, keep_blank_values=True))
    if "update" in form:
        _may_update(request)
        updates = form["update"]
        if len(updates) != 1 or "query" in form:
            raise ApiError(400, "send exactly one update=… field and no query=… field")
        return await answer_update(request, updates[0], using=[k for k in ("using-graph-uri", "using-named-graph-uri")
                                                               if k in form])
    queries = form.get("query", [])
    if len(queries) != 1:
        raise ApiError(400, f"the form has {len(queries)} query fields; send exactly one (query=…)")
    return await answer_query(request, queries[0], default_graphs=form.get("default-graph-uri", []),
                              named_graphs=form.get("named-graph-uri", []))


# ---------------------------------------------------------------- descriptions

def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _t(s: str, p: str, o: ox.NamedNode | ox.Literal | ox.BlankNode) -> ox.Triple:
    return ox.Triple(_n(s), _n(p), o)


def _int(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=_n("http://www.w3.org/2001/XMLSchema#integer"))


def _graph_response(request: Request, triples: list[ox.Triple]) -> Response:
    media = negotiate(request.headers.get("accept"), list(GRAPH_TYPES))
    return Response(serialize_graph(triples, media), media_type=content_type(media), headers={"Vary": "Accept"})


def _base(request: Request) -> str:
    """The server's public URL (``kg serve --public-url``), never the request's ``Host`` header."""
    return get_state(request).public_url.rstrip("/")


async def _service_description(request: Request) -> Response:
    state = get_state(request)
    negotiate(request.headers.get("accept"), list(GRAPH_TYPES))
    triples_count = await run_in_threadpool(state.store.count)
    endpoint = f"{_base(request)}/sparql"
    dataset = f"{_base(request)}/void#dataset"
    graph = f"{_base(request)}/void#default-graph"
    out = [
        _t(endpoint, RDF_TYPE, _n(SD + "Service")),
        _t(endpoint, SD + "endpoint", _n(endpoint)),
        _t(endpoint, SD + "supportedLanguage", _n(SD + "SPARQL11Query")),
        _t(endpoint, RDFS + "label", ox.Literal("jp-funding-kg の SPARQL エンドポイント（読み取り専用）", language="ja")),
        _t(endpoint, RDFS + "label", ox.Literal("jp-funding-kg SPARQL endpoint (read-only)", language="en")),
        _t(endpoint, SD + "defaultDataset", _n(dataset)),
        _t(dataset, RDF_TYPE, _n(SD + "Dataset")),
        _t(dataset, SD + "defaultGraph", _n(graph)),
        _t(graph, RDF_TYPE, _n(SD + "Graph")),
        _t(graph, VOID + "triples", _int(triples_count)),
    ]
    iris = [f.iri for f in RESULT_TYPES.values()] + [f.iri for f in GRAPH_TYPES.values()]
    out += [_t(endpoint, SD + "resultFormat", _n(iri)) for iri in iris]
    return _graph_response(request, out)


_VOID_COUNTS = """
SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT ?s) AS ?subjects) (COUNT(DISTINCT ?p) AS ?properties)
       (COUNT(DISTINCT ?o) AS ?objects) WHERE { ?s ?p ?o }
"""
_VOID_CLASSES = """
SELECT ?class (COUNT(DISTINCT ?s) AS ?entities) WHERE { ?s a ?class } GROUP BY ?class ORDER BY ?class
"""


def _void_triples(store: Store, base: str) -> list[ox.Triple]:
    counts = store.query(_VOID_COUNTS)
    classes = store.query(_VOID_CLASSES)
    assert isinstance(counts, Table) and isinstance(classes, Table)
    row = dict(zip(counts.variables, counts.rows[0]))
    ds = f"{base}/void#dataset"
    out = [
        _t(ds, RDF_TYPE, _n(VOID + "Dataset")),
        _t(ds, DCTERMS + "title", ox.Literal("日本の政府予算事業と資金の流れのナレッジグラフ", language="ja")),
        _t(ds, DCTERMS + "title", ox.Literal("jp-funding-kg: Japanese government budget programs and their "
                                             "funding flows", language="en")),
        _t(ds, VOID + "sparqlEndpoint", _n(f"{base}/sparql")),
        _t(ds, VOID + "uriSpace", ox.Literal(ID)),
        _t(ds, VOID + "vocabulary", _n(PREFIXES["jf"])),
        _t(ds, VOID + "rootResource", _n(f"{ID}source/meti-budget-pr-r6s-r7")),
        _t(ds, VOID + "triples", _int(int(str(row["triples"])))),
        _t(ds, VOID + "distinctSubjects", _int(int(str(row["subjects"])))),
        _t(ds, VOID + "distinctObjects", _int(int(str(row["objects"])))),
        _t(ds, VOID + "properties", _int(int(str(row["properties"])))),
        _t(ds, VOID + "classes", _int(len(classes.rows))),
    ]
    for cls, entities in classes.rows:
        name = re.sub(r"[^A-Za-z0-9]+", "-", compact_name(str(cls))).strip("-")
        part = f"{base}/void#class-{name}"
        out += [
            _t(ds, VOID + "classPartition", _n(part)),
            _t(part, VOID + "class", _n(str(cls))),
            _t(part, VOID + "entities", _int(int(str(entities)))),
        ]
    return out


@router.get(
    "/void",
    name="void",
    summary="VoID description of the dataset",
    responses={200: {"content": {t: {} for t in GRAPH_TYPES}}, 406: {"description": "No supported type"}},
)
def void(request: Request) -> Response:
    """Triples, distinct subjects and properties, and entities per class, as VoID (Turtle by default)."""
    state = get_state(request)
    negotiate(request.headers.get("accept"), list(GRAPH_TYPES))
    return _graph_response(request, _void_triples(state.store, _base(request)))
