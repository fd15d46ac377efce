r"""Read SPARQL text before it runs: its keywords, its form, how deeply it nests; in time linear in its length.

The server refuses ``SERVICE`` and ``LOAD`` (they would make it fetch URLs), tells queries from
updates, and refuses terms nested deeper than :data:`MAX_DEPTH` before any text reaches
pyoxigraph. All of it comes from one reading, :func:`scan`, built from whole-text regular
expression passes that never look at a character twice:

1. strings, IRIs, comments, variables and language tags are blanked in one ``re.sub`` (C speed).
   A quote that opens no complete string takes the rest of the text with it and the text is
   refused as malformed (the SPARQL parser would refuse it too), so an unterminated string is
   never rescanned from each later quote — the quadratic case of a naive lexer;
2. the remaining words, numbers and prefixed names are listed once (``re.findall``) and
   de-duplicated in order (``dict.fromkeys``) before any Python code looks at them;
3. nesting is the running sum of the brackets left, computed with :func:`itertools.accumulate`.

SPARQL allows ``\u`` escapes anywhere; since engines differ on whether they apply outside
strings, the text is read both as written and with escapes decoded, and a keyword found in either
counts.

Examples
--------
>>> scan("PREFIX load: <http://e/> SELECT * WHERE { ?s load:p ?service }").form
'SELECT'
>>> scan(r"SELECT * WHERE { ?s ?p ex:o\# SERVICE <http://e/> { ?s ?p ?o } }").service
True
>>> try:
...     scan("SELECT * WHERE { ?s ?p 'unterminated }")
... except SparqlTextError as exc:
...     print(exc)
line 1, column 24: this string is never closed; close it with the same quote
"""

from __future__ import annotations

import json
import re
import select
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from itertools import accumulate, repeat
from pathlib import Path

__all__ = ["BIG", "MAX_DEPTH", "Reader", "Scan", "SparqlTextError", "classify", "keywords", "scan", "uses_load",
           "uses_service"]

MAX_DEPTH = 64
"""Deepest nesting of brackets, braces, parentheses and ``<< >>`` triple terms accepted."""

_SKIP = re.compile(
    r"#[^\n\r]*+"                                                 # comment
    r'|"""(?:[^"\\]|\\[\s\S]|"(?!""))*+"""'                       # long strings
    r"|'''(?:[^'\\]|\\[\s\S]|'(?!''))*+'''"
    r'|"(?:[^"\\\n\r]|\\[\s\S])*+"'                               # short strings
    r"|'(?:[^'\\\n\r]|\\[\s\S])*+'"
    r'|<[^<>"{}|^`\\\x00-\x20]*+>'                                # IRIs
    r"|[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]++"                # variables
    r"|@[A-Za-z]++(?:-[A-Za-z0-9]++)*+"                           # language tags
)
_LOCAL_ESCAPE = re.compile(r"\\[_~.\-!$&'()*+,;=/?#@%]")
"""An escaped character of a local name (``ex:o\\#``): part of the name, never a comment or a quote."""
_REST = re.compile(r"[\"'][\s\S]*")
_SKIP_PLAIN = re.compile(f"{_SKIP.pattern}|(?P<rest>{_REST.pattern})")
_SKIP_OR_REST = re.compile(f"{_LOCAL_ESCAPE.pattern}|{_SKIP.pattern}|(?P<rest>{_REST.pattern})")
_PN_CHARS = r"[\w\-\u00B7\u0300-\u036F\u203F-\u2040]"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_RUN = re.compile(rf"(?:{_PN_CHARS}|[.:]|{_PLX})++")
_WORD = re.compile(r"[A-Za-z]+")
_NOT_BRACKET = re.compile(r"[^(){}\[\]<>]++")
_DEPTH = {"(": 1, "{": 1, "[": 1, "«": 1, ")": -1, "}": -1, "]": -1, "»": -1}
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "INSERT", "DELETE", "LOAD", "CLEAR", "CREATE",
                    "DROP", "COPY", "MOVE", "ADD", "WITH"})
_QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


class SparqlTextError(ValueError):
    """The text cannot be a SPARQL query or update (unclosed string, nesting too deep); a 400."""


@dataclass(frozen=True)
class Scan:
    """What :func:`scan` read: the bare words (upper case, first occurrence order), the form, the depth."""

    words: tuple[str, ...]
    form: str | None
    depth: int

    @property
    def service(self) -> bool:
        """Whether a ``SERVICE`` clause is used (a federated query that would call out)."""
        return "SERVICE" in self.words

    @property
    def load(self) -> bool:
        """Whether a ``LOAD`` operation is used (which would fetch a document)."""
        return "LOAD" in self.words


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def _read(text: str, *, decoded: bool) -> tuple[list[str], str | None, int]:
    # A quote that opens no complete string matches `rest` and takes the remaining text with it, so
    # no later quote is tried again (each such try would scan to the end: quadratic).
    # The unclosed rest is kept as it is, so it is a suffix of the text: its start in the text is
    # found from its length, without a second pass.
    at = -1
    if "\\" in text:  # a local name may hold escapes: keep them inside the name (one callback per token)
        unclosed: list[int] = []
        cleaned = _SKIP_OR_REST.sub(lambda m: _blank(m, unclosed), text)
        at = unclosed[0] if unclosed else -1
    else:  # no escapes: only the unclosed rest, kept after a space, can leave a quote behind
        cleaned = _SKIP_PLAIN.sub(" \\g<rest>", text)
        quotes = [i for i in (cleaned.find('"'), cleaned.find("'")) if i >= 0]
        if quotes:
            at = len(text) - (len(cleaned) - min(quotes))
    if at >= 0:
        reading = " (with its \\u escapes decoded)" if decoded else ""
        raise SparqlTextError(f"{_where(text, at)}: this string is never closed{reading}; close it with the same quote")
    words: list[str] = []
    form: str | None = None
    for run in dict.fromkeys(_RUN.findall(cleaned)):
        head, colon, _ = run.partition(":")
        if colon and head[:1] not in (".", "-") and not head.endswith("."):
            continue  # a prefixed name (or blank node label): keywords never hide inside one
        for word in _WORD.findall(head if colon else run):
            upper = word.upper()
            words.append(upper)
            if form is None and upper in _FORMS:
                form = upper if upper in _QUERY_FORMS else "UPDATE"
    brackets = _NOT_BRACKET.sub("", cleaned).replace("<<", "«").replace(">>", "»")
    depth = max(accumulate(map(_DEPTH.get, brackets, repeat(0))), default=0)
    return words, form, depth


def _blank(m: re.Match[str], unclosed: list[int]) -> str:
    if m.lastgroup == "rest":
        unclosed.append(m.start())
        return " "
    return "_" if m.group().startswith("\\") else " "


def _decode(text: str) -> str:
    def char(m: re.Match[str]) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group(0)

    return _ESCAPE.sub(char, text)


def scan(sparql: str, *, max_depth: int = MAX_DEPTH) -> Scan:
    """Read *sparql* once (twice with ``\\u`` escapes): words, form and nesting depth.

    Raises
    ------
    SparqlTextError
        A string is never closed, or the text nests deeper than *max_depth*.
    """
    words, form, depth = _read(sparql, decoded=False)
    if "\\u" in sparql or "\\U" in sparql:
        decoded = _decode(sparql)
        if decoded != sparql:
            more, _, deeper = _read(decoded, decoded=True)
            words += more
            depth = max(depth, deeper)
    if depth > max_depth:
        raise SparqlTextError(f"the text nests brackets, braces or << >> terms {depth} deep; "
                              f"at most {max_depth} levels are accepted, flatten the query")
    return Scan(tuple(dict.fromkeys(words)), form, depth)


