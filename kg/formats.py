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
from decimal import Decimal

import rdflib
from rdflib import BNode, Literal, URIRef

from kg.errors import UnknownFormat
from kg.load import PREFIXES
from kg.store import Answer, Table, Term

__all__ = ["FORMATS", "compact", "plain", "render"]

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


def plain(term: Term | None) -> str:
    """A term as text: compact IRI, or the literal's lexical form; '' when unbound."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return compact(str(term))
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


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


def render(answer: Answer, fmt: str = "table") -> str:
    """Format an answer.

    Parameters
    ----------
    answer : Table, bool or rdflib.Graph
    fmt : {'table', 'csv', 'tsv', 'json'}
        For a graph answer every format gives Turtle.

    Raises
    ------
    UnknownFormat
    """
    if fmt not in FORMATS:
        raise UnknownFormat(fmt, FORMATS)
    if isinstance(answer, bool):
        return json.dumps({"boolean": answer}) + "\n" if fmt == "json" else ("yes\n" if answer else "no\n")
    if isinstance(answer, rdflib.Graph):
        return answer.serialize(format="turtle")
    if fmt == "json":
        rows = [{k: _json_value(v) for k, v in zip(answer.variables, row)} for row in answer.rows]
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt in ("csv", "tsv"):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        w.writerow(answer.variables)
        for row in answer.rows:
            w.writerow([plain(v) for v in row])
        return buf.getvalue()
    return _table(answer)


def _table(answer: Table) -> str:
    from rich.console import Console
    from rich.table import Table as RichTable

    t = RichTable(show_lines=False, header_style="bold")
    for v in answer.variables:
        t.add_column(v, overflow="fold")
    for row in answer.rows:
        t.add_row(*(plain(v) for v in row))
    buf = io.StringIO()
    Console(file=buf, width=200, force_terminal=False, color_system=None).print(t)
    return buf.getvalue() + f"{len(answer.rows)} row(s)\n"
