"""A funding chain as plain blocks and edges, and its DOT and Mermaid writers.

The program schemes of the PR sheets (:mod:`kg.diagrams.scheme`) and the spending chains of the
administrative project review (RS: 支出先ブロック, where every block carries an amount) are both
"who passes money to whom". :class:`Chain` holds such a picture without any store behind it, so an
importer or a page builds one from its own rows and draws it with the styles of the scheme diagrams:
:func:`chain_dot`, :func:`chain_mermaid`, :func:`render_chain`. :func:`program_chain` gives a
program's scheme in the same form (its nodes, kinds, boxes and arrows).

Examples
--------
>>> chain = Chain("例", [Block("s", "国", "state"), Block("a", "A社", "beneficiary")],
...               [Edge("s", "a", "委託", amount=120_000_000)])
>>> dot = chain_dot(chain)
>>> '"s" -> "a"' in dot and "委託\\\\n1.2億円" in dot
True
>>> chain_mermaid(chain).splitlines()[1]
'flowchart LR'
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from kg.diagrams.data import _load, _resolve
from kg.diagrams.dot import _pipe
from kg.diagrams.scheme import _drawn_flows, _edge_colour, _node_tooltip, _scheme
from kg.diagrams.style import _KIND_STYLE, _SHEET_COLOR, FONT, PROGRAM_FORMATS
from kg.diagrams.text import _attrs, _q, _wrap, _yen
from kg.errors import UnknownFormat
from kg.store import Store

__all__ = ["Block", "Chain", "Edge", "chain_dot", "chain_mermaid", "program_chain", "render_chain"]

KINDS = tuple(_KIND_STYLE)
"""Block kinds: state, agency, international, named, executing, beneficiary, none."""


@dataclass(frozen=True)
class Block:
    """One box: 国, a body, an executing body, a recipient (class or named company).

    ``key`` is an id for the writer (never shown); ``group`` puts blocks in a labelled box.
    """

    key: str
    label: str
    kind: str = "executing"
    group: str | None = None
    tooltip: str = ""


@dataclass(frozen=True)
class Edge:
    """One arrow; ``amount`` (integer yen) is printed under the label as 億円/万円."""

    source: str
    target: str
    label: str = ""
    amount: int | None = None
    monetary: bool = True
    uncertain: bool = False
    colour: str = _SHEET_COLOR
    tooltip: str = ""

    @property
    def text(self) -> str:
        amount = _yen(self.amount) if self.amount is not None else ""
        return "\n".join(x for x in ("\n".join(_wrap(self.label, 16)) if self.label else "", amount) if x)


@dataclass
class Chain:
    """A picture of blocks and edges, with a title and the labels of its groups."""

    title: str
    blocks: list[Block]
    edges: list[Edge]
    groups: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ``ValueError`` for an edge to an unknown block or an unknown kind."""
        keys = {b.key for b in self.blocks}
        for b in self.blocks:
            if b.kind not in _KIND_STYLE:
                raise ValueError(f"block {b.key!r}: unknown kind {b.kind!r}; kinds: {', '.join(KINDS)}")
        for e in self.edges:
            for end in (e.source, e.target):
                if end not in keys:
                    raise ValueError(f"edge {e.source!r} -> {e.target!r}: no block {end!r}")