def keywords(sparql: str) -> list[str]:
    """The bare words of *sparql* in upper case, each once: keywords and function names, nothing
    inside a string, IRI, comment, variable or prefixed name (escapes read both ways).

    An unclosed string or too deep nesting gives no words (the text is refused anyway).

    Examples
    --------
    >>> keywords('PREFIX ex: <http://e/#x> SELECT ?load WHERE { ?s ex:p "INSERT" } # DROP')
    ['PREFIX', 'SELECT', 'WHERE']
    >>> keywords(r"\\u0053ERVICE")
    ['U', 'ERVICE', 'SERVICE']
    """
    try:
        return list(scan(sparql, max_depth=1 << 62).words)
    except SparqlTextError:
        return []


def classify(sparql: str) -> str | None:
    """``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``, ``UPDATE``, or ``None`` when no keyword is found.

    Unlike :func:`kg.store.query_form` this ignores keywords inside variables and prefixed names
    (``PREFIX load: <…>`` is not an update), so a read-only server never refuses a real query.

    Examples
    --------
    >>> classify("WITH <http://e/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }")
    'UPDATE'
    """
    try:
        return scan(sparql, max_depth=1 << 62).form
    except SparqlTextError:
        return None


def uses_service(sparql: str) -> bool:
    """Whether the text has a ``SERVICE`` clause; an unreadable text counts as having one.

    Examples
    --------
    >>> uses_service('SELECT * WHERE { ?s ?p "SERVICE" } # SERVICE')
    False
    >>> uses_service("SELECT * WHERE { ?s ?p ?o .SERVICE <http://e/> { ?s ?p ?o } }")
    True
    """
    try:
        return scan(sparql, max_depth=1 << 62).service
    except SparqlTextError:
        return True


def uses_load(sparql: str) -> bool:
    """Whether an update has a ``LOAD`` operation; an unreadable text counts as having one."""
    try:
        return scan(sparql, max_depth=1 << 62).load
    except SparqlTextError:
        return True


# ---------------------------------------------------------------- large texts: read in a child process

BIG = 64 * 1024
"""Texts longer than this are read by :class:`Reader`'s child process: ``re`` keeps the interpreter
lock for a whole pass over the text (0.1 s per pass at 1 MB), which would stall the server's event loop."""


class Reader:
    """A long-lived child process (``python -P server/lexer.py``) that scans large texts; one at a time.

    The child imports nothing but the standard library, and a text that makes it fail or take over
    *timeout* seconds costs a restart of it, never the server.
    """

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-P", str(Path(__file__)), "serve"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def scan(self, sparql: str, *, max_depth: int = MAX_DEPTH) -> Scan:
        """:func:`scan` of *sparql*, in the child process when the text is over :data:`BIG` characters.

        Raises
        ------
        SparqlTextError
            As :func:`scan`, or the text could not be read in time.
        """
        if len(sparql) <= BIG:
            return scan(sparql, max_depth=max_depth)
        data = sparql.encode("utf-8", "surrogatepass")
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                proc = self._proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(struct.pack("!II", len(data), max_depth) + data)
                proc.stdin.flush()
                ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
                if not ready:
                    raise TimeoutError
                (size,) = struct.unpack("!I", proc.stdout.read(4))
                reply = json.loads(proc.stdout.read(size))
            except (OSError, TimeoutError, struct.error, ValueError):
                proc.kill()
                self._proc = None
                raise SparqlTextError(f"the text could not be read within {self.timeout:g} s") from None
        if "error" in reply:
            raise SparqlTextError(reply["error"])
        return Scan(tuple(reply["words"]), reply["form"], int(reply["depth"]))

    def close(self) -> None:
        """Stop the child process."""
        with self._lock:
            if self._proc is not None:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def _serve() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(8)
        if len(head) < 8:
            return 0
        size, depth = struct.unpack("!II", head)
        text = stdin.read(size).decode("utf-8", "surrogatepass")
        try:
            read = scan(text, max_depth=depth)
            reply = {"words": list(read.words), "form": read.form, "depth": read.depth}
        except SparqlTextError as exc:
            reply = {"error": str(exc)}
        out = json.dumps(reply).encode()
        stdout.write(struct.pack("!I", len(out)) + out)
        stdout.flush()


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    raise SystemExit(_serve())
