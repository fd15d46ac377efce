"""The program-scheme model shared by the DOT and Mermaid writers: nodes, kinds, boxes, arrows, rate and cap rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from kg.diagrams.data import _Data, _Flow, _Program
from kg.diagrams.style import _CONTEXT_COLOR, _PALETTE, _SHEET_COLOR, STATE
from kg.diagrams.text import _wrap, _yen


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
    parts = [a.ja, a.en, a.category_label if a.category_label != a.ja else ""]
    return " — ".join(p for p in parts if p)


def _flow_tooltip(f: _Flow) -> str:
    parts = [f.label, f"手段：{'、'.join(f.instruments) or '—'}"]
    if f.rates:
        parts.append(f"率：{'、'.join(f.rates)}")
    if not f.monetary:
        parts.append("資金の移転ではない")
    if f.uncertain:
        parts.append("読み取りに不確実な点あり")
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
