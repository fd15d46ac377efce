"""National pages from the RS review data (issue 11): recipients, ministries and RS sheets' chains.

``/orgs/{法人番号}``
    A recipient organisation (``jf:RecipientOrganization``, IRI ``id/corp/{法人番号}``): names, the
    corporate number with the registry link (``rdfs:seeAlso``), the programs it received money
    through (sum of its ``jf:SpendingItem`` amounts per program), its roles (blocks), upstream and
    downstream bodies.
``/ministries/{name}``
    A ministry's RS programs with the initial budget and the executed amount per year.
``/rs/{予算事業ID}``
    One RS sheet's block chain (5-2 edges) and the blocks' members.

Every table is a :mod:`server.tables` view (paged, sortable, CSV / JSON); rows are computed once
per graph generation (:func:`server.web.memo`). :func:`rs_sheets` is the template global the PR
program page uses to link its bridged RS sheets.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from rdflib import Literal, URIRef

from kg import queries
from kg.diagrams.chain import Block, Chain, Edge, render_chain
from kg.errors import KGError
from kg.store import Store, Table, Term
from server import tables
from server.data import ID, py
from server.errors import ApiError
from server.state import get_state
from server.tables import Column
from server.web import _page, memo

__all__ = ["router", "rs_sheets"]

router = APIRouter(tags=["Web pages"], include_in_schema=False)

CORP = ID + "corp/"
PFX = """PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
_NUMBER = re.compile(r"\d{13}")
_RS_ID = re.compile(r"\d{1,10}")


def _select(store: Store, sparql: str, bindings: Mapping[str, Term] | None = None) -> list[dict[str, Any]]:
    answer = store.query(PFX + sparql, bindings=bindings)
    if not isinstance(answer, Table):  # pragma: no cover - only SELECT queries are sent
        raise TypeError("expected a SELECT answer")
    return [{k: (str(v) if isinstance(v, URIRef) else py(v)) for k, v in row.items()} for row in answer.dicts()]


def _named(store: Store, name: str, values: Mapping[str, str]) -> list[dict[str, Any]]:
    answer = queries.get(name).run(store, values)
    if not isinstance(answer, Table):  # pragma: no cover - named queries are SELECT queries
        raise TypeError(f"query {name} is not a SELECT query")
    return [{k: (str(v) if isinstance(v, URIRef) else py(v)) for k, v in row.items()} for row in answer.dicts()]


def org_href(iri: str | None) -> str | None:
    """``/orgs/{n}`` for a recipient with a corporate number, else ``None``."""
    if iri and iri.startswith(CORP):
        return "/orgs/" + iri[len(CORP):]
    return None


def rs_href(rs_id: Any) -> str | None:
    """``/rs/{予算事業ID}``, or ``None`` without an id."""
    return f"/rs/{rs_id}" if rs_id not in (None, "") else None


def _program_link(label: str | None, program: str, rs_id: Any) -> dict[str, Any]:
    """The ``program`` link column's fields: the sheet's name linking to its RS chain page."""
    href = rs_href(rs_id) or ""
    return tables.link_row("program", label, program, lambda _: href)


# ---------------------------------------------------------------- /orgs/{number}

PROGRAM_COLUMNS = [
    Column("program", "事業", "program", kind="link"),
    Column("rs_id", "予算事業ID", "RS id"),
    Column("amount", "支出額", "amount received", kind="yen"),
    Column("blocks", "ブロック数", "blocks", kind="num"),
]
ROLE_COLUMNS = [
    Column("program", "事業", "program", kind="link"),
    Column("block_id", "ブロック", "block"),
    Column("role", "役割（ブロック名）", "role (block name)"),
    Column("hop", "段", "hop", kind="num"),
]
NEIGHBOUR_COLUMNS = [
    Column("program", "事業", "program", kind="link"),
    Column("block_id", "ブロック", "block"),
    Column("other", "相手", "body", kind="link"),
    Column("kind", "種別（記載どおり）", "kind, as published", filter=True),
]


