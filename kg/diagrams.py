"""Funding-flow diagrams: one program's scheme, the money Sankey and the channel network.

Everything here is drawn from SPARQL answers of a :class:`kg.store.Store`, so the pictures follow
the Turtle files in ``graph_data/`` and never hold a number of their own.

* :func:`program_dot` / :func:`program_mermaid` / :func:`render_program` — the 事業スキーム of one
  program (or sub-measure): 国 → intermediaries → beneficiaries, left to right, arrows labelled as
  printed on the sheet, with a side table of rates by beneficiary class and caps.
* :func:`sankey_figure` / :func:`sankey_html` / :func:`sankey_static` — where one fiscal year's
  budget goes, from 国 through the named bodies and executing bodies to the beneficiary categories.
* :func:`channels_svg` — the intermediary network (who receives from whom).
* :func:`gallery` — all of the above as files, with an ``index.html``.

Rendering to SVG or PNG runs Graphviz's ``dot`` binary through the ``graphviz`` package; the DOT and
Mermaid texts need no binary. ``graphviz`` and ``plotly`` are the ``diagrams`` extra
(``pip install 'jp-funding-kg[diagrams]'``); they are imported when first needed.

Examples
--------
>>> from kg.store import EmbeddedStore
>>> store = EmbeddedStore.from_paths()
>>> dot = program_dot(store, "program:sme-productivity-revolution-r6s")
>>> dot.startswith("digraph") and "rankdir=LR" in dot
True
>>> "中小企業基盤整備機構" in dot and 'label="交付金"' in dot
True
>>> program_mermaid(store, "program:sme-productivity-revolution-r6s").splitlines()[1]
'flowchart LR'
"""

from __future__ import annotations

import difflib
import html
import importlib.util
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.errors import UnknownFormat, UnknownName
from kg.formats import compact, plain
from kg.load import PREFIXES
from kg.store import Store, Table
from kg.views import BUDGET_LINE_KEYS

if TYPE_CHECKING:  # pragma: no cover - typing only
    import plotly.graph_objects as go

__all__ = [
    "BUDGET_CATEGORIES",
    "FONT",
    "PROGRAM_FORMATS",
    "STATIC_FORMATS",
    "SankeyLink",
    "SankeyNode",
    "channels_svg",
    "gallery",
    "program_dot",
    "program_mermaid",
    "render_program",
    "resolve_program",
    "sankey_figure",
    "sankey_html",
    "sankey_links",
    "sankey_static",
]

FONT = "Noto Sans CJK JP"
"""The font every diagram asks for (Debian: ``fonts-noto-cjk``)."""

PROGRAM_FORMATS = ("svg", "png", "dot", "mermaid")
"""Formats of :func:`render_program`."""

STATIC_FORMATS = ("svg", "png")
"""Formats of :func:`sankey_static`."""

BUDGET_CATEGORIES = ("InitialBudget", "SupplementaryBudget", "MultiYearTotal")
"""Budget categories of ``ontology/vocab.ttl`` (local names of ``jf:``)."""

STATE = "orgs:state"
_NOT_DRAWN = "none:not-drawn"

_KIND_STYLE: dict[str, dict[str, str]] = {
    # kind: Graphviz node attributes
    "state": {"shape": "box", "style": "filled,bold", "fillcolor": "#b03a2e", "color": "#7b241c",
              "fontcolor": "white", "penwidth": "2", "fontsize": "16"},
    "agency": {"shape": "box", "style": "filled", "fillcolor": "#d6eaf8", "color": "#1b4f72",
               "peripheries": "2"},
    "international": {"shape": "box", "style": "filled,rounded", "fillcolor": "#e8daef", "color": "#6c3483",
                      "peripheries": "2"},
    "named": {"shape": "box", "style": "filled", "fillcolor": "#eaeded", "color": "#424949",
              "peripheries": "2"},
    "executing": {"shape": "box", "style": "filled,rounded", "fillcolor": "#fdebd0", "color": "#b9770e"},
    "beneficiary": {"shape": "ellipse", "style": "filled", "fillcolor": "#d5f5e3", "color": "#1e8449"},
    "none": {"shape": "box", "style": "filled,dashed", "fillcolor": "#f2f3f4", "color": "#839192"},
}

_KIND_NAME = {
    "state": "国",
    "agency": "独立行政法人",
    "international": "国際機関",
    "named": "その他の機関",
    "executing": "執行団体等（資金を流す主体）",
    "beneficiary": "受け手（最終の区分）",
    "none": "資金の流れの図なし",
}

_SANKEY_COLOR = {
    "state": "#b03a2e",
    "agency": "#2e86c1",
    "international": "#8e44ad",
    "named": "#717d7e",
    "executing": "#d68910",
    "beneficiary": "#28b463",
    "none": "#aab7b8",
}

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
            "#bcbd22", "#7f7f7f")
_SHEET_COLOR = "#2c3e50"
_CONTEXT_COLOR = "#a6acaf"

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
    for r in flow_rows:
        inst = instruments.get(r["flow"], {})
        flow_rates = sorted((v["line"], v["text"]) for (h, _), v in rates.items() if h == r["flow"])
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


# ---------------------------------------------------------------- text helpers

_BREAK_AFTER = set("）)、・，,")
_BREAK_BEFORE = set("（(")


def _wrap(text: str, width: float = 13) -> list[str]:
    """Break Japanese *text* into lines of about *width* characters, at punctuation where possible.

    Examples
    --------
    >>> _wrap("独立行政法人中小企業基盤整備機構")
    ['独立行政法人', '中小企業基盤整備機構']
    >>> _wrap("国")
    ['国']
    """
    if _width(text) <= width:
        return [text]
    if text.startswith("独立行政法人") and _width(text) - 6 <= width + 3:
        return ["独立行政法人", *_wrap(text[6:], width + 3)]
    tokens: list[str] = []
    cur = ""
    for ch in text:
        if ch in _BREAK_BEFORE and cur:
            tokens.append(cur)
            cur = ""
        cur += ch
        if ch in _BREAK_AFTER:
            tokens.append(cur)
            cur = ""
    if cur:
        tokens.append(cur)
    lines: list[str] = []
    line = ""
    for tok in tokens:
        if _width(line) + _width(tok) > width and line and _width(tok) <= width:
            lines.append(line)
            line = ""
        while _width(line + tok) > width:
            cut = 1
            while cut < len(tok) and _width(line + tok[: cut + 1]) <= width:
                cut += 1
            lines.append(line + tok[:cut])
            line, tok = "", tok[cut:]
        line += tok
    if line:
        lines.append(line)
    return lines


def _width(text: str) -> float:
    """Display width in full-width characters (ASCII counts a little over half)."""
    return sum(0.55 if ord(ch) < 128 else 1.0 for ch in text)


