"""The money Sankey: apportioning budgets along the arrows, the plotly figure and its HTML page."""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kg.diagrams.data import _Data, _Flow, _load, _resolve
from kg.diagrams.scheme import _kind
from kg.diagrams.style import _NOT_DRAWN, _SANKEY_COLOR, BUDGET_CATEGORIES, FONT, STATE
from kg.diagrams.text import _yen
from kg.errors import UnknownName
from kg.store import Store

if TYPE_CHECKING:  # pragma: no cover - typing only
    import plotly.graph_objects as go


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
        self.by_program: dict[str, list[tuple[int, _Flow]]] = defaultdict(list)  # flows in data order
        for i, f in enumerate(data.flows):
            if f.monetary:
                self.by_program[f.program].append((i, f))

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
        flows = [f for _, f in sorted((x for p in set(scope) for x in self.by_program.get(p, [])),
                                      key=lambda x: x[0])]
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
    from kg import renderers

    renderers.require("plotly")  # MissingRenderer naming the fix, never ImportError
    import plotly.graph_objects as go

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
    >>> "Plotly.newPlot" in page and '"type":"sankey"' in page
    True
    """
    figure = sankey_figure(store, fiscal_year=fiscal_year, category=category, programs=programs)
    page: str = figure.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    return page


def sankey_parts(
    store: Store,
    *,
    fiscal_year: int = 2025,
    category: str = "InitialBudget",
    programs: list[str] | None = None,
) -> tuple[go.Figure, list[SankeyNode], list[SankeyLink]]:
    """:func:`sankey_figure` and :func:`sankey_links` from one read of the store (a page needs both)."""
    data = _load(store)
    nodes, links = _sankey(data, fiscal_year, category, programs)
    return _figure(data, fiscal_year, category, programs), nodes, links
