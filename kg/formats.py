"""Render query answers for people (tables) and machines (CSV, TSV, JSON).

Examples
--------
>>> from rdflib import URIRef, Literal
>>> t = Table(("body", "n"), ((URIRef("https://w3id.org/jp-funding/id/org/jetro"), Literal(3)),))
>>> print(render(t, "csv"), end="")
body,n
orgs:jetro,3
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal

import rdflib
from rdflib import BNode, Literal, URIRef

from kg.errors import UnknownFormat
from kg.load import PREFIXES
from kg.store import Answer, Table, Term

__all__ = ["FORMATS", "compact", "expand", "is_yen_column", "plain", "rate_label", "render", "text_table",
           "yen_label"]

FORMATS = ("table", "csv", "tsv", "json")

_BY_LENGTH = sorted(PREFIXES.items(), key=lambda kv: -len(kv[1]))


def compact(iri: str) -> str:
    """Shorten an IRI with the project's prefixes.

    Examples
    --------
    >>> compact("https://w3id.org/jp-funding/ont#Program")
    'jf:Program'
    """
    for prefix, ns in _BY_LENGTH:
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def expand(name: str) -> str:
    """A prefixed name as the full IRI (the inverse of :func:`compact`); anything else unchanged.

    Examples
    --------
    >>> expand("orgs:jetro"), expand("https://example.org/x"), expand("no-prefix")
    ('https://w3id.org/jp-funding/id/org/jetro', 'https://example.org/x', 'no-prefix')
    """
    prefix, sep, rest = name.strip().partition(":")
    return PREFIXES[prefix] + rest if sep and prefix in PREFIXES and not rest.startswith("//") else name.strip()


def plain(term: Term | None) -> str:
    """A term as text: compact IRI, or the literal's lexical form; '' when unbound."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return compact(str(term))
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def yen_label(amount: object) -> str:
    """Yen as the budget sheets write them: 億円 from 1億, else 万円, else 円.

    Exact to the yen where the amount allows it within two decimals; the exact figure belongs beside
    it (a column, a title attribute).

    Examples
    --------
    >>> yen_label(340000000000), yen_label(610000000), yen_label(45000000), yen_label(339986201000)
    ('3,400億円', '6.1億円', '4,500万円', '3,399.86億円')
    >>> yen_label(950), yen_label(None)
    ('950円', '')
    """
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount))
    if abs(value) >= 100_000_000:
        n = (value / 100_000_000).quantize(Decimal("0.01")).normalize()
        return f"{n:,f}億円"
    if abs(value) >= 10_000:
        n = (value / 10_000).quantize(Decimal("0.01")).normalize()
        return f"{n:,f}万円"
    return f"{value.normalize():,f}円"


def rate_label(numerator: object = None, denominator: object = None, value: object = None,
               text: str | None = None) -> str:
    """A subsidy rate as a fraction, as the sheets write it: ``1/2以内``, ``10/10``, ``定額``.

    Parameters
    ----------
    numerator, denominator : int, optional
        The fraction, when the rate is one.
    value : number, optional
        The rate as a number (used only when there is no fraction: 0.5 → 1/2).
    text : str, optional
        The sheet's wording; its qualifier (以内, 等) is kept, and it is the answer for rates without
        a number (定額).

    Examples
    --------
    >>> rate_label(1, 2, 0.5, "1/2以内"), rate_label(10, 10), rate_label(text="定額"), rate_label(value=0.3333)
    ('1/2以内', '10/10', '定額', '1/3')
    """
    if numerator is not None and denominator is not None:
        frac = f"{int(str(numerator))}/{int(str(denominator))}"
    elif value is not None:
        from fractions import Fraction

        f = Fraction(str(value)).limit_denominator(12)
        frac = f"{f.numerator}/{f.denominator}"
    else:
        return (text or "").strip()
    qualifier = ""
    if text:
        m = re.search(r"(以内|以上|以下|未満|程度|等)\s*$", unicodedata.normalize("NFKC", text).strip())
        qualifier = m.group(1) if m else ""
    return frac + qualifier


_YEN_COLUMN = re.compile(r"(^|_)(amount|total|yen|budget|executed|execution|request|spent)(_|$)", re.IGNORECASE)


def is_yen_column(name: str) -> bool:
    """Whether a result column of this name holds yen (``amount``, ``total``, ``budget_2024`` …).

    Examples
    --------
    >>> is_yen_column("amount"), is_yen_column("total"), is_yen_column("programs")
    (True, True, False)
    """
    return bool(_YEN_COLUMN.search(name))


