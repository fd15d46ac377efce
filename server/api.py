"""The REST API: programs, bodies and what they channel, flows; JSON described by OpenAPI at ``/docs``.

The same functions as the HTML pages produce the data (:mod:`server.data`), so a page and its
JSON always agree. Identifiers are compact names (``program:go-tech-r7``, ``orgs:jetro``); amounts
are exact yen as integers.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from rdflib import URIRef

from kg.load import ID
from server import data
from server.errors import ApiError
from server.state import get_state

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["REST API"])


class ErrorDetail(BaseModel):
    status: int
    title: str
    detail: str


class Error(BaseModel):
    """The one error shape of the server."""

    error: ErrorDetail


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Malformed parameter"},
    404: {"model": Error, "description": "No such resource"},
}


class Budget(BaseModel):
    id: str = Field(examples=["budget:sme-support-r7-2025-initial"])
    fiscal_year: int = Field(examples=[2025])
    category: str = Field(description="jf:InitialBudget, jf:SupplementaryBudget or jf:MultiYearTotal")
    category_ja: str | None
    category_en: str | None
    amount: int = Field(description="exact yen", examples=[26300000000])
    approximate: bool = Field(description="the sheet says 約 (about)")
    request: bool = Field(description="a budget request (予算案), not yet passed")
    source_text: str | None = Field(description="the amount as printed")
    source_line: int | None


class ProgramSummary(BaseModel):
    id: str = Field(examples=["program:sme-support-r7"])
    slug: str
    iri: str
    label_ja: str
    label_en: str
    notation: str | None = Field(description="number of a sub-measure as printed, e.g. （1）")
    parent: str | None = Field(description="the program this is a sub-measure of")
    is_sheet: bool = Field(description="a budget sheet (has a budget line), not only a sub-measure")
    budget_line_text: str | None = Field(description="the sheet's budget line, verbatim")
    line_start: int | None = Field(description="first line of the source text")
    line_end: int | None
    budgets: list[Budget]
    fiscal_year: str | None
    phase: str | None = Field(description="budget phase, e.g. 令和6年度補正 or 令和7年度予算案")


class Actor(BaseModel):
    id: str
    label_ja: str | None
    label_en: str | None


class Flow(BaseModel):
    id: str = Field(examples=["flow:sme-productivity-revolution-r6s-1"])
    program: str = Field(description="the program or sub-measure the flow belongs to")
    program_ja: str | None
    hop: int | None = Field(description="1 = out of the state (国)")
    funder: Actor
    recipient: Actor
    instruments: list[str] = Field(examples=[["instrument:grant"]])
    instruments_ja: list[str]
    rates: list[str] = Field(description="rate texts as printed, e.g. 1/2以内")
    source_text: str | None
    source_line: int | None
    uncertain: bool
    arrow: str = Field(description="instrument and rates, each said once, e.g. 補助（定額）")
    fiscal_year: str | None
    phase: str | None


class Change(BaseModel):
    fy2024_initial: int
    fy2025_initial: int
    change: int
    ratio: float | None


class Unit(BaseModel):
    of: str
    of_ja: str | None
    id: str
    label_ja: str | None
    full_label_ja: str | None


class Rate(BaseModel):
    """One rate, with or without a beneficiary class."""

    id: str
    program: str = Field(description="the program or sub-measure it belongs to")
    program_ja: str | None
    on_flow: bool = Field(description="the rate is on an arrow (a funding flow), not on the program")
    label: str = Field(description="as a fraction: 1/2以内, 定額, 10/10", examples=["1/2以内"])
    text: str | None = Field(description="as printed")
    value: float | None
    fixed: bool = Field(description="a fixed amount (定額), not a share")
    classes: list[str] = Field(description="beneficiary classes it applies to; empty: the whole program or arrow")
    classes_ja: list[str]
    condition: str | None
    source_line: int | None


class Cap(BaseModel):
    of: str
    of_ja: str | None
    kind_ja: str | None
    amount: int
    category: str | None
    category_ja: str | None
    condition: str | None
    source_text: str | None


class Target(BaseModel):
    of: str
    of_ja: str | None
    id: str
    text: str
    value: float | None
    unit: str | None
    year: int | str | None


class SubMeasure(BaseModel):
    id: str
    label_ja: str
    label_en: str
    notation: str | None
    budgets: list[Budget]


class ProgramRef(BaseModel):
    id: str
    label_ja: str
    label_en: str


class Source(BaseModel):
    id: str
    label_ja: str | None
    label_en: str | None


class SameScheme(BaseModel):
    id: str
    label_ja: str | None
    label_en: str | None
    phase: str | None


class ProgramDetail(BaseModel):
    id: str
    slug: str
    iri: str
    label_ja: str
    label_en: str
    alt_labels_ja: list[str]
    notation: str | None
    is_sheet: bool
    budget_line_text: str | None
    line_start: int | None
    line_end: int | None
    budgets: list[Budget]
    change: Change | None = Field(description="FY2025 initial vs FY2024 initial, where both exist")
    parent: ProgramRef | None
    sub_measures: list[SubMeasure]
    same_scheme_as: list[SameScheme]
    fiscal_year: str | None = Field(description="the fiscal year of the budget the sheet belongs to")
    phase: str | None = Field(description="the budget phase as the sheet says it, e.g. 令和6年度補正")
    units: list[Unit]
    flows: list[Flow]
    rates: list[Rate] = Field(description="rates by beneficiary class, of this program and its sub-measures")
    caps: list[Cap]
    targets: list[Target]
    sources: list[Source]
    uncertain: bool
    comments_en: list[str]
    comments_ja: list[str]


class Body(BaseModel):
    id: str = Field(examples=["orgs:jetro"])
    slug: str
    label_ja: str | None
    label_en: str | None
    abbreviation: str | None


class Channel(BaseModel):
    """What a body channels (:func:`kg.views.channels`)."""

    body: str = Field(examples=["orgs:smrj"])
    label_ja: str
    label_en: str
    sheets: list[str] = Field(description="budget sheets whose money reaches the body")
    programs: list[str]
    instruments_in: list[str]
    instruments_out: list[str]
    funders: list[str]
    recipient_categories: list[str]
    budgets: dict[str, int] = Field(description='"FY Category" → yen, each sheet counted once',
                                    examples=[{"2024 SupplementaryBudget": 340000000000}])


@router.get("/programs", response_model=list[ProgramSummary], summary="All programs with their budgets",
            responses=_ERRORS)
def programs(
    request: Request,
    q: str | None = Query(None, max_length=200, description="keep programs whose ja or en label contains this"),
    sheets_only: bool = Query(False, description="only budget sheets, not sub-measures"),
) -> list[dict[str, Any]]:
    """Every program and sub-measure in source order, with budgets in exact yen."""
    return data.list_programs(get_state(request).store, q=q, sheets_only=sheets_only)


@router.get("/programs/{slug}", response_model=ProgramDetail, summary="One program in full", responses=_ERRORS)
def program(request: Request, slug: str) -> dict[str, Any]:
    """Budgets, change vs FY2024, units, flows, rates by class, caps, targets, sub-measures, source."""
    detail = data.program_detail(get_state(request).store, slug)
    if detail is None:
        raise ApiError(404, f"no program program:{slug}; list them at /api/programs")
    return detail


@router.get("/bodies", response_model=list[Body], summary="Named bodies")
def bodies(request: Request) -> list[dict[str, Any]]:
    """The state, the agencies and secretariats that appear in the diagrams."""
    return data.list_bodies(get_state(request).store)


@router.get("/bodies/{slug}/channels", response_model=Channel, summary="What a body channels",
            responses=_ERRORS)
def channels(request: Request, slug: str) -> dict[str, Any]:
    """Sheets, programs, instruments in and out, funders, recipients and budgets of one body.

    A body that receives no money has empty lists; an unknown body is 404.
    """
    store = get_state(request).store
    detail = data.body_detail(store, slug)
    if detail is None:
        known = ", ".join(b["slug"] for b in data.list_bodies(store))
        raise ApiError(404, f"no body orgs:{slug}; named bodies: {known}")
    return dict(detail["channel"])


@router.get("/flows", response_model=list[Flow], summary="Funding flows", responses=_ERRORS)
def flows(
    request: Request,
    program: str | None = Query(None, max_length=200, description="program slug (or program:…); its sub-measures are included"),
    body: str | None = Query(None, max_length=200, description="body slug (jetro) or compact name (actor:…), as funder or recipient"),
) -> list[dict[str, Any]]:
    """Every arrow of the scheme diagrams, hop by hop, with instruments and rates."""
    return data.list_flows(get_state(request).store, program=_iri("program", program, "program"),
                           body=_iri("body", body, "orgs"))


def _iri(name: str, value: str | None, kind: str) -> URIRef | None:
    """A slug (``jetro``) or a compact name of this dataset (``actor:…``) as an IRI."""
    if not value:
        return None
    if ":" in value:
        iri = data.expand(value)
        if iri.startswith(ID) and re.fullmatch(r"[^\s<>\"{}|^`\\]+", iri):
            return URIRef(iri)
    else:
        found = data.slug_iri(kind, value)
        if found is not None:
            return found
    raise ApiError(400, f"{name}: {value!r} is neither a slug (e.g. {'sme-support-r7' if kind == 'program' else 'jetro'}) "
                        "nor a compact name of this dataset (e.g. actor:…)")


class SearchHit(BaseModel):
    kind: str = Field(description="program, body, unit, instrument, category, query, organisation …")
    kind_ja: str
    kind_en: str
    id: str = Field(examples=["orgs:jetro"])
    iri: str
    label_ja: str
    label_en: str
    detail: str = Field(description="fiscal year and phase of a program, a corporate number …")
    matched: str = Field(description="the text that matched, when not the label")
    href: str = Field(description="the page of this server that shows it")


class SearchAnswer(BaseModel):
    q: str
    count: int
    groups: dict[str, list[SearchHit]] = Field(description="hits by kind, kinds in display order")


@router.get("/search", response_model=SearchAnswer, summary="Search everything people name", responses=_ERRORS)
def search(
    request: Request,
    q: str = Query(..., min_length=1, max_length=200, description="words to find (Japanese or English; kana, "
                                                                  "width and spaces do not matter)"),
    kind: str | None = Query(None, max_length=40, description="only this kind, e.g. program or body"),
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    """Programs (titles, sub-measures, purpose text, rates), bodies (abbreviations, alternative labels),
    units, instruments, categories, named queries and recipients (name or corporate number): the
    site's search, from a full-text index built once per graph."""
    from server.web import search_results

    hits = search_results(request, q, [kind] if kind else None, limit)
    from kg.search import KINDS

    groups: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for h in hits:
        groups.setdefault(h["kind"], []).append(h)
    return {"q": q, "count": len(hits), "groups": {k: v for k, v in groups.items() if v}}
