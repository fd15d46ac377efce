"""The Graphviz DOT writer of a program's scheme, and running ``dot``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kg.diagrams.data import _Data, _load, _resolve
from kg.diagrams.scheme import (
    _cap_rows,
    _cluster_nodes,
    _drawn_flows,
    _edge_colour,
    _flow_tooltip,
    _node_label,
    _node_tooltip,
    _rate_rows,
    _Scheme,
    _scheme,
    _top_child,
    _walk_clusters,
)
from kg.diagrams.style import _KIND_NAME, _KIND_STYLE, _SHEET_COLOR, FONT, STATE
from kg.diagrams.text import _attrs, _h, _hw, _q, _v, _wrap
from kg.store import Store


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
    return "<" + "<BR/>".join(lines) + ">"


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


def _graphviz() -> Any:
    from kg import renderers

    renderers.require("graphviz", "dot")  # MissingRenderer naming the fix, never ImportError
    import graphviz

    return graphviz


def _pipe(dot: str, fmt: str) -> bytes:
    """Run ``dot -T<fmt>`` on *dot* (raises :class:`kg.errors.MissingRenderer` without Graphviz)."""
    result: bytes = _graphviz().Source(dot, engine="dot").pipe(format=fmt, encoding=None)
    return result