def _json_value(term: Term | None) -> object:
    if term is None:
        return None
    if isinstance(term, Literal):
        v = term.toPython()
        if isinstance(v, bool | int | str):
            return v
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, float):
            return v
        return str(term)
    return plain(term)


def render(answer: Answer, fmt: str = "table", *, labels: Mapping[str, str] | None = None) -> str:
    """Format an answer.

    Parameters
    ----------
    answer : Table, bool or rdflib.Graph
    fmt : {'table', 'csv', 'tsv', 'json'}
        For a graph answer every format gives Turtle.
    labels : mapping of IRI to label, optional
        For people: IRI cells read as their label (table: the label; CSV/TSV: the label, with the id
        in a ``<column>_id`` column beside it), and yen columns (:func:`is_yen_column`) get 億円/万円
        beside the exact yen. JSON, for programs, always keeps ids and plain values. Without it every
        cell is its id or literal, for scripts.

    Raises
    ------
    UnknownFormat

    Examples
    --------
    >>> from rdflib import URIRef, Literal
    >>> t = Table(("body", "amount"), ((URIRef("https://w3id.org/jp-funding/id/org/jetro"), Literal(4300000000)),))
    >>> print(render(t, "csv", labels={"https://w3id.org/jp-funding/id/org/jetro": "JETRO"}), end="")
    body,body_id,amount,amount_label
    JETRO,orgs:jetro,4300000000,43億円
    """
    if fmt not in FORMATS:
        raise UnknownFormat(fmt, FORMATS)
    if isinstance(answer, bool):
        return json.dumps({"boolean": answer}) + "\n" if fmt == "json" else ("yes\n" if answer else "no\n")
    if isinstance(answer, rdflib.Graph):
        return answer.serialize(format="turtle")
    if labels is not None and fmt != "json":
        return _render_labelled(answer, fmt, labels)
    if fmt == "json":
        rows = [{k: _json_value(v) for k, v in zip(answer.variables, row)} for row in answer.rows]
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt in ("csv", "tsv"):
        return _delimited(answer.variables, ([plain(v) for v in row] for row in answer.rows), fmt)
    return text_table(answer.variables, [[plain(v) for v in row] for row in answer.rows])


def _is_amount(term: Term | None) -> bool:
    return isinstance(term, Literal) and isinstance(term.toPython(), int | Decimal) and not isinstance(
        term.toPython(), bool)


def _render_labelled(answer: Table, fmt: str, labels: Mapping[str, str]) -> str:
    names = answer.variables
    iri_cols = [i for i in range(len(names)) if any(isinstance(r[i], URIRef) for r in answer.rows)]
    yen_cols = [i for i in range(len(names)) if is_yen_column(names[i])
                and any(_is_amount(r[i]) for r in answer.rows)]

    def label(term: Term | None) -> str:
        return labels.get(str(term), plain(term)) if isinstance(term, URIRef) else plain(term)

    if fmt in ("csv", "tsv"):
        header: list[str] = []
        for i, k in enumerate(names):
            header.append(k)
            if i in iri_cols:
                header.append(f"{k}_id")
            if i in yen_cols:
                header.append(f"{k}_label")
        rows = []
        for row in answer.rows:
            cells: list[str] = []
            for i, v in enumerate(row):
                cells.append(label(v))
                if i in iri_cols:
                    cells.append(plain(v))
                if i in yen_cols:
                    cells.append(yen_label(plain(v)) if _is_amount(v) else "")
            rows.append(cells)
        return _delimited(tuple(header), rows, fmt)
    shown = []
    for row in answer.rows:
        cells = []
        for i, v in enumerate(row):
            if i in yen_cols and _is_amount(v):
                cells.append(f"{yen_label(plain(v))} ({int(Decimal(plain(v))):,}円)")
            else:
                cells.append(label(v))
        shown.append(cells)
    return text_table(names, shown)


def _delimited(header: tuple[str, ...] | list[str], rows: object, fmt: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
    w.writerow(header)
    for row in rows:  # type: ignore[attr-defined]
        w.writerow(row)
    return buf.getvalue()


def text_table(names: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    """Rows of text as a terminal table, with a closing row count."""
    from rich.console import Console
    from rich.table import Table as RichTable

    t = RichTable(show_lines=False, header_style="bold")
    for v in names:
        t.add_column(v, overflow="fold")
    for row in rows:
        t.add_row(*row)
    buf = io.StringIO()
    Console(file=buf, width=200, force_terminal=False, color_system=None).print(t)
    return buf.getvalue() + f"{len(rows)} row(s)\n"
