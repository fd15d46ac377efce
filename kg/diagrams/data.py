"""What the diagrams read from the store, once per call: programs, budgets, flows, actors, rates, caps; names."""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kg.errors import UnknownName
from kg.formats import compact, plain
from kg.load import PREFIXES
from kg.store import Store, Table

_PREFIXES = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

_Q_PROGRAMS = _PREFIXES + """
SELECT ?p ?ja ?en ?notation ?line ?budget_line WHERE {
  ?p a jf:Program .
  OPTIONAL { ?p rdfs:label ?ja FILTER (LANG(?ja) = "ja") }
  OPTIONAL { ?p rdfs:label ?en FILTER (LANG(?en) = "en") }
  OPTIONAL { ?p skos:notation ?notation }
  OPTIONAL { ?p jf:sourceLineStart ?line }
  OPTIONAL { ?p jf:budgetLineText ?budget_line }
}
"""

_Q_PARENTS = _PREFIXES + "SELECT ?p ?parent WHERE { ?p jf:partOf ?parent }"

_Q_BUDGETS = _PREFIXES + """
SELECT ?p ?fy ?category (SUM(?amount) AS ?total) WHERE {
  ?p jf:budget ?b .
  ?b jf:amount ?amount ; jf:fiscalYear ?fy ; jf:budgetCategory ?category .
}
GROUP BY ?p ?fy ?category
"""

_Q_FLOWS = _PREFIXES + """
SELECT ?flow ?of ?funder ?recipient ?hop ?text ?uncertain ?line WHERE {
  ?flow a jf:FundingFlow ; jf:ofProgram ?of ; jf:funder ?funder ; jf:recipient ?recipient .
  OPTIONAL { ?flow jf:hop ?hop }
  OPTIONAL { ?flow jf:sourceText ?text }
  OPTIONAL { ?flow jf:isUncertain ?uncertain }
  OPTIONAL { ?flow jf:sourceLine ?line }
}
"""

_Q_INSTRUMENTS = _PREFIXES + """
SELECT ?flow ?inst ?ja ?monetary WHERE {
  ?flow a jf:FundingFlow ; jf:instrument ?inst .
  OPTIONAL { ?inst skos:prefLabel ?ja FILTER (LANG(?ja) = "ja") }
  OPTIONAL { ?inst jf:isMonetary ?monetary }
}
"""

_Q_RATES = _PREFIXES + """
SELECT ?holder ?rate ?text ?category ?category_label ?condition ?line WHERE {
  ?holder jf:rate ?rate .
  ?rate jf:rateText ?text .
  OPTIONAL {
    ?rate jf:appliesTo ?category .
    OPTIONAL { ?category skos:prefLabel ?category_label FILTER (LANG(?category_label) = "ja") }
  }
  OPTIONAL { ?rate jf:condition ?condition }
  OPTIONAL { ?rate jf:sourceLine ?line }
}
"""

_Q_CAPS = _PREFIXES + """
SELECT ?holder ?cap ?kind_label ?amount ?category_label ?condition ?text ?line WHERE {
  ?holder jf:cap ?cap .
  ?cap jf:amount ?amount ; jf:capKind ?kind .
  OPTIONAL { ?kind skos:prefLabel ?kind_label FILTER (LANG(?kind_label) = "ja") }
  OPTIONAL {
    ?cap jf:appliesTo ?category .
    OPTIONAL { ?category skos:prefLabel ?category_label FILTER (LANG(?category_label) = "ja") }
  }
  OPTIONAL { ?cap jf:condition ?condition }
  OPTIONAL { ?cap jf:sourceText ?text }
  OPTIONAL { ?cap jf:sourceLine ?line }
}
"""

_Q_ACTORS = _PREFIXES + """
SELECT ?actor ?kind ?category ?category_label ?ja ?en ?abbr WHERE {
  ?actor a ?kind . FILTER (?kind IN (jf:NamedBody, jf:GenericActor))
  OPTIONAL {
    ?actor jf:actorCategory ?category .
    OPTIONAL { ?category skos:prefLabel ?category_label FILTER (LANG(?category_label) = "ja") }
  }
  OPTIONAL { ?actor rdfs:label ?ja FILTER (LANG(?ja) = "ja") }
  OPTIONAL { ?actor rdfs:label ?en FILTER (LANG(?en) = "en") }
  OPTIONAL { ?actor jf:abbreviation ?abbr }
}
"""


# ---------------------------------------------------------------- the data, read once per call


@dataclass(frozen=True)
class _Program:
    iri: str
    ja: str
    en: str
    notation: str
    line: int
    budget_line: str

    @property
    def title(self) -> str:
        return f"{self.notation}{self.ja}" if self.notation else self.ja


@dataclass(frozen=True)
class _Flow:
    iri: str
    program: str
    funder: str
    recipient: str
    hop: int | None
    source_text: str
    instruments: tuple[str, ...]
    rates: tuple[str, ...]
    monetary: bool
    uncertain: bool
    line: int

    @property
    def label(self) -> str:
        """The arrow's text as printed, else instrument labels and rates."""
        if self.source_text:
            return self.source_text
        text = "・".join(self.instruments)
        return f"{text}（{'、'.join(self.rates)}）" if self.rates else text


