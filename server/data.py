"""Read programs, budgets, flows and bodies from a store, as plain JSON-ready dictionaries.

The HTML pages (:mod:`server.web`) and the REST API (:mod:`server.api`) both call these
functions, so a page and its JSON twin always say the same. Every query goes through
:meth:`kg.store.Store.query` with values bound by ``VALUES`` (never formatted into the text), so
they run on the embedded store and on a remote endpoint alike. Identifiers are the compact names
the CLI prints (``program:go-tech-r7``); ``iri`` fields hold the full IRI.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from kg import names, queries, views
from kg.formats import compact, expand, rate_label
from kg.load import ID, PREFIXES
from kg.store import Store, Table, Term

__all__ = [
    "JF",
    "body_detail",
    "channel_of",
    "concept_labels",
    "expand",
    "headline",
    "list_bodies",
    "list_flows",
    "list_programs",
    "local_path",
    "phase_of",
    "program_detail",
    "py",
    "slug_iri",
]

JF = PREFIXES["jf"]
PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"
SLUG = r"[A-Za-z0-9][A-Za-z0-9._-]*"

_PFX = """PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


# ---------------------------------------------------------------- small helpers

def local_path(name: str) -> str:
    """Where this server shows a thing: program and body pages, ``/id/…``, ``/ont#…``, or the IRI itself.

    Examples
    --------
    >>> local_path("program:go-tech-r7")
    '/programs/go-tech-r7'
    >>> local_path("https://w3id.org/jp-funding/id/org/jetro")
    '/bodies/jetro'
    >>> local_path("https://w3id.org/jp-funding/id/corp/2010405004147")
    '/orgs/2010405004147'
    >>> local_path("program:rs2024-3649")
    '/rs/3649'
    >>> local_path("flow:go-tech-r7-1")
    '/id/flow/go-tech-r7-1'
    >>> local_path("jf:Program")
    '/ont#Program'
    """
    iri = expand(name)
    rs = re.fullmatch(re.escape(PREFIXES["program"]) + r"rs\d{4}-(\d+)", iri)
    if rs:  # an RS review sheet (kg import rs): its spending chain
        return "/rs/" + rs.group(1)
    if iri.startswith(PREFIXES["program"]):
        return "/programs/" + iri[len(PREFIXES["program"]):]
    if iri.startswith(PREFIXES["orgs"]):
        return "/bodies/" + iri[len(PREFIXES["orgs"]):]
    if re.fullmatch(re.escape(ID) + r"corp/\d{13}", iri):
        return "/orgs/" + iri[len(ID) + 5:]
    if iri.startswith(ID):
        return "/id/" + iri[len(ID):]
    if iri.startswith(JF):
        return "/ont#" + iri[len(JF):]
    return iri


def slug_iri(kind: str, slug: str) -> URIRef | None:
    """The IRI of ``program:<slug>`` / ``orgs:<slug>``, or ``None`` for a slug that cannot be one."""
    if not re.fullmatch(SLUG, slug):
        return None
    return URIRef(PREFIXES[kind] + slug)


def py(term: Term | None) -> Any:
    """A term as JSON: compact IRI, int, float, bool or str; ``None`` when unbound.

    Examples
    --------
    >>> py(Literal(340000000000)), py(Literal(Decimal("0.5")))
    (340000000000, 0.5)
    """
    if term is None:
        return None
    if isinstance(term, URIRef):
        return compact(str(term))
    if isinstance(term, Literal):
        kind = _DATATYPES.get(str(term.datatype)) if term.datatype is not None else None
        if kind == "int":
            return int(str(term))
        if kind == "float":
            return float(Decimal(str(term)))
        if kind == "bool":
            return str(term) in ("true", "1")
        if kind == "year":
            return int(str(term)) if str(term).isdigit() else str(term)
        return str(term)
    return f"_:{term}"


