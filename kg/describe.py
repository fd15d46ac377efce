"""Everything about one program, or one body's channels, as people read it: labels, 億円, fractions.

:func:`program_doc` gathers a program (a budget sheet or a sub-measure) into one document: budgets
with 億円 labels beside exact yen, responsible units, flows hop by hop, one row per rate (with or
without a beneficiary class) as a fraction, caps, targets and sub-measures. :func:`program_text`
writes it for a terminal. Ids stay in the document (``id`` keys) for scripts.

Examples
--------
>>> from kg.store import EmbeddedStore
>>> store = EmbeddedStore.from_paths()
>>> doc = program_doc(store, "https://w3id.org/jp-funding/id/program/energy-saving-investment-demand-shift-r6s")
>>> sorted({r["rate"] for r in doc["rates"]})
['1/2', '1/2以内', '1/2等', '1/3', '1/3以内', '1/4', '2/3', '2/3以内', '定額']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdflib import URIRef

from kg import names
from kg.formats import compact, expand, plain, rate_label, text_table, yen_label
from kg.queries import get as named_query
from kg.store import Store, as_table
from kg.views import Channel

__all__ = ["channel_labels", "channel_text", "program_doc", "program_text"]

_PREFIXES = """PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
_BUDGETS = _PREFIXES + """SELECT ?fiscal_year ?category ?amount ?approximate ?source_text WHERE {
  ?program jf:budget ?b . ?b jf:fiscalYear ?fiscal_year ; jf:budgetCategory ?category ; jf:amount ?amount .
  OPTIONAL { ?b jf:isApproximate ?approximate } OPTIONAL { ?b jf:sourceText ?source_text }
} ORDER BY ?fiscal_year ?category"""
_UNITS = _PREFIXES + """SELECT ?of ?unit WHERE { ?of jf:partOf* ?program ; jf:responsibleUnit ?unit } ORDER BY ?of ?unit"""
_RATES = _PREFIXES + """SELECT ?of ?rate ?flow ?numerator ?denominator ?value ?text ?fixed ?category ?condition WHERE {
  ?of jf:partOf* ?program .
  { ?of jf:rate ?rate } UNION { ?flow jf:ofProgram ?of ; jf:rate ?rate }
  OPTIONAL { ?rate jf:rateNumerator ?numerator } OPTIONAL { ?rate jf:rateDenominator ?denominator }
  OPTIONAL { ?rate jf:rateValue ?value } OPTIONAL { ?rate jf:rateText ?text }
  OPTIONAL { ?rate jf:isFixedAmount ?fixed }
  OPTIONAL { ?rate jf:appliesTo ?category } OPTIONAL { ?rate jf:condition ?condition }
} ORDER BY ?of ?flow ?rate"""
_SUBS = _PREFIXES + """SELECT ?sub ?notation WHERE { ?sub jf:partOf ?program OPTIONAL { ?sub skos:notation ?notation } }
ORDER BY ?notation ?sub"""
_ABOUT = _PREFIXES + """SELECT ?parent ?start ?end WHERE {
  OPTIONAL { ?program jf:partOf ?parent } OPTIONAL { ?program jf:sourceLineStart ?start }
  OPTIONAL { ?program jf:sourceLineEnd ?end } }"""


def _rows(store: Store, sparql: str, program: URIRef) -> list[dict[str, Any]]:
    return as_table(store.query(sparql, bindings={"program": program})).dicts()


def _value(term: object) -> Any:
    if term is None:
        return None
    text = plain(term)  # type: ignore[arg-type]
    return int(text) if text.lstrip("-").isdigit() else text


