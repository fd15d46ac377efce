"""Diagram routes: a program's scheme as SVG, and the Sankey of money (HTML or SVG).

Pictures come from :mod:`kg.diagrams`, so they are always in step with the graph. The store does
not change while an app runs, so each picture is rendered once per app and then served from memory.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from kg import diagrams
from kg.errors import UnknownName
from server.errors import ApiError
from server.state import get_state

__all__ = ["router"]

router = APIRouter(tags=["Diagrams"])

CATEGORIES = {"initial": "InitialBudget", "supplementary": "SupplementaryBudget", "total": "MultiYearTotal"}


def _cached(request: Request, key: tuple[object, ...], render):  # type: ignore[no-untyped-def]
    cache: dict[tuple[object, ...], object] = request.app.state.__dict__.setdefault("pictures", {})
    if key not in cache:
        cache[key] = render()
    return cache[key]


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
    html = await run_in_threadpool(_cached, request, ("sankey.html", fy, category),
                                   lambda: diagrams.sankey_html(store, fiscal_year=fy, category=cat))
    return HTMLResponse(html)


@router.get("/sankey.svg", name="sankey_svg", responses={200: {"content": {"image/svg+xml": {}}}})
async def sankey_svg(request: Request, fy: int = Query(2025, ge=1900, le=2100),
                     category: str = Query("initial")) -> Response:
    """The same Sankey as a static SVG."""
    store = get_state(request).store
    cat = _category(category)
    svg = await run_in_threadpool(_cached, request, ("sankey.svg", fy, category),
                                  lambda: diagrams.sankey_static(store, fiscal_year=fy, category=cat, fmt="svg"))
    return Response(svg, media_type="image/svg+xml")
