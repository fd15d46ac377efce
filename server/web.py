"""The web pages: home, search, the program list, program, body, and the query page.

Japanese first, English beside it; people read labels, never ids (ids stay in links and ``data-``
attributes). Tables are :mod:`server.tables` views: sorted, filtered and paged on the server, with
CSV and JSON downloads of what they show. Search asks the :mod:`kg.search` index built once per
graph generation (:func:`search_index`). Pages are Jinja templates (``server/templates``) with local CSS
(``server/static``); no script or font is loaded from elsewhere. Errors are the shared JSON shape,
except on ``/query``, where a query the user typed that fails (syntax, update, timeout) is shown
next to the form with the same status code: the person editing the query needs the message
beside the text, not a JSON document instead of the page.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL

from kg import names, queries
from kg.errors import AmbiguousName, QueryError, UnknownName
from kg.formats import compact, is_yen_column
from kg.search import KINDS, SearchIndex
from kg.store import inject_values
from server import data, tables
from server.engine import Outcome, classify, uses_service
from server.errors import ApiError
from server.linked_data import term_view
from server.negotiation import FORMAT_ALIASES, content_type
from server.state import get_state
from server.tables import Column

__all__ = ["router", "search_index"]

router = APIRouter(tags=["Web pages"], include_in_schema=False)


_INDEX_LOCK = threading.Lock()
_STATIC = Path(__file__).parent / "static"


def markdown_html(text: str | None) -> Markup:
    """Markdown (CommonMark) as HTML for the API docs, safely: raw HTML in the text is escaped, links
    with scripts (``javascript:``) are dropped by markdown-it's link check.

    Examples
    --------
    >>> str(markdown_html("REST at `/api/…` <script>x</script>"))
    '<p>REST at <code>/api/…</code> &lt;script&gt;x&lt;/script&gt;</p>\\n'
    """
    if not text:
        return Markup("")
    return Markup(_MD.render(text))


_MD = MarkdownIt("commonmark", {"html": False, "linkify": False})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """The site's icon (server/static/favicon.ico)."""
    return Response((_STATIC / "favicon.ico").read_bytes(), media_type="image/vnd.microsoft.icon",
                    headers={"Cache-Control": "public, max-age=86400"})


def search_index(request: Request) -> SearchIndex:
    """The search index of the graph being served, built once per graph generation."""
    state = get_state(request)
    with _INDEX_LOCK:
        held = getattr(request.app.state, "search_index", None)  # Starlette's State keeps it in _state
        if held is not None and held[0] == state.generation:
            return held[1]  # type: ignore[no-any-return]
        index = SearchIndex.build(state.store)
        request.app.state.search_index = (state.generation, index)
        return index


_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 32


def memo(request: Request, key: tuple[Any, ...], compute: Any) -> Any:
    """``compute()`` once per graph generation and *key* (the last :data:`_MEMO_SIZE` kept), so that
    sorting, filtering and paging a table of 30,000 rows does not read the graph again."""
    state = get_state(request)
    with _MEMO_LOCK:
        cache: OrderedDict[tuple[Any, ...], Any] = request.app.state.__dict__.setdefault("web_memo", OrderedDict())
        full = (state.generation, *key)
        if full in cache:
            cache.move_to_end(full)
            return cache[full]
    value = compute()
    with _MEMO_LOCK:
        cache[full] = value
        while len(cache) > _MEMO_SIZE:
            cache.popitem(last=False)
    return value


def _page(request: Request, template: str, context: dict[str, Any], *, status: int = 200) -> Response:
    return get_state(request).templates.TemplateResponse(request, template, context, status_code=status)


