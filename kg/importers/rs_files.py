"""Reading the RS files: finding the CSVs (zips, files, folders), their encoding, and the report.

Examples
--------
>>> c = FileCounts("5-3.csv", "5-3", read=3, used=2, skipped=1)
>>> r = Report(files=[c]); r.add(c, 7, "法人番号", "bad check digit")
>>> r.issues[0].format()
'5-3.csv:7: 法人番号: bad check digit'
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import KGError

__all__ = ["FileCounts", "Issue", "RSImportError", "Report", "Source", "check_encoding", "discover"]


class RSImportError(KGError, ValueError):
    """An RS file cannot be read at all (damaged zip, wrong encoding, missing column)."""


@dataclass(frozen=True)
class Issue:
    """One thing the importer could not use, or used with a remark."""

    file: str
    line: int
    column: str
    reason: str
    skipped: bool
    """True when the whole row was left out; False when the row was used and only this cell or
    fact was not (or needs a second look)."""

    def format(self) -> str:
        """``file:line: column: reason`` (and whether the row was skipped)."""
        col = f" {self.column}:" if self.column else ""
        return f"{self.file}:{self.line}:{col} {self.reason}{' (row skipped)' if self.skipped else ''}"


@dataclass
class FileCounts:
    """Rows of one file: read = used + skipped + filtered; reported = rows with at least one issue."""

    file: str
    code: str
    read: int = 0
    used: int = 0
    skipped: int = 0
    filtered: int = 0
    """Rows left out on purpose (another ministry than the ones asked for)."""
    reported_lines: set[int] = field(default_factory=set)

    @property
    def reported(self) -> int:
        """Rows with at least one issue (skipped or not)."""
        return len(self.reported_lines)


@dataclass
class Report:
    """What an import could not use, and the row counts of each file."""

    issues: list[Issue] = field(default_factory=list)
    files: list[FileCounts] = field(default_factory=list)
    quads: int = 0

    def add(self, counts: FileCounts, line: int, column: str, reason: str, *, skipped: bool = False) -> None:
        """Record an issue of *counts*' file at *line*."""
        self.issues.append(Issue(counts.file, line, column, reason, skipped))
        counts.reported_lines.add(line)

    def summary(self) -> str:
        """A table of the counts per file, and the number of issues."""
        width = max([len(c.file) for c in self.files] + [4])
        lines = [f"{'file':<{width}}  {'read':>7} {'used':>7} {'skipped':>7} {'reported':>8}"
                 + (f" {'filtered':>8}" if any(c.filtered for c in self.files) else "")]
        for c in self.files:
            lines.append(f"{c.file:<{width}}  {c.read:>7} {c.used:>7} {c.skipped:>7} {c.reported:>8}"
                         + (f" {c.filtered:>8}" if any(x.filtered for x in self.files) else ""))
        lines.append(f"{len(self.issues)} issues, {self.quads} quads")
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        """Write the issues as CSV (file, line, column, reason, skipped)."""
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["file", "line", "column", "reason", "row_skipped"])
            for i in self.issues:
                w.writerow([i.file, i.line, i.column, i.reason, "yes" if i.skipped else "no"])


# ---------------------------------------------------------------- sources

@dataclass(frozen=True)
class Source:
    """One CSV to read: a file on disk or a member of a zip."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        """The CSV's own name (the zip member, or the file name)."""
        return Path(self.member).name if self.member else self.path.name

    @property
    def display(self) -> str:
        """How messages name it: ``x.zip!x.csv`` or ``x.csv``."""
        return f"{self.path.name}!{self.member}" if self.member else self.path.name

    def size(self) -> int:
        """Uncompressed size in bytes."""
        if self.member is None:
            return self.path.stat().st_size
        with zipfile.ZipFile(self.path) as z:
            return z.getinfo(self.member).file_size

    def open(self) -> tuple[io.BufferedIOBase, Callable[[], None]]:
        """The raw byte stream and a function closing everything opened."""
        if self.member is None:
            f = open(self.path, "rb")  # noqa: SIM115 - closed by the returned function
            return f, f.close  # type: ignore[return-value]
        z = zipfile.ZipFile(self.path)
        m = z.open(self.member)

        def close() -> None:
            m.close()
            z.close()
        return m, close  # type: ignore[return-value]


def discover(paths: Iterable[Path | str]) -> list[Source]:
    """The CSVs to read from *paths* (zips, CSVs, or folders of them), in file-code order.

    Raises
    ------
    RSImportError
        A path does not exist, a zip is damaged or holds no CSV, or a file is given twice.
    """
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in (".zip", ".csv"))
            if not found:
                raise RSImportError(f"{p}: no .zip or .csv files in this folder")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise RSImportError(f"{p}: no such file or folder")
    out: list[Source] = []
    for p in files:
        if p.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(p) as z:
                    members = [n for n in z.namelist() if n.lower().endswith(".csv")]
            except zipfile.BadZipFile as exc:
                raise RSImportError(f"{p}: not a readable zip ({exc}); the download may be truncated: "
                                    "download it again") from None
            if not members:
                raise RSImportError(f"{p}: the zip holds no .csv file")
            out.extend(Source(p, m) for m in members)
        elif p.suffix.lower() == ".csv":
            out.append(Source(p))
        else:
            raise RSImportError(f"{p}: not a .zip or .csv file; give the RS downloads or their CSVs")
    seen: dict[str, Source] = {}
    for s in out:
        if s.name in seen:
            raise RSImportError(f"{s.display}: the same file is also given as {seen[s.name].display}; "
                                "give each RS file once")
        seen[s.name] = s
    return sorted(out, key=lambda s: (s.name.split("_", 1)[0], s.name))


class Counting(io.RawIOBase):
    """Wrap a byte stream, reporting progress as it is read."""

    def __init__(self, raw: io.BufferedIOBase, report: Callable[[int], None]) -> None:
        self.raw = raw
        self.done = 0
        self.report = report

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.done += n
        self.report(self.done)
        return n


def check_encoding(head: bytes, display: str) -> None:
    if head.startswith(b"\xef\xbb\xbf"):
        return
    try:
        head.decode("utf-8")
        return
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a character cut at the end of the sample
            return
    try:
        head.decode("cp932")
    except UnicodeDecodeError:
        raise RSImportError(f"{display}:1: not UTF-8; the RS files are UTF-8 with a BOM") from None
    raise RSImportError(f"{display}:1: the file is Shift_JIS (CP932), as older RS downloads are; "
                        f"convert it first: iconv -f CP932 -t UTF-8 IN.csv > OUT.csv")