def program_doc(store: Store, iri: str, *, lang: str = "ja") -> dict[str, Any]:
    """One program as a document of labels and values (see the module docstring).

    Parameters
    ----------
    store : Store
    iri : str
        The program's full IRI (resolve a name first with :func:`kg.names.resolve`).
    lang : {'ja', 'en'}
        The language of the labels.
    """
    program = URIRef(iri)
    about = _rows(store, _ABOUT, program)[0]
    budgets = _rows(store, _BUDGETS, program)
    units = _rows(store, _UNITS, program)
    rates = _rows(store, _RATES, program)
    subs = _rows(store, _SUBS, program)
    bound = {"program": compact(iri)}
    chain = as_table(named_query("program-chain").run(store, bound))
    caps = as_table(named_query("caps").run(store, bound))
    targets = as_table(named_query("program-targets").run(store, bound))
    facts = as_table(named_query("program-facts").run(store, bound))
    iris = {iri, *(str(v) for rows in (budgets, units, rates, subs) for r in rows for v in r.values()
                   if isinstance(v, URIRef))}
    iris |= {str(v) for t in (chain, caps, targets, facts) for row in t.rows for v in row if isinstance(v, URIRef)}
    if about.get("parent") is not None:
        iris.add(str(about["parent"]))
    label = names.labels(store, iris, lang=lang)
    other = names.labels(store, [iri], lang="en" if lang == "ja" else "ja")

    def lab(term: object) -> str:
        return label.get(str(term), plain(term)) if term is not None else ""  # type: ignore[arg-type]

    def ref(term: object) -> dict[str, str] | None:
        return None if term is None else {"id": plain(term), "label": lab(term)}  # type: ignore[arg-type]

    return {
        "id": compact(iri),
        "iri": iri,
        "label": label.get(iri, compact(iri)),
        "label_other": other.get(iri, ""),
        "part_of": ref(about.get("parent")),
        "lines": [_value(about.get("start")), _value(about.get("end"))],
        "budgets": [{"fiscal_year": _value(b["fiscal_year"]), "category": ref(b["category"]),
                     "amount": _value(b["amount"]), "amount_label": yen_label(_value(b["amount"])),
                     "approximate": plain(b["approximate"]) == "true", "source_text": _value(b["source_text"])}
                    for b in budgets],
        "units": [{"of": ref(u["of"]), "unit": ref(u["unit"])} for u in units],
        "flows": [_flow(r, lab) for r in chain.dicts()],
        "rates": [{"of": ref(r["of"]), "flow": plain(r["flow"]) or None,
                   "rate": rate_label(_value(r["numerator"]), _value(r["denominator"]), _value(r["value"]),
                                      None if r["text"] is None else plain(r["text"])),
                   "text": _value(r["text"]), "class": ref(r["category"]), "condition": _value(r["condition"])}
                  for r in rates],
        "caps": [_plain_row(r, lab) for r in caps.dicts()],
        "targets": [_plain_row(r, lab) for r in targets.dicts()],
        "sub_measures": [{"notation": _value(s["notation"]), **(ref(s["sub"]) or {})} for s in subs],
        "facts": [_fact(r, lab) for r in facts.dicts()],
    }


_FACT_DETAILS = (("detail_kind", "{}"), ("classes", "対象: {}"), ("years", "{}年間"), ("min_years", "最短{}年"),
                 ("max_years", "最長{}年"), ("deadline_year", "期限 {}年度"), ("commitment_year", "{}年度"),
                 ("member_of", "構成: {}"))


def _fact(row: Mapping[str, Any], lab: Any) -> dict[str, Any]:
    """One statement of ``program-facts``: its kind, verbatim text, lines and the structured parts set."""
    details = [fmt.format(lab(row[k]) if isinstance(row[k], URIRef) else plain(row[k]))
               for k, fmt in _FACT_DETAILS if row.get(k) is not None]
    if row.get("measure") is not None or row.get("value") is not None:
        details.append("".join(plain(row[k]) for k in ("measure", "value", "unit", "comparator_label")
                               if row.get(k) is not None))
    if row.get("start") is not None or row.get("end") is not None:
        details.append(f"{plain(row.get('start'))}–{plain(row.get('end'))}年度")
    if row.get("total") is not None:
        details.append(f"総額 {yen_label(_value(row['total']))}")
    return {"of": {"id": plain(row["of"]), "label": lab(row["of"])}, "kind": plain(row["kind_label"]),
            "text": plain(row["text"]), "lines": [_value(row["line"]), _value(row["line_last"])],
            "details": details}


def _flow(row: Mapping[str, Any], lab: Any) -> dict[str, Any]:
    return {"hop": _value(row["hop"]), "of": {"id": plain(row["of"]), "label": lab(row["of"])},
            "from": {"id": plain(row["funder"]), "label": plain(row["funder_label"])},
            "to": {"id": plain(row["recipient"]), "label": plain(row["recipient_label"])},
            "instruments": plain(row["instruments"]), "rates": plain(row["rates"]) or None,
            "flow": plain(row["flow"])}


def _plain_row(row: Mapping[str, Any], lab: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, URIRef):
            out[k] = {"id": plain(v), "label": lab(v)}
        else:
            out[k] = _value(v)
            if k == "amount" and isinstance(out[k], int):
                out["amount_label"] = yen_label(out[k])
    return out


def _table(header: list[str], rows: list[list[str]]) -> str:
    text = text_table(header, rows)
    return text[: text.rstrip("\n").rfind("\n") + 1]  # without the row count line