def _q(text: str, *, left: bool = False) -> str:
    """A DOT double-quoted string; a newline in *text* becomes a centred (or *left*-justified) break."""
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    if left:
        return '"' + body.replace("\n", "\\l") + '\\l"'
    return '"' + body.replace("\n", "\\n") + '"'


def _v(value: str) -> str:
    """A DOT attribute value: bare when it is a plain identifier or number, else quoted."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|-?[0-9]*\.?[0-9]+", value):
        return value
    return _q(value)


def _attrs(attrs: dict[str, str]) -> str:
    parts = []
    for k, v in attrs.items():
        parts.append(f"{k}=<{v[1:-1]}>" if v.startswith("<") and v.endswith(">") else f"{k}={_v(v)}")
    return " ".join(parts)


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _hw(text: str, width: float) -> str:
    """HTML-like label text wrapped at *width*, lines left-aligned."""
    return '<BR ALIGN="LEFT"/>'.join(_h(line) for line in _wrap(text, width)) if text else ""


def _yen(amount: float) -> str:
    """Yen as the sheets write them.

    Examples
    --------
    >>> _yen(340000000000), _yen(610000000), _yen(45000000), _yen(3333333333)
    ('3,400億円', '6.1億円', '4,500万円', '33.3億円')
    """
    if amount >= 100_000_000:
        oku = round(amount / 100_000_000, 1)
        return f"{oku:,.0f}億円" if oku == int(oku) else f"{oku:,.1f}億円"
    if amount >= 10_000:
        man = round(amount / 10_000, 1)
        return f"{man:,.0f}万円" if man == int(man) else f"{man:,.1f}万円"
    return f"{amount:,.0f}円"


# ---------------------------------------------------------------- one program's scheme


@dataclass
class _Scheme:
    program: _Program
    own: list[_Flow]
    context: list[_Flow]
    nodes: list[str]
    kinds: dict[str, str]
    cluster_of: dict[str, str]
    colours: dict[str, str]
    tree: list[str]


def _kind(data: _Data, actor: str, passes_on: bool) -> str:
    if actor == STATE:
        return "state"
    a = data.actors.get(actor)
    category = a.category if a else ""
    if category == "category:incorporated-administrative-agency":
        return "agency"
    if category == "category:international-organisation":
        return "international"
    if a is not None and a.kind == "NamedBody":
        return "named"
    return "executing" if passes_on else "beneficiary"


def _scheme(data: _Data, iri: str) -> _Scheme:
    tree = data.subtree(iri)
    in_tree = set(tree)
    own = [f for f in data.flows if f.program in in_tree]
    ancestors = set(data.ancestors(iri))
    up = [f for f in data.flows if f.program in ancestors]
    if not own:
        context = up
    else:
        # the parent's arrows that lead into this sub-measure's chain (e.g. 国 → executing body)
        context, need = [], {f.funder for f in own}
        changed = True
        while changed:
            changed = False
            for f in up:
                if f not in context and f.recipient in need:
                    context.append(f)
                    need.add(f.funder)
                    changed = True
    drawn = own + context
    nodes: list[str] = [STATE]
    for f in sorted(drawn, key=lambda f: (f.hop or 0, f.line)):
        for n in (f.funder, f.recipient):
            if n not in nodes:
                nodes.append(n)
    passes_on = {f.funder for f in drawn}
    kinds = {n: _kind(data, n, n in passes_on) for n in nodes}
    # colour per sub-measure directly below *iri*
    colours: dict[str, str] = {}
    for i, child in enumerate(data.children.get(iri, [])):
        colours[child] = _PALETTE[i % len(_PALETTE)]

    def path(program: str) -> list[str] | None:
        """Programs strictly below *iri* down to *program*; None when *program* is not below."""
        chain = [program, *data.ancestors(program)]
        if iri not in chain:
            return None
        return list(reversed(chain[: chain.index(iri)]))

    cluster_of: dict[str, str] = {}
    for n in nodes:
        if n == STATE:
            continue
        paths = [path(f.program) for f in drawn if n in (f.funder, f.recipient)]
        if not paths or any(p is None for p in paths):
            continue
        common: list[str] = []
        for level in zip(*[p for p in paths if p is not None]):
            if len(set(level)) != 1:
                break
            common.append(level[0])
        if common:
            cluster_of[n] = common[-1]
    return _Scheme(data.programs[iri], own, context, nodes, kinds, cluster_of, colours, tree)


def _top_child(data: _Data, top: str, program: str) -> str | None:
    chain = [program, *data.ancestors(program)]
    if top not in chain:
        return None
    i = chain.index(top)
    return chain[i - 1] if i > 0 else None


def _edge_colour(data: _Data, s: _Scheme, f: _Flow) -> str:
    if f in s.context:
        return _CONTEXT_COLOR
    child = _top_child(data, s.program.iri, f.program)
    return s.colours.get(child, _SHEET_COLOR) if child else _SHEET_COLOR


def _node_label(data: _Data, actor: str) -> str:
    a = data.actors.get(actor)
    lines = _wrap(data.actor_label(actor))
    if a is not None and a.abbreviation and actor != STATE and a.abbreviation not in data.actor_label(actor):
        lines.append(f"({a.abbreviation})")
    return "\n".join(lines)


def _node_tooltip(data: _Data, actor: str) -> str:
    a = data.actors.get(actor)
    if a is None:
        return actor
    parts = [a.ja, a.en, a.category_label if a.category_label != a.ja else "", actor]
    return " — ".join(p for p in parts if p)


def _flow_tooltip(f: _Flow) -> str:
    parts = [f.label, f"手段：{'、'.join(f.instruments) or '—'}"]
    if f.rates:
        parts.append(f"率：{'、'.join(f.rates)}")
    if not f.monetary:
        parts.append("資金の移転ではない")
    if f.uncertain:
        parts.append("読み取りに不確実な点あり")
    parts.append(f"{f.iri}（{f.program}）")
    return " | ".join(parts)


def _rate_rows(data: _Data, s: _Scheme) -> list[tuple[str, str, str, str]]:
    """(sub-measure, class, rate, condition) for the rates in the side text and class-specific ones."""
    in_tree = set(s.tree)
    out = []
    for r in data.rates:
        if r.holder not in in_tree:
            continue
        where = data.number(r.holder, s.program.iri) or s.program.notation or "全体"
        out.append((where, "、".join(r.classes) or "—", r.text, r.condition))
    return list(dict.fromkeys(out))


def _cap_rows(data: _Data, s: _Scheme) -> list[tuple[str, str, str, str]]:
    in_tree = set(s.tree)
    out = []
    for c in data.caps:
        if c.holder not in in_tree:
            continue
        where = data.number(c.holder, s.program.iri) or s.program.notation or "全体"
        cond = "、".join([*c.classes, *([c.condition] if c.condition else [])])
        out.append((where, c.kind, _yen(c.amount), cond))
    return list(dict.fromkeys(out))


def _side_table(data: _Data, s: _Scheme) -> str:
    """The HTML-like label of the side table: legend, sub-measures, rates by class, caps."""
    cols = 4
    rows: list[str] = []

    def head(text: str) -> None:
        rows.append(f'<TR><TD COLSPAN="{cols}" BGCOLOR="#e5e8e8" ALIGN="LEFT"><B>{_h(text)}</B></TD></TR>')

    def row(cells: Sequence[str], colour: str | None = None) -> None:
        tds = []
        for i, c in enumerate(cells):
            bg = f' BGCOLOR="{colour}"' if colour and i == 0 else ""
            font = '<FONT COLOR="white">' if colour and i == 0 else ""
            end = "</FONT>" if font else ""
            tds.append(f'<TD ALIGN="LEFT" BALIGN="LEFT"{bg}>{font}{_hw(c, 16) or " "}{end}</TD>')
        rows.append(f"<TR>{''.join(tds)}</TR>")

    kinds_present = [k for k in _KIND_STYLE if k in s.kinds.values()]
    head("凡例")
    legend = "".join(
        f'<TD BGCOLOR="{_KIND_STYLE[k]["fillcolor"]}"><FONT COLOR="{_KIND_STYLE[k].get("fontcolor", "black")}">'
        f'{_h(_KIND_NAME[k])}</FONT></TD>'
        for k in kinds_present
    )
    rows.append(f'<TR><TD COLSPAN="{cols}" BORDER="0"><TABLE BORDER="0" CELLSPACING="2" CELLBORDER="1">'
                f"<TR>{legend}</TR></TABLE></TD></TR>")
    lines = ["実線：資金の流れ（矢印の文言はシートの表記）"]
    if any(not f.monetary for f in s.own + s.context):
        lines.append("点線：資金の移転ではない支援（相談対応等）")
    if any(f.uncertain for f in s.own + s.context):
        lines.append("破線：読み取りに不確実な点がある矢印")
    if s.context:
        lines.append("灰色：上位の事業の矢印（この事業の流れの上流）")
    for text in lines:
        rows.append(f'<TR><TD COLSPAN="{cols}" ALIGN="LEFT" BALIGN="LEFT" BORDER="0">{_hw(text, 30)}</TD></TR>')
    subs = [p for p in s.tree if p != s.program.iri]
    if subs:
        head("事業（内訳）と矢印の色")
        has_flows = {f.program for f in s.own}
        for p in subs:
            prog = data.programs.get(p)
            if prog is None:
                continue
            top = _top_child(data, s.program.iri, p)
            drawn = any(q in has_flows for q in data.subtree(p))
            colour = s.colours.get(top) if top and drawn else None
            upper = [q for q in data.ancestors(p) if q in has_flows]
            if drawn:
                note = ""
            elif upper and upper[0] == s.program.iri:
                note = "（全体の矢印による）"
            elif upper:
                note = f"（{data.number(upper[0], s.program.iri)}の矢印による）"
            else:
                note = "（矢印の図なし）"
            number = _h(data.number(p, s.program.iri)) or " "
            first = (f'<TD ALIGN="LEFT" BGCOLOR="{colour}"><FONT COLOR="white">{number}</FONT></TD>'
                     if colour else f'<TD ALIGN="LEFT">{number}</TD>')
            rows.append(f'<TR>{first}<TD COLSPAN="{cols - 1}" ALIGN="LEFT" BALIGN="LEFT">'
                        f'{_hw(prog.ja + note, 26)}</TD></TR>')
    rate_rows = _rate_rows(data, s)
    if rate_rows:
        head("補助率（対象区分別）")
        row(["事業", "対象", "補助率", "条件"])
        for r in rate_rows:
            row(r)
    cap_rows = _cap_rows(data, s)
    if cap_rows:
        head("上限額・下限額")
        row(["事業", "種類", "金額", "条件"])
        for c in cap_rows:
            row(c)
    return ('<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="4" COLOR="#839192">'
            + "".join(rows) + "</TABLE>>")


def _title(data: _Data, s: _Scheme) -> str:
    p = s.program
    lines = [f"<B>{_h(p.title)}</B>"]
    parents = data.ancestors(p.iri)
    if parents:
        lines.append(f'<FONT POINT-SIZE="11">（{_h(data.programs[parents[-1]].ja if parents[-1] in data.programs else parents[-1])}の内訳）</FONT>')
    root = data.programs.get(parents[-1]) if parents else p
    if root is not None and root.budget_line:
        lines.append(f'<FONT POINT-SIZE="11">{_h(root.budget_line)}</FONT>')
    lines.append(f'<FONT POINT-SIZE="9" COLOR="#566573">{_h(p.iri)}</FONT>')
    return "<" + "<BR/>".join(lines) + ">"


def _cluster_nodes(s: _Scheme) -> tuple[list[str], dict[str, list[str]]]:
    """The scheme's nodes outside any sub-measure box, and the nodes of each box, in drawing order."""
    loose: list[str] = []
    clustered: dict[str, list[str]] = defaultdict(list)
    for n in s.nodes:
        if n in s.cluster_of:
            clustered[s.cluster_of[n]].append(n)
        else:
            loose.append(n)
    return loose, clustered