def org_detail(store: Store, number: str) -> dict[str, Any] | None:
    """Names, registry link and the four tables' rows of the recipient ``corp/{number}``."""
    org = URIRef(CORP + number)
    about = _select(store, """SELECT ?label ?alt ?see WHERE {
      ?org a jf:RecipientOrganization .
      OPTIONAL { ?org rdfs:label ?label } OPTIONAL { ?org skos:altLabel ?alt } OPTIONAL { ?org rdfs:seeAlso ?see }
    }""", {"org": org})
    if not about:
        return None
    names = sorted({r["label"] for r in about if r["label"]})
    alts = sorted({r["alt"] for r in about if r["alt"]} - set(names))
    see = sorted({r["see"] for r in about if r["see"]})

    per_program: dict[str, dict[str, Any]] = {}
    for r in _named(store, "rs-recipient-programs", {"number": number}):
        row = per_program.setdefault(r["program"], {
            **_program_link(r["program_label"], r["program"], r["rs_project_id"]),
            "_id": r["program"], "rs_id": r["rs_project_id"], "amount": None, "blocks": 0})
        row["blocks"] += 1
        if r["amount"] is not None:
            row["amount"] = (row["amount"] or 0) + r["amount"]

    roles = _select(store, """SELECT ?program ?rs_id ?plabel ?block_id ?blabel (MIN(?h) AS ?hop) WHERE {
      ?block jf:member ?org ; jf:ofProgram ?program ; jf:blockId ?block_id .
      ?program jf:rsProjectId ?rs_id .
      OPTIONAL { ?program rdfs:label ?plabel } OPTIONAL { ?block rdfs:label ?blabel }
      OPTIONAL { ?flow jf:recipient ?block ; jf:hop ?h }
    } GROUP BY ?program ?rs_id ?plabel ?block_id ?blabel ORDER BY ?rs_id ?block_id""", {"org": org})
    role_rows = [{**_program_link(r["plabel"], r["program"], r["rs_id"]),
                  "block_id": r["block_id"], "role": r["blabel"], "hop": r["hop"]} for r in roles]

    def neighbours(side: str, other: str) -> list[dict[str, Any]]:
        found = _select(store, f"""SELECT DISTINCT ?flow ?program ?rs_id ?plabel ?block_id ?other ?olabel ?kind WHERE {{
          ?block jf:member ?org ; jf:blockId ?block_id .
          ?flow a jf:FundingFlow ; jf:{side} ?block ; jf:{other} ?x ; jf:ofProgram ?program .
          ?program jf:rsProjectId ?rs_id .
          OPTIONAL {{ ?program rdfs:label ?plabel }}
          OPTIONAL {{ ?flow jf:sourceText ?kind }}
          OPTIONAL {{ ?x jf:member ?m }}
          BIND (COALESCE(?m, ?x) AS ?other)
          OPTIONAL {{ ?other rdfs:label ?olabel }}
          FILTER (?other != ?org)
        }} ORDER BY ?rs_id ?block_id ?olabel""", {"org": org})
        return [{**_program_link(r["plabel"], r["program"], r["rs_id"]),
                 "other": r["olabel"] or r["other"], "other_href": org_href(r["other"]),
                 "block_id": r["block_id"], "kind": r["kind"]} for r in found]

    return {"iri": str(org), "number": number, "names": names, "alt_names": alts, "see_also": see,
            "programs": sorted(per_program.values(), key=lambda r: -(r["amount"] or 0)),
            "roles": role_rows, "upstream": neighbours("recipient", "funder"),
            "downstream": neighbours("funder", "recipient")}


ORG_TABLES = {"programs": PROGRAM_COLUMNS, "roles": ROLE_COLUMNS, "upstream": NEIGHBOUR_COLUMNS,
              "downstream": NEIGHBOUR_COLUMNS}


@router.get("/orgs/{number}", name="org", response_class=HTMLResponse)
def org(request: Request, number: str) -> Response:
    """One recipient organisation by its corporate number (法人番号)."""
    if not _NUMBER.fullmatch(number):
        raise ApiError(404, f"no organisation {number!r}: a corporate number (法人番号) has 13 digits")
    store = get_state(request).store
    detail = memo(request, ("org", number), lambda: org_detail(store, number))
    if detail is None:
        raise ApiError(404, f"no recipient with corporate number {number} in the RS data served here")
    params = request.query_params
    which = params.get("table", "programs")
    if which not in ORG_TABLES:
        which = "programs"
    views = {k: tables.view_of(cols, detail[k], params if which == k else {}, table_id=k, per=25,
                               params={"table": k}) for k, cols in ORG_TABLES.items()}
    return tables.respond(views[which], params, filename=f"org-{number}-{which}",
                          page=lambda: _page(request, "org.html", {"o": detail, **views}))


