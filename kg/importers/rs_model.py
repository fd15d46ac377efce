"""IRIs, terms and cell readers of the RS importer, and its mapping tables (``rs_mapping.toml``).

Examples
--------
>>> corporate_number_ok("2010405004147")
True
>>> normalize_name("株式会社　ＡＢＣ ホールディングス")
'株式会社ABCホールディングス'
>>> segment("A/B C"), segment("経済産業省")
('A%2FB%20C', '経済産業省')
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox

__all__ = ["CORP_PAGE", "BadCell", "ColumnRule", "FileSpec", "Mapping", "corporate_number_ok", "iri", "ja",
           "load_mapping", "normalize_name", "program_iri", "read_cell", "segment", "string", "yen"]

ID = "https://w3id.org/jp-funding/id/"
JF = "https://w3id.org/jp-funding/ont#"
CORP_PAGE = "https://www.houjin-bangou.nta.go.jp/henkorireki-johoto.html?selHouzinNo="
"""The corporate-number registry's public page of one number (National Tax Agency)."""

PREFIXES = {
    "jf": JF,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "instrument": f"{ID}instrument/",
    "rs": f"{ID}rs-method/",
}
RDF_TYPE = "rdf:type"
RDFS_LABEL = "rdfs:label"

Term = ox.NamedNode | ox.BlankNode | ox.Literal


class BadCell(ValueError):
    """A cell that cannot be read as its column's kind."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column


@lru_cache(maxsize=4096)
def iri(curie: str) -> ox.NamedNode:
    """The NamedNode of a CURIE such as ``jf:amount`` (cached)."""
    prefix, _, local = curie.partition(":")
    return ox.NamedNode(PREFIXES[prefix] + local)


_XSD_STRING = ox.NamedNode("http://www.w3.org/2001/XMLSchema#string")


def string(text: str) -> ox.Literal:
    """A plain string literal."""
    return ox.Literal(text)


_KANA_KANJI = re.compile(r"[\u3040-\u30FF\u3400-\u9FFF]")
_RADICAL = re.compile(r"[\u2E80-\u2FDF]")


def fix_radicals(text: str) -> str:
    """Write CJK radical code points (U+2E80–U+2FDF) that have an ordinary kanji as that kanji.

    The published text is kept otherwise (full-width letters stay full-width).

    >>> fix_radicals("知財経営⽀援")
    '知財経営支援'
    """
    if not _RADICAL.search(text):
        return text
    return _RADICAL.sub(lambda m: _ordinary(m.group()), text)


def _ordinary(ch: str) -> str:
    from kg.normalize import NormalizationError, normalize_text  # the project's radical table (⺠ → 民 …)
    try:
        return normalize_text(ch)
    except NormalizationError:
        return unicodedata.normalize("NFKC", ch)


def ja(text: str) -> ox.Literal:
    """A name as published: tagged @ja when it has kana or kanji, else a plain string ("ＳＭ－６")."""
    text = fix_radicals(text)
    return ox.Literal(text, language="ja") if _KANA_KANJI.search(text) else ox.Literal(text)


def yen(amount: int) -> ox.Literal:
    """An exact integer of yen."""
    return ox.Literal(str(amount), datatype=iri("xsd:integer"))


def segment(text: str) -> str:
    """One IRI path segment: the text as published (an IRI, RFC 3987), ASCII delimiters and spaces escaped."""
    return "".join(ch if ord(ch) > 127 and not ch.isspace() else quote(ch, safe="") for ch in text)


def program_iri(year: str, pid: str) -> str:
    """The IRI of the program of review sheet *pid* of review year *year*."""
    return f"{ID}program/rs{year}-{pid}"


def normalize_name(name: str) -> str:
    """NFKC and no spaces: the form used to search and match recipient names."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def corporate_number_ok(number: str) -> bool:
    """Check a 13-digit corporate number (法人番号) with the National Tax Agency's check digit.

    The first digit is ``9 - (sum(P_n * Q_n) mod 9)`` over the other twelve digits P_n, counted
    from the lowest (n = 1 is the last digit), with Q_n = 1 for odd n and 2 for even n.

    Examples
    --------
    >>> corporate_number_ok("2010405004147"), corporate_number_ok("1020001120059")
    (True, True)
    >>> corporate_number_ok("0"), corporate_number_ok("7010000500687")
    (False, False)
    """
    if not re.fullmatch(r"\d{13}", number):
        return False
    digits = [int(c) for c in number]
    body = digits[1:]
    total = sum(p * (1 if n % 2 == 1 else 2) for n, p in enumerate(reversed(body), start=1))
    return digits[0] == 9 - total % 9


# ---------------------------------------------------------------- the mapping tables

@dataclass(frozen=True)
class ColumnRule:
    """How one column is read: its kind, property and (for methods) concept."""

    kind: str
    prop: str
    concept: str = ""


@dataclass
class FileSpec:
    """One RS file's layout after the common columns."""

    code: str
    title: str
    title_en: str
    node: str
    cls: str = ""
    link: str = ""
    open: bool = False
    block: str = ""
    block_name: str = ""
    payee: str = ""
    corporate_number: str = ""
    columns: dict[str, ColumnRule] = field(default_factory=dict)