def _walk_clusters(data: _Data, iri: str, clustered: dict[str, list[str]]) -> Iterator[tuple[str, str, int]]:
    """``("open", p, depth)`` and ``("close", p, depth)`` for each nested sub-measure box that holds nodes."""

    def has_nodes(p: str) -> bool:
        return any(clustered.get(q) for q in data.subtree(p))

    def walk(p: str, depth: int) -> Iterator[tuple[str, str, int]]:
        yield "open", p, depth
        for c in data.children.get(p, []):
            if has_nodes(c):
                yield from walk(c, depth + 1)
        yield "close", p, depth

    for c in data.children.get(iri, []):
        if has_nodes(c):
            yield from walk(c, 1)


def _drawn_flows(s: _Scheme) -> list[_Flow]:
    """The arrows to draw (context from the parent, then the program's own), in hop and line order."""
    return sorted(s.context + s.own, key=lambda f: (f.hop or 0, f.line, f.iri))


def _dot(data: _Data, iri: str, *, dpi: int | None = None) -> str:
    s = _scheme(data, iri)
    out = [f"digraph {_q(iri)} {{"]
    graph = {
        "rankdir": "LR", "fontname": FONT, "labelloc": "t", "labeljust": "l", "fontsize": "16",
        "nodesep": "0.35", "ranksep": "0.9", "newrank": "true", "pad": "0.3", "bgcolor": "white",
    }
    if dpi:
        graph["dpi"] = str(dpi)
    out.append("    " + "; ".join(f"{k}={_v(v)}" for k, v in graph.items()) + ";")
    out.append(f"    label={_title(data, s)};")
    out.append(f'    node [fontname={_q(FONT)} fontsize="12" margin="0.15,0.08"];')
    out.append(f'    edge [fontname={_q(FONT)} fontsize="11" arrowsize="0.8"];')

    def node_line(n: str, indent: str) -> str:
        attrs = {"label": _node_label(data, n), "tooltip": _node_tooltip(data, n), **_KIND_STYLE[s.kinds[n]]}
        return f"{indent}{_q(n)} [{_attrs(attrs)}];"

    out.append(node_line(STATE, "    "))
    out.append(f"    {{ rank=source; {_q(STATE)}; }}")
    loose, clustered = _cluster_nodes(s)
    out.extend(node_line(n, "    ") for n in loose if n != STATE)
    for event, p, depth in _walk_clusters(data, iri, clustered):
        ind = "    " * depth
        if event == "close":
            out.append(f"{ind}}}")
            continue
        prog = data.programs.get(p)
        top = _top_child(data, iri, p)
        colour = s.colours.get(top, _SHEET_COLOR) if top else _SHEET_COLOR
        name = f"cluster_{re.sub(r'[^A-Za-z0-9]+', '_', p)}"
        title = (data.number(p, iri) + prog.ja) if prog else p
        if len(title) > 44:
            title = title[:43] + "…"
        label = "\n".join(_wrap(title, 24))
        out.append(f"{ind}subgraph {name} {{")
        out.append(f"{ind}    label={_q(label, left=True)}; labeljust=l; tooltip={_q(p)}; style=\"rounded,filled\"; "
                   f"color={_q(colour)}; fillcolor={_q(colour + '14')}; fontcolor={_q(colour)}; fontsize=\"12\";")
        out.extend(node_line(n, ind + "    ") for n in clustered.get(p, []))
    for f in _drawn_flows(s):
        colour = _edge_colour(data, s, f)
        style = "dotted" if not f.monetary else ("dashed" if f.uncertain else "solid")
        attrs = {
            "id": f.iri,
            "label": "\n".join(_wrap(f.label, 16)),
            "tooltip": _flow_tooltip(f),
            "color": colour,
            "fontcolor": colour if colour not in (_SHEET_COLOR,) else "black",
            "style": style,
            "penwidth": "1.2" if f.monetary else "1",
        }
        out.append(f"    {_q(f.funder)} -> {_q(f.recipient)} [{_attrs(attrs)}];")
    if not s.own and not s.context:
        out.append('    "note" [label="この事業の資金の流れはシートに図示されていません" shape=note '
                   'fontcolor="#566573" color="#aab7b8"];')
        out.append(f'    {_q(STATE)} -> "note" [style=invis];')
    out.append(f'    "table" [shape=plain label={_side_table(data, s)}];')
    # the side table stands in a column of its own, right of the last actors
    drawn = s.own + s.context
    sinks = [n for n in s.nodes if not any(f.funder == n for f in drawn)] or [STATE]
    for n in sinks:
        out.append(f'    {_q(n)} -> "table" [style=invis weight=0];')
    out.append("}")
    return "\n".join(out) + "\n"


