"""The Sankey as a static SVG or PNG: plotly's export when kaleido is there, else Graphviz."""

from __future__ import annotations

import importlib.util
from collections import defaultdict

from kg.diagrams.data import _Data, _load
from kg.diagrams.dot import _pipe
from kg.diagrams.sankey import _figure, _sankey, _sankey_title
from kg.diagrams.style import _SANKEY_COLOR, FONT, STATE, STATIC_FORMATS
from kg.diagrams.text import _attrs, _q, _wrap, _yen
from kg.errors import UnknownFormat
from kg.store import Store


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
                 "fontcolor": "white" if dark else "black", "tooltip": n.label}
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
