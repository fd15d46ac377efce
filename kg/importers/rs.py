"""Import the RS system's open data (行政事業レビュー見える化サイト) as quads.

The RS system publishes each review year as 13 zip files of one CSV each (UTF-8 with BOM);
users download them from https://rssystem.go.jp/download-csv. :class:`RSImporter` reads any of
them (zips as published, their CSVs, or a folder of either), streaming row by row, and yields
:class:`pyoxigraph.Quad` objects in the named graph ``https://w3id.org/jp-funding/graph/rs{year}``.
What it cannot use goes to its :class:`Report` (file, line, column, reason) instead of being
dropped silently; per file it counts the rows read, used, skipped and reported, and
``read == used + skipped`` always.

The mapping of columns to properties and of free-text edge kinds to the instrument scheme is
data: ``rs_mapping.toml`` beside this module. This module only knows the structure: programs,
the responsible organisation chain, the per-year budget, the spending blocks and the named
recipients (``rs_model.py`` holds the IRIs and the cell readers).

Examples
--------
>>> from kg.importers.rs import corporate_number_ok
>>> corporate_number_ok("2010405004147")  # 独立行政法人中小企業基盤整備機構, as in RS 5-3
True
>>> corporate_number_ok("2010405004148")
False
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg.importers.rs_files import (
    Counting,
    FileCounts,
    Issue,
    Report,
    RSImportError,
    Source,
    check_encoding,
    discover,
)
from kg.importers.rs_model import (
    CORP_PAGE,
    RDF_TYPE,
    RDFS_LABEL,
    BadCell,
    Mapping,
    Term,
    corporate_number_ok,
    fix_radicals,
    iri,
    ja,
    load_mapping,
    normalize_name,
    program_iri,
    read_cell,
    segment,
    string,
    yen,
)

__all__ = ["FileCounts", "Issue", "RSImportError", "RSImporter", "Report", "Source", "corporate_number_ok",
           "discover", "normalize_name"]

FILE_CODE = re.compile(r"^(\d-\d)_")
GRAPH = "https://w3id.org/jp-funding/graph/rs"
ID = "https://w3id.org/jp-funding/id/"

Progress = Callable[[str, int, int], None]
"""Called as ``progress(file, bytes_done, bytes_total)`` while a file is read."""


# ---------------------------------------------------------------- the importer

@dataclass
class _Edge:
    line: int
    pid: str
    src: str
    dst: str
    src_name: str
    dst_name: str
    from_ministry: bool
    kind: str


class RSImporter:
    """Stream quads from RS files; see the module docstring.

    Parameters
    ----------
    mapping : Mapping, optional
        The column tables (default: ``rs_mapping.toml``).
    curated_units : dict, optional
        ``(ministry, bureau, …) -> IRI`` of organisations already in the graph (default: read from
        ``graph_data/organisations.ttl``), reused where the RS chain names them exactly.
    """

    def __init__(self, *, mapping: Mapping | None = None,
                 curated_units: dict[tuple[str, ...], str] | None = None,
                 ministries: Iterable[str] | None = None) -> None:
        self.m = mapping or load_mapping()
        self.ministries = set(ministries) if ministries else None
        """Only rows whose ministry (政策所管府省庁, else 府省庁) is one of these (None: every row); the
        others count as filtered."""
        self.curated = curated_units if curated_units is not None else _curated_units()
        self.report = Report()
        self._emitted: set[str] = set()
        self._blocks_named: set[tuple[str, str, str]] = set()
        self._blocks_seen: set[tuple[str, str, str]] = set()
        self._block_files: set[str] = set()
        self._edges: list[tuple[_Edge, FileCounts, str]] = []
        self._orgs: dict[str, str] = {}
        self._flow_iris: dict[tuple[str, str, str, int], str] = {}
        self._skipped_quads: list[ox.Quad] = []
        self._year = ""

    # -------------------------------------------------------------- public

    def quads(self, sources: Sequence[Source], *, progress: Progress | None = None) -> Iterator[ox.Quad]:
        """Yield the quads of every source, then of the checks across files.

        Raises
        ------
        RSImportError
            A file cannot be read at all; nothing after it is yielded.
        """
        for s in sources:
            yield from self._file(s, progress)
        yield from self._finish()

    # -------------------------------------------------------------- one file

    def _file(self, src: Source, progress: Progress | None) -> Iterator[ox.Quad]:
        code = self._code(src)
        spec = self.m.files[code]
        counts = FileCounts(src.display, code)
        self.report.files.append(counts)
        try:
            raw, close = src.open()
        except (zipfile.BadZipFile, OSError) as exc:
            raise RSImportError(f"{src.display}: cannot open ({exc})") from None
        total = src.size()
        try:
            stream = Counting(raw, (lambda done: progress(src.display, done, total)) if progress else (lambda d: None))
            buffered = io.BufferedReader(stream, buffer_size=1 << 16)
            check_encoding(buffered.peek(4096)[:4096], src.display)
            text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader)
            except StopIteration:
                raise RSImportError(f"{src.display}:1: the file is empty") from None
            cols = self._columns(src, code, header)
            last = reader.line_num
            ministry_col, agency_col = cols["政策所管府省庁"], cols["府省庁"]
            seen_rows: dict[int, int] = {}
            for row in reader:
                line = last + 1
                last = reader.line_num
                counts.read += 1
                if self.ministries is not None and len(row) > max(ministry_col, agency_col) and \
                        (row[ministry_col].strip() or row[agency_col].strip()) not in self.ministries:
                    counts.filtered += 1
                    continue
                if len(row) != len(header):
                    self.report.add(counts, line, "", f"{len(row)} cells where the header has {len(header)}",
                                    skipped=True)
                    counts.skipped += 1
                    continue
                key = hash(tuple(row))
                if key in seen_rows:
                    self.report.add(counts, line, "", f"duplicate of line {seen_rows[key]}; not counted twice",
                                    skipped=True)
                    counts.skipped += 1
                    continue
                seen_rows[key] = line
                cells = {name: row[i] for name, i in cols.items()}
                out = self._row(code, spec, src, counts, line, cells)
                if out is None:
                    counts.skipped += 1
                    yield from self._skipped_quads
                    self._skipped_quads = []
                    continue
                counts.used += 1
                yield from out
        except (zipfile.BadZipFile, EOFError) as exc:
            raise RSImportError(f"{src.display}: the zip is damaged or truncated ({exc}); "
                                "download it again") from None
        except UnicodeDecodeError as exc:
            raise RSImportError(f"{src.display}:{counts.read + 2}: not valid UTF-8 ({exc.reason}); "
                                "save the file as UTF-8") from None
        except csv.Error as exc:
            raise RSImportError(f"{src.display}:{counts.read + 2}: not a readable CSV ({exc})") from None
        finally:
            close()

    def _code(self, src: Source) -> str:
        m = FILE_CODE.match(src.name)
        if m and m.group(1) in self.m.files:
            return m.group(1)
        # a renamed file: recognise it by its header
        raw, close = src.open()
        try:
            head = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", errors="replace", newline="")
            header = next(csv.reader(head), [])
        finally:
            close()
        names = set(header)
        best = [c for c, f in self.m.files.items() if f.columns and set(f.columns) <= names]
        if len(best) == 1:
            return best[0]
        raise RSImportError(f"{src.display}:1: not an RS file this importer knows: the name does not start "
                            f"with a file code (1-1_ … 6-1_) and the header matches none of them")

    def _columns(self, src: Source, code: str, header: list[str]) -> dict[str, int]:
        index = {name: i for i, name in enumerate(header)}
        cols: dict[str, int] = {}
        missing: list[str] = []
        for name in self.m.common:
            alt = self.m.alternatives.get(name)
            if name in index:
                cols[name] = index[name]
            elif alt and alt in index:
                cols[name] = index[alt]
            else:
                missing.append(name)
        spec = self.m.files[code]
        for name in spec.columns:
            if name in index:
                cols[name] = index[name]
            else:
                missing.append(name)
        if missing:
            known = set(self.m.common) | set(self.m.alternatives.values()) | set(spec.columns)
            extra = [h for h in header if h not in known]
            hint = f"; the file has {', '.join(repr(e) for e in extra)} instead (renamed?)" if extra else ""
            raise RSImportError(f"{src.display}:1: column {', '.join(repr(m) for m in missing)} is missing"
                                f"{hint}; expected the RS {code} ({spec.title}) layout")
        counts = self.report.files[-1]
        for h in header:
            if h not in cols and h not in self.m.alternatives.values():
                if spec.open:
                    cols[h] = index[h]
                else:
                    self.report.add(counts, 1, h, "column not in the RS layout this importer knows; not imported")
        return cols

    # -------------------------------------------------------------- one row

    def _row(self, code: str, spec: object, src: Source, counts: FileCounts, line: int,
             cells: dict[str, str]) -> list[ox.Quad] | None:
        pid = cells["予算事業ID"].strip()
        year = cells["事業年度"].strip()
        if not pid.isdigit() or not re.fullmatch(r"\d{4}", year):
            self.report.add(counts, line, "予算事業ID" if not pid.isdigit() else "事業年度",
                            f"no usable sheet id / review year ({pid!r}, {year!r})", skipped=True)
            return None
        graph = ox.NamedNode(GRAPH + year)
        out: list[ox.Quad] = []

        def add(s: Term, p: str, o: Term) -> None:
            out.append(ox.Quad(s, iri(p), o, graph))  # type: ignore[arg-type]

        prog = ox.NamedNode(program_iri(year, pid))
        self._program(code, src, year, pid, prog, cells, add)
        kept = len(out)  # the program's own triples are kept even if the row is skipped below
        fs = self.m.files[code]
        try:
            if fs.node == "program":
                self._cells(fs, counts, line, cells, prog, add)
                if code == "1-1":
                    self._other_units(cells, prog, add)
            elif fs.node == "budget":
                self._budget(counts, line, cells, year, pid, prog, add)
            elif fs.node == "flow":
                self._flow(code, counts, line, cells, year, pid, prog, add)
            else:
                node = ox.NamedNode(f"{prog.value}/{code}/{line}")
                add(node, RDF_TYPE, iri(fs.cls))
                if fs.link:  # the program → row link; rows without one say their program themselves
                    add(prog, fs.link, node)
                else:
                    add(node, "jf:ofProgram", prog)
                add(node, "jf:sourceLine", ox.Literal(str(line), datatype=iri("xsd:integer")))
                self._cells(fs, counts, line, cells, node, add)
                if fs.open:
                    self._open_cells(cells, node, add)
                if fs.block:
                    self._block_row(fs, code, counts, line, cells, year, pid, prog, node, add)
                if code == "1-4":
                    self._rate(cells, year, line, prog, node, add)
        except BadCell as exc:
            self.report.add(counts, line, exc.column, str(exc), skipped=True)
            self._skipped_quads = out[:kept]
            return None
        return out

    def _program(self, code: str, src: Source, year: str, pid: str, prog: ox.NamedNode, cells: dict[str, str],
                 add: Callable[[Term, str, Term], None]) -> None:
        key = f"p{year}/{pid}"
        source = ox.NamedNode(f"{ID}source/rs{year}-{code}")
        if f"s{year}/{code}" not in self._emitted:
            self._emitted.add(f"s{year}/{code}")
            self._source_doc(code, src, year, source, add)
        if f"{key}/{code}" not in self._emitted:
            self._emitted.add(f"{key}/{code}")
            add(prog, "prov:wasDerivedFrom", source)
        if key in self._emitted:
            return
        self._emitted.add(key)
        add(prog, RDF_TYPE, iri("jf:ReviewProgram"))
        add(prog, "jf:rsProjectId", string(pid))
        add(prog, "jf:reviewYear", ox.Literal(year, datatype=iri("xsd:gYear")))
        if cells["事業名"].strip():
            add(prog, RDFS_LABEL, ja(cells["事業名"].strip()))
        chain = self._unit_chain(cells, [c for c, _ in self.m.chain], add,
                                 ministry=cells.get("政策所管府省庁", "").strip())
        if chain:
            add(prog, "jf:ministry", chain[0])
            add(prog, "jf:responsibleOrganization", chain[-1])
        policy = cells.get("政策所管府省庁", "").strip()
        if policy:
            add(prog, "jf:policyMinistry", string(policy))
        order = cells.get("府省庁の建制順", "").strip()
        if order.isdigit():
            add(prog, "jf:ministryOrder", ox.Literal(order, datatype=iri("xsd:integer")))

    def _source_doc(self, code: str, src: Source, year: str, node: ox.NamedNode,
                    add: Callable[[Term, str, Term], None]) -> None:
        fs = self.m.files[code]
        add(node, RDF_TYPE, iri("jf:SourceDocument"))
        add(node, RDFS_LABEL, ja(f"行政事業レビュー {code} {fs.title}（{year}年度）"))
        add(node, RDFS_LABEL, ox.Literal(f"Administrative project review (RS system) {year}, file {code}: {fs.title_en}",
                                         language="en"))
        add(node, "dcterms:identifier", string(src.display))
        add(node, "jf:sha256", string(_sha256(src.path)))
        add(node, "dcterms:source", ox.NamedNode("https://rssystem.go.jp/download-csv"))

    def _unit_chain(self, cells: dict[str, str], columns: list[str],
                    add: Callable[[Term, str, Term], None], *, ministry: str = "") -> list[ox.NamedNode]:
        """The organisations of a 府省庁>局・庁>… chain (empty levels skipped), emitted once each.

        Where 府省庁 is an external agency (特許庁, 水産庁 …) the ministry (政策所管府省庁) heads the chain.
        """
        names: list[str] = []
        out: list[ox.NamedNode] = []
        levels = dict(self.m.chain)
        pairs = [(cells.get(col, "").strip(), std) for col, std in zip(columns, [c for c, _ in self.m.chain],
                                                                         strict=False)]
        if ministry and pairs and pairs[0][0] and pairs[0][0] != ministry:
            pairs = [(ministry, "府省庁"), (pairs[0][0], "局・庁")] + pairs[1:]
        for name, std in pairs:
            if not name:
                continue
            names.append(name)
            key = tuple(names)
            node_iri = self.curated.get(key) or ID + "gov/" + "/".join(segment(n) for n in names)
            node = ox.NamedNode(node_iri)
            if node_iri not in self._emitted:
                self._emitted.add(node_iri)
                add(node, RDF_TYPE, iri("jf:GovernmentOrganization"))
                add(node, RDFS_LABEL, ja(name))
                if out:
                    add(node, "org:subOrganizationOf", out[-1])
                level = levels.get(std, "")
                if std == "局・庁" and name.endswith("庁"):
                    level = "agency"
                if level:
                    add(node, "org:classification", ox.NamedNode(f"{ID}unit-level/{level}"))
            out.append(node)
        return out

    def _other_units(self, cells: dict[str, str], prog: ox.NamedNode, add: Callable[[Term, str, Term], None]) -> None:
        cols = [f"{c}（その他担当組織）" for c, _ in self.m.chain]
        chain = self._unit_chain(cells, cols, add)
        if chain:
            add(prog, "jf:otherResponsibleOrganization", chain[-1])

    def _cells(self, fs: object, counts: FileCounts, line: int, cells: dict[str, str], node: ox.NamedNode,
               add: Callable[[Term, str, Term], None]) -> None:
        for col, rule in self.m.files[counts.code].columns.items():
            if rule.kind == "structural":
                continue
            value = cells[col]
            if not value.strip():
                continue
            try:
                term = read_cell(rule, value, self._year_of(cells))
            except BadCell as exc:
                self.report.add(counts, line, col, str(exc))
                continue
            if term is not None:
                add(node, rule.prop, term)

    def _open_cells(self, cells: dict[str, str], node: ox.NamedNode, add: Callable[[Term, str, Term], None]) -> None:
        known = set(self.m.common)
        for col, value in cells.items():
            if col not in known and value.strip():
                add(node, "jf:cell", string(f"{col}={value}"))

    @staticmethod
    def _year_of(cells: dict[str, str]) -> str:
        return cells["事業年度"].strip()

    # -------------------------------------------------------------- 2-1 budgets

    def _budget(self, counts: FileCounts, line: int, cells: dict[str, str], year: str, pid: str,
                prog: ox.NamedNode, add: Callable[[Term, str, Term], None]) -> None:
        fy = cells["予算年度"].strip()
        if not re.fullmatch(r"\d{4}", fy):
            raise BadCell("予算年度", f"not a year: {fy!r}")
        by = ox.NamedNode(f"{prog.value}/budget/{fy}")
        fyl = ox.Literal(fy, datatype=iri("xsd:gYear"))
        if by.value not in self._emitted:
            self._emitted.add(by.value)
            add(prog, "jf:budgetYear", by)
            add(by, RDF_TYPE, iri("jf:BudgetYear"))
            add(by, "jf:fiscalYear", fyl)
        lit_line = ox.Literal(str(line), datatype=iri("xsd:integer"))
        if not cells["会計区分"].strip():  # the per-year total row
            self._cells_subset(counts, line, cells, by, add, ("執行率", "主な増減理由", "その他特記事項"))
            for col, cat, _n in self.m.budget_totals:
                amount = self._amount(counts, line, col, cells[col])
                if amount is None or amount == 0:
                    continue
                node = ox.NamedNode(f"{by.value}/{cat.split(':')[1]}")
                if node.value in self._emitted:
                    self.report.add(counts, line, col, f"a second total row for {fy}; the first is kept")
                    continue
                self._emitted.add(node.value)
                add(prog, "jf:budget", node)
                add(node, RDF_TYPE, iri("jf:BudgetAmount"))
                add(node, "jf:amount", yen(amount))
                add(node, "jf:fiscalYear", fyl)
                add(node, "jf:budgetCategory", iri(cat))
                add(node, "jf:sourceLine", lit_line)
            return
        row = ox.NamedNode(f"{by.value}/account/{line}")
        add(by, "jf:accountBudget", row)
        add(row, RDF_TYPE, iri("jf:AccountBudget"))
        add(row, "jf:fiscalYear", fyl)
        add(row, "jf:sourceLine", lit_line)
        self._cells_subset(counts, line, cells, row, add, ("会計区分", "会計", "勘定", "備考", "執行率",
                                                            "主な増減理由", "その他特記事項"))
        for i, (col, cat, n) in enumerate(self.m.budget_accounts):
            amount = self._amount(counts, line, col, cells[col])
            if amount is None or amount == 0:
                continue
            node = ox.NamedNode(f"{row.value}/{i}")
            add(row, "jf:accountAmount", node)
            add(node, RDF_TYPE, iri("jf:AccountAmount"))
            add(node, "jf:amount", yen(amount))
            add(node, "jf:budgetCategory", iri(cat))
            if n:
                add(node, "jf:sequenceNumber", ox.Literal(str(n), datatype=iri("xsd:integer")))
        for col, _cat, _n in self.m.budget_totals:
            if cells[col].strip() and cells[col].strip() not in ("0", "0.0"):
                self.report.add(counts, line, col, "a total column filled on an account row; not imported "
                                "(the per-year total row carries the totals)")

    def _cells_subset(self, counts: FileCounts, line: int, cells: dict[str, str], node: ox.NamedNode,
                      add: Callable[[Term, str, Term], None], columns: Sequence[str]) -> None:
        rules = self.m.files[counts.code].columns
        for col in columns:
            value = cells[col]
            if not value.strip():
                continue
            try:
                term = read_cell(rules[col], value, "")
            except BadCell as exc:
                self.report.add(counts, line, col, str(exc))
                continue
            if term is not None:
                add(node, rules[col].prop, term)

    def _amount(self, counts: FileCounts, line: int, col: str, value: str) -> int | None:
        v = value.strip()
        if not v:
            return None
        try:
            return _yen(v)
        except ValueError:
            self.report.add(counts, line, col, f"amount {v!r} is not a number of yen; not imported")
            return None

    # -------------------------------------------------------------- blocks and recipients

    def _block(self, year: str, pid: str, block: str, name: str, prog: ox.NamedNode,
               add: Callable[[Term, str, Term], None]) -> ox.NamedNode:
        node = ox.NamedNode(f"{prog.value}/block/{segment(block)}")
        key = (year, pid, block)
        if key not in self._blocks_seen:
            self._blocks_seen.add(key)
            add(node, RDF_TYPE, iri("jf:SpendingBlock"))
            add(node, "jf:ofProgram", prog)
            add(node, "jf:blockId", string(block))
        if name and key not in self._blocks_named:
            self._blocks_named.add(key)
            add(node, RDFS_LABEL, ja(name))
        return node

    def _block_row(self, fs: object, code: str, counts: FileCounts, line: int, cells: dict[str, str], year: str,
                   pid: str, prog: ox.NamedNode, node: ox.NamedNode, add: Callable[[Term, str, Term], None]) -> None:
        spec = self.m.files[code]
        block_id = cells[spec.block].strip()
        if not block_id:
            if any(v.strip() for c, v in cells.items() if c not in self.m.common):
                self.report.add(counts, line, spec.block, "no block id; the row is kept without a block")
            return
        self._block_files.add(f"{year}/{pid}/{block_id}")
        block = self._block(year, pid, block_id, cells.get(spec.block_name, "").strip() if spec.block_name else "",
                            prog, add)
        add(node, "jf:block", block)
        name = cells[spec.payee].strip()
        number = cells[spec.corporate_number].strip() if spec.corporate_number else ""
        if not name and not number:
            return
        org = self._org(counts, line, spec.corporate_number, name, number, block, add)
        add(node, "jf:payee", org)
        key = f"m {block.value} {org.value}"
        if key not in self._emitted:
            self._emitted.add(key)
            add(block, "jf:member", org)

    def _org(self, counts: FileCounts, line: int, column: str, name: str, number: str, block: ox.NamedNode,
             add: Callable[[Term, str, Term], None]) -> ox.NamedNode:
        valid = bool(number) and corporate_number_ok(number)
        if number and not valid:
            self.report.add(counts, line, column, f"corporate number {number!r} fails the National Tax Agency "
                            "check digit (or is not 13 digits); kept as text, not linked")
        if valid:
            node = ox.NamedNode(f"{ID}corp/{number}")
        else:
            node = ox.NamedNode(f"{block.value}/org/{segment(normalize_name(name) or number)}")
        known = self._orgs.get(node.value)
        if known is None:
            self._orgs[node.value] = name
            add(node, RDF_TYPE, iri("jf:RecipientOrganization"))
            if name:
                add(node, RDFS_LABEL, ja(name))
                add(node, "jf:normalizedName", string(normalize_name(name)))
            if valid:
                add(node, "jf:corporateNumber", string(number))
                add(node, "rdfs:seeAlso", ox.NamedNode(CORP_PAGE + number))
            elif number:
                add(node, "jf:corporateNumberText", string(number))
        elif name and name != known and f"alt {node.value} {name}" not in self._emitted:
            self._emitted.add(f"alt {node.value} {name}")
            add(node, "skos:altLabel", ja(name))
            add(node, "jf:normalizedName", string(normalize_name(name)))
        return node

    # -------------------------------------------------------------- 5-2 edges

    def _flow(self, code: str, counts: FileCounts, line: int, cells: dict[str, str], year: str, pid: str,
              prog: ox.NamedNode, add: Callable[[Term, str, Term], None]) -> None:
        flag = cells["担当組織からの支出"].strip().upper()
        src, dst = cells["支出元の支出先ブロック"].strip(), cells["支出先の支出先ブロック"].strip()
        if flag == "" and not dst:  # 国自らが支出する間接経費: an item with an amount, no edge
            node = ox.NamedNode(f"{prog.value}/indirect/{line}")
            add(node, RDF_TYPE, iri("jf:IndirectCost"))
            add(node, "jf:ofProgram", prog)
            add(prog, "jf:indirectCost", node)
            add(node, "jf:sourceLine", ox.Literal(str(line), datatype=iri("xsd:integer")))
            for col, prop in (("国自らが支出する間接経費", "jf:costKind"), ("国自らが支出する間接経費の項目", "jf:expenseCategory")):
                if cells[col].strip():
                    add(node, prop, string(cells[col].strip()))
            amount = self._amount(counts, line, "国自らが支出する間接経費の金額", cells["国自らが支出する間接経費の金額"])
            if amount is not None:
                add(node, "jf:amount", yen(amount))
            return
        if flag not in ("TRUE", "FALSE", "") or not dst or (flag == "FALSE" and not src):
            raise BadCell("担当組織からの支出", f"an edge needs TRUE (from the ministry) or FALSE with a source "
                          f"block, and a target block (got {flag!r}, {src!r} → {dst!r})")
        if src and src == dst:
            raise BadCell("支出先の支出先ブロック", f"block {dst} passes money to itself (kind: "
                          f"{cells['資金の流れの補足情報'].strip() or 'none given'}); a flow needs two different "
                          "ends, not imported")
        edge = _Edge(line, pid, src, dst, cells["支出元の支出先ブロック名"].strip(),
                     cells["支出先の支出先ブロック名"].strip(), flag != "FALSE" and not src,
                     cells["資金の流れの補足情報"].strip())
        self._edges.append((edge, counts, year))
        ministry = self._unit_chain(cells, ["府省庁"], add, ministry=cells.get("政策所管府省庁", "").strip())
        funder = ministry[-1] if edge.from_ministry and ministry else self._block(year, pid, src, edge.src_name, prog, add)
        recipient = self._block(year, pid, dst, edge.dst_name, prog, add)
        node = ox.NamedNode(self._flow_iri(prog.value, src, dst, line))
        add(node, RDF_TYPE, iri("jf:FundingFlow"))
        add(node, "jf:ofProgram", prog)
        add(node, "jf:funder", funder)
        add(node, "jf:recipient", recipient)
        add(node, "jf:sourceLine", ox.Literal(str(line), datatype=iri("xsd:integer")))
        if edge.kind:
            add(node, "jf:sourceText", string(fix_radicals(edge.kind)))
            concept = self.m.kind(edge.kind)
            if concept:
                add(node, "jf:instrument", iri(concept))

    def _flow_iri(self, prog: str, src: str, dst: str, line: int) -> str:
        """``…/flow/A-AA``; a second edge between the same blocks (other kind text) gets ``-2``, …"""
        key = (prog, src, dst, line)
        if key in self._flow_iris:
            return self._flow_iris[key]
        base = f"{prog}/flow/{segment(src or '0')}-{segment(dst)}"
        name, n = base, 1
        while name in self._emitted:
            n += 1
            name = f"{base}-{n}"
        self._emitted.add(name)
        self._flow_iris[key] = name
        return name

    def _finish(self) -> Iterator[ox.Quad]:
        """Hops of the 5-2 edges, and edges to blocks no other file mentions."""
        by_prog: dict[tuple[str, str], list[tuple[_Edge, FileCounts]]] = defaultdict(list)
        for edge, counts, year in self._edges:
            by_prog[(year, edge.pid)].append((edge, counts))
        other_files = any(c.code in ("5-1", "5-3", "5-4") for c in self.report.files)
        for (year, pid), edges in by_prog.items():
            graph = ox.NamedNode(GRAPH + year)
            prog = program_iri(year, pid)
            hop: dict[str, int] = {}
            frontier = [e.dst for e, _ in edges if e.from_ministry]
            for d in frontier:
                hop.setdefault(d, 1)
            changed = True
            while changed:
                changed = False
                for e, _ in edges:
                    if not e.from_ministry and e.src in hop and (e.dst not in hop or hop[e.dst] > hop[e.src] + 1):
                        hop[e.dst] = hop[e.src] + 1
                        changed = True
            for e, counts in edges:
                h = 1 if e.from_ministry else (hop[e.src] + 1 if e.src in hop else None)
                node = ox.NamedNode(self._flow_iri(prog, e.src, e.dst, e.line))
                if h is None:
                    self.report.add(counts, e.line, "支出元の支出先ブロック",
                                    f"block {e.src} of sheet {pid} gets no money from the ministry in 5-2; no hop given")
                elif f"hop {node.value}" not in self._emitted:
                    self._emitted.add(f"hop {node.value}")
                    self.report.quads += 1
                    yield ox.Quad(node, iri("jf:hop"), ox.Literal(str(h), datatype=iri("xsd:integer")), graph)
                if other_files and f"{year}/{pid}/{e.dst}" not in self._block_files and \
                        not any(x.src == e.dst for x, _ in edges):
                    self.report.add(counts, e.line, "支出先の支出先ブロック",
                                    f"edge to block {e.dst} of sheet {pid}, which no other file mentions "
                                    "(no recipients or items in 5-1/5-3/5-4)")

    # -------------------------------------------------------------- 1-4 rates

    def _rate(self, cells: dict[str, str], year: str, line: int, prog: ox.NamedNode, node: ox.NamedNode,
              add: Callable[[Term, str, Term], None]) -> None:
        text = cells["補助率"].strip()
        parsed = _plain_rate(text)
        if parsed is None:
            return
        rate = ox.NamedNode(f"{node.value}/rate")
        add(node, "jf:rate", rate)
        add(rate, RDF_TYPE, iri("jf:Rate"))
        add(rate, "jf:rateText", string(fix_radicals(text)))
        add(rate, "jf:sourceLine", ox.Literal(str(line), datatype=iri("xsd:integer")))
        kind, num, den, upper = parsed
        if kind == "fixed":
            add(rate, "jf:isFixedAmount", ox.Literal("true", datatype=iri("xsd:boolean")))
        else:
            add(rate, "jf:rateNumerator", ox.Literal(str(num), datatype=iri("xsd:integer")))
            add(rate, "jf:rateDenominator", ox.Literal(str(den), datatype=iri("xsd:integer")))
            add(rate, "jf:rateValue", ox.Literal(f"{round(num / den, 4):.4f}".rstrip("0").rstrip("."),
                                                  datatype=iri("xsd:decimal")))
            if upper:
                add(rate, "jf:isUpperBound", ox.Literal("true", datatype=iri("xsd:boolean")))


_RATE = re.compile(r"^(?:補助率[:：]?)?(\d+)\s*(?:/|分の)\s*(\d+)(以内|以下)?$")
_RATE_BUNBO = re.compile(r"^(?:補助率[:：]?)?(\d+)分の(\d+)(以内|以下)?$")


def _plain_rate(text: str) -> tuple[str, int, int, bool] | None:
    """Parse a 1-4 補助率 cell that is one plain fraction or 定額; else None (kept as text only).

    >>> _plain_rate("'１／２以内")
    ('ratio', 1, 2, True)
    >>> _plain_rate("'３分の２")
    ('ratio', 2, 3, False)
    >>> _plain_rate("'定額") , _plain_rate("'定額、1/2") is None
    (('fixed', 0, 0, False), True)
    """
    import unicodedata
    t = unicodedata.normalize("NFKC", text).strip().lstrip("'").strip()
    if t in ("定額", "定額補助", "補助率:定額", "補助率：定額"):
        return ("fixed", 0, 0, False)
    m = _RATE_BUNBO.match(t)
    if m:
        den, num = int(m.group(1)), int(m.group(2))
        return ("ratio", num, den, bool(m.group(3))) if 0 < num <= den else None
    m = _RATE.match(t)
    if m and "分の" not in t:
        num, den = int(m.group(1)), int(m.group(2))
        return ("ratio", num, den, bool(m.group(3))) if 0 < num <= den else None
    return None


def _yen(v: str) -> int:
    """An exact integer of yen from a cell such as ``"34482000.0"``; ValueError otherwise."""
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    m = re.fullmatch(r"(-?\d+)\.0+", v)
    if m:
        return int(m.group(1))
    raise ValueError(v)


_SHA: dict[Path, str] = {}


def _sha256(path: Path) -> str:
    import hashlib
    if path not in _SHA:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _SHA[path] = h.hexdigest()
    return _SHA[path]


def _curated_units() -> dict[tuple[str, ...], str]:
    """``(経済産業省, 資源エネルギー庁, …) -> IRI`` for the units of graph_data/organisations.ttl."""
    from kg.load import project_root
    path = project_root() / "graph_data" / "organisations.ttl"
    if not path.is_file():
        return {}
    label: dict[str, str] = {}
    parent: dict[str, str] = {}
    kinds: set[str] = set()
    for t in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
        s, p, o = t.subject, t.predicate.value, t.object
        if not isinstance(s, ox.NamedNode):
            continue
        if p == "http://www.w3.org/2000/01/rdf-schema#label" and isinstance(o, ox.Literal) and o.language == "ja":
            label[s.value] = o.value
        elif p == "http://www.w3.org/ns/org#subOrganizationOf" and isinstance(o, ox.NamedNode):
            parent[s.value] = o.value
        elif p == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type" and o.value.endswith("OrganizationalUnit"):
            kinds.add(s.value)
    out: dict[tuple[str, ...], str] = {}
    for s in kinds | {k for k, v in label.items() if v == "経済産業省"}:
        names: list[str] = []
        cur: str | None = s
        while cur is not None and cur in label:
            names.append(label[cur])
            if label[cur] == "経済産業省":
                break
            cur = parent.get(cur)
        if names and names[-1] == "経済産業省":
            out[tuple(reversed(names))] = s
    return out