_XSD = "http://www.w3.org/2001/XMLSchema#"
_DATATYPES = {**{_XSD + n: "int" for n in ("integer", "int", "long", "nonNegativeInteger")},
              **{_XSD + n: "float" for n in ("decimal", "double", "float")},
              _XSD + "boolean": "bool", _XSD + "gYear": "year"}
"""How :func:`py` reads each datatype (looked up by string: rdflib's namespace attributes are slow)."""


def _select(store: Store, sparql: str, bindings: Mapping[str, Term] | None = None) -> list[dict[str, Term | None]]:
    answer = store.query(sparql, bindings=bindings)
    if not isinstance(answer, Table):  # pragma: no cover - only SELECT queries are sent
        raise TypeError("expected a SELECT answer")
    return answer.dicts()


def _named(store: Store, name: str, values: Mapping[str, str] | None = None) -> list[dict[str, Term | None]]:
    answer = queries.get(name).run(store, values)
    if not isinstance(answer, Table):  # pragma: no cover - named queries are SELECT queries
        raise TypeError(f"query {name} is not a SELECT query")
    return answer.dicts()


def _count(store: Store, sparql: str) -> int:
    rows = _select(store, _PFX + sparql)
    return int(str(rows[0]["n"])) if rows else 0


def _split(value: Term | None) -> list[str]:
    return [v for v in str(value).split("\x1f") if v] if value is not None else []


def phase_of(store: Store) -> dict[str, tuple[str | None, str | None]]:
    """Each program's (fiscal year, budget phase) by compact id, e.g. ``('2024', '令和6年度補正')``."""
    return {compact(n.iri): (n.fiscal_year, n.phase) for n in names.index(store).names if n.kind == "program"}


def arrow_text(instruments_ja: list[str], rates: list[str]) -> str:
    """An arrow's instrument and rates, each said once: 補助（定額）, not 補助（定額）（定額）.

    Examples
    --------
    >>> arrow_text(["補助（定額）"], ["定額"]), arrow_text(["補助"], ["1/2以内", "定額"])
    ('補助（定額）', '補助（1/2以内、定額）')
    """
    text = "・".join(instruments_ja)
    extra = [r for r in rates if r not in text]
    return f"{text}（{'、'.join(extra)}）" if extra else text


# ---------------------------------------------------------------- home page

def headline(store: Store) -> dict[str, Any]:
    """Counts for the home page and the budget totals (named query ``budget-totals``)."""
    rows = _named(store, "budget-totals")
    cats = [str(r["category"]) for r in rows]
    labels_ja, labels_en = names.labels(store, cats), names.labels(store, cats, lang="en")
    totals = [
        {
            "fiscal_year": py(r["fiscal_year"]),
            "category": py(r["category"]),
            "category_ja": labels_ja.get(str(r["category"]), ""),
            "category_en": labels_en.get(str(r["category"]), ""),
            "total": py(r["total"]),
            "programs": py(r["programs"]),
            "includes_approximate": py(r["includes_approximate"]),
        }
        for r in rows
    ]
    fy2025 = next((t for t in totals if t["fiscal_year"] == 2025 and t["category"] == "jf:InitialBudget"), None)
    return {
        "sheets": _count(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p jf:budgetLineText ?t }"),
        "programs": _count(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p a jf:Program }"),
        "flows": _count(store, "SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE { ?f a jf:FundingFlow }"),
        "bodies": _count(store, "SELECT (COUNT(DISTINCT ?b) AS ?n) WHERE { ?b a jf:NamedBody }"),
        "triples": store.count(),
        "totals": totals,
        "fy2025_initial": fy2025,
    }


# ---------------------------------------------------------------- programs