def program_dot(store: Store, program: str) -> str:
    """Graphviz DOT of one program's funding scheme.

    国 on the left, then intermediaries, then beneficiaries (``rankdir=LR``). Each arrow is labelled
    with the flow's ``jf:sourceText`` (the arrow's text as printed), else its instrument labels and
    rates; its tooltip lists instruments and rates, and its ``id`` is the flow's IRI. Nodes are
    styled by kind: 国, incorporated administrative agency, international organisation, executing
    body (a generic actor that passes money on) and beneficiary category (a generic actor at the
    end); node ids are the actors' compact IRIs. Sub-measures become clusters holding the actors only
    their flows touch, and arrows take the colour of their sub-measure. For a sub-measure, the
    parent's arrows that lead into its chain are drawn in grey (all of the parent's arrows when the
    sub-measure has none of its own). A side table (an HTML-like label node) holds the legend, the
    sub-measures, the rates by beneficiary class and the caps. Font: :data:`FONT`.

    Parameters
    ----------
    store : Store
        Where the program is.
    program : str
        ``program:<slug>``, a full IRI or a bare slug; sheets and sub-measures alike.

    Returns
    -------
    str
        DOT text.

    Raises
    ------
    UnknownName
        No such program, with close matches.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> dot = program_dot(EmbeddedStore.from_paths(), "program:large-scale-growth-investment-r6s")
    >>> '"orgs:state" -> ' in dot and "①補助（1/3以下）" in dot and "補助上限額" in dot
    True
    """
    data = _load(store)
    return _dot(data, _resolve(data, program))


# ---------------------------------------------------------------- Mermaid

_MERMAID_CLASS = {
    k: f"fill:{v['fillcolor']},stroke:{v['color']},color:{v.get('fontcolor', '#000')}"
    for k, v in _KIND_STYLE.items()
}


def _m(text: str) -> str:
    """A Mermaid quoted label."""
    return '"' + html.escape(text, quote=False).replace('"', "#quot;").replace("\n", "<br/>") + '"'


def _mermaid(data: _Data, iri: str) -> str:
    s = _scheme(data, iri)
    ids = {n: f"n{i}" for i, n in enumerate(s.nodes)}
    out = [f"%% {iri} {s.program.title}", "flowchart LR"]

    def node_line(n: str, ind: str) -> str:
        shape = ("([", "])") if s.kinds[n] == "beneficiary" else ("[", "]")
        return f"{ind}{ids[n]}{shape[0]}{_m(_node_label(data, n))}{shape[1]}:::{s.kinds[n]}"

    loose, clustered = _cluster_nodes(s)
    out.extend(node_line(n, "    ") for n in loose)
    opened = 0
    for event, p, depth in _walk_clusters(data, iri, clustered):
        ind = "    " * depth
        if event == "close":
            out.append(f"{ind}end")
            continue
        prog = data.programs.get(p)
        opened += 1
        out.append(f"{ind}subgraph c{opened}[{_m(prog.title if prog else p)}]")
        out.extend(node_line(n, ind + "    ") for n in clustered.get(p, []))
    styles = []
    for i, f in enumerate(_drawn_flows(s)):
        arrow = "-.->" if not f.monetary else "-->"
        out.append(f"    {ids[f.funder]} {arrow}|{_m(f.label)}| {ids[f.recipient]}")
        colour = _edge_colour(data, s, f)
        dash = ",stroke-dasharray:6 4" if f.uncertain and f.monetary else ""
        styles.append(f"    linkStyle {i} stroke:{colour},color:{colour}{dash}")
    table = [f"{p or s.program.notation or '本体'} {c}：{r}{'（' + cond + '）' if cond else ''}"
             for p, c, r, cond in _rate_rows(data, s)]
    table += [f"{p or s.program.notation or '本体'} {k} {a}{'（' + cond + '）' if cond else ''}"
              for p, k, a, cond in _cap_rows(data, s)]
    if table:
        out.append(f"    subgraph side[{_m('補助率・上限額')}]")
        out.append(f"        t0[{_m(chr(10).join(table))}]:::table")
        out.append("    end")
    out.extend(styles)
    for k, v in _MERMAID_CLASS.items():
        out.append(f"    classDef {k} {v}")
    out.append("    classDef table fill:#fbfcfc,stroke:#839192,text-align:left")
    return "\n".join(out) + "\n"