def chain_dot(chain: Chain) -> str:
    """Graphviz DOT of *chain*, left to right, in the styles of the program schemes."""
    chain.check()
    out = [f"digraph {_q(chain.title)} {{"]
    out.append(f"    rankdir=LR; fontname={_q(FONT)}; labelloc=t; labeljust=l; fontsize=16; nodesep=0.35; "
               "ranksep=0.9; newrank=true; pad=0.3; bgcolor=white;")
    out.append(f"    label={_q(chain.title)};")
    out.append(f'    node [fontname={_q(FONT)} fontsize="12" margin="0.15,0.08"];')
    out.append(f'    edge [fontname={_q(FONT)} fontsize="11" arrowsize="0.8"];')

    def node(b: Block, indent: str) -> str:
        attrs = {"label": "\n".join(_wrap(b.label)), "tooltip": b.tooltip or b.label, **_KIND_STYLE[b.kind]}
        return f"{indent}{_q(b.key)} [{_attrs(attrs)}];"

    grouped: dict[str, list[Block]] = {}
    for b in chain.blocks:
        if b.group:
            grouped.setdefault(b.group, []).append(b)
        else:
            out.append(node(b, "    "))
    for i, (g, members) in enumerate(grouped.items()):
        out.append(f"    subgraph cluster_{i} {{")
        out.append(f"        label={_q(chain.groups.get(g, g), left=True)}; labeljust=l; style=\"rounded\"; "
                   f"color={_q(_SHEET_COLOR)};")
        out.extend(node(b, "        ") for b in members)
        out.append("    }")
    states = [b.key for b in chain.blocks if b.kind == "state"]
    if states:
        out.append(f"    {{ rank=source; {'; '.join(_q(k) for k in states)}; }}")
    for e in chain.edges:
        style = "dotted" if not e.monetary else ("dashed" if e.uncertain else "solid")
        attrs = {"label": e.text, "tooltip": e.tooltip or e.label, "color": e.colour, "style": style}
        out.append(f"    {_q(e.source)} -> {_q(e.target)} [{_attrs(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _m(text: str) -> str:
    return '"' + html.escape(text, quote=False).replace('"', "#quot;").replace("\n", "<br/>") + '"'


def chain_mermaid(chain: Chain) -> str:
    """*chain* as a Mermaid ``flowchart LR``."""
    chain.check()
    ids = {b.key: f"n{i}" for i, b in enumerate(chain.blocks)}
    out = [f"%% {chain.title}", "flowchart LR"]
    for b in chain.blocks:
        shape = ("([", "])") if b.kind == "beneficiary" else ("[", "]")
        out.append(f"    {ids[b.key]}{shape[0]}{_m(chr(10).join(_wrap(b.label)))}{shape[1]}:::{b.kind}")
    for e in chain.edges:
        arrow = "-.->" if not e.monetary else "-->"
        label = f"|{_m(e.text)}|" if e.text else ""
        out.append(f"    {ids[e.source]} {arrow}{label} {ids[e.target]}")
    for k, v in _KIND_STYLE.items():
        out.append(f"    classDef {k} fill:{v['fillcolor']},stroke:{v['color']},color:{v.get('fontcolor', '#000')}")
    return "\n".join(out) + "\n"


def render_chain(chain: Chain, *, fmt: str) -> bytes:
    """*chain* as SVG or PNG (Graphviz's ``dot``), DOT or Mermaid.

    Raises
    ------
    UnknownFormat
        *fmt* is not one of :data:`kg.diagrams.PROGRAM_FORMATS`.
    """
    if fmt not in PROGRAM_FORMATS:
        raise UnknownFormat(fmt, PROGRAM_FORMATS)
    if fmt == "dot":
        return chain_dot(chain).encode()
    if fmt == "mermaid":
        return chain_mermaid(chain).encode()
    dot = chain_dot(chain)
    if fmt == "png":
        dot = dot.replace("rankdir=LR;", "rankdir=LR; dpi=150;", 1)
    return _pipe(dot, fmt)


def program_chain(store: Store, program: str) -> Chain:
    """A program's scheme (:func:`kg.diagrams.program_dot`'s nodes and arrows) as a :class:`Chain`.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> chain = program_chain(EmbeddedStore.from_paths(), "program:sme-productivity-revolution-r6s")
    >>> [b.label for b in chain.blocks][:2], chain.edges[0].label
    (['国', '独立行政法人中小企業基盤整備機構'], '交付金')
    """
    data = _load(store)
    iri = _resolve(data, program)
    s = _scheme(data, iri)
    titles = {p: data.programs[p].ja for p in data.programs}
    blocks = [Block(n, data.actor_label(n), s.kinds[n], s.cluster_of.get(n),
                    _node_tooltip(data, n)) for n in s.nodes]
    edges = [Edge(f.funder, f.recipient, f.label, None, f.monetary, f.uncertain, _edge_colour(data, s, f))
             for f in _drawn_flows(s)]
    groups = {g: titles.get(g, "") for g in {b.group for b in blocks if b.group}}
    return Chain(s.program.title, blocks, edges, groups)
