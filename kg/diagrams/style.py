"""Fonts, node styles by kind and colours shared by every diagram."""

from __future__ import annotations

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
