"""Content negotiation: the two media-type tables and an ``Accept`` parser with q-values.

:data:`RESULT_TYPES` answers SELECT and ASK, :data:`GRAPH_TYPES` answers CONSTRUCT, DESCRIBE and
every RDF document the server publishes (linked data, ontology, service description, VoID). The
first entry of each table is the default. A response is always in the type :func:`negotiate` chose;
when none is acceptable the caller gets :class:`~server.errors.NotAcceptable` (406).

Examples
--------
>>> negotiate("text/csv;q=0.5, application/sparql-results+xml", list(RESULT_TYPES))
'application/sparql-results+xml'
>>> negotiate(None, list(GRAPH_TYPES))
'text/turtle'
>>> negotiate("text/*;q=0.9, text/turtle;q=0.1", list(GRAPH_TYPES))
'text/turtle'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from server.errors import NotAcceptable
from server.worker import neutralise_cell

__all__ = [
    "FORMAT_ALIASES",
    "GRAPH_TYPES",
    "HTML",
    "RESULT_TYPES",
    "content_type",
    "negotiate",
    "neutralise_cell",
    "parse_accept",
]

RESULT_TYPES: dict[str, ox.QueryResultsFormat] = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
"""Result sets (SELECT, ASK): media type → pyoxigraph serializer. The first is the default."""

GRAPH_TYPES: dict[str, ox.RdfFormat] = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}
"""Graphs (CONSTRUCT, DESCRIBE, RDF documents): media type → pyoxigraph serializer. The first is the default."""

HTML = "text/html"

FORMAT_ALIASES: dict[str, str] = {
    "html": HTML,
    "ttl": "text/turtle",
    "turtle": "text/turtle",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
    "rdf": "application/rdf+xml",
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
"""``?format=`` values of the HTML pages' download links (``/id/…``, ``/ont``, ``/query``)."""

_TEXTUAL = ("text/", "application/n-triples")


def content_type(media_type: str) -> str:
    """The ``Content-Type`` header for *media_type*: text types get ``charset=utf-8``.

    Examples
    --------
    >>> content_type("text/turtle")
    'text/turtle; charset=utf-8'
    >>> content_type("application/sparql-results+json")
    'application/sparql-results+json'
    """
    return f"{media_type}; charset=utf-8" if media_type.startswith(_TEXTUAL) else media_type


@dataclass(frozen=True)
class MediaRange:
    """One entry of an ``Accept`` header."""

    type: str
    subtype: str
    q: float

    def specificity(self, media_type: str) -> int:
        """2 exact, 1 ``type/*``, 0 ``*/*``, -1 no match."""
        t, _, s = media_type.partition("/")
        if self.type == "*" and self.subtype == "*":
            return 0
        if self.type == t and self.subtype == "*":
            return 1
        if self.type == t and self.subtype == s:
            return 2
        return -1


def parse_accept(header: str) -> list[MediaRange]:
    """Parse an ``Accept`` header; malformed entries are skipped, a malformed q counts as 1.

    Examples
    --------
    >>> [(r.type, r.subtype, r.q) for r in parse_accept("text/html, */*;q=0.1")]
    [('text', 'html', 1.0), ('*', '*', 0.1)]
    """
    out: list[MediaRange] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        mtype = parts[0].lower()
        if "/" not in mtype:
            continue
        t, _, s = mtype.partition("/")
        if not t or not s:
            continue
        q = 1.0
        for p in parts[1:]:
            k, _, v = p.partition("=")
            if k.strip().lower() == "q":
                try:
                    q = min(max(float(v.strip()), 0.0), 1.0)
                except ValueError:
                    q = 1.0
        out.append(MediaRange(t, s, q))
    return out


def negotiate(accept: str | None, offered: Sequence[str]) -> str:
    """Choose the offered type the client prefers.

    Each offered type takes the q of the most specific range that matches it; the highest q wins,
    ties go to the earlier offered type (the server's preference; the first is the default). A
    missing or empty header means "anything" and gives the default.

    Raises
    ------
    NotAcceptable
        No offered type has a q above 0; the message lists *offered*.
    """
    if accept is None or not accept.strip():
        return offered[0]
    ranges = parse_accept(accept)
    best: str | None = None
    best_q = 0.0
    for media_type in offered:
        spec, q = -1, 0.0
        for r in ranges:
            s = r.specificity(media_type)
            if s > spec:
                spec, q = s, r.q
        if spec >= 0 and q > best_q:
            best, best_q = media_type, q
    if best is None:
        raise NotAcceptable(accept, offered)
    return best
