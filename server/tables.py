"""Tables people sort, filter, page and download: one component for every table of the site.

A page describes its columns (:class:`Column`) and hands over all its rows as plain dictionaries;
:func:`view` reads the request's query string (``sort``, ``dir``, ``q``, ``f.<column>``, ``page``,
``per``), filters, sorts and cuts one page on the server, so a table works without scripts and at
30,000 rows, and every state of it has a URL to share. ``format=csv`` / ``format=json``
(:func:`download`) answer exactly the rows the filters and sort select (all pages), with the
columns' labels: CSV in UTF-8 with a BOM (Excel on Japanese Windows reads it), cells that a
spreadsheet would take for a formula neutralised by :func:`csv_cell`.

The template side is the macro ``table`` of ``templates/_table.html``::

    {% from "_table.html" import table %}
    {{ table(flows_view) }}

Examples
--------
>>> cols = [Column("name", "名前", "name"), Column("amount", "金額", "amount", kind="yen")]
>>> rows = [{"name": "A", "amount": 3}, {"name": "B", "amount": 1}]
>>> v = view_of(cols, rows, {"sort": "amount"}, table_id="t")
>>> [r["name"] for r in v.rows]
['B', 'A']
>>> csv_text(v).splitlines()[0]
'\\ufeff名前 name,金額（円） amount (yen)'
"""

from __future__ import annotations

import csv
import io
import json
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import Response

from kg.formats import compact
from server.errors import ApiError
from server.worker import neutralise_cell

__all__ = ["Column", "TableView", "csv_cell", "csv_text", "download", "json_rows", "view_of"]

PER_PAGE = (25, 50, 100, 500)
"""Page sizes offered; the first is the default unless a page says otherwise."""