def program_mermaid(store: Store, program: str) -> str:
    """The scheme of :func:`program_dot` as a Mermaid ``flowchart LR``.

    Parameters
    ----------
    store : Store
        Where the program is.
    program : str
        ``program:<slug>``, a full IRI or a bare slug.

    Returns
    -------
    str
        Mermaid text: node classes by kind, sub-measures as subgraphs, dotted arrows for support
        that is not money, rates and caps in a side subgraph.

    Raises
    ------
    UnknownName
        No such program, with close matches.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> text = program_mermaid(EmbeddedStore.from_paths(), "program:sme-productivity-revolution-r6s")
    >>> 'n0["国"]:::state' in text and '|"交付金"|' in text
    True
    """
    data = _load(store)
    return _mermaid(data, _resolve(data, program))


# ---------------------------------------------------------------- rendering


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "rendering diagrams needs the 'graphviz' package: pip install 'jp-funding-kg[diagrams]'"
        ) from None
    return graphviz


def _pipe(dot: str, fmt: str) -> bytes:
    """Run ``dot -T<fmt>`` on *dot* (raises ``graphviz.ExecutableNotFound`` without the binary)."""
    result: bytes = _graphviz().Source(dot, engine="dot").pipe(format=fmt, encoding=None)
    return result


def _render(data: _Data, iri: str, fmt: str) -> bytes:
    if fmt == "dot":
        return _dot(data, iri).encode()
    if fmt == "mermaid":
        return _mermaid(data, iri).encode()
    return _pipe(_dot(data, iri, dpi=150 if fmt == "png" else None), fmt)


def render_program(store: Store, program: str, *, fmt: str) -> bytes:
    """One program's scheme as SVG, PNG, DOT or Mermaid.

    Parameters
    ----------
    store : Store
        Where the program is.
    program : str
        ``program:<slug>``, a full IRI or a bare slug.
    fmt : {'svg', 'png', 'dot', 'mermaid'}
        SVG and PNG run Graphviz's ``dot`` binary (PNG at 150 dpi); DOT and Mermaid are UTF-8 text.

    Returns
    -------
    bytes

    Raises
    ------
    UnknownFormat
        *fmt* is not one of :data:`PROGRAM_FORMATS`.
    UnknownName
        No such program.
    graphviz.ExecutableNotFound
        SVG or PNG asked for, but the ``dot`` binary is not installed (``apt-get install graphviz``).

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> render_program(EmbeddedStore.from_paths(), "program:go-tech-r7", fmt="dot")[:7]
    b'digraph'
    >>> render_program(EmbeddedStore.from_paths(), "program:go-tech-r7", fmt="pdf")
    Traceback (most recent call last):
    ...
    kg.errors.UnknownFormat: unknown format 'pdf'; supported: svg, png, dot, mermaid
    """
    if fmt not in PROGRAM_FORMATS:
        raise UnknownFormat(fmt, PROGRAM_FORMATS)
    data = _load(store)
    return _render(data, _resolve(data, program), fmt)


# ---------------------------------------------------------------- Sankey


@dataclass(frozen=True)
class SankeyNode:
    """A column entry of the Sankey: 国, a named body, a group of generic actors, or 'not drawn'."""

    key: str
    label: str
    kind: str


@dataclass(frozen=True)
class SankeyLink:
    """Yen from one node to another, for one top-level program (sheet)."""

    source: str
    target: str
    value: int
    sheet: str


def _split(amount: int, parts: int) -> list[int]:
    """Split integer yen into *parts* shares that add up exactly (the first shares take the remainder).

    Examples
    --------
    >>> _split(10, 3)
    [4, 3, 3]
    """
    q, r = divmod(amount, parts)
    return [q + 1 if i < r else q for i in range(parts)]


def _check_category(category: str) -> str:
    cat = category.removeprefix("jf:")
    if cat not in BUDGET_CATEGORIES:
        raise UnknownName("budget category", category,
                          difflib.get_close_matches(cat, BUDGET_CATEGORIES, n=3, cutoff=0.3) or list(BUDGET_CATEGORIES))
    return cat


class _SankeyBuilder:
    def __init__(self, data: _Data) -> None:
        self.data = data
        self.nodes: dict[str, SankeyNode] = {}
        self.links: dict[tuple[str, str, str], int] = defaultdict(int)
        self.passes_money = {f.funder for f in data.flows if f.monetary}

    def node(self, actor: str, hop: int | None) -> str:
        data = self.data
        a = data.actors.get(actor)
        if actor == STATE or a is None or a.kind == "NamedBody":
            key = actor
            label = data.actor_label(actor)
            if label.startswith("独立行政法人"):
                label = "(独)" + label.removeprefix("独立行政法人")
            kind = _kind(data, actor, actor in self.passes_money)
        else:
            group = a.category or a.ja
            label = a.category_label or a.ja or actor
            if actor in self.passes_money:
                key = f"executing:{group}:{hop or 0}"
                label = f"{label}（執行団体等）"
                kind = "executing"
            else:
                key = f"beneficiary:{group}"
                kind = "international" if a.category == "category:international-organisation" else "beneficiary"
        self.nodes.setdefault(key, SankeyNode(key, label, kind))
        return key

    def add(self, source: str, target: str, value: int, sheet: str) -> None:
        if value:
            self.links[(source, target, sheet)] += value

    def allocate(self, program: str, amount: int, sheet: str, fy: int, cat: str) -> None:
        data = self.data
        kids = [c for c in data.children.get(program, []) if (fy, cat) in data.budgets.get(c, {})]
        own = {c: data.budgets[c][(fy, cat)] for c in kids}
        if sum(own.values()) > amount:  # inconsistent figures: ignore the sub-budgets
            own = {}
        for c, v in own.items():
            self.allocate(c, v, sheet, fy, cat)
        rest = amount - sum(own.values())
        if rest <= 0:
            return
        excluded = {q for c in own for q in data.subtree(c)}
        scope = [p for p in data.subtree(program) if p not in excluded]
        flows = [f for f in data.flows if f.program in set(scope) and f.monetary]
        starts = [f for f in flows if f.funder == STATE and f.hop in (None, 1)]
        state = self.node(STATE, 0)
        if not starts:
            self.nodes.setdefault(_NOT_DRAWN, SankeyNode(_NOT_DRAWN, "資金の流れの図なし", "none"))
            self.add(state, _NOT_DRAWN, rest, sheet)
            return
        for f, share in zip(starts, _split(rest, len(starts))):
            self.walk(f, share, flows, sheet, (f.iri,))

    def walk(self, f: _Flow, amount: int, flows: list[_Flow], sheet: str, seen: tuple[str, ...]) -> None:
        data = self.data
        self.add(self.node(f.funder, (f.hop or 1) - 1), self.node(f.recipient, f.hop), amount, sheet)
        below = set(data.subtree(f.program))
        nexts = [
            g for g in flows
            if g.funder == f.recipient and g.program in below and g.iri not in seen
            and (f.hop is None or g.hop is None or g.hop == f.hop + 1)
        ]
        for g, share in zip(nexts, _split(amount, len(nexts)) if nexts else []):
            self.walk(g, share, flows, sheet, (*seen, g.iri))