_BUDGETS = _PFX + """
SELECT ?program ?budget ?fy ?category ?category_ja ?category_en ?amount ?approx ?request ?text ?line WHERE {
  ?program a jf:Program .  # the PR sheets' programs: not the RS review programs' 200,000 budget rows
  ?program jf:budget ?budget .
  ?budget jf:fiscalYear ?fy ; jf:budgetCategory ?category ; jf:amount ?amount .
  OPTIONAL { ?category skos:prefLabel ?category_ja FILTER (LANG(?category_ja) = "ja") }
  OPTIONAL { ?category skos:prefLabel ?category_en FILTER (LANG(?category_en) = "en") }
  OPTIONAL { ?budget jf:isApproximate ?approx }
  OPTIONAL { ?budget jf:isRequest ?request }
  OPTIONAL { ?budget jf:sourceText ?text }
  OPTIONAL { ?budget jf:sourceLine ?line }
}
ORDER BY ?program ?fy ?category ?budget
"""

_SHEET_LINES = _PFX + "SELECT ?program ?text WHERE { ?program jf:budgetLineText ?text }"


def _budgets(store: Store, program: URIRef | None = None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _select(store, _BUDGETS, {"program": program} if program is not None else None):
        out[py(r["program"])].append({
            "id": py(r["budget"]),
            "fiscal_year": py(r["fy"]),
            "category": py(r["category"]),
            "category_ja": py(r["category_ja"]),
            "category_en": py(r["category_en"]),
            "amount": py(r["amount"]),
            "approximate": bool(py(r["approx"])),
            "request": bool(py(r["request"])),
            "source_text": py(r["text"]),
            "source_line": py(r["line"]),
        })
    return out


def list_programs(store: Store, *, q: str | None = None, sheets_only: bool = False) -> list[dict[str, Any]]:
    """Every program (named query ``programs``) with its budgets, in source order.

    Parameters
    ----------
    q : str, optional
        Keep programs whose Japanese or English label contains *q* (case-insensitive).
    sheets_only : bool
        Keep only budget sheets (programs with a budget line), not sub-measures.
    """
    budgets = _budgets(store)
    lines = {py(r["program"]): py(r["text"]) for r in _select(store, _SHEET_LINES)}
    needle = _fold(q) if q else None
    phases = phase_of(store)
    out = []
    for r in _named(store, "programs"):
        pid = py(r["program"])
        if sheets_only and pid not in lines:
            continue
        if needle and needle not in _fold(str(r["label_ja"])) and needle not in _fold(str(r["label_en"])):
            continue
        out.append({
            "id": pid,
            "slug": pid.removeprefix("program:"),
            "iri": str(r["program"]),
            "label_ja": py(r["label_ja"]),
            "label_en": py(r["label_en"]),
            "notation": py(r["notation"]),
            "parent": py(r["parent"]),
            "is_sheet": pid in lines,
            "budget_line_text": lines.get(pid),
            "line_start": py(r["line_start"]),
            "line_end": py(r["line_end"]),
            "budgets": budgets.get(pid, []),
            "fiscal_year": phases.get(pid, (None, None))[0],
            "phase": phases.get(pid, (None, None))[1],
        })
    return out


_FULLWIDTH = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}


def _fold(text: str) -> str:
    """Lower-case, with full-width ASCII letters and digits made half-width (as the data writes them)."""
    return text.translate(_FULLWIDTH).lower()


_UNITS = _PFX + """
SELECT DISTINCT ?of ?unit ?short ?full WHERE {
  ?of jf:partOf* ?program ; jf:responsibleUnit ?unit .
  ?unit rdfs:label ?short FILTER (LANG(?short) = "ja")
  OPTIONAL { ?unit skos:altLabel ?full FILTER (LANG(?full) = "ja") }
}
ORDER BY ?of ?short
"""