@dataclass(frozen=True)
class _Actor:
    iri: str
    kind: str  # NamedBody | GenericActor
    category: str
    category_label: str
    ja: str
    en: str
    abbreviation: str


@dataclass(frozen=True)
class _Rate:
    holder: str
    text: str
    classes: tuple[str, ...]
    condition: str
    line: int


@dataclass(frozen=True)
class _Cap:
    holder: str
    kind: str
    amount: int
    classes: tuple[str, ...]
    condition: str
    text: str
    line: int


@dataclass
class _Data:
    programs: dict[str, _Program]
    parent: dict[str, str]
    budgets: dict[str, dict[tuple[int, str], int]]
    flows: list[_Flow]
    actors: dict[str, _Actor]
    rates: list[_Rate]
    caps: list[_Cap]
    children: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kids: dict[str, list[str]] = defaultdict(list)
        for child, parent in self.parent.items():
            kids[parent].append(child)
        order = {p: (_notation_number(prog.notation), prog.line, p) for p, prog in self.programs.items()}
        self.children = {p: sorted(c, key=lambda x: order.get(x, (0, 0, x))) for p, c in kids.items()}

    def subtree(self, program: str) -> list[str]:
        """*program* and everything below it, parents first."""
        out, todo = [], [program]
        while todo:
            p = todo.pop()
            if p in out:
                continue
            out.append(p)
            todo.extend(reversed(self.children.get(p, [])))
        return out

    def number(self, program: str, top: str) -> str:
        """The notations from below *top* down to *program*, e.g. ``（2）①``."""
        chain = [program, *self.ancestors(program)]
        if top in chain:
            chain = chain[: chain.index(top)]
        return "".join(self.programs[p].notation for p in reversed(chain) if p in self.programs)

    def ancestors(self, program: str) -> list[str]:
        """Parents of *program*, nearest first."""
        out: list[str] = []
        p = self.parent.get(program)
        while p is not None and p not in out and p != program:
            out.append(p)
            p = self.parent.get(p)
        return out

    def root(self, program: str) -> str:
        up = self.ancestors(program)
        return up[-1] if up else program

    def actor_label(self, actor: str) -> str:
        a = self.actors.get(actor)
        return (a.ja or a.en or actor) if a else actor


def _notation_number(notation: str) -> int:
    """The number in a notation as printed: （2）, (3), ②, Ⅳ; 0 when there is none.

    Examples
    --------
    >>> [_notation_number(n) for n in ("（12）", "②", "Ⅳ", "")]
    [12, 2, 4, 0]
    """
    for ch in notation:
        if "\u2460" <= ch <= "\u2473":  # ①-⑳
            return ord(ch) - 0x2460 + 1
        if "\u2160" <= ch <= "\u216b":  # Ⅰ-Ⅻ
            return ord(ch) - 0x2160 + 1
    digits = re.search(r"\d+", notation)
    return int(digits.group()) if digits else 0


def _rows(store: Store, sparql: str) -> list[dict[str, str]]:
    answer = store.query(sparql)
    if not isinstance(answer, Table):  # pragma: no cover - these are SELECT queries
        raise TypeError("expected a SELECT answer")
    return [{k: plain(v) for k, v in zip(answer.variables, row) if v is not None} for row in answer.rows]


def _int(text: str | None, default: int = 0) -> int:
    if not text:
        return default
    try:
        return int(Decimal(text))
    except ArithmeticError:
        return default


