"""Diagram routes: a program's scheme as SVG, and the Sankey of money (HTML or SVG).

Pictures come from :mod:`kg.diagrams`, so they are always in step with the graph. Each picture is
rendered once per graph generation (a reload or an update starts a new one) and then served from
memory, in a cache bounded by :data:`CACHE_BYTES` (the interactive Sankey page is ~5 MB: a crawler
walking every fiscal year must not fill the memory).

The Sankey page embeds plotly.js inline (no CDN); its Content-Security-Policy allows exactly its
inline scripts by hash (:func:`server.security.script_csp`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from kg import diagrams
from kg.errors import UnknownName
from server.errors import ApiError
from server.security import script_csp
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


@router.get("/sankey", name="sankey", response_class=HTMLResponse)
async def sankey(request: Request, fy: int = Query(2025, ge=1900, le=2100),
                 category: str = Query("initial")) -> Response:
    """Interactive Sankey of money by fiscal year and budget category (plotly.js inline, no CDN)."""
    store = get_state(request).store
    cat = _category(category)
    def render() -> tuple[str, str]:
        page = diagrams.sankey_html(store, fiscal_year=fy, category=cat)
        return page, script_csp(page)

    html, policy = await run_in_threadpool(_cached, request, ("sankey.html", fy, category), render)
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


@router.get("/sankey.svg", name="sankey_svg", responses={200: {"content": {"image/svg+xml": {}}}})
async def sankey_svg(request: Request, fy: int = Query(2025, ge=1900, le=2100),
                     category: str = Query("initial")) -> Response:
    """The same Sankey as a static SVG."""
    store = get_state(request).store
    cat = _category(category)
    svg = await run_in_threadpool(_cached, request, ("sankey.svg", fy, category),
                                  lambda: diagrams.sankey_static(store, fiscal_year=fy, category=cat, fmt="svg"))
    return Response(svg, media_type="image/svg+xml")