_FLOWS = _PFX + """
SELECT ?flow ?of ?of_ja ?hop ?funder ?funder_ja ?funder_en ?recipient ?recipient_ja ?recipient_en
       ?source_text ?source_line ?uncertain
       (GROUP_CONCAT(DISTINCT STR(?instrument); separator="\x1f") AS ?instruments)
       (GROUP_CONCAT(DISTINCT ?instrument_ja; separator="\x1f") AS ?instruments_ja)
       (GROUP_CONCAT(DISTINCT ?rate_text; separator="\x1f") AS ?rates) WHERE {
  ?flow a jf:FundingFlow ; jf:ofProgram ?of ; jf:funder ?funder ; jf:recipient ?recipient .
  %(filter)s
  OPTIONAL { ?of rdfs:label ?of_ja FILTER (LANG(?of_ja) = "ja") }
  OPTIONAL { ?flow jf:instrument ?instrument .
             OPTIONAL { ?instrument skos:prefLabel ?instrument_ja FILTER (LANG(?instrument_ja) = "ja") } }
  OPTIONAL { ?flow jf:hop ?hop }
  OPTIONAL { ?funder rdfs:label ?funder_ja FILTER (LANG(?funder_ja) = "ja") }
  OPTIONAL { ?funder rdfs:label ?funder_en FILTER (LANG(?funder_en) = "en") }
  OPTIONAL { ?recipient rdfs:label ?recipient_ja FILTER (LANG(?recipient_ja) = "ja") }
  OPTIONAL { ?recipient rdfs:label ?recipient_en FILTER (LANG(?recipient_en) = "en") }
  OPTIONAL { ?flow jf:rate/jf:rateText ?rate_text }
  OPTIONAL { ?flow jf:sourceText ?source_text }
  OPTIONAL { ?flow jf:sourceLine ?source_line }
  OPTIONAL { ?flow jf:isUncertain ?uncertain }
}
GROUP BY ?flow ?of ?of_ja ?hop ?funder ?funder_ja ?funder_en ?recipient ?recipient_ja ?recipient_en
         ?source_text ?source_line ?uncertain
ORDER BY ?of ?hop ?flow
"""


def list_flows(store: Store, *, program: URIRef | None = None, body: URIRef | None = None) -> list[dict[str, Any]]:
    """Funding flows, hop by hop, with instruments and rates.

    Parameters
    ----------
    program : URIRef, optional
        Only flows of this program and its sub-measures.
    body : URIRef, optional
        Only flows this actor gives or receives.
    """
    filters = []
    bindings: dict[str, Term] = {}
    if program is not None:
        filters.append("?of jf:partOf* ?program .")
        bindings["program"] = program
    if body is not None:
        filters.append("FILTER (?funder = ?body || ?recipient = ?body)")
        bindings["body"] = body
    sparql = _FLOWS % {"filter": "\n  ".join(filters)}
    phases = phase_of(store)
    out = []
    for r in _select(store, sparql, bindings):
        instruments = [compact(i) for i in _split(r["instruments"])]
        fy, phase = phases.get(py(r["of"]), (None, None))
        out.append({
            "id": py(r["flow"]),
            "program": py(r["of"]),
            "program_ja": py(r["of_ja"]),
            "hop": py(r["hop"]),
            "funder": {"id": py(r["funder"]), "label_ja": py(r["funder_ja"]), "label_en": py(r["funder_en"])},
            "recipient": {"id": py(r["recipient"]), "label_ja": py(r["recipient_ja"]),
                          "label_en": py(r["recipient_en"])},
            "instruments": instruments,
            "instruments_ja": _split(r["instruments_ja"]),
            "rates": _split(r["rates"]),
            "source_text": py(r["source_text"]),
            "source_line": py(r["source_line"]),
            "uncertain": bool(py(r["uncertain"])),
            "arrow": arrow_text(_split(r["instruments_ja"]), _split(r["rates"])),
            "fiscal_year": fy,
            "phase": phase,
        })
    return out


def _about(store: Store, iri: URIRef) -> list[tuple[URIRef, Term]]:
    rows = _select(store, "SELECT ?p ?o WHERE { ?s ?p ?o }", {"s": iri})
    return [(r["p"], r["o"]) for r in rows if isinstance(r["p"], URIRef) and r["o"] is not None]  # type: ignore[misc]


