"""``kg import rs``: the command wiring of the RS importer (kg/cli.py registers it).

The report is printed on stderr at the end and written beside the output as
``OUTPUT.report.csv`` (or ``DIR.report.csv`` for ``--location DIR``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kg.errors import KGError

__all__ = ["add_import_parser", "cmd_import"]


def add_import_parser(sub: Any) -> None:
    """Add ``kg import rs PATH… [-o FILE | --location DIR]`` to the subparsers *sub*."""
    p = sub.add_parser("import", help="import other publishers' open data (rs: the RS review-sheet zips)")
    p.add_argument("source", choices=("rs",), help="rs: 行政事業レビュー (RS system) CSV downloads")
    p.add_argument("paths", nargs="+", metavar="PATH", help="the zips as downloaded, their CSVs, or folders of them")
    p.add_argument("--ministry", action="append", metavar="NAME", help="only the sheets of this ministry (政策所管府省庁) "
                   "(repeatable), e.g. 経済産業省")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--output", "-o", metavar="FILE", help="write N-Quads (.nq), TriG (.trig) or Turtle (.ttl)")
    out.add_argument("--location", metavar="DIR", help="bulk-load a new on-disk store (with the ontology and "
                     "graph_data/) for --location of the other commands")
    p.set_defaults(func=cmd_import)


@contextmanager
def _bars() -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar per file on stderr, only on a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name.split("!")[-1], total=total)
            bar.update(tasks[name], completed=done)
        yield update


def cmd_import(args: argparse.Namespace) -> int:
    """Run ``kg import rs``; exit 0, or 2 when a file cannot be read (nothing is written then)."""
    from kg.importers.output import bulk_load, output_format, write_quads
    from kg.importers.rs import RSImporter, discover
    from kg.load import data_sources, ontology_sources

    sources = discover(args.paths)
    importer = RSImporter(ministries=args.ministry)
    target = Path(args.output or args.location)
    if args.output:
        output_format(target)  # fail before reading anything
    with _bars() as progress:
        quads = importer.quads(sources, progress=progress)
        if args.output:
            n = write_quads(quads, target)
        else:
            n = bulk_load(quads, target, extra=ontology_sources() + data_sources())
    report = importer.report
    report.quads = n
    report_path = target.with_name(target.name + ".report.csv")
    report.write(report_path)
    print(report.summary(), file=sys.stderr)
    print(f"wrote {n} quads to {target}; report: {report_path}", file=sys.stderr)
    for c in report.files:
        if c.read != c.used + c.skipped + c.filtered:  # pragma: no cover - an importer bug, never bad input
            raise KGError(f"{c.file}: {c.read} rows read but {c.used} used and {c.skipped} skipped")
    return 0
