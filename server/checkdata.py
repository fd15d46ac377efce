"""Check data files before a reload: Turtle syntax, then the SHACL shapes (:func:`kg.validate.validate`).

Run by the server in a child process, so the minutes of CPU pySHACL may take never hold the
server's interpreter lock and its memory is returned when it ends; as a script, so that it does
not import the server package::

    python -P server/checkdata.py SNAPSHOT=SHOWN [SNAPSHOT=SHOWN …]

Each argument is a file to check (a private snapshot copy) and the name to show for it in messages
(the original path). Prints one JSON object: ``{"errors": [str, …], "files": n}``; every error
starts with ``file:line`` (``file:line:column`` for syntax errors). Exit status 0 when the data
conforms, 1 when it does not, 2 on bad usage.

Examples
--------
>>> line_of_subject("@prefix ex: <http://e/> .\\n\\nex:a\\n    a ex:B .\\n", "ex:a")
3
>>> line_of_subject("<https://w3id.org/jp-funding/id/program/x>\\n    a <http://e/C> .\\n", "program:x")
1
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from kg.errors import KGError, TurtleSyntaxError
from kg.load import PREFIXES, check_syntax
from kg.validate import validate

__all__ = ["check", "line_of_subject", "main"]


def line_of_subject(text: str, focus: str) -> int | None:
    """The 1-based line where *focus* (a compact name of :data:`kg.load.PREFIXES`, or an IRI) first
    starts a line, else where it first appears."""
    spellings = [focus]
    prefix, colon, local = focus.partition(":")
    if colon and prefix in PREFIXES:
        spellings.append(f"<{PREFIXES[prefix]}{local}>")
    elif focus.startswith("<") or "://" in focus:
        spellings.append(f"<{focus.strip('<>')}>")
    for start in (True, False):
        for spelling in spellings:
            pattern = re.escape(spelling)
            rx = rf"^[ \t]*{pattern}(?=[\s;,.]|$)" if start else rf"(?<![\w:]){pattern}(?![\w:-])"
            m = re.search(rx, text, re.MULTILINE)
            if m:
                return text.count("\n", 0, m.start()) + 1
    return None


def check(files: Sequence[tuple[Path, str]]) -> list[str]:
    """Errors of the data *files* (``(path, shown name)`` pairs), each starting with ``file:line``."""
    shown = {p.resolve(): name for p, name in files}
    errors: list[str] = []
    for path, name in files:
        try:
            check_syntax(path)
        except TurtleSyntaxError as exc:
            where = ":".join(str(x) for x in (name, exc.line, exc.column) if x is not None)
            errors.append(f"{where}: Turtle syntax error: {exc.detail}")
    if errors:
        return errors
    report = validate([p for p, _ in files])
    for r in report.violations:
        name = r.file or "?"
        line = None
        if r.file:
            original = Path(r.file).resolve()
            name = shown.get(original, r.file)
            try:
                line = line_of_subject(original.read_text(encoding="utf-8"), r.focus)
            except OSError:
                line = None
        where = f"{name}:{line}" if line else name
        prop = f" {r.path}" if r.path else ""
        value = f" (value {r.value})" if r.value else ""
        errors.append(f"{where}: SHACL violation of {r.shape}: {r.focus}{prop}{value}: {r.message}")
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    """Check the files named on the command line; print the JSON report."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or any("=" not in a for a in args):
        print("usage: python -m server.checkdata SNAPSHOT=SHOWN …", file=sys.stderr)
        return 2
    files = [(Path(a.split("=", 1)[0]), a.split("=", 1)[1]) for a in args]
    try:
        errors = check(files)
    except KGError as exc:
        errors = [str(exc)]
    print(json.dumps({"errors": errors, "files": len(files)}, ensure_ascii=False))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