def _sankey(data: _Data, fiscal_year: int, category: str,
            programs: list[str] | None) -> tuple[list[SankeyNode], list[SankeyLink]]:
    cat = _check_category(category)
    if programs is None:
        roots = sorted(p for p, b in data.budgets.items() if p not in data.parent and (fiscal_year, cat) in b)
    else:
        chosen = [_resolve(data, p) for p in programs]
        roots = [p for p in dict.fromkeys(chosen) if not set(data.ancestors(p)) & set(chosen)]
    builder = _SankeyBuilder(data)
    builder.node(STATE, 0)
    for sheet in roots:
        amount = data.budgets.get(sheet, {}).get((fiscal_year, cat), 0)
        if amount:
            builder.allocate(sheet, amount, sheet, fiscal_year, cat)
    links = [SankeyLink(s, t, v, sheet) for (s, t, sheet), v in builder.links.items()]
    used = {STATE} | {x for link in links for x in (link.source, link.target)}
    nodes = [n for n in builder.nodes.values() if n.key in used]
    return nodes, links


def sankey_links(
    store: Store,
    *,
    fiscal_year: int = 2025,
    category: str = "InitialBudget",
    programs: list[str] | None = None,
) -> tuple[list[SankeyNode], list[SankeyLink]]:
    """The nodes and links (integer yen) behind :func:`sankey_figure`.

    See :func:`sankey_figure` for how budgets are apportioned.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> nodes, links = sankey_links(EmbeddedStore.from_paths(), fiscal_year=2024, category="SupplementaryBudget")
    >>> sum(l.value for l in links if l.source == "orgs:state") > 0
    True
    """
    return _sankey(_load(store), fiscal_year, category, programs)


def _category_ja(category: str) -> str:
    return {"InitialBudget": "当初予算", "SupplementaryBudget": "補正予算",
            "MultiYearTotal": "国庫債務負担行為を含む総額"}.get(category, category)


def _sankey_title(fiscal_year: int, category: str, total: int) -> str:
    cat = category.removeprefix("jf:")
    return f"{fiscal_year}年度 {_category_ja(cat)}の流れ（合計 {_yen(total)}）"


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i: i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _figure(data: _Data, fiscal_year: int, category: str, programs: list[str] | None) -> go.Figure:
    try:
        import plotly.graph_objects as go
    except ImportError:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "the Sankey needs the 'plotly' package: pip install 'jp-funding-kg[diagrams]'"
        ) from None
    nodes, links = _sankey(data, fiscal_year, category, programs)
    index = {n.key: i for i, n in enumerate(nodes)}
    total = sum(link.value for link in links if link.source == STATE)
    sheet_label = {p: data.programs[p].ja if p in data.programs else p for p in {link.sheet for link in links}}
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        valueformat=",.0f",
        valuesuffix="円",
        node={
            "label": [n.label for n in nodes],
            "customdata": [n.key for n in nodes],
            "color": [_SANKEY_COLOR[n.kind] for n in nodes],
            "pad": 14,
            "thickness": 18,
            "line": {"color": "white", "width": 0.5},
            "hovertemplate": "%{label}<br>%{value:,.0f}円<extra>%{customdata}</extra>",
        },
        link={
            "source": [index[link.source] for link in links],
            "target": [index[link.target] for link in links],
            "value": [link.value for link in links],
            "customdata": [f"{sheet_label[link.sheet]}（{link.sheet}）" for link in links],
            "color": [_rgba(_SANKEY_COLOR[nodes[index[link.target]].kind], 0.35) for link in links],
            "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,.0f}円<br>%{customdata}<extra></extra>",
        },
    ))
    figure.update_layout(
        title={"text": _sankey_title(fiscal_year, category, total)},
        font={"family": f"{FONT}, sans-serif", "size": 12},
        height=max(500, 28 * len(nodes)),
        margin={"l": 20, "r": 20, "t": 60, "b": 20},
    )
    return figure


def sankey_figure(
    store: Store,
    *,
    fiscal_year: int = 2025,
    category: str = "InitialBudget",
    programs: list[str] | None = None,
) -> go.Figure:
    """A plotly Sankey of one fiscal year's budget: 国 → intermediaries → beneficiary categories.

    Nodes: 国; each named body (JETRO, 中小機構, IPA …) on its own; generic executing bodies (actors
    that pass money on) grouped by actor category and hop; beneficiary categories (generic actors at
    the end) grouped by actor category; and 「資金の流れの図なし」 for budget no arrow accounts for.
    ``customdata`` of each node is its key (``orgs:state`` for 国).

    How a budget is apportioned, each top-level program (sheet) counted once (partOf-aware, exactly
    the programs and amounts the named query ``budget-totals`` adds up, so the links out of 国 sum to
    its total):

    1. A sub-measure with its own budget for the same year and category (e.g. sheet 18 inside
       sheet 17) takes that amount along its own chains; the rest of the parent's budget goes on.
    2. The rest is split equally among the first hops (arrows out of 国) drawn for the program and
       its other sub-measures; non-monetary arrows (相談対応等) carry nothing.
    3. What reaches an actor is split equally among the arrows it passes money on by, following only
       arrows of the same sub-measure or one below it and the next hop number; an actor with no such
       arrow keeps it (it is where the money ends).
    4. A budget with no arrow out of 国 goes to 「資金の流れの図なし」.

    Shares are integer yen (remainders go to the first branches), so the totals add up exactly.

    Parameters
    ----------
    store : Store
        Where the programs are.
    fiscal_year : int
        Fiscal year of the budget, e.g. 2025.
    category : str
        ``InitialBudget``, ``SupplementaryBudget`` or ``MultiYearTotal`` (``jf:`` prefix allowed).
    programs : list of str, optional
        Only these programs (sheets, or sub-measures with their own budget); default all sheets.

    Returns
    -------
    plotly.graph_objects.Figure

    Raises
    ------
    UnknownName
        An unknown program or budget category.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> fig = sankey_figure(EmbeddedStore.from_paths(), fiscal_year=2024, category="SupplementaryBudget")
    >>> fig.data[0].node.customdata[0]
    'orgs:state'
    """
    return _figure(_load(store), fiscal_year, category, programs)