@dataclass
class Mapping:
    """All tables of ``rs_mapping.toml``."""

    common: list[str]
    alternatives: dict[str, str]
    chain: list[tuple[str, str]]
    files: dict[str, FileSpec]
    budget_totals: list[tuple[str, str, int]]
    budget_accounts: list[tuple[str, str, int]]
    kind_rules: list[tuple[str, str]]

    def kind(self, text: str) -> str | None:
        """The instrument concept (CURIE) a 5-2 edge's kind text names, if any.

        >>> m = load_mapping()
        >>> m.kind("再委託"), m.kind("【補助金等交付】"), m.kind("予算の移替え"), m.kind("旅費の支給")
        ('instrument:commission', 'instrument:subsidy', 'instrument:budget-transfer', None)
        """
        t = re.sub(r"[【】\[\]［］]", "", unicodedata.normalize("NFKC", text))
        for needle, concept in self.kind_rules:
            if needle in t:
                return concept
        return None


KINDS = ("text", "ja", "year", "int", "yen", "decimal", "bool", "flag", "url", "program", "method", "structural")


def load_mapping(path: Path | None = None) -> Mapping:
    """Read the mapping tables (default ``rs_mapping.toml`` beside this module)."""
    path = path or Path(__file__).with_name("rs_mapping.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    files: dict[str, FileSpec] = {}
    for code, f in data["files"].items():
        cols: dict[str, ColumnRule] = {}
        for name, rule in f.get("columns", {}).items():
            if rule[0] not in KINDS:
                raise ValueError(f"{path}: files.{code}.columns.{name}: unknown kind {rule[0]!r}")
            cols[name] = ColumnRule(rule[0], rule[1], rule[2] if len(rule) > 2 else "")
        files[code] = FileSpec(code=code, title=f["title"], title_en=f["title_en"], node=f["node"],
                               cls=f.get("class", ""), link=f.get("link", ""), open=f.get("open", False),
                               block=f.get("block", ""), block_name=f.get("block_name", ""),
                               payee=f.get("payee", ""), corporate_number=f.get("corporate_number", ""),
                               columns=cols)
    b = data["budget"]
    return Mapping(common=data["common"]["columns"], alternatives=data["common"]["alternatives"],
                   chain=[(c, lvl) for c, lvl in data["common"]["chain"]], files=files,
                   budget_totals=[tuple(x) for x in b["totals"]],  # type: ignore[misc]
                   budget_accounts=[tuple(x) for x in b["accounts"]],  # type: ignore[misc]
                   kind_rules=[(a, c) for a, c in data["kinds"]["rules"]])


def _number(v: str) -> str:
    return unicodedata.normalize("NFKC", v).strip().replace(",", "")


def read_cell(rule: ColumnRule, value: str, year: str) -> Term | None:
    """The RDF term of one non-empty cell read as *rule* says.

    Raises
    ------
    BadCell
        The cell is not of its column's kind (e.g. an amount that is not a number).
    """
    v = value.strip()
    k = rule.kind
    if k == "text":
        return ox.Literal(fix_radicals(value.strip()))
    if k == "ja":
        return ja(v)
    if k == "year":
        if not re.fullmatch(r"\d{4}", v):
            raise BadCell("", f"not a year: {v!r}")
        return ox.Literal(v, datatype=iri("xsd:gYear"))
    if k == "int":
        n = _number(v)
        m = re.fullmatch(r"(-?\d+)(?:\.0+)?", n)
        if not m:
            raise BadCell("", f"not a whole number: {v!r}; not imported")
        return ox.Literal(str(int(m.group(1))), datatype=iri("xsd:integer"))
    if k == "yen":
        n = _number(v)
        m = re.fullmatch(r"(-?\d+)(?:\.0+)?", n)
        if not m:
            raise BadCell("", f"amount {v!r} is not a number of yen; not imported")
        return yen(int(m.group(1)))
    if k == "decimal":
        n = _number(v)
        if not re.fullmatch(r"-?\d+(\.\d+)?", n):
            raise BadCell("", f"not a number: {v!r}; not imported")
        return ox.Literal(n, datatype=iri("xsd:decimal"))
    if k == "bool":
        if v.upper() not in ("TRUE", "FALSE"):
            raise BadCell("", f"not TRUE or FALSE: {v!r}; not imported")
        return ox.Literal(v.lower(), datatype=iri("xsd:boolean"))
    if k == "flag":
        return ox.Literal("true", datatype=iri("xsd:boolean")) if v == "1" else None
    if k == "url":
        return ox.Literal(v, datatype=iri("xsd:anyURI"))
    if k == "program":
        if not v.isdigit():
            raise BadCell("", f"not a sheet id (予算事業ID): {v!r}; not linked")
        return ox.NamedNode(program_iri(year, v))
    if k == "method":
        if v != "1":
            raise BadCell("", f"an 実施方法 column holds 1 or nothing, not {v!r}; not imported")
        return iri(rule.concept)
    return None