def _load(store: Store) -> _Data:
    programs = {
        r["p"]: _Program(r["p"], r.get("ja", ""), r.get("en", ""), r.get("notation", ""),
                         _int(r.get("line")), r.get("budget_line", ""))
        for r in _rows(store, _Q_PROGRAMS)
    }
    parent: dict[str, str] = {}
    for r in sorted(_rows(store, _Q_PARENTS), key=lambda r: (r["p"], r["parent"])):
        parent.setdefault(r["p"], r["parent"])
    budgets: dict[str, dict[tuple[int, str], int]] = defaultdict(dict)
    for r in _rows(store, _Q_BUDGETS):
        budgets[r["p"]][(int(r["fy"]), r["category"].removeprefix("jf:"))] = _int(r["total"])
    instruments: dict[str, dict[str, tuple[str, bool]]] = defaultdict(dict)
    for r in _rows(store, _Q_INSTRUMENTS):
        instruments[r["flow"]][r["inst"]] = (r.get("ja", r["inst"]), r.get("monetary", "true") != "false")
    rates: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _rows(store, _Q_RATES):
        entry = rates.setdefault((r["holder"], r["rate"]), {
            "text": r["text"], "classes": set(), "condition": r.get("condition", ""), "line": _int(r.get("line"))})
        if "category" in r:
            entry["classes"].add(r.get("category_label", r["category"]))
    caps: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _rows(store, _Q_CAPS):
        entry = caps.setdefault((r["holder"], r["cap"]), {
            "kind": r.get("kind_label", ""), "amount": _int(r["amount"]), "classes": set(),
            "condition": r.get("condition", ""), "text": r.get("text", ""), "line": _int(r.get("line"))})
        if "category_label" in r:
            entry["classes"].add(r["category_label"])
    flows = []
    flow_rows = _rows(store, _Q_FLOWS)
    rates_of: dict[str, list[tuple[int, str]]] = defaultdict(list)  # by holder: one pass, not one per flow
    for (h, _), v in rates.items():
        rates_of[h].append((v["line"], v["text"]))
    for r in flow_rows:
        inst = instruments.get(r["flow"], {})
        flow_rates = sorted(rates_of.get(r["flow"], []))
        flows.append(_Flow(
            iri=r["flow"],
            program=r["of"],
            funder=r["funder"],
            recipient=r["recipient"],
            hop=_int(r["hop"]) if "hop" in r else None,
            source_text=r.get("text", ""),
            instruments=tuple(sorted(label for label, _ in inst.values())),
            rates=tuple(dict.fromkeys(text for _, text in flow_rates)),
            monetary=any(m for _, m in inst.values()) if inst else True,
            uncertain=r.get("uncertain") == "true",
            line=_int(r.get("line")),
        ))
    flows.sort(key=lambda f: (f.hop or 0, f.line, f.iri))
    flow_program = {f.iri: f.program for f in flows}
    actors = {
        r["actor"]: _Actor(r["actor"], r["kind"].removeprefix("jf:"), r.get("category", ""),
                           r.get("category_label", ""), r.get("ja", ""), r.get("en", ""), r.get("abbr", ""))
        for r in _rows(store, _Q_ACTORS)
    }
    rate_list = [
        _Rate(flow_program.get(h, h), v["text"], tuple(sorted(v["classes"])), v["condition"], v["line"])
        for (h, _), v in rates.items()
        if h in programs or (h in flow_program and v["classes"])  # flow rates without a class are on the arrow
    ]
    cap_list = [
        _Cap(flow_program.get(h, h), v["kind"], v["amount"], tuple(sorted(v["classes"])), v["condition"],
             v["text"], v["line"])
        for (h, _), v in caps.items()
    ]
    return _Data(programs, parent, dict(budgets), flows, actors,
                 sorted(rate_list, key=lambda x: (x.line, x.text)),
                 sorted(cap_list, key=lambda x: (x.line, -x.amount)))


# ---------------------------------------------------------------- names


def _expand(text: str) -> str:
    raw = text.strip()
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1]
    m = re.fullmatch(r"([A-Za-z][\w-]*):([^\s/][^\s]*)", raw)
    if m and m.group(1) in PREFIXES and not raw.startswith(("http:", "https:")):
        raw = PREFIXES[m.group(1)] + m.group(2)
    elif ":" not in raw:
        raw = PREFIXES["program"] + raw
    return raw


def _resolve(data: _Data, text: str) -> str:
    iri = compact(_expand(text))
    if iri in data.programs:
        return iri
    needle = text.strip().removeprefix("program:").lower()
    by_name: dict[str, str] = {}
    for p, prog in data.programs.items():
        by_name[p] = p
        by_name[p.removeprefix("program:")] = p
        if prog.ja:
            by_name.setdefault(prog.ja, p)
        if prog.en:
            by_name.setdefault(prog.en.lower(), p)
    found: list[str] = []
    if needle:
        found += [p for p in sorted(data.programs) if needle in p.lower() or needle in data.programs[p].ja]
    found += [by_name[m] for m in difflib.get_close_matches(needle, list(by_name), n=5, cutoff=0.5)]
    found += [by_name[m] for m in difflib.get_close_matches(text.strip(), list(by_name), n=5, cutoff=0.5)]
    raise UnknownName("program", text, list(dict.fromkeys(found))[:5])


def resolve_program(store: Store, program: str) -> str:
    """The compact IRI of *program*, given as ``program:<slug>``, a full IRI or a bare slug.

    Parameters
    ----------
    store : Store
        Where the programs are.
    program : str
        ``program:go-tech-r7``, ``https://w3id.org/jp-funding/id/program/go-tech-r7`` or ``go-tech-r7``.

    Returns
    -------
    str
        The compact IRI, e.g. ``program:go-tech-r7``.

    Raises
    ------
    UnknownName
        No such program; ``candidates`` holds close matches over program IRIs and labels.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> resolve_program(EmbeddedStore.from_paths(), "https://w3id.org/jp-funding/id/program/go-tech-r7")
    'program:go-tech-r7'
    >>> resolve_program(EmbeddedStore.from_paths(), "program:go-tec-r7")
    Traceback (most recent call last):
    ...
    kg.errors.UnknownName: unknown program 'program:go-tec-r7'; did you mean: program:go-tech-r7...
    """
    return _resolve(_load(store), program)