def program_text(doc: Mapping[str, Any], *, ids: bool = False) -> str:
    """:func:`program_doc` for a terminal; ``ids`` adds the ids beside the labels."""

    def show(r: Mapping[str, str] | None) -> str:
        if not r:
            return ""
        return f"{r['label']} [{r['id']}]" if ids else r["label"]

    out = [doc["label"]]
    if doc["label_other"]:
        out.append(doc["label_other"])
    out.append(f"[{doc['id']}]  source lines {doc['lines'][0]}–{doc['lines'][1]}")
    if doc["part_of"]:
        out.append(f"part of {show(doc['part_of'])}")
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        ("budgets", ["fiscal year", "category", "amount", "yen", "source"],
         [[str(b["fiscal_year"]), show(b["category"]), b["amount_label"] + ("（概算）" if b["approximate"] else ""),
           f"{b['amount']:,}", b["source_text"] or ""] for b in doc["budgets"]]),
        ("units", ["of", "unit"], [[show(u["of"]), show(u["unit"])] for u in doc["units"]]),
        ("flows", ["of", "hop", "from", "to", "instrument", "rates"],
         [[show(f["of"]), str(f["hop"] or ""), f["from"]["label"], f["to"]["label"], f["instruments"],
           f["rates"] or ""] for f in doc["flows"]]),
        ("rates", ["of", "rate", "class", "condition"],
         [[show(r["of"]), r["rate"], show(r["class"]), r["condition"] or ""] for r in doc["rates"]]),
        ("caps", ["of", "kind", "amount", "class", "condition"],
         [[show(c.get("of")), str(c.get("kind_label") or ""), c.get("amount_label", ""), show(c.get("category")),
           str(c.get("condition") or "")] for c in doc["caps"]]),
    ]
    if doc["targets"]:
        keys = [k for k in doc["targets"][0] if k not in ("target", "program")]
        sections.append(("targets", keys, [[show(v) if isinstance(v, dict) else str(v if v is not None else "")
                                            for k, v in t.items() if k in keys] for t in doc["targets"]]))
    for title, header, rows in sections:
        if rows:
            out.append(f"\n{title}:")
            out.append(_table(header, rows).rstrip("\n"))
    if doc["facts"]:
        out.append("\nfacts (verbatim from the sheet):")
        for f in doc["facts"]:
            lines = f"{f['lines'][0]}" + (f"–{f['lines'][1]}" if f["lines"][1] else "")
            out.append(f"  【{f['kind']}】 {f['text']}  (line {lines})")
            if f["details"]:
                out.append(f"      {' · '.join(f['details'])}")
    if doc["sub_measures"]:
        out.append("\nsub-measures:")
        out.extend(f"  {s['notation'] or ''} {s['label']}" + (f" [{s['id']}]" if ids else "") for s in doc["sub_measures"])
    return "\n".join(out) + "\n"


def channel_text(c: Channel, labels: Mapping[str, str], *, ids: bool = False) -> str:
    """One :class:`~kg.views.Channel` for a terminal, ids read as labels."""

    def show(items: list[str]) -> str:
        def one(x: str) -> str:
            text = labels.get(expand(x), x)
            return f"{text} [{x}]" if ids and text != x else text

        return "、".join(dict.fromkeys(one(x) for x in items)) or "-"

    lines = [f"{c.label_ja} ({c.label_en})" + (f" [{c.body}]" if ids else ""),
             f"  sheets:      {show(c.sheets)}",
             f"  programs:    {show(c.programs)}",
             f"  from:        {show(c.funders)}  by {show(c.instruments_in)}"]
    if c.instruments_out:
        lines.append(f"  passes on:   {show(c.instruments_out)} to {show(c.recipient_categories)}")
    for k, v in c.budgets.items():
        year, _, category = k.partition(" ")
        name = labels.get(f"https://w3id.org/jp-funding/ont#{category}", category)
        lines.append(f"  budget:      {year} {name:<12} {yen_label(v):>12} ({v:,}円, sheet total)")
    return "\n".join(lines) + "\n"


def channel_labels(store: Store, chans: list[Channel], *, lang: str = "ja") -> dict[str, str]:
    """Labels of every id a list of channels mentions (and of the budget categories)."""
    ids = {x for c in chans for xs in (c.sheets, c.programs, c.funders, c.instruments_in, c.instruments_out,
                                       c.recipient_categories) for x in xs}
    iris = {expand(x) for x in ids}
    iris |= {f"https://w3id.org/jp-funding/ont#{k.partition(' ')[2]}" for c in chans for k in c.budgets}
    return names.labels(store, iris, lang=lang)