def _lang(values: Iterable[Term], lang: str) -> list[str]:
    return [str(v) for v in values if isinstance(v, Literal) and v.language == lang]


_RATE_OF = {
    # a rate of the program or a sub-measure, or of one of their arrows; two queries, because
    # Virtuoso 7.2 cannot compile the path followed by a UNION with BIND (SQ156), and a path inside
    # each UNION branch does not see the bound ?top on Oxigraph (1.6 s per page on the national graph)
    "program": "?program jf:partOf* ?top ; jf:rate ?rate . BIND (?program AS ?holder)",
    "flow": "?program jf:partOf* ?top . ?holder jf:ofProgram ?program ; jf:rate ?rate",
}
_RATES = _PFX + """
SELECT ?rate ?holder ?program ?rate_text ?num ?den ?value ?fixed ?condition ?line
       (GROUP_CONCAT(DISTINCT STR(?category); separator="\x1f") AS ?categories)
       (GROUP_CONCAT(DISTINCT ?category_ja; separator="\x1f") AS ?categories_ja) WHERE {
  %s
  OPTIONAL { ?rate jf:rateText ?rate_text }
  OPTIONAL { ?rate jf:rateNumerator ?num ; jf:rateDenominator ?den }
  OPTIONAL { ?rate jf:rateValue ?value }
  OPTIONAL { ?rate jf:isFixedAmount ?fixed }
  OPTIONAL { ?rate jf:condition ?condition }
  OPTIONAL { ?rate jf:sourceLine ?line }
  # not nested: Virtuoso 7.2 cannot compile an OPTIONAL inside this OPTIONAL (SQ156); every category
  # has a Japanese prefLabel (ConceptShape), so the flat form drops nothing
  OPTIONAL { ?rate jf:appliesTo ?category . ?category skos:prefLabel ?category_ja FILTER (LANG(?category_ja) = "ja") }
}
GROUP BY ?rate ?holder ?program ?rate_text ?num ?den ?value ?fixed ?condition ?line
"""


_SOURCES = _PFX + """
SELECT ?source ?label_ja ?label_en WHERE {
  ?program <http://www.w3.org/ns/prov#wasDerivedFrom> ?source .
  OPTIONAL { ?source rdfs:label ?label_ja FILTER (LANG(?label_ja) = "ja") }
  OPTIONAL { ?source rdfs:label ?label_en FILTER (LANG(?label_en) = "en") }
}
ORDER BY ?source
"""


def program_rates(store: Store, program: URIRef) -> list[dict[str, Any]]:
    """Every rate of *program*, its sub-measures and their arrows, one row per rate, class or not.

    ``label`` is the rate as a fraction (:func:`kg.formats.rate_label`: 1/2以内, 定額, 10/10);
    ``classes_ja`` the beneficiary classes it names (empty for a rate of the whole program or arrow).
    """
    out = []
    rows = [r for holder in _RATE_OF.values() for r in _select(store, _RATES % holder, {"top": program})]
    # as ORDER BY ?line ?rate would: rates without a line first, then by line and IRI
    rows.sort(key=lambda r: (r["line"] is not None, py(r["line"]) or 0, str(r["rate"])))
    for r in rows:
        text = py(r["rate_text"])
        label = "定額" if py(r["fixed"]) is True and not r["num"] else rate_label(
            py(r["num"]), py(r["den"]), py(r["value"]), text)
        out.append({
            "id": py(r["rate"]),
            "program": py(r["program"]),
            "on_flow": py(r["holder"]) != py(r["program"]),
            "label": label or text or "",
            "text": text,
            "value": py(r["value"]),
            "fixed": py(r["fixed"]) is True,
            "classes": [compact(c) for c in _split(r["categories"])],
            "classes_ja": _split(r["categories_ja"]),
            "condition": py(r["condition"]),
            "source_line": py(r["line"]),
        })
    return out


