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

The package is split along its concerns: :mod:`~kg.diagrams.data` (what is read from the store, and
names), :mod:`~kg.diagrams.scheme` (the program-scheme model: nodes, kinds, boxes, arrows, rate and
cap rows), :mod:`~kg.diagrams.dot` and :mod:`~kg.diagrams.mermaid` (the two writers of that model),
:mod:`~kg.diagrams.render`, :mod:`~kg.diagrams.sankey` (apportioning and the plotly figure),
:mod:`~kg.diagrams.sankey_svg`, :mod:`~kg.diagrams.channels`, :mod:`~kg.diagrams.gallery`, and
:mod:`~kg.diagrams.chain` (a chain as plain blocks and edges, for RS spending chains and pages).

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

from kg.diagrams.chain import Block, Chain, Edge, chain_dot, chain_mermaid, program_chain, render_chain
from kg.diagrams.channels import channels_svg
from kg.diagrams.data import resolve_program
from kg.diagrams.dot import program_dot
from kg.diagrams.gallery import gallery
from kg.diagrams.mermaid import program_mermaid
from kg.diagrams.render import render_program
from kg.diagrams.sankey import SankeyLink, SankeyNode, sankey_figure, sankey_html, sankey_links, sankey_parts
from kg.diagrams.sankey_svg import sankey_static
from kg.diagrams.style import _CONTEXT_COLOR as _CONTEXT_COLOR  # the grey of context arrows, for tests
from kg.diagrams.style import BUDGET_CATEGORIES, FONT, PROGRAM_FORMATS, STATE, STATIC_FORMATS

__all__ = [
    "BUDGET_CATEGORIES",
    "FONT",
    "PROGRAM_FORMATS",
    "STATE",
    "STATIC_FORMATS",
    "Block",
    "Chain",
    "Edge",
    "SankeyLink",
    "SankeyNode",
    "chain_dot",
    "chain_mermaid",
    "channels_svg",
    "gallery",
    "program_chain",
    "program_dot",
    "program_mermaid",
    "render_chain",
    "render_program",
    "resolve_program",
    "sankey_figure",
    "sankey_html",
    "sankey_links",
    "sankey_parts",
    "sankey_static",
]
