"""What the pictures need, checked once: Graphviz's ``dot``, the Python packages, the CJK font.

Program schemes (SVG, PNG) and the static Sankey run Graphviz's ``dot`` binary through the
``graphviz`` package; the interactive Sankey needs ``plotly``; Japanese labels need a CJK font
(Debian ``fonts-noto-cjk``) or they come out as boxes. DOT and Mermaid text need none of them.

Examples
--------
>>> sorted(NEEDS)
['dot', 'font', 'graphviz', 'plotly']
>>> needed_for("mermaid"), needed_for("svg")
((), ('graphviz', 'dot'))
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess

from kg.errors import MissingRenderer

__all__ = ["NEEDS", "check", "missing", "needed_for", "require"]

NEEDS: dict[str, tuple[str, str]] = {
    "graphviz": ("the Python package 'graphviz'", "reinstall the project: make install (or pip install graphviz)"),
    "dot": ("Graphviz's 'dot' program", "install Graphviz: apt-get install graphviz"),
    "plotly": ("the Python package 'plotly'", "reinstall the project: make install (or pip install plotly)"),
    "font": ("a CJK font (Noto Sans CJK)", "install it: apt-get install fonts-noto-cjk"),
}
"""Each thing a picture may need: (what it is, how to get it)."""

_BY_FORMAT: dict[str, tuple[str, ...]] = {
    "svg": ("graphviz", "dot"),
    "png": ("graphviz", "dot"),
    "html": ("plotly",),
    "dot": (),
    "mermaid": (),
}


def needed_for(fmt: str) -> tuple[str, ...]:
    """What rendering ``fmt`` (svg, png, html, dot, mermaid) needs."""
    return _BY_FORMAT.get(fmt, ())


def _present(name: str) -> bool:
    if name in ("graphviz", "plotly"):
        return importlib.util.find_spec(name) is not None
    if name == "dot":
        return shutil.which("dot") is not None
    if name == "font":
        if shutil.which("fc-list") is None:
            return False
        done = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False)
        return "Noto Sans CJK" in done.stdout
    raise KeyError(name)


@functools.cache
def check() -> dict[str, bool]:
    """Whether each of :data:`NEEDS` is present (looked up once per process)."""
    return {name: _present(name) for name in NEEDS}


def missing() -> list[str]:
    """One line per missing thing: what it is and the fix (empty when all is there)."""
    return [f"{NEEDS[n][0]} ({NEEDS[n][1]})" for n, ok in check().items() if not ok]


def require(*names: str) -> None:
    """Raise :class:`~kg.errors.MissingRenderer` for the first of ``names`` that is not installed.

    Raises
    ------
    MissingRenderer
        Naming what is missing and the command that installs it.
    """
    status = check()
    for name in names:
        if not status[name]:
            what, fix = NEEDS[name]
            raise MissingRenderer(what, fix)
