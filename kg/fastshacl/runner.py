"""Run the compiled checks and turn their rows into results, in pySHACL's words.

The queries run on a thread pool (Oxigraph evaluates without holding the interpreter lock); each
row is a candidate, decided in Python on the literal as the file wrote it (see
:mod:`kg.fastshacl.dataset`), then reported twice: as a human :class:`~kg.shacl.report.Result`
and as a standard :class:`~kg.shacl.report.Record`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import rdflib
from rdflib.term import Node, URIRef

from kg.errors import KGError
from kg.fastshacl.compiler import Check
from kg.fastshacl.dataset import Dataset, Term, from_ox
from kg.fastshacl.expr import pair_ok
from kg.load import PREFIXES
from kg.shacl.report import Record, Result, display_path, path_text, severity_name, shape_name, short

__all__ = ["Run", "execute", "quiet_rdflib"]

log = logging.getLogger(__name__)

_NO_VALUE = {"minCount", "maxCount", "qualifiedMinCount", "qualifiedMaxCount", "uniqueLang", "hasValue"}
_RANGES = {"minInclusive": ">=", "minExclusive": ">", "maxInclusive": "<=", "maxExclusive": "<"}
Row = dict[str, Term | None]


def _names() -> rdflib.Graph:
    g = rdflib.Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    return g


@dataclass
class Run:
    """The results of one validation run, as they are made."""

    data: Dataset
    shapes: rdflib.Graph
    names: rdflib.Graph = field(default_factory=_names)
    origins: dict[object, str | None] = field(default_factory=dict)
    results: set[Result] = field(default_factory=set)
    records: set[Record] = field(default_factory=set)

    def add(self, check: Check, focus: Term, path: Node | None, value: Node | None, message: str | None) -> None:
        key = str(focus)
        if key not in self.origins:
            origin = self.data.origin(focus)
            self.origins[key] = display_path(origin) if origin else None
        f = from_ox(self.data.original(None, None, focus)[0])
        self.results.add(Result(
            severity=severity_name(check.severity),
            focus=short(self.names, f) or "",
            path=path_text(self.names, path, self.shapes),
            message=message or "",
            shape=shape_name(self.shapes, check.shape),
            value=short(self.names, value),
            file=self.origins[key],
        ))
        self.records.add(Record(focus=f, path=path, value=value, shape=check.shape, component=check.component,
                                severity=check.severity, message=message or None, constraint=check.constraint))

    def message(self, check: Check, focus: Node | None, value: Node | None) -> str:
        if check.messages:
            return check.messages[0]
        return _generic_message(check, self.names, focus, value)

    def originals(self, focus: Term, path: Node | None, raw: Term) -> list[Term]:
        return self.data.original(focus, path if isinstance(path, URIRef) else None, raw)

    def run(self, check: Check, rows: list[Row]) -> None:
        """Turn the rows of *check*'s query into results (candidates decided in Python)."""
        if check.kind == "sparql":
            self._sparql(check, rows)
            return
        if check.counted is not None:
            self._counted(check, {t for row in rows if (t := row.get("this")) is not None})
            return
        for row in rows:
            focus = row.get("this")
            if focus is None:
                continue
            raw = row.get("value")
            if raw is None or check.kind in _NO_VALUE:
                self.add(check, focus, check.path, None, self.message(check, from_ox(focus), None))
                continue
            path = check.path
            if check.kind == "closed":
                bound = row.get("path")
                path = from_ox(bound) if bound is not None else None
            for written in self.originals(focus, path, raw):
                value = from_ox(written)
                if check.expr is not None and check.expr.check(value, written, self.data):
                    continue  # a candidate pySHACL accepts
                if check.pair is not None:
                    other = row.get("other")
                    if other is not None and all(pair_ok(value, from_ox(o), check.pair)
                                                 for o in self.data.original(focus, None, other)):
                        continue
                self.add(check, focus, path, value, self.message(check, from_ox(focus), value))

    def _sparql(self, check: Check, rows: list[Row]) -> None:
        for row in rows:
            focus = row.get("this")
            if focus is None:
                continue
            bound_path, bound_value = row.get("path"), row.get("value")
            path = from_ox(bound_path) if bound_path is not None else check.path
            msg = _format_message(check.messages[0] if check.messages else "", row)
            if bound_value is None:
                self.add(check, focus, path, from_ox(focus), msg)
                continue
            for written in self.originals(focus, path, bound_value)[:1]:
                self.add(check, focus, path, from_ox(written), msg)

    def _counted(self, check: Check, candidates: set[Term]) -> None:
        """Qualified counts whose value test is not exact in SPARQL: count in Python."""
        if check.counted is None:  # pragma: no cover - run() only calls this for counted checks
            return
        side, n, e = check.counted
        counts: dict[Term, int] = dict.fromkeys(candidates, 0)
        for row in _fetch(self.data, check.values_query):
            focus, raw = row.get("this"), row.get("value")
            if focus is None or raw is None or focus not in counts:
                continue
            counts[focus] += sum(1 for w in self.originals(focus, check.path, raw)
                                 if e.check(from_ox(w), w, self.data))
        for focus, count in counts.items():
            if (side == "min" and count < n) or (side == "max" and count > n):
                self.add(check, focus, check.path, None, self.message(check, from_ox(focus), None))


