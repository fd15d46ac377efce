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


class Change(BaseModel):
    fy2024_initial: int
    fy2025_initial: int
    change: int
    ratio: float | None


class Unit(BaseModel):
    of: str
    id: str
    label_ja: str | None
    full_label_ja: str | None


class Rate(BaseModel):
    category: str
    category_ja: str | None
    value: float | None
    text: str | None
    condition: str | None
    program: str
    program_ja: str | None


class Cap(BaseModel):
    of: str
    of_ja: str | None
    kind_ja: str | None
    amount: int
    category: str | None
    condition: str | None
    source_text: str | None


class Target(BaseModel):
    of: str
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
    same_scheme_as: list[str]
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