def program_detail(store: Store, slug: str) -> dict[str, Any] | None:
    """Everything about ``program:<slug>``, or ``None`` when there is no such program."""
    iri = slug_iri("program", slug)
    if iri is None:
        return None
    pid = compact(str(iri))
    about = _about(store, iri)
    if (RDF.type, URIRef(JF + "Program")) not in about:
        return None
    props: dict[URIRef, list[Term]] = defaultdict(list)
    for p, o in about:
        props[p].append(o)
    programs = list_programs(store)
    by_id = {row["id"]: row for row in programs}
    me = by_id[pid]
    children: dict[str, list[str]] = defaultdict(list)
    for row in programs:
        if row["parent"]:
            children[row["parent"]].append(row["id"])
    family, todo = {pid}, [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in family:
                family.add(c)
                todo.append(c)

    budgets = me["budgets"]
    initial = {b["fiscal_year"]: b["amount"] for b in budgets if b["category"] == "jf:InitialBudget"}
    change = None
    if 2024 in initial and 2025 in initial:
        change = {
            "fy2024_initial": initial[2024],
            "fy2025_initial": initial[2025],
            "change": initial[2025] - initial[2024],
            "ratio": round(initial[2025] / initial[2024], 4) if initial[2024] else None,
        }
    units: list[dict[str, Any]] = []
    for r in _select(store, _UNITS, {"program": iri}):
        of = py(r["of"])
        units.append({"of": of, "of_ja": by_id[of]["label_ja"] if of in by_id else None, "id": py(r["unit"]),
                      "label_ja": py(r["short"]), "full_label_ja": py(r["full"])})
    rates = program_rates(store, iri)
    for r in rates:
        r["program_ja"] = by_id[r["program"]]["label_ja"] if r["program"] in by_id else None
    caps = [
        {
            "of": py(r["of"]),
            "of_ja": py(r["of_label"]),
            "kind_ja": py(r["kind_label"]),
            "amount": py(r["amount"]),
            "category": py(r["category"]),
            "condition": py(r["condition"]),
            "source_text": py(r["source_text"]),
        }
        for r in _named(store, "caps", {"program": pid})
    ]
    cap_cats = names.labels(store, [expand(c["category"]) for c in caps if c["category"]])
    for cap in caps:
        cap["category_ja"] = cap_cats.get(expand(cap["category"])) if cap["category"] else None
    targets = [
        {"of": py(r["of"]), "id": py(r["target"]), "text": py(r["text"]), "value": py(r["value"]),
         "unit": py(r["unit"]), "year": py(r["year"])}
        for r in _named(store, "program-targets", {"program": pid})
    ]
    parent = by_id.get(me["parent"]) if me["parent"] else None
    sources = [{"id": py(r["source"]), "label_ja": py(r["label_ja"]), "label_en": py(r["label_en"])}
               for r in _select(store, _SOURCES, {"program": iri})]
    for t_ in targets:
        t_["of_ja"] = by_id[t_["of"]]["label_ja"] if t_["of"] in by_id else None
    return {
        **{k: me[k] for k in ("id", "slug", "iri", "label_ja", "label_en", "notation", "is_sheet",
                              "budget_line_text", "line_start", "line_end", "budgets")},
        "alt_labels_ja": _lang(props.get(SKOS.altLabel, []), "ja"),
        "parent": ({"id": parent["id"], "label_ja": parent["label_ja"], "label_en": parent["label_en"]}
                   if parent else None),
        "sub_measures": [
            {"id": by_id[c]["id"], "label_ja": by_id[c]["label_ja"], "label_en": by_id[c]["label_en"],
             "notation": by_id[c]["notation"], "budgets": by_id[c]["budgets"]}
            for c in children.get(pid, [])
        ],
        "same_scheme_as": [
            {"id": s, "label_ja": by_id[s]["label_ja"] if s in by_id else None,
             "label_en": by_id[s]["label_en"] if s in by_id else None,
             "phase": by_id[s]["phase"] if s in by_id else None}
            for s in sorted(py(o) for o in props.get(URIRef(JF + "sameSchemeAs"), []))
        ],
        "fiscal_year": me["fiscal_year"],
        "phase": me["phase"],
        "change": change,
        "units": units,
        "flows": list_flows(store, program=iri),
        "rates": rates,
        "caps": caps,
        "targets": targets,
        "sources": sources,
        "uncertain": any(py(o) is True for o in props.get(URIRef(JF + "isUncertain"), [])),
        "comments_en": _lang(props.get(RDFS.comment, []), "en"),
        "comments_ja": _lang(props.get(RDFS.comment, []), "ja"),
    }


# ---------------------------------------------------------------- bodies

_BODIES = _PFX + """
SELECT ?body ?label_ja ?label_en ?abbreviation WHERE {
  ?body a jf:NamedBody .
  OPTIONAL { ?body rdfs:label ?label_ja FILTER (LANG(?label_ja) = "ja") }
  OPTIONAL { ?body rdfs:label ?label_en FILTER (LANG(?label_en) = "en") }
  OPTIONAL { ?body jf:abbreviation ?abbreviation }
}
ORDER BY ?body
"""


def list_bodies(store: Store) -> list[dict[str, Any]]:
    """Every named body (国, JETRO, SMRJ …) with its labels."""
    return [
        {"id": py(r["body"]), "slug": py(r["body"]).removeprefix("orgs:"), "label_ja": py(r["label_ja"]),
         "label_en": py(r["label_en"]), "abbreviation": py(r["abbreviation"])}
        for r in _select(store, _BODIES)
    ]


def channel_of(store: Store, body_id: str) -> dict[str, Any]:
    """What *body_id* channels (:func:`kg.views.channels`); empty lists for a body that channels nothing."""
    found = views.channels(store, body_id)
    if found:
        return dict(found[0].__dict__)
    return {"body": body_id, "label_ja": "", "label_en": "", "sheets": [], "programs": [], "instruments_in": [],
            "instruments_out": [], "funders": [], "recipient_categories": [], "budgets": {}}


_CONCEPT_LABELS = _PFX + """
SELECT ?concept ?label WHERE { ?concept skos:prefLabel ?label FILTER (LANG(?label) = "ja") }
"""


def concept_labels(store: Store) -> dict[str, str]:
    """Japanese labels of concepts (instruments, actor categories …) and bodies, by compact name."""
    return {py(r["concept"]): str(r["label"]) for r in _select(store, _CONCEPT_LABELS)}


_CAP_LABELS = _PFX + """
SELECT ?concept ?label WHERE { ?concept skos:prefLabel ?label FILTER (LANG(?label) = "ja") }
"""


def flow_order(programs: Mapping[str, Mapping[str, Any]]) -> Any:
    """A sort key for flows: budget phase, then the sheet in source order, then the program, then the hop."""
    def key(f: Mapping[str, Any]) -> tuple[Any, ...]:
        prog = programs.get(f["program"], {})
        return (f.get("fiscal_year") or "", f.get("phase") or "", prog.get("line_start") or 0,
                f["program"], f.get("hop") or 0, f.get("source_line") or 0, f["id"])
    return key


def body_budgets(store: Store, body: URIRef, programs: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What *body* is involved in, per program and fiscal year, with the budget the data states for it.

    The sheets give no amount per arrow, so the amount is the budget of the program the body's
    arrow belongs to, or of the nearest program above it with a budget; ``basis`` says which:
    ``program`` (a sub-measure's own budget) or ``sheet`` (the whole sheet's budget, シート全体の予算額 —
    not what this body receives).
    """
    involved: set[str] = set()
    for r in _select(store, _PFX + """
        SELECT DISTINCT ?of WHERE { ?flow a jf:FundingFlow ; jf:ofProgram ?of ; jf:funder|jf:recipient ?body }""",
                     {"body": body}):
        involved.add(py(r["of"]))
    rows: dict[tuple[str, Any, Any], dict[str, Any]] = {}
    for of in sorted(involved):
        holder, seen = of, set()
        while holder in programs and not programs[holder]["budgets"] and programs[holder]["parent"] \
                and holder not in seen:
            seen.add(holder)
            holder = programs[holder]["parent"]
        me = programs.get(holder)
        if me is None:
            continue
        for b in me["budgets"]:
            key = (holder, b["fiscal_year"], b["category"])
            if key in rows:
                rows[key]["via"].append(of)
                continue
            rows[key] = {
                "program": holder, "program_ja": me["label_ja"], "program_en": me["label_en"],
                "phase": me["phase"], "fiscal_year": b["fiscal_year"], "category": b["category"],
                "category_ja": b["category_ja"], "amount": b["amount"], "approximate": b["approximate"],
                "basis": "sheet" if me["is_sheet"] else "program", "via": [of],
                "line_start": me["line_start"],
            }
    return sorted(rows.values(), key=lambda r: (r["fiscal_year"] or 0, r["category"] or "", r["line_start"] or 0,
                                                r["program"]))


def body_detail(store: Store, slug: str) -> dict[str, Any] | None:
    """A named or listed body ``orgs:<slug>``: labels, what it channels, its programs and flows.

    ``None`` when the graph says nothing about it.
    """
    iri = slug_iri("orgs", slug)
    if iri is None:
        return None
    about = _about(store, iri)
    if not about:
        return None
    props: dict[URIRef, list[Term]] = defaultdict(list)
    for p, o in about:
        props[p].append(o)
    bid = compact(str(iri))
    channel = channel_of(store, bid)
    labels = {row["id"]: row for row in list_programs(store)}
    flows = list_flows(store, body=iri)
    flows.sort(key=flow_order(labels))
    roles = [
        {"program": py(r["program"]), "program_ja": py(r["program_label"]), "sheet": py(r["sheet"]),
         "role": py(r["role"]), "instrument_ja": py(r["instrument_label"])}
        for r in _named(store, "body-programs", {"body": bid})
    ]
    category = [py(o) for o in props.get(URIRef(JF + "actorCategory"), [])]
    label_ja = next(iter(_lang(props.get(RDFS.label, []), "ja")), None)
    label_en = next(iter(_lang(props.get(RDFS.label, []), "en")), None)
    channel["label_ja"] = channel["label_ja"] or label_ja or ""
    channel["label_en"] = channel["label_en"] or label_en or ""
    types = sorted(py(o) for o in props.get(RDF.type, []))
    mentioned = [*types, *category, *channel["funders"], *channel["instruments_in"], *channel["instruments_out"],
                 *channel["recipient_categories"]]
    found = names.labels(store, [expand(m) for m in mentioned])
    found_en = names.labels(store, [expand(m) for m in mentioned], lang="en")
    return {
        "id": bid,
        "slug": slug,
        "iri": str(iri),
        "types": types,
        "names": {m: found.get(expand(m), "") for m in mentioned},
        "names_en": {m: found_en.get(expand(m), "") for m in mentioned},
        "label_ja": label_ja,
        "label_en": label_en,
        "alt_labels_ja": sorted(_lang(props.get(SKOS.altLabel, []), "ja")),
        "abbreviation": next((str(o) for o in props.get(URIRef(JF + "abbreviation"), [])), None),
        "categories": category,
        "channel": channel,
        "labels": {**concept_labels(store), **{k: v["label_ja"] for k, v in labels.items()}},
        "roles": roles,
        "budgets": body_budgets(store, iri, labels),
        "program_phases": {k: v["phase"] for k, v in labels.items()},
        "flows": flows,
    }