def _fetch(data: Dataset, query: str) -> list[Row]:
    """Run *query* and read its rows (in a worker thread: the iterator stays in it)."""
    solutions = data.query(query)
    names = [v.value for v in solutions.variables]
    return [{n: s[n] for n in names} for s in solutions]


def _format_message(msg: str, row: Row) -> str:
    def sub(m: re.Match[str]) -> str:
        term = row.get(m.group(1))
        return str(from_ox(term)) if term is not None else m.group(0)

    return re.sub(r"\{[?$](\w+)\}", sub, msg)


def _generic_message(check: Check, names: rdflib.Graph, focus: Node | None, value: Node | None) -> str:
    """Messages in pySHACL's words for shapes without ``sh:message``."""
    path = path_text(names, check.path, rdflib.Graph()) or ""
    f = short(names, focus) or ""
    v = short(names, value) or ""
    e = check.expr
    if check.kind in ("minCount", "qualifiedMinCount"):
        return f"Less than {check.bound} values on {f}->{path}"
    if check.kind in ("maxCount", "qualifiedMaxCount"):
        return f"More than {check.bound} values on {f}->{path}"
    if e is not None and e.kind == "class":
        return f"Value does not have class {short(names, e.arg)}"
    if e is not None and e.kind == "datatype":
        return f"Value is not Literal with datatype {short(names, e.arg)}"
    if e is not None and e.kind == "pattern":
        return f"Value does not match pattern '{e.arg}'"
    if e is not None and e.kind == "in":
        return f"Value {v} not in list {[str(i) for i in e.arg]}"
    if e is not None and e.kind == "languageIn":
        return "String language is not in the allowed list"
    if e is not None and e.kind in _RANGES:
        return f"Value is not {_RANGES[e.kind]} {short(names, e.arg)}"
    if check.kind in ("lessThan", "lessThanOrEquals"):
        return f"Value of {f}->{path} {'>=' if check.kind == 'lessThan' else '>'} {v}"
    if check.kind == "disjoint":
        return f"Value of {f}->{path} == {v}"
    return f"Value {v} does not conform to the {check.kind} constraint"


@contextlib.contextmanager
def quiet_rdflib() -> Iterator[None]:
    """Ill-typed literals are results here, not log noise: rdflib logs a traceback for each."""
    rdflib_log = logging.getLogger("rdflib.term")
    level = rdflib_log.level
    rdflib_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        rdflib_log.setLevel(level)


def execute(run: Run, checks: list[Check]) -> None:
    """Run every check on *run*'s data and collect the results."""
    # Oxigraph evaluates a query without holding the GIL: run them on every core, the sh:sparql
    # constraints (the slowest) first; results are made in this thread, in check order.
    if any(c.shapes_graph for c in checks):
        run.data.add_shapes(run.shapes)
    order = sorted(range(len(checks)), key=lambda i: checks[i].kind != "sparql")
    with quiet_rdflib(), ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futures = {i: pool.submit(_fetch, run.data, checks[i].query) for i in order}
        for i, check in enumerate(checks):
            log.debug("check %s of %s: %s", check.kind, check.shape, check.query)
            try:
                rows = futures[i].result()
            except (SyntaxError, ValueError, OSError, RuntimeError) as exc:  # Oxigraph's query errors
                raise KGError(f"{shape_name(run.shapes, check.shape)}: its {check.kind} check failed in the "
                              f"store: {str(exc).splitlines()[0][:200]}") from None
            run.run(check, rows)