@router.get("/", name="home", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """Headline numbers, budget totals, the sheets and the named bodies."""
    state = get_state(request)
    context = {
        "numbers": data.headline(state.store),
        "sheets": data.list_programs(state.store, sheets_only=True),
        "bodies": data.list_bodies(state.store),
    }
    return _page(request, "home.html", context)


def search_results(request: Request, q: str, kinds: list[str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Hits of :func:`search_index` for *q*, as JSON-ready rows with the page to open."""
    hits = search_index(request).search(q, kinds=kinds, limit=limit)
    out = []
    for h in hits:
        href = f"/query#q-{h.iri.removeprefix('query:')}" if h.kind == "query" else data.local_path(h.iri)
        out.append({"kind": h.kind, "kind_ja": KINDS.get(h.kind, (h.kind, h.kind))[0],
                    "kind_en": KINDS.get(h.kind, (h.kind, h.kind))[1], "iri": h.iri,
                    "id": h.iri if h.kind == "query" else compact(h.iri), "label_ja": h.label_ja,
                    "label_en": h.label_en, "detail": h.detail, "matched": h.matched, "href": href})
    return out


@router.get("/search", name="search", response_class=HTMLResponse)
def search(request: Request, q: str = Query("", max_length=200),
           kind: str | None = Query(None, max_length=40)) -> Response:
    """Everything people name — programs, bodies, units, instruments, categories, queries,
    recipients — whose labels or text contain ``q``, grouped by kind."""
    kinds = [kind] if kind else None
    results = search_results(request, q, kinds) if q.strip() else []
    groups: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for r in results:
        groups.setdefault(r["kind"], []).append(r)
    groups = {k: v for k, v in groups.items() if v}  # kinds in the order of kg.search.KINDS
    return _page(request, "search.html", {"q": q, "results": results, "groups": groups, "kinds": KINDS,
                                          "kind": kind or ""})


PROGRAM_COLUMNS = [
    Column("label", "事業", "program", kind="link", sort_key="order"),
    Column("phase", "年度・予算", "fiscal year, phase", filter=True),
    Column("level", "種別", "kind", filter=True),
    Column("parent", "上位の事業", "part of", kind="link"),
    Column("amount", "予算額", "budget", kind="yen"),
    Column("budget_category", "予算の区分", "budget category"),
]


def program_rows(store: Any) -> list[dict[str, Any]]:
    """One row per program for the program list, in source order."""
    programs = data.list_programs(store)
    by_id = {p["id"]: p for p in programs}
    rows = []
    for i, p in enumerate(programs):
        want = "jf:SupplementaryBudget" if (p["phase"] or "").endswith("補正") else "jf:InitialBudget"
        fy = int(p["fiscal_year"]) if p["fiscal_year"] else None
        own = [b for b in p["budgets"] if b["category"] == want and (fy is None or b["fiscal_year"] == fy)] \
            or p["budgets"][-1:]
        parent = by_id.get(p["parent"]) if p["parent"] else None
        rows.append({
            "_id": p["id"], "order": i,
            "label": f"{p['notation'] or ''}{p['label_ja']}", "label_href": data.local_path(p["id"]),
            "label_en": p["label_en"], "label_iri": p["iri"],
            "phase": p["phase"] or "", "level": "予算シート sheet" if p["is_sheet"] else "個別事業 sub-measure",
            "parent": parent["label_ja"] if parent else None,
            "parent_href": data.local_path(parent["id"]) if parent else None,
            "amount": own[0]["amount"] if own else None,
            "budget_category": (f"{own[0]['fiscal_year']}年度 {own[0]['category_ja'] or ''}" if own else None),
        })
    return rows


@router.get("/programs", name="programs", response_class=HTMLResponse)
def programs(request: Request) -> Response:
    """Every program and sub-measure: a table to sort, filter, page and download."""
    store = get_state(request).store
    view = tables.view_of(PROGRAM_COLUMNS, memo(request, ("programs",), lambda: program_rows(store)),
                          request.query_params, table_id="programs", per=100)
    return tables.respond(view, request.query_params, filename="programs",
                          page=lambda: _page(request, "programs.html", {"t": view}))


@router.get("/programs/{slug}", name="program", response_class=HTMLResponse)
def program(request: Request, slug: str) -> Response:
    """One program: budgets, change, units, flows, rates, caps, targets, sub-measures, source."""
    state = get_state(request)
    detail = data.program_detail(state.store, slug)
    if detail is None:
        raise ApiError(404, f"no program program:{slug}; search at /search?q=… or see /programs")
    return _page(request, "program.html", {"p": detail})


FLOW_COLUMNS = [
    Column("program", "事業", "program", kind="link", sort_key="order"),
    Column("phase", "年度・予算", "fiscal year, phase", filter=True),
    Column("hop", "段", "hop", kind="num"),
    Column("funder", "出し手", "funder", kind="link"),
    Column("arrow", "手段・率", "instrument, rate", filter=True),
    Column("recipient", "受け手", "recipient", kind="link"),
]


def flow_rows(flows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the flow table, in the order given (:func:`server.data.flow_order`)."""
    rows = []
    for i, f in enumerate(flows):
        rows.append({
            "_id": f["id"], "order": i,
            "program": f["program_ja"] or f["program"], "program_href": data.local_path(f["program"]),
            "program_iri": data.expand(f["program"]),
            "phase": f["phase"] or "", "hop": f["hop"],
            "funder": f["funder"]["label_ja"] or f["funder"]["label_en"],
            "funder_href": data.local_path(f["funder"]["id"]), "funder_iri": data.expand(f["funder"]["id"]),
            "arrow": f["source_text"] or f["arrow"],
            "recipient": f["recipient"]["label_ja"] or f["recipient"]["label_en"],
            "recipient_href": data.local_path(f["recipient"]["id"]),
            "recipient_iri": data.expand(f["recipient"]["id"]),
        })
    return rows


BUDGET_COLUMNS = [
    Column("program", "事業", "program", kind="link", sort_key="order"),
    Column("phase", "年度・予算", "fiscal year, phase", filter=True),
    Column("budget", "予算の年度・区分", "budget year, category", filter=True),
    Column("amount", "予算額", "budget", kind="yen"),
    Column("basis", "金額の意味", "what the amount is", filter=True),
]

BASIS = {"sheet": "シート全体の予算額 sheet total", "program": "個別事業の予算額 sub-measure budget"}
"""What a body page's amount is: the sheets give no amount per arrow (see templates/body.html)."""


@router.get("/bodies/{slug}", name="body", response_class=HTMLResponse)
def body(request: Request, slug: str) -> Response:
    """One body: what it channels (:func:`kg.views.channels`), budgets of its programs, its flows."""
    state = get_state(request)
    detail = memo(request, ("body", slug), lambda: data.body_detail(state.store, slug))
    if detail is None:
        raise ApiError(404, f"no body orgs:{slug}; named bodies are listed on the home page")
    params = request.query_params
    budget_rows = [{
        "_id": b["program"], "order": i, "program": b["program_ja"], "program_href": data.local_path(b["program"]),
        "program_iri": data.expand(b["program"]), "phase": b["phase"] or "",
        "budget": f"{b['fiscal_year']}年度 {b['category_ja'] or ''}", "amount": b["amount"],
        "basis": BASIS[b["basis"]],
    } for i, b in enumerate(detail["budgets"])]
    which = params.get("table", "flows")
    budgets_view = tables.view_of(BUDGET_COLUMNS, budget_rows, params if which == "budgets" else {},
                                  table_id="budgets", per=100, params={"table": "budgets"})
    flows_view = tables.view_of(FLOW_COLUMNS, flow_rows(detail["flows"]), params if which == "flows" else {},
                                table_id="flows", per=50, params={"table": "flows"})
    view = budgets_view if which == "budgets" else flows_view
    return tables.respond(view, params, filename=f"{slug}-{which}",
                          page=lambda: _page(request, "body.html", {"b": detail, "budgets": budgets_view,
                                                                    "flows": flows_view}))


# ---------------------------------------------------------------- query page

def _examples(q: queries.NamedQuery) -> dict[str, str]:
    return dict(re.findall(r"--param\s+(\w+)=(\S+)", q.example))


_EXTENSIONS = {
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/sparql-results+json": "srj",
    "application/sparql-results+xml": "xml",
    "text/turtle": "ttl",
    "application/ld+json": "jsonld",
    "application/n-triples": "nt",
    "application/rdf+xml": "rdf",
}

_RAW = {"srj": "application/sparql-results+json", "tsv": "text/tab-separated-values",
        "xml": "application/sparql-results+xml"}
"""Raw SPARQL result formats of the query page (``csv`` and ``json`` are the labelled table)."""


def _downloads(url: URL, outcome: Outcome) -> list[tuple[str, str]]:
    if outcome.kind == "graph":
        choices = [("Turtle", "ttl"), ("JSON-LD", "jsonld"), ("N-Triples", "nt")]
    else:
        choices = [("SPARQL JSON", "srj"), ("TSV", "tsv")]
    return [(label, str(url.include_query_params(format=fmt))) for label, fmt in choices]


def _cells(outcome: Outcome) -> tuple[list[str], list[list[dict[str, Any]]]]:
    if outcome.kind == "graph":
        triples = [[term_view(t.subject), term_view(t.predicate), term_view(t.object)] for t in outcome.triples()]
        return ["subject", "predicate", "object"], triples
    names_, rows = outcome.table()
    return names_, [[term_view(cell) for cell in row] for row in rows]


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def result_table(columns: list[str], cells: list[list[dict[str, Any]]], labels: dict[str, str],
                 labels_en: dict[str, str]) -> tuple[list[Column], list[dict[str, Any]]]:
    """Columns and rows of a query answer for people: labels for IRIs (ids kept in links and
    ``_iri`` fields), numbers as numbers, yen columns (:func:`kg.formats.is_yen_column`) as 億円."""
    numeric = {c: True for c in columns}
    links = {c: False for c in columns}
    for row in cells:
        for c, t in zip(columns, row):
            if t["kind"] == "iri":
                links[c] = True
                numeric[c] = False
            elif t["kind"] == "literal" and t["text"] != "" and _number(t["text"]) is None or t["kind"] not in ("literal", "none"):
                numeric[c] = False
    cols = []
    for c in columns:
        kind = "link" if links[c] else ("yen" if numeric[c] and is_yen_column(c) else "num" if numeric[c] else "text")
        cols.append(Column(c, c, "", kind=kind))
    rows = []
    for i, row in enumerate(cells):
        out: dict[str, Any] = {"_order": i}
        for col, t in zip(cols, row):
            if t["kind"] == "iri":
                out[col.key] = labels.get(t["iri"]) or t["text"]
                out[f"{col.key}_href"] = t["href"]
                out[f"{col.key}_iri"] = t["iri"]
                if labels_en.get(t["iri"]) and labels_en[t["iri"]] != out[col.key]:
                    out[f"{col.key}_en"] = labels_en[t["iri"]]
            elif col.kind in ("yen", "num") and t["text"] != "":
                out[col.key] = _number(t["text"])
            else:
                out[col.key] = t["text"] if t["kind"] != "none" else None
        rows.append(out)
    return cols, rows


PARAM_LABELS = {"body": "機関 body", "program": "事業 program", "unit": "担当組織 unit",
                "category": "対象区分 beneficiary class", "org": "法人 organisation", "recipient": "支出先 recipient"}


def _field(store: Any, p: queries.Param, value: str) -> dict[str, Any]:
    """A form field of a named-query parameter: a select of labelled choices for names, else text."""
    kinds = names.PARAM_KINDS.get(p.name) if p.type == "iri" else None
    options: list[dict[str, Any]] = []
    selected = ""
    if kinds:
        for kind in kinds:
            for n in names.choices(store, kind):
                label = n.label + (f"（{n.phase}）" if n.phase else "")
                options.append({"value": n.id, "label": label})
        if value:
            try:
                selected = names.resolve(store, value, kinds=kinds).id
            except (UnknownName, AmbiguousName):
                selected = ""
    return {"param": p, "value": value, "options": options, "selected": selected,
            "list": len(options) > 400, "label": PARAM_LABELS.get(p.name, p.name)}


@router.get("/query", name="query_page", response_class=HTMLResponse)
async def query_page(
    request: Request,
    name: str | None = Query(None, description="a named query"),
    sparql: str | None = Query(None, description="free SPARQL"),
    format: str | None = Query(None, description="csv, json (the labelled table), srj, tsv, xml (raw results) "
                                                 "or ttl, jsonld, nt (graphs): download"),
) -> Response:
    """Named queries with parameters, or free SPARQL; results as a table or a download."""
    state = get_state(request)
    store = state.store
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
                bound = await run_in_threadpool(active.bind, values, store=store)
                text = inject_values(active.text, bound)
            except UnknownName as exc:
                error = (404, f"{exc}; choose one from the list, or search at /search")
            except AmbiguousName as exc:
                error = (400, str(exc))
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

    view = None
    if outcome is not None and outcome.kind != "boolean":
        columns, cells = await run_in_threadpool(_cells, outcome)
        iris = {t["iri"] for row in cells for t in row if t["kind"] == "iri"}
        labels = await run_in_threadpool(names.labels, store, iris)
        labels_en = await run_in_threadpool(lambda: names.labels(store, iris, lang="en"))
        cols, rows = result_table(columns, cells, labels, labels_en)
        keep = {k: v for k, v in params.items() if k in ("name", "sparql") or (active and k in
                                                                                 {p.name for p in active.params})}
        view = tables.view_of(cols, rows, params, table_id="result-table", per=100, params=keep)

    if format is not None:
        if error is not None:
            raise ApiError(*error)
        if outcome is None:
            raise ApiError(400, "nothing to download: give name=… (a named query) or sparql=…")
        fmt = format.lower()
        if fmt in ("csv", "json") and view is not None and outcome.kind == "solutions":
            return tables.download(view, fmt, filename=name or "query")
        media = _RAW.get(fmt) or FORMAT_ALIASES.get(fmt)
        if media not in outcome.offered:
            offered = ["csv", "json", *(_EXTENSIONS[m] for m in outcome.offered if _EXTENSIONS[m] != "csv")] \
                if outcome.kind == "solutions" else [_EXTENSIONS[m] for m in outcome.offered]
            raise ApiError(400, f"format {format!r} does not fit this answer; use one of {', '.join(offered)}")
        filename = f"{name or 'query'}.{_EXTENSIONS[media]}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if outcome.truncated:
            headers["X-Result-Truncated"] = "true"
        return Response(outcome.serialize(media), media_type=content_type(media), headers=headers)

    def forms() -> list[dict[str, Any]]:
        out = []
        for q in named.values():
            defaults = _examples(q)
            current = {p.name: params.get(p.name, "") for p in q.params} if q is active else {
                p.name: defaults.get(p.name, "") for p in q.params}
            doc = re.sub(r"(?<![\w`])((?:jf|rdfs|skos|org|prov|dcterms):[A-Za-z][\w-]*)", r"`\1`", q.description)
            out.append({"q": q, "fields": [_field(store, p, current[p.name]) for p in q.params],
                        "doc": markdown_html(doc)})
        return out

    context = {
        "forms": await run_in_threadpool(forms),
        "active": active,
        "sparql": text if text is not None and not name else (sparql or ""),
        "error": error,
        "outcome": outcome,
        "t": view,
        "downloads": _downloads(request.url, outcome) if outcome is not None else [],
        "share": str(request.url),
        "max_rows": state.runner.max_rows,
    }
    status = error[0] if error is not None else 200
    headers = {"X-Result-Truncated": "true"} if outcome is not None and outcome.truncated else {}
    return state.templates.TemplateResponse(request, "query.html", context, status_code=status, headers=headers)
