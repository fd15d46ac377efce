"""The web pages: home, search, program, body, and the query page.

Japanese first, English beside it. Pages are Jinja templates (``server/templates``) with local CSS
(``server/static``); no script or font is loaded from elsewhere. Errors are the shared JSON shape,
except on ``/query``, where a query the user typed that fails (syntax, update, timeout) is shown
next to the form with the same status code: the person editing the query needs the message
beside the text, not a JSON document instead of the page.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL

from kg import queries
from kg.errors import QueryError
from kg.store import inject_values
from server import data
from server.engine import Outcome, classify, uses_service
from server.errors import ApiError
from server.linked_data import term_view
from server.negotiation import FORMAT_ALIASES, content_type
from server.state import get_state

__all__ = ["router"]

router = APIRouter(tags=["Web pages"], include_in_schema=False)


@router.get("/", name="home", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """Headline numbers, the FY2025 initial total, the sheets and the named bodies."""
    state = get_state(request)
    context = {
        "numbers": data.headline(state.store),
        "sheets": data.list_programs(state.store, sheets_only=True),
        "bodies": data.list_bodies(state.store),
    }
    return state.templates.TemplateResponse(request, "home.html", context)


@router.get("/search", name="search", response_class=HTMLResponse)
def search(request: Request, q: str = Query("", max_length=200)) -> Response:
    """Programs whose Japanese or English label contains ``q``."""
    state = get_state(request)
    results = data.search_programs(state.store, q) if q.strip() else []
    return state.templates.TemplateResponse(request, "search.html", {"q": q, "results": results})


@router.get("/programs/{slug}", name="program", response_class=HTMLResponse)
def program(request: Request, slug: str) -> Response:
    """One program: budgets, change, units, flows, rates, caps, targets, sub-measures, source."""
    state = get_state(request)
    detail = data.program_detail(state.store, slug)
    if detail is None:
        raise ApiError(404, f"no program program:{slug}; search at /search?q=… or see /api/programs")
    return state.templates.TemplateResponse(request, "program.html", {"p": detail})


@router.get("/bodies/{slug}", name="body", response_class=HTMLResponse)
def body(request: Request, slug: str) -> Response:
    """One body: what it channels (:func:`kg.views.channels`), its programs and flows."""
    state = get_state(request)
    detail = data.body_detail(state.store, slug)
    if detail is None:
        raise ApiError(404, f"no body orgs:{slug}; named bodies are listed on / and at /api/bodies")
    return state.templates.TemplateResponse(request, "body.html", {"b": detail})


# ---------------------------------------------------------------- query page

def _examples(q: queries.NamedQuery) -> dict[str, str]:
    return dict(re.findall(r"--param\s+(\w+)=(\S+)", q.example))


_EXTENSIONS = {
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/turtle": "ttl",
    "application/ld+json": "jsonld",
    "application/n-triples": "nt",
    "application/rdf+xml": "rdf",
}


def _downloads(url: URL, outcome: Outcome) -> list[tuple[str, str]]:
    if outcome.kind == "graph":
        choices = [("Turtle", "ttl"), ("JSON-LD", "jsonld"), ("N-Triples", "nt")]
    else:
        choices = [("CSV", "csv"), ("JSON", "json"), ("TSV", "tsv")]
    return [(label, str(url.include_query_params(format=fmt))) for label, fmt in choices]


def _table(outcome: Outcome) -> tuple[list[str], list[list[dict[str, Any]]]]:
    if outcome.kind == "graph":
        triples = [[term_view(t.subject), term_view(t.predicate), term_view(t.object)] for t in outcome.triples()]
        return ["subject", "predicate", "object"], triples
    names, rows = outcome.table()
    return names, [[term_view(cell) for cell in row] for row in rows]


@router.get("/query", name="query_page", response_class=HTMLResponse)
async def query_page(
    request: Request,
    name: str | None = Query(None, description="a named query"),
    sparql: str | None = Query(None, description="free SPARQL"),
    format: str | None = Query(None, description="csv, tsv, json (results) or ttl, jsonld, nt (graphs): download"),
) -> Response:
    """Named queries with parameters, or free SPARQL; results as a table or a download."""
    state = get_state(request)
    named = queries.all_queries()
    params = request.query_params
    error: tuple[int, str] | None = None
    text: str | None = None
    active = None
    if name:
        active = named.get(name)
        if active is None:
            error = (404, f"no named query {name!r}; named queries: {', '.join(named)}")
        else:
            values = {p.name: params[p.name] for p in active.params if params.get(p.name, "").strip()}
            try:
                text = inject_values(active.text, active.bind(values))
            except QueryError as exc:
                error = (400, str(exc))
    elif sparql and sparql.strip():
        text = sparql
        if classify(sparql) == "UPDATE":
            error = (403, "this server is read-only: SPARQL updates are not accepted")
        elif uses_service(sparql):
            error = (403, "SERVICE (federated query) is refused: this server makes no outbound requests")

    outcome: Outcome | None = None
    if text is not None and error is None:
        try:
            outcome = await state.runner.query(text)
        except ApiError as exc:
            error = (exc.status, exc.detail)

    if format is not None:
        if error is not None:
            raise ApiError(*error)
        if outcome is None:
            raise ApiError(400, "nothing to download: give name=… (a named query) or sparql=…")
        media = FORMAT_ALIASES.get(format.lower())
        if media not in outcome.offered:
            raise ApiError(400, f"format {format!r} does not fit this answer; use one of "
                                f"{', '.join(_EXTENSIONS[m] for m in outcome.offered)}")
        filename = f"{name or 'query'}.{_EXTENSIONS[media]}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if outcome.truncated:
            headers["X-Result-Truncated"] = "true"
        return Response(outcome.serialize(media), media_type=content_type(media), headers=headers)

    forms = []
    for q in named.values():
        defaults = _examples(q)
        current = {p.name: params.get(p.name, "") for p in q.params} if q is active else {
            p.name: defaults.get(p.name, "") for p in q.params}
        forms.append({"q": q, "fields": current})
    # pyoxigraph terms are made and dropped in one worker thread, off the event loop
    columns, rows = await run_in_threadpool(_table, outcome) if outcome is not None else ([], [])
    context = {
        "forms": forms,
        "active": active,
        "sparql": text if text is not None else (sparql or ""),
        "error": error,
        "outcome": outcome,
        "columns": columns,
        "rows": rows,
        "downloads": _downloads(request.url, outcome) if outcome is not None else [],
        "share": str(request.url),
        "max_rows": state.runner.max_rows,
    }
    status = error[0] if error is not None else 200
    headers = {"X-Result-Truncated": "true"} if outcome is not None and outcome.truncated else {}
    return state.templates.TemplateResponse(request, "query.html", context, status_code=status, headers=headers)
