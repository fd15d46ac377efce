"""The Mermaid writer of a program's scheme (``flowchart LR``)."""

from __future__ import annotations

import html

from kg.diagrams.data import _Data, _load, _resolve
from kg.diagrams.scheme import (
    _cap_rows,
    _cluster_nodes,
    _drawn_flows,
    _edge_colour,
    _node_label,
    _rate_rows,
    _scheme,
    _walk_clusters,
)
from kg.diagrams.style import _KIND_STYLE
from kg.store import Store

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
