"""Diagram routes: a program's scheme as SVG, and the Sankey of money (HTML or SVG).

Pictures come from :mod:`kg.diagrams`, so they are always in step with the graph. Each picture is
rendered once per graph generation (a reload or an update starts a new one) and then served from
memory, in a cache bounded by :data:`CACHE_BYTES`.

The Sankey page is a page of the site (header, title, a fiscal-year and category selector that works
without scripts). Its figure travels as JSON in the page; plotly.js is served once from the installed
``plotly`` package as ``/assets/plotly.min.js`` with a year-long cache, and ``/static/sankey.js``
draws the figure and makes each node a link to its program or body page. Its policy
(:data:`SANKEY_CSP`) allows scripts from this server only. A year and category with no budget
answer 404 with a page saying so.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from kg import diagrams
from kg.errors import UnknownName
from kg.formats import yen_label
from server import data
from server.errors import ApiError
from server.state import get_state

__all__ = ["router"]

router = APIRouter(tags=["Diagrams"])

CATEGORIES = {"initial": "InitialBudget", "supplementary": "SupplementaryBudget", "total": "MultiYearTotal"}


CACHE_BYTES = 64 * 1024 * 1024
"""Bytes of rendered pictures kept per app; the least recently used go first."""


class _Cache:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    @staticmethod
    def _bytes(value: object) -> int:
        if isinstance(value, tuple):
            return sum(len(v) for v in value if isinstance(v, str | bytes))
        return len(value) if isinstance(value, str | bytes) else 0

    def get(self, key: tuple[object, ...]) -> object | None:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            return None

    def put(self, key: tuple[object, ...], value: object) -> None:
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.size += self._bytes(value)
            while self.size > self.limit and len(self.items) > 1:
                _, old = self.items.popitem(last=False)
                self.size -= self._bytes(old)


def _cached(request: Request, key: tuple[object, ...], render):  # type: ignore[no-untyped-def]
    cache: _Cache = request.app.state.__dict__.setdefault("pictures", _Cache(CACHE_BYTES))
    key = (get_state(request).generation, *key)
    value = cache.get(key)
    if value is None:
        value = render()
        cache.put(key, value)
    return value


@router.get("/programs/{slug}/diagram.svg", name="program_diagram",
            responses={200: {"content": {"image/svg+xml": {}}}, 404: {"description": "no such program"}})
async def program_diagram(request: Request, slug: str) -> Response:
    """The program's funding scheme: 国 → intermediaries → beneficiaries, with rates and caps."""
    store = get_state(request).store

    def render() -> bytes:
        return diagrams.render_program(store, f"program:{slug}", fmt="svg")

    try:
        svg = await run_in_threadpool(_cached, request, ("program", slug), render)
    except UnknownName as exc:
        raise ApiError(404, str(exc)) from None
    return Response(svg, media_type="image/svg+xml")


def _category(category: str) -> str:
    if category not in CATEGORIES:
        raise ApiError(400, f"category must be one of {', '.join(CATEGORIES)}")
    return CATEGORIES[category]


SANKEY_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
              "font-src 'self' data:; connect-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
"""The Sankey page's policy: scripts from this server only (plotly.js and sankey.js), no inline script."""

CATEGORY_LABELS = {"initial": ("当初予算", "initial budget"), "supplementary": ("補正予算", "supplementary budget"),
                   "total": ("国庫債務負担行為を含む総額", "multi-year total")}


@functools.lru_cache(maxsize=1)
def _plotly_js() -> tuple[bytes, str]:
    """plotly.min.js of the installed plotly package, and its version (read once)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise ApiError(503, "the interactive Sankey needs the Python package 'plotly': reinstall the project "
                            "(make install); the static picture is at /sankey.svg")
    import plotly

    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    return path.read_bytes(), str(plotly.__version__)


@router.get("/assets/plotly.min.js", include_in_schema=False)
def plotly_js() -> Response:
    """plotly.js from the installed package, cached by browsers for a year (the URL names its version)."""
    body, _ = _plotly_js()
    return Response(body, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


def _years(store: Any) -> list[dict[str, Any]]:
    """Fiscal years and categories that have a budget (named query ``budget-totals``)."""
    back = {v: k for k, v in CATEGORIES.items()}
    out = []
    for t in data.headline(store)["totals"]:
        cat = back.get(str(t["category"]).removeprefix("jf:"))
        if cat:
            out.append({"fy": t["fiscal_year"], "category": cat, "total": t["total"],
                        "label_ja": f"{t['fiscal_year']}年度 {CATEGORY_LABELS[cat][0]}",
                        "label_en": f"FY{t['fiscal_year']} {CATEGORY_LABELS[cat][1]}"})
    return out


def _node_href(key: str) -> str:
    """Where a Sankey node leads: a body page, or the actor category's page."""
    if key.startswith(("executing:", "beneficiary:")):
        parts = key.split(":")
        return data.local_path(":".join(parts[1:3])) if len(parts) >= 3 else ""
    if key.startswith("none:"):
        return ""
    return data.local_path(key)


