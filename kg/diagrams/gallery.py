"""Every diagram as files, with an ``index.html``."""

from __future__ import annotations

import re
from pathlib import Path

from kg.diagrams.channels import _channels_dot
from kg.diagrams.data import _load
from kg.diagrams.dot import _pipe
from kg.diagrams.render import _render
from kg.diagrams.sankey import _figure
from kg.diagrams.style import FONT
from kg.diagrams.text import _h
from kg.store import Store


def _slug(iri: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", iri.split(":", 1)[-1]).strip("-") or "program"


def gallery(store: Store, out_dir: Path) -> list[Path]:
    """Write every program and sub-measure as SVG, ``sankey.html``, ``channels.svg`` and ``index.html``.

    Every program is one ``<slug>.svg`` (:func:`program_dot`); ``sankey.html`` is the FY2025 initial
    budget (:func:`sankey_html`); ``index.html`` links them all, sub-measures indented under their
    sheet.

    Parameters
    ----------
    store : Store
        Where the programs are.
    out_dir : Path
        Created if missing; files in it with the same names are overwritten.

    Returns
    -------
    list of Path
        The files written, ``index.html`` last.

    Raises
    ------
    graphviz.ExecutableNotFound
        The ``dot`` binary is not installed (``apt-get install graphviz``).

    Examples
    --------
    >>> import tempfile
    >>> from kg.store import EmbeddedStore
    >>> paths = gallery(EmbeddedStore.from_paths(), Path(tempfile.mkdtemp()))  # doctest: +SKIP
    >>> paths[-1].name  # doctest: +SKIP
    'index.html'
    """
    data = _load(store)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    order = sorted(data.programs, key=lambda p: (data.programs[data.root(p)].line if data.root(p) in data.programs
                                                 else 0, data.programs[p].line, p))
    entries = []
    for p in order:
        path = out_dir / f"{_slug(p)}.svg"
        path.write_bytes(_render(data, p, "svg"))
        written.append(path)
        entries.append((p, path.name))
    sankey = out_dir / "sankey.html"
    sankey.write_text(_figure(data, 2025, "InitialBudget", None).to_html(
        include_plotlyjs=True, full_html=True, config={"displaylogo": False}), encoding="utf-8")
    written.append(sankey)
    channels = out_dir / "channels.svg"
    channels.write_bytes(_pipe(_channels_dot(data), "svg"))
    written.append(channels)
    items = []
    for p, name in entries:
        prog = data.programs[p]
        depth = len(data.ancestors(p))
        indent = "&nbsp;" * 4 * depth
        items.append(f'<li>{indent}<a href="{_h(name)}">{_h(prog.title)}</a> '
                     f'<code>{_h(p)}</code></li>')
    page = f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>事業スキーム図の一覧 — jp-funding-kg</title>
<style>body {{ font-family: "{FONT}", sans-serif; margin: 2em; }} li {{ list-style: none; margin: .2em 0; }}
code {{ color: #566573; font-size: .85em; }}</style>
</head>
<body>
<h1>事業スキーム図の一覧</h1>
<p><a href="sankey.html">予算の流れ（令和7年度当初、Sankey）</a> ·
<a href="channels.svg">資金を仲介する主体のネットワーク</a></p>
<ul>
{chr(10).join(items)}
</ul>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    written.append(index)
    return written
