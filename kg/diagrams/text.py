"""Text helpers of the diagrams: wrapping Japanese labels, DOT and HTML quoting, yen as the sheets write them."""

from __future__ import annotations

import html
import re

_BREAK_AFTER = set("）)、・，,")
_BREAK_BEFORE = set("（(")


def _wrap(text: str, width: float = 13) -> list[str]:
    """Break Japanese *text* into lines of about *width* characters, at punctuation where possible.

    Examples
    --------
    >>> _wrap("独立行政法人中小企業基盤整備機構")
    ['独立行政法人', '中小企業基盤整備機構']
    >>> _wrap("国")
    ['国']
    """
    if _width(text) <= width:
        return [text]
    if text.startswith("独立行政法人") and _width(text) - 6 <= width + 3:
        return ["独立行政法人", *_wrap(text[6:], width + 3)]
    tokens: list[str] = []
    cur = ""
    for ch in text:
        if ch in _BREAK_BEFORE and cur:
            tokens.append(cur)
            cur = ""
        cur += ch
        if ch in _BREAK_AFTER:
            tokens.append(cur)
            cur = ""
    if cur:
        tokens.append(cur)
    lines: list[str] = []
    line = ""
    for tok in tokens:
        if _width(line) + _width(tok) > width and line and _width(tok) <= width:
            lines.append(line)
            line = ""
        while _width(line + tok) > width:
            cut = 1
            while cut < len(tok) and _width(line + tok[: cut + 1]) <= width:
                cut += 1
            lines.append(line + tok[:cut])
            line, tok = "", tok[cut:]
        line += tok
    if line:
        lines.append(line)
    return lines


def _width(text: str) -> float:
    """Display width in full-width characters (ASCII counts a little over half)."""
    return sum(0.55 if ord(ch) < 128 else 1.0 for ch in text)


def _q(text: str, *, left: bool = False) -> str:
    """A DOT double-quoted string; a newline in *text* becomes a centred (or *left*-justified) break."""
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    if left:
        return '"' + body.replace("\n", "\\l") + '\\l"'
    return '"' + body.replace("\n", "\\n") + '"'


def _v(value: str) -> str:
    """A DOT attribute value: bare when it is a plain identifier or number, else quoted."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|-?[0-9]*\.?[0-9]+", value):
        return value
    return _q(value)


def _attrs(attrs: dict[str, str]) -> str:
    parts = []
    for k, v in attrs.items():
        parts.append(f"{k}=<{v[1:-1]}>" if v.startswith("<") and v.endswith(">") else f"{k}={_v(v)}")
    return " ".join(parts)


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _hw(text: str, width: float) -> str:
    """HTML-like label text wrapped at *width*, lines left-aligned."""
    return '<BR ALIGN="LEFT"/>'.join(_h(line) for line in _wrap(text, width)) if text else ""


def _yen(amount: float) -> str:
    """Yen as the sheets write them.

    Examples
    --------
    >>> _yen(340000000000), _yen(610000000), _yen(45000000), _yen(3333333333)
    ('3,400億円', '6.1億円', '4,500万円', '33.3億円')
    """
    if amount >= 100_000_000:
        oku = round(amount / 100_000_000, 1)
        return f"{oku:,.0f}億円" if oku == int(oku) else f"{oku:,.1f}億円"
    if amount >= 10_000:
        man = round(amount / 10_000, 1)
        return f"{man:,.0f}万円" if man == int(man) else f"{man:,.1f}万円"
    return f"{amount:,.0f}円"