# ---------------------------------------------------------------- /ministries/{name}

MINISTRY_COLUMNS = [
    Column("program", "事業", "program", kind="link"),
    Column("rs_id", "予算事業ID", "RS id"),
    Column("year", "年度", "fiscal year", filter=True),
    Column("initial", "当初予算", "initial budget", kind="yen"),
    Column("executed", "執行額", "executed", kind="yen"),
]


def ministry_rows(store: Store, name: str) -> list[dict[str, Any]]:
    """One row per RS program of the ministry *name* and budget year (当初, 執行額)."""
    found = _select(store, """SELECT DISTINCT ?program ?rs_id ?label ?fy ?initial ?executed WHERE {
      ?program a jf:ReviewProgram ; jf:ministry/rdfs:label ?m ; jf:rsProjectId ?rs_id .
      FILTER (STR(?m) = STR(?ministry))
      OPTIONAL { ?program rdfs:label ?label }
      ?program jf:budget ?b . ?b jf:fiscalYear ?fy .
      OPTIONAL { ?program jf:budget ?b1 . ?b1 jf:fiscalYear ?fy ; jf:budgetCategory jf:InitialBudget ; jf:amount ?initial }
      OPTIONAL { ?program jf:budget ?b4 . ?b4 jf:fiscalYear ?fy ; jf:budgetCategory jf:ExecutedAmount ; jf:amount ?executed }
    } ORDER BY ?rs_id ?fy""", {"ministry": Literal(name)})
    seen: set[tuple[str, Any]] = set()
    rows = []
    for r in found:
        if (r["program"], r["fy"]) in seen:
            continue
        seen.add((r["program"], r["fy"]))
        rows.append({**_program_link(r["label"], r["program"], r["rs_id"]),
                     "rs_id": r["rs_id"], "year": str(r["fy"]), "initial": r["initial"], "executed": r["executed"]})
    return rows


@router.get("/ministries/{name}", name="ministry", response_class=HTMLResponse)
def ministry(request: Request, name: str) -> Response:
    """A ministry's RS programs with budget and execution per year."""
    store = get_state(request).store
    rows = memo(request, ("ministry", name), lambda: ministry_rows(store, name))
    if not rows:
        raise ApiError(404, f"no RS programs of a ministry named {name!r}; use the name as published, e.g. 経済産業省")
    params = request.query_params
    view = tables.view_of(MINISTRY_COLUMNS, rows, params, table_id="programs", per=50)
    return tables.respond(view, params, filename="ministry-programs",
                          page=lambda: _page(request, "ministry.html", {"name": name, "t": view,
                                                                        "programs": len({r["rs_id"] for r in rows})}))


# ---------------------------------------------------------------- /rs/{id}

EDGE_COLUMNS = [
    Column("hop", "段", "hop", kind="num"),
    Column("source", "支出元", "from"),
    Column("target", "支出先ブロック", "to"),
    Column("kind", "種別（記載どおり）", "kind, as published", filter=True),
]
MEMBER_COLUMNS = [
    Column("block", "ブロック", "block"),
    Column("name", "支出先", "recipient", kind="link"),
    Column("number", "法人番号", "corporate number"),
    Column("amount", "支出額", "amount", kind="yen"),
]