def sankey_figure_json(store: Any, fy: int, cat: str) -> tuple[str, int, int]:
    """The figure as plotly JSON, with amounts on the nodes and pages behind them; its total and node count."""
    figure, _, links = diagrams.sankey_parts(store, fiscal_year=fy, category=cat)
    trace = figure.data[0]
    total = sum(link.value for link in links if link.source == diagrams.STATE)
    through: dict[str, int] = {}
    for link in links:
        through[link.target] = through.get(link.target, 0) + link.value
    through[diagrams.STATE] = total
    keys = list(trace.node.customdata)
    trace.node.label = [f"{label} {yen_label(through.get(k, 0))}" for label, k in zip(trace.node.label, keys)]
    trace.node.customdata = [[_node_href(k), f"{through.get(k, 0):,}円"] for k in keys]
    trace.node.hovertemplate = "%{label}<br>%{customdata[1]}<extra></extra>"
    names_ = {row["id"]: row["label_ja"] for row in data.list_programs(store)}
    trace.link.customdata = [[names_.get(link.sheet, ""), yen_label(link.value), f"{link.value:,}円",
                              data.local_path(link.sheet)] for link in links]
    trace.link.hovertemplate = ("%{source.label} → %{target.label}<br>%{customdata[1]}（%{customdata[2]}）"
                                "<br>%{customdata[0]}<extra></extra>")
    figure.update_layout(title=None, margin={"l": 10, "r": 10, "t": 10, "b": 10}, autosize=True)
    # the JSON sits in a <script type="application/json"> element: no "<" may close it
    return figure.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"), total, len(keys)


@router.get("/sankey", name="sankey", response_class=HTMLResponse)
async def sankey(request: Request, fy: int = Query(2025, ge=1900, le=2100),
                 category: str = Query("initial")) -> Response:
    """Interactive Sankey of money by fiscal year and budget category, inside the site's layout."""
    state = get_state(request)
    store = state.store
    cat = _category(category)

    def render() -> tuple[str, int, int]:
        return sankey_figure_json(store, fy, cat)

    years = await run_in_threadpool(_years, store)
    here = next((y for y in years if y["fy"] == fy and y["category"] == category), None)
    context: dict[str, Any] = {"fy": fy, "category": category, "years": years, "categories": CATEGORY_LABELS,
                               "here": here, "plotly_version": (await run_in_threadpool(_plotly_js))[1]}
    if here is None:
        return state.templates.TemplateResponse(request, "sankey.html", {**context, "figure": None, "total": 0},
                                                status_code=404)
    figure, total, count = await run_in_threadpool(_cached, request, ("sankey.json", fy, category), render)
    context.update(figure=figure, total=total, nodes=count)
    return state.templates.TemplateResponse(request, "sankey.html", context,
                                            headers={"Content-Security-Policy": SANKEY_CSP})


@router.get("/sankey.svg", name="sankey_svg", responses={200: {"content": {"image/svg+xml": {}}},
                                                        404: {"description": "no budget for that year and category"}})
async def sankey_svg(request: Request, fy: int = Query(2025, ge=1900, le=2100),
                     category: str = Query("initial")) -> Response:
    """The same Sankey as a static SVG."""
    store = get_state(request).store
    cat = _category(category)
    years = await run_in_threadpool(_years, store)
    if not any(y["fy"] == fy and y["category"] == category for y in years):
        raise ApiError(404, f"no budget for fiscal year {fy} ({category}); years with data: "
                            + ", ".join(f"fy={y['fy']}&category={y['category']}" for y in years))
    svg = await run_in_threadpool(_cached, request, ("sankey.svg", fy, category),
                                  lambda: diagrams.sankey_static(store, fiscal_year=fy, category=cat, fmt="svg"))
    return Response(svg, media_type="image/svg+xml")
