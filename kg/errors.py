"""Exceptions raised by :mod:`kg`.

Every error is a :class:`KGError` and also the built-in exception it resembles, so callers can
catch either. Messages say what went wrong, where, and how to fix it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "AmbiguousName",
    "KGError",
    "MissingRenderer",
    "NormalizationError",
    "QueryError",
    "StoreError",
    "TurtleSyntaxError",
    "UnknownFormat",
    "UnknownName",
]


class KGError(Exception):
    """Base class of every error raised by :mod:`kg`."""


class NormalizationError(KGError, ValueError):
    """Text holds a character the normalizer cannot map."""


class TurtleSyntaxError(KGError, SyntaxError):
    """A Turtle file does not parse.

    Parameters
    ----------
    path : Path
        The file.
    line : int or None
        1-based line of the error, when the parser reports one.
    column : int or None
        1-based column, when known.
    detail : str
        The parser's message.
    """

    def __init__(self, path: Path | str, line: int | None, column: int | None, detail: str) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        self.detail = detail
        where = str(self.path)
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {detail}")
        self.filename = str(self.path)
        self.lineno = line


class UnknownFormat(KGError, ValueError):
    """A format name is not supported; the message lists the supported ones."""

    def __init__(self, name: str, supported: list[str] | tuple[str, ...]) -> None:
        self.name = name
        self.supported = tuple(supported)
        super().__init__(f"unknown format {name!r}; supported: {', '.join(self.supported)}")


class UnknownName(KGError, KeyError):
    """A named thing (query, program, body) does not exist; the message lists close matches."""

    def __init__(self, kind: str, name: str, candidates: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.candidates = candidates
        hint = f"; did you mean: {', '.join(candidates)}" if candidates else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")

    def __str__(self) -> str:  # KeyError quotes its argument; show the message plainly
        return str(self.args[0])


class QueryError(KGError, ValueError):
    """A SPARQL query or its parameters are malformed."""


class StoreError(KGError, OSError):
    """A store cannot be reached or refuses a request."""


class AmbiguousName(KGError, LookupError):
    """A name matches more than one thing; ``candidates`` lists them (best first) for the user to choose."""

    def __init__(self, kind: str, name: str, candidates: list[Any]) -> None:
        self.kind = kind
        self.name = name
        self.candidates = candidates
        shown = "; ".join(str(c) for c in candidates[:12])
        more = f" (and {len(candidates) - 12} more)" if len(candidates) > 12 else ""
        super().__init__(f"{name!r} matches {len(candidates)} {kind}s; name one: {shown}{more}")


class MissingRenderer(KGError, RuntimeError):
    """A picture needs a program or package that is not installed; the message names the fix."""

    def __init__(self, what: str, fix: str) -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what} is not installed; {fix}")