def sankey_html(
    store: Store,
    *,
    fiscal_year: int = 2025,
    category: str = "InitialBudget",
    programs: list[str] | None = None,
) -> str:
    """:func:`sankey_figure` as a standalone HTML page with plotly.js inline (no CDN, works offline).

    Parameters
    ----------
    store, fiscal_year, category, programs
        As for :func:`sankey_figure`.

    Returns
    -------
    str
        A whole HTML document.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> page = sankey_html(EmbeddedStore.from_paths())
    >>> "<html>" in page[:100] and '<script src="http' not in page
    True
    >>> "Plotly.newPlot" in page and "資金の流れ" in page
    True
    """
    figure = sankey_figure(store, fiscal_year=fiscal_year, category=category, programs=programs)
    page: str = figure.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    return page


def _kaleido_available() -> bool:
    return importlib.util.find_spec("kaleido") is not None


def _sankey_dot(data: _Data, fiscal_year: int, category: str, programs: list[str] | None) -> str:
    nodes, links = _sankey(data, fiscal_year, category, programs)
    total = sum(link.value for link in links if link.source == STATE)
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    sheets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for link in links:
        pairs[(link.source, link.target)] += link.value
        sheets[(link.source, link.target)].add(link.sheet)
    through: dict[str, int] = defaultdict(int)
    for (s, t), v in pairs.items():
        through[t] += v
    through[STATE] = total
    biggest = max(pairs.values(), default=1)
    out = [f"digraph {_q('sankey')} {{"]
    out.append(f"    rankdir=LR; fontname={_q(FONT)}; labelloc=t; fontsize=18; ranksep=1.6; nodesep=0.25; "
               f"pad=0.3; bgcolor=white; newrank=true;")
    out.append(f"    label={_q(_sankey_title(fiscal_year, category, total))};")
    out.append(f'    node [fontname={_q(FONT)} fontsize=12 shape=box style="filled,rounded" margin="0.15,0.06"];')
    out.append(f'    edge [fontname={_q(FONT)} fontsize=10 arrowhead=none];')
    for n in nodes:
        colour = _SANKEY_COLOR[n.kind]
        label = "\n".join([*_wrap(n.label, 14), _yen(through.get(n.key, 0))])
        dark = n.kind in ("state", "agency", "international")
        attrs = {"label": label, "fillcolor": colour if dark else colour + "55", "color": colour,
                 "fontcolor": "white" if dark else "black", "tooltip": n.key}
        out.append(f"    {_q(n.key)} [{_attrs(attrs)}];")
    out.append(f"    {{ rank=source; {_q(STATE)}; }}")
    for (s, t), v in sorted(pairs.items(), key=lambda kv: -kv[1]):
        target = next(n for n in nodes if n.key == t)
        width = 1 + 20 * v / biggest
        attrs = {
            "penwidth": f"{width:.2f}",
            "color": _SANKEY_COLOR[target.kind] + "88",
            "label": _yen(v),
            "tooltip": "、".join(sorted(data.programs[x].ja if x in data.programs else x for x in sheets[(s, t)])),
            "weight": str(max(1, int(10 * v / biggest))),
        }
        out.append(f"    {_q(s)} -> {_q(t)} [{_attrs(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def sankey_static(
    store: Store,
    *,
    fiscal_year: int = 2025,
    category: str = "InitialBudget",
    programs: list[str] | None = None,
    fmt: str = "svg",
) -> bytes:
    """The Sankey as a static SVG or PNG.

    With plotly's static export (the ``kaleido`` package and its browser) installed, plotly draws
    it; otherwise Graphviz does (no downloads at run time): the same nodes and amounts, left to right,
    each arrow's pen width proportional to its amount and labelled in 億円.

    Parameters
    ----------
    store, fiscal_year, category, programs
        As for :func:`sankey_figure`.
    fmt : {'svg', 'png'}

    Returns
    -------
    bytes

    Raises
    ------
    UnknownFormat
        *fmt* is not svg or png.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> sankey_static(EmbeddedStore.from_paths(), fmt="gif")
    Traceback (most recent call last):
    ...
    kg.errors.UnknownFormat: unknown format 'gif'; supported: svg, png
    """
    if fmt not in STATIC_FORMATS:
        raise UnknownFormat(fmt, STATIC_FORMATS)
    data = _load(store)
    if _kaleido_available():
        figure = _figure(data, fiscal_year, category, programs)
        try:
            image: bytes = figure.to_image(format=fmt, width=1400, height=max(700, 30 * len(figure.data[0].node.label)))
            return image
        except (RuntimeError, ValueError, OSError):  # kaleido without a usable browser: use Graphviz
            pass
    dot = _sankey_dot(data, fiscal_year, category, programs)
    if fmt == "png":
        dot = dot.replace("rankdir=LR;", "rankdir=LR; dpi=150;", 1)
    return _pipe(dot, fmt)


# ---------------------------------------------------------------- the channel network