KINDS = ("text", "link", "yen", "num", "rate")


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Parameters
    ----------
    key : str
        The row dictionary's key of the value (text, number or ``None``).
    label_ja, label_en : str
        The heading (and the CSV / JSON column name: ``label_ja label_en``).
    kind : {'text', 'link', 'yen', 'num', 'rate'}
        ``link``: the row's ``<key>_href`` is the link target (never shown); ``yen``: integer yen,
        shown as 億円/万円 with the exact amount on hover and in downloads; ``num``: numbers,
        right-aligned.
    filter : bool
        Offer a choice of this column's distinct values (``f.<key>=…``).
    sort_key : str, optional
        Sort by this row key instead (e.g. a source-order number behind a label).
    """

    key: str
    label_ja: str
    label_en: str = ""
    kind: str = "text"
    filter: bool = False
    sort_key: str | None = None

    @property
    def heading(self) -> str:
        unit = "（円）" if self.kind == "yen" else ""
        unit_en = " (yen)" if self.kind == "yen" else ""
        return f"{self.label_ja}{unit} {self.label_en}{unit_en}".strip()


@dataclass
class TableView:
    """One page of a table, with what the template needs to draw its controls."""

    table_id: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    """The rows of this page."""
    selected: list[dict[str, Any]]
    """All rows the filters kept, in sort order (what downloads contain)."""
    total: int
    """Rows before filtering."""
    sort: str
    descending: bool
    q: str
    filters: dict[str, str]
    choices: dict[str, list[str]]
    page: int
    per: int
    params: dict[str, str] = field(default_factory=dict)
    """Other query parameters of the page, kept in every link (e.g. ``fy``)."""

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.selected) / self.per))

    def url(self, **changes: Any) -> str:
        """The query string of this view with *changes* (``None`` removes a parameter)."""
        state: dict[str, Any] = {**self.params, "sort": self.sort, "dir": "desc" if self.descending else "asc",
                                 "q": self.q, "page": self.page, "per": self.per,
                                 **{f"f.{k}": v for k, v in self.filters.items()}}
        for k, v in changes.items():
            state[k.replace("__", ".")] = v
        if state.get("page") == 1:
            state.pop("page")
        clean = {k: v for k, v in state.items() if v not in (None, "")}
        return "?" + urlencode(clean)

    def sort_url(self, column: Column) -> str:
        desc = not self.descending if column.key == self.sort else column.kind in ("yen", "num")
        return self.url(sort=column.key, dir="desc" if desc else "asc", page=1)

    @property
    def clear_url(self) -> str:
        """This view without its text filter and column filters."""
        return self.url(q=None, page=1, **{f"f__{k}": None for k in self.filters})

    def download_url(self, fmt: str) -> str:
        return self.url(format=fmt, page=None, per=None)

    @property
    def hidden(self) -> dict[str, str]:
        """Parameters the filter form must carry as hidden fields."""
        return {k: str(v) for k, v in {**self.params, "sort": self.sort,
                                       "dir": "desc" if self.descending else "asc", "per": self.per}.items()}


def _fold(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value)).lower().replace(" ", "").replace("\u3000", "")


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (2, "")
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value))


def view_of(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], query: Mapping[str, str], *,
            table_id: str, default_sort: str | None = None, descending: bool = False,
            per: int | None = None, params: Mapping[str, str] | None = None) -> TableView:
    """Filter, sort and page *rows* by the query parameters *query*.

    Parameters
    ----------
    columns : sequence of Column
    rows : sequence of mapping
        All rows, in their natural order (kept among equal sort keys).
    query : mapping
        The request's query parameters.
    table_id : str
        The table's HTML id.
    default_sort : str, optional
        Column key sorted by when the URL names none (default: natural order).
    descending : bool
        Default direction.
    per : int, optional
        Default page size.
    params : mapping, optional
        Other parameters of the page to keep in the table's links.

    Raises
    ------
    ApiError
        400 for an unknown sort column or a page size or page number that is not a positive integer.
    """
    by_key = {c.key: c for c in columns}
    sort = query.get("sort") or default_sort or ""
    if sort and sort not in by_key:
        raise ApiError(400, f"sort: no column {sort!r}; sort by one of {', '.join(by_key)}")
    direction = query.get("dir", "")
    if direction not in ("", "asc", "desc"):
        raise ApiError(400, f"dir: {direction!r} is neither asc nor desc")
    desc = (direction == "desc") if direction else descending
    try:
        per_page = int(query.get("per") or per or PER_PAGE[0])
        page = int(query.get("page") or 1)
    except ValueError:
        raise ApiError(400, "page and per must be whole numbers, e.g. page=2&per=100") from None
    if per_page < 1 or per_page > 1000 or page < 1:
        raise ApiError(400, "per must be 1 to 1000 and page at least 1")
    q = (query.get("q") or "").strip()
    filters = {c.key: query[f"f.{c.key}"] for c in columns if c.filter and query.get(f"f.{c.key}")}
    choices = {c.key: sorted({str(r.get(c.key)) for r in rows if r.get(c.key) not in (None, "")},
                             key=_natural) for c in columns if c.filter}
    kept: list[dict[str, Any]] = []
    needle = _fold(q) if q else ""
    shown = [c.key for c in columns]
    for r in rows:
        if any(str(r.get(k)) != v for k, v in filters.items()):
            continue
        if needle and not any(needle in _fold(r.get(k) if r.get(k) is not None else "") for k in shown):
            continue
        kept.append(dict(r))
    if sort:
        key = by_key[sort].sort_key or sort
        kept.sort(key=lambda r: _sort_value(r.get(key)), reverse=desc)
        if desc:  # empty cells last in either direction
            kept.sort(key=lambda r: r.get(key) in (None, ""))
    pages = max(1, math.ceil(len(kept) / per_page))
    page = min(page, pages)
    return TableView(table_id, list(columns), kept[(page - 1) * per_page: page * per_page], kept, len(rows),
                     sort, desc, q, filters, choices, page, per_page, dict(params or {}))


def _natural(text: str) -> tuple[Any, ...]:
    return tuple((0, int(t), "") if t.isdecimal() else (1, 0, t) for t in _split_digits(text))


def _split_digits(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        if cur and (ch.isdecimal() != cur[-1].isdecimal()):
            out.append(cur)
            cur = ""
        cur += ch
    return [*out, cur] if cur else out


def csv_cell(value: Any) -> str:
    """A cell as CSV text that no spreadsheet runs as a formula (:func:`server.worker.neutralise_cell`:
    a leading ``'`` before ``= + - @``, tab or CR). Numbers are written as they are; the one place the
    site's table downloads make CSV cells.

    Examples
    --------
    >>> csv_cell("=HYPERLINK(1)"), csv_cell(-5), csv_cell("補助"), csv_cell(None)
    ("'=HYPERLINK(1)", '-5', '補助', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return neutralise_cell(str(value))


def _cell(column: Column, row: Mapping[str, Any]) -> Any:
    value = row.get(column.key)
    return value


def csv_text(table: TableView) -> str:
    """The selected rows as CSV: headings, then one line per row, UTF-8 text starting with a BOM."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.heading for c in table.columns])
    for r in table.selected:
        w.writerow([csv_cell(_cell(c, r)) for c in table.columns])
    return "\ufeff" + buf.getvalue()


def json_rows(table: TableView) -> list[dict[str, Any]]:
    """The selected rows as JSON objects keyed by column key (links as ``<key>_href`` beside)."""
    out = []
    for r in table.selected:
        row: dict[str, Any] = {}
        for c in table.columns:
            row[c.key] = _cell(c, r)
            if c.kind == "link" and r.get(f"{c.key}_href"):
                row[f"{c.key}_href"] = r[f"{c.key}_href"]
            if f"{c.key}_iri" in r:
                row[f"{c.key}_iri"] = r[f"{c.key}_iri"]
        out.append(row)
    return out


def download(table: TableView, fmt: str, *, filename: str) -> Response:
    """The selected rows as a ``csv`` or ``json`` attachment named *filename*.ext.

    Raises
    ------
    ApiError
        400 for another format.
    """
    if fmt == "csv":
        return Response(csv_text(table).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    if fmt == "json":
        body = {"columns": [{"key": c.key, "label_ja": c.label_ja, "label_en": c.label_en, "kind": c.kind}
                            for c in table.columns],
                "total": len(table.selected), "rows": json_rows(table)}
        return Response(json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"),
                        media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.json"'})
    raise ApiError(400, f"format {fmt!r}: this table downloads as csv or json")


def respond(table: TableView, query: Mapping[str, str], *, filename: str,
            page: Callable[[], Response]) -> Response:
    """The download asked for by ``format=…``, else the HTML page made by *page*."""
    fmt = query.get("format")
    if fmt:
        return download(table, fmt, filename=filename)
    return page()


def link_row(key: str, label: str | None, name: str | None, href: Callable[[str], str]) -> dict[str, Any]:
    """Row fields of a link column: the label, its ``_href`` and the compact id (for JSON)."""
    if not name:
        return {key: label}
    return {key: label or compact(name), f"{key}_href": href(name), f"{key}_iri": name}
