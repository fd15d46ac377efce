"""The channel network: who receives money from whom, through which intermediaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from kg.diagrams.data import _Data, _load
from kg.diagrams.dot import _pipe
from kg.diagrams.scheme import _kind, _node_label
from kg.diagrams.style import _KIND_STYLE, _SANKEY_COLOR, FONT, STATE
from kg.diagrams.text import _attrs, _q, _yen
from kg.store import Store
from kg.views import BUDGET_LINE_KEYS


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
        attrs = {"label": label + extra, "tooltip": label.replace("\n", ""), **_KIND_STYLE[kind]}
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