def _channels_dot(data: _Data) -> str:
    passes_on = {f.funder for f in data.flows}

    def group(actor: str) -> tuple[str, str, str]:
        a = data.actors.get(actor)
        if actor == STATE or a is None or a.kind == "NamedBody":
            label = _node_label(data, actor)
            return actor, label, _kind(data, actor, actor in passes_on)
        cat = a.category or a.ja
        name = a.category_label or a.ja or actor
        if actor in passes_on:
            return f"executing:{cat}", f"{name}\n（執行団体等）", "executing"
        kind = "international" if a.category == "category:international-organisation" else "beneficiary"
        return f"beneficiary:{cat}", name, kind

    def intermediary(actor: str) -> bool:
        a = data.actors.get(actor)
        if actor == STATE:
            return False
        return (a is not None and a.kind == "NamedBody") or actor in passes_on

    nodes: dict[str, tuple[str, str]] = {}
    members: dict[str, set[str]] = defaultdict(set)
    edge_sheets: dict[tuple[str, str], set[str]] = defaultdict(set)
    edge_money: dict[tuple[str, str], bool] = defaultdict(bool)
    edge_instruments: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in data.flows:
        if not (intermediary(f.funder) or intermediary(f.recipient)):
            continue
        (u, ul, uk), (v, vl, vk) = group(f.funder), group(f.recipient)
        nodes[u], nodes[v] = (ul, uk), (vl, vk)
        members[u].add(f.funder)
        members[v].add(f.recipient)
        edge_sheets[(u, v)].add(data.root(f.program))
        edge_money[(u, v)] |= f.monetary
        edge_instruments[(u, v)].update(f.instruments)

    def budget(sheets: Iterable[str]) -> int:
        total = 0
        for s in sheets:
            for (fy, cat), v in data.budgets.get(s, {}).items():
                if f"{fy} {cat}" in BUDGET_LINE_KEYS:
                    total += v
        return total

    biggest = max((budget(s) for s in edge_sheets.values()), default=1) or 1
    out = [f"digraph {_q('channels')} {{"]
    out.append(f"    rankdir=LR; fontname={_q(FONT)}; labelloc=t; fontsize=18; ranksep=1.4; nodesep=0.3; "
               f"pad=0.3; bgcolor=white; newrank=true;")
    title = ("資金を仲介する主体のネットワーク\n線の太さ：その流れを描く事業の予算（令和6年度補正＋令和7年度当初）の合計、"
             "各事業1回")
    out.append(f"    label={_q(title)};")
    out.append(f'    node [fontname={_q(FONT)} fontsize=12 margin="0.15,0.06"];')
    out.append(f'    edge [fontname={_q(FONT)} fontsize=10];')
    for key, (label, kind) in nodes.items():
        n = len(members[key])
        extra = f"\n（{n}主体）" if key.startswith(("executing:", "beneficiary:")) and n > 1 else ""
        attrs = {"label": label + extra, "tooltip": key, **_KIND_STYLE[kind]}
        out.append(f"    {_q(key)} [{_attrs(attrs)}];")
    if STATE in nodes:
        out.append(f"    {{ rank=source; {_q(STATE)}; }}")
    for (u, v), sheets in sorted(edge_sheets.items()):
        money = edge_money[(u, v)]
        amount = budget(sheets)
        width = 1 + 14 * amount / biggest if money else 1
        colour = _SANKEY_COLOR[nodes[v][1]]
        attrs = {
            "penwidth": f"{width:.2f}",
            "arrowsize": f"{max(0.4, 1.2 / width ** 0.5):.2f}",
            "color": colour + "aa",
            "style": "solid" if money else "dotted",
            "label": f"{len(sheets)}事業" + (f"・{_yen(amount)}" if money and amount else ""),
            "tooltip": "、".join(sorted(edge_instruments[(u, v)])) + " | "
                       + "、".join(sorted(data.programs[s].ja if s in data.programs else s for s in sheets)),
        }
        out.append(f"    {_q(u)} -> {_q(v)} [{_attrs(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def channels_svg(store: Store) -> bytes:
    """The intermediary network as SVG: who receives money from whom, through which bodies.

    Every arrow that starts or ends at an intermediary (a named body such as JETRO or 中小機構, or a
    generic actor that passes money on) is drawn; generic actors are grouped by actor category. The
    pen width is proportional to the budgets (FY2024 supplementary + FY2025 initial,
    :data:`kg.views.BUDGET_LINE_KEYS`) of the sheets that draw the arrow, each sheet counted once;
    dotted arrows are support that is not money. Direct arrows from 国 to a final recipient are left
    out (no intermediary).

    Parameters
    ----------
    store : Store
        Where the flows and budgets are.

    Returns
    -------
    bytes
        SVG.

    Raises
    ------
    graphviz.ExecutableNotFound
        The ``dot`` binary is not installed (``apt-get install graphviz``).

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> b"<svg" in channels_svg(EmbeddedStore.from_paths())  # doctest: +SKIP
    True
    """
    return _pipe(_channels_dot(_load(store)), "svg")


# ---------------------------------------------------------------- gallery


def _slug(iri: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", iri.split(":", 1)[-1]).strip("-") or "program"


def gallery(store: Store, out_dir: Path) -> list[Path]:
    """Write every program and sub-measure as SVG, ``sankey.html``, ``channels.svg`` and ``index.html``.

    Every program is one ``<slug>.svg`` (:func:`program_dot`); ``sankey.html`` is the FY2025 initial
    budget (:func:`sankey_html`); ``index.html`` links them all, sub-measures indented under their
    sheet.

    Parameters
    ----------
    store : Store
        Where the programs are.
    out_dir : Path
        Created if missing; files in it with the same names are overwritten.

    Returns
    -------
    list of Path
        The files written, ``index.html`` last.

    Raises
    ------
    graphviz.ExecutableNotFound
        The ``dot`` binary is not installed (``apt-get install graphviz``).

    Examples
    --------
    >>> import tempfile
    >>> from kg.store import EmbeddedStore
    >>> paths = gallery(EmbeddedStore.from_paths(), Path(tempfile.mkdtemp()))  # doctest: +SKIP
    >>> paths[-1].name  # doctest: +SKIP
    'index.html'
    """
    data = _load(store)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    order = sorted(data.programs, key=lambda p: (data.programs[data.root(p)].line if data.root(p) in data.programs
                                                 else 0, data.programs[p].line, p))
    entries = []
    for p in order:
        path = out_dir / f"{_slug(p)}.svg"
        path.write_bytes(_render(data, p, "svg"))
        written.append(path)
        entries.append((p, path.name))
    sankey = out_dir / "sankey.html"
    sankey.write_text(_figure(data, 2025, "InitialBudget", None).to_html(
        include_plotlyjs=True, full_html=True, config={"displaylogo": False}), encoding="utf-8")
    written.append(sankey)
    channels = out_dir / "channels.svg"
    channels.write_bytes(_pipe(_channels_dot(data), "svg"))
    written.append(channels)
    items = []
    for p, name in entries:
        prog = data.programs[p]
        depth = len(data.ancestors(p))
        indent = "&nbsp;" * 4 * depth
        items.append(f'<li>{indent}<a href="{_h(name)}">{_h(prog.title)}</a> '
                     f'<code>{_h(p)}</code></li>')
    page = f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>事業スキーム図の一覧 — jp-funding-kg</title>
<style>body {{ font-family: "{FONT}", sans-serif; margin: 2em; }} li {{ list-style: none; margin: .2em 0; }}
code {{ color: #566573; font-size: .85em; }}</style>
</head>
<body>
<h1>事業スキーム図の一覧</h1>
<p><a href="sankey.html">予算の流れ（令和7年度当初、Sankey）</a> ·
<a href="channels.svg">資金を仲介する主体のネットワーク</a></p>
<ul>
{chr(10).join(items)}
</ul>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    written.append(index)
    return written