def rs_detail(store: Store, rs_id: str) -> dict[str, Any] | None:
    """Label, ministry, edges and members of the RS sheet *rs_id* (from ``rs-program-chain``)."""
    head = _select(store, """SELECT ?sheet ?label ?ministry WHERE {
      ?sheet a jf:ReviewProgram ; jf:rsProjectId ?id .
      OPTIONAL { ?sheet rdfs:label ?label } OPTIONAL { ?sheet jf:ministry/rdfs:label ?ministry }
    } LIMIT 1""", {"id": Literal(rs_id)})
    if not head:
        return None
    edges: dict[str, dict[str, Any]] = {}
    members: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _named(store, "rs-program-chain", {"id": rs_id}):
        target = f"{r['block_id']} {r['block_label'] or ''}".strip()
        edge = edges.setdefault(r["flow"], {"_id": r["flow"], "hop": r["hop"], "source": r["funder_label"] or r["funder"],
                                            "target": target, "kind": r["kind"], "_src": r["funder"],
                                            "_dst": r["block"]})
        if r["funder_label"] and edge["source"].isascii() and not r["funder_label"].isascii():
            edge["source"] = r["funder_label"]  # the Japanese name over the English one
        if r["recipient"]:
            m = members.setdefault((r["block_id"], r["recipient"]), {
                "block": target, "name": r["recipient_label"] or r["recipient"],
                "name_href": org_href(r["recipient"]), "number": r["corporate_number"], "amount": None, "_items": set()})
            if r["item"] and r["item"] not in m["_items"]:
                m["_items"].add(r["item"])
                m["amount"] = (m["amount"] or 0) + r["amount"]
    for m in members.values():
        del m["_items"]
    return {**head[0], "id": rs_id, "edges": list(edges.values()), "members": list(members.values())}


DRAWN_EDGES = 80
"""Chains with more edges than this are shown as tables only (a picture that size cannot be read)."""


def chain_svg(detail: Mapping[str, Any]) -> Markup | None:
    """The sheet's block chain drawn by :func:`kg.diagrams.render_chain` as inline SVG, or ``None``
    (no edges, too many to read, or Graphviz failed: the tables say the same)."""
    edges = detail["edges"]
    if not edges or len(edges) > DRAWN_EDGES:
        return None
    sources = {e["_src"] for e in edges}
    labels: dict[str, str] = {}
    for e in edges:
        labels.setdefault(e["_src"], e["source"])
        labels[e["_dst"]] = e["target"]
    targets = {e["_dst"] for e in edges}
    blocks = [Block(key, label, "state" if key not in targets else "executing" if key in sources else "beneficiary")
              for key, label in labels.items()]
    chain = Chain(detail.get("label") or detail["id"], blocks,
                  [Edge(e["_src"], e["_dst"], e["kind"] or "") for e in edges])
    try:
        svg = render_chain(chain, fmt="svg").decode("utf-8")
    except (KGError, RuntimeError, subprocess.CalledProcessError):  # no Graphviz, or dot failed
        return None
    start = svg.find("<svg")
    return Markup(svg[start:]) if start >= 0 else None


@router.get("/rs/{rs_id}", name="rs_program", response_class=HTMLResponse)
def rs_program(request: Request, rs_id: str) -> Response:
    """One RS sheet's block chain: edges ministry → blocks → blocks, and the blocks' members."""
    if not _RS_ID.fullmatch(rs_id):
        raise ApiError(404, f"no RS sheet {rs_id!r}: a 予算事業ID is a number, e.g. 3649")
    store = get_state(request).store
    detail = memo(request, ("rs", rs_id), lambda: rs_detail(store, rs_id))
    if detail is None:
        raise ApiError(404, f"no RS sheet with 予算事業ID {rs_id} in the data served here")
    params = request.query_params
    which = "members" if params.get("table") == "members" else "edges"
    views = {"edges": tables.view_of(EDGE_COLUMNS, detail["edges"], params if which == "edges" else {},
                                     table_id="edges", per=50, params={"table": "edges"}),
             "members": tables.view_of(MEMBER_COLUMNS, detail["members"], params if which == "members" else {},
                                       table_id="members", per=50, params={"table": "members"})}
    return tables.respond(views[which], params, filename=f"rs-{rs_id}-{which}",
                          page=lambda: _page(request, "rs_program.html", {
                              "s": detail, **views, "svg": memo(request, ("rs.svg", rs_id), lambda: chain_svg(detail))}))


def rs_sheets(request: Request, program: str) -> list[dict[str, Any]]:
    """The RS sheets a PR program (compact or full IRI) is bridged to: ``{id, label, href}``."""
    from server.data import expand

    store = get_state(request).store
    found = _select(store, """SELECT DISTINCT ?id ?label WHERE {
      ?p jf:rsProjectId ?id .
      OPTIONAL { ?sheet a jf:ReviewProgram ; jf:rsProjectId ?id ; rdfs:label ?label }
    } ORDER BY ?id""", {"p": URIRef(expand(program))})
    return [{"id": r["id"], "label": r["label"], "href": rs_href(r["id"])} for r in found]
