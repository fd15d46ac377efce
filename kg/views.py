"""NetworkX views of the graph: money flows, channels, chains, units, rankings.

All views are built from one or two SPARQL queries on any :class:`kg.store.Store`, so they give
the same answer on the embedded store and on a remote endpoint.

Examples
--------
>>> from kg.store import EmbeddedStore
>>> g = to_networkx(EmbeddedStore.from_paths())
>>> g.nodes["orgs:state"]["label_ja"]
'国'
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import networkx as nx
import pyoxigraph as ox

from kg.errors import UnknownFormat
from kg.formats import compact as plain_iri
from kg.formats import plain
from kg.store import EmbeddedStore, Store, Table

__all__ = [
    "EXPORT_FORMATS",
    "Channel",
    "budgets_by_sheet",
    "chains",
    "channels",
    "export",
    "rank_intermediaries",
    "sheets_of",
    "to_networkx",
    "unit_program_graph",
]

EXPORT_FORMATS = ("graphml", "gexf", "json", "csv")

_FLOWS = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?flow ?of ?funder ?recipient ?hop
       (GROUP_CONCAT(DISTINCT STR(?inst); separator=" ") AS ?instruments)
       (GROUP_CONCAT(DISTINCT ?rt; separator="、") AS ?rates)
       (MAX(?monetary) AS ?is_monetary) WHERE {
  ?flow a jf:FundingFlow ; jf:ofProgram ?of ; jf:funder ?funder ; jf:recipient ?recipient ; jf:instrument ?inst .
  OPTIONAL { ?inst jf:isMonetary ?m }
  BIND (COALESCE(?m, true) AS ?monetary)
  OPTIONAL { ?flow jf:hop ?hop }
  OPTIONAL { ?flow jf:rate/jf:rateText ?rt }
}
GROUP BY ?flow ?of ?funder ?recipient ?hop
"""

_PART_OF = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
SELECT ?program ?parent WHERE { ?program jf:partOf ?parent }
"""

_BUDGETED = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
SELECT DISTINCT ?program WHERE { ?program jf:budget ?b }
"""

_ACTORS = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?actor ?kind ?category ?ja ?en ?home WHERE {
  ?actor a ?kind . FILTER (?kind IN (jf:NamedBody, jf:GenericActor))
  OPTIONAL { ?actor jf:actorCategory ?category }
  OPTIONAL { ?actor rdfs:label ?ja FILTER (LANG(?ja) = "ja") }
  OPTIONAL { ?actor rdfs:label ?en FILTER (LANG(?en) = "en") }
  OPTIONAL { ?actor jf:actorInProgram ?home }
}
"""

_BUDGETS = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
SELECT ?sheet ?fy ?category ?amount WHERE {
  ?sheet jf:budget ?b .
  ?b jf:amount ?amount ; jf:fiscalYear ?fy ; jf:budgetCategory ?category .
}
"""

_UNITS = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?program ?program_label ?unit ?unit_label ?parent ?level WHERE {
  ?program jf:responsibleUnit ?division .
  ?division org:subOrganizationOf* ?unit .
  ?unit a org:OrganizationalUnit ; rdfs:label ?unit_label . FILTER (LANG(?unit_label) = "ja")
  OPTIONAL { ?unit org:subOrganizationOf ?parent }
  OPTIONAL { ?unit org:classification ?level }
  ?program rdfs:label ?program_label . FILTER (LANG(?program_label) = "ja")
}
"""


def _select(store: Store, sparql: str) -> list[dict[str, str]]:
    """Rows of a SELECT as ``{variable: text}`` (compact IRIs, lexical forms; unbound left out).

    On the embedded store the pyoxigraph solutions are read directly, without making an rdflib
    term per cell: at a million triples that is most of the time a view takes.
    """
    if isinstance(store, EmbeddedStore):
        solutions = store.raw.query(sparql)
        names = [v.value for v in solutions.variables]  # type: ignore[union-attr]
        out = []
        for sol in solutions:  # type: ignore[union-attr]
            row = {}
            for i, name in enumerate(names):
                term = sol[i]
                if term is None:
                    continue
                row[name] = plain_iri(term.value) if isinstance(term, ox.NamedNode) else term.value
            out.append(row)
        return out
    answer = store.query(sparql)
    if not isinstance(answer, Table):  # pragma: no cover - these are SELECT queries
        raise TypeError("expected a SELECT answer")
    return [{k: plain(v) for k, v in zip(answer.variables, row) if v is not None} for row in answer.rows]


def budgets_by_sheet(store: Store) -> dict[str, dict[tuple[int, str], int]]:
    """``{sheet: {(fiscal_year, category): yen}}`` for every program with a budget."""
    out: dict[str, dict[tuple[int, str], int]] = defaultdict(dict)
    for r in _select(store, _BUDGETS):
        out[r["sheet"]][(int(r["fy"]), r["category"].removeprefix("jf:"))] = int(Decimal(r["amount"]))
    return dict(out)


def sheets_of(store: Store) -> dict[str, list[str]]:
    """For each program, the budget sheet(s) whose amount contains it.

    The sheet of a program is the program itself or an ancestor by ``jf:partOf`` that has a
    ``jf:budget`` and is not inside another program with a budget: what ``?of jf:partOf* ?sheet .
    ?sheet jf:budget ?b . FILTER NOT EXISTS { ?sheet jf:partOf/jf:partOf* ?top . ?top jf:budget ?t }``
    selects. Computed here from two plain queries, because an engine that evaluates that path with
    both ends open takes minutes at a million triples (ten minutes and more for Oxigraph 0.5).
    """
    parents: dict[str, list[str]] = defaultdict(list)
    for r in _select(store, _PART_OF):
        parents[r["program"]].append(r["parent"])
    budgeted = {r["program"] for r in _select(store, _BUDGETED)}

    def above(p: str, *, strict: bool) -> set[str]:
        seen: set[str] = set() if strict else {p}
        todo = list(parents.get(p, ()))
        while todo:
            q = todo.pop()
            if q not in seen:
                seen.add(q)
                todo.extend(parents.get(q, ()))
        return seen

    out: dict[str, list[str]] = {}
    programs = set(parents) | budgeted | {q for ps in parents.values() for q in ps}
    for p in programs:
        found = sorted(s for s in above(p, strict=False) & budgeted if not above(s, strict=True) & budgeted)
        if found:
            out[p] = found
    return out


def _flows(store: Store, sheets: dict[str, list[str]]) -> list[dict[str, str]]:
    """The rows of :data:`_FLOWS` joined with the sheet of their program (flows of no sheet dropped)."""
    rows = []
    for r in _select(store, _FLOWS):
        for sheet in sheets.get(r["of"], ()):
            rows.append({**r, "sheet": sheet})
    return rows


def to_networkx(store: Store) -> nx.MultiDiGraph:
    """The money-flow graph: actors as nodes, one edge per flow.

    Node attributes: ``kind`` (NamedBody/GenericActor), ``category``, ``label_ja``, ``label_en``,
    ``program`` (for generic actors). Edge attributes: ``flow``, ``program``, ``sheet``,
    ``instruments``, ``rates``, ``hop``, ``monetary``, and ``budget`` — the sheet's budgets as
    ``"FY category": yen`` entries.
    """
    g = nx.MultiDiGraph()
    for r in _select(store, _ACTORS):
        g.add_node(
            r["actor"],
            kind=r["kind"].removeprefix("jf:"),
            category=r.get("category", ""),
            label_ja=r.get("ja", ""),
            label_en=r.get("en", ""),
            program=r.get("home", ""),
        )
    budgets = budgets_by_sheet(store)
    sheets = sheets_of(store)
    for r in _flows(store, sheets):
        b = budgets.get(r["sheet"], {})
        g.add_edge(
            r["funder"],
            r["recipient"],
            key=r["flow"],
            flow=r["flow"],
            program=r["of"],
            sheet=r["sheet"],
            instruments=" ".join(plain_iri(i) for i in r["instruments"].split()),
            rates=r.get("rates", ""),
            hop=int(r["hop"]) if "hop" in r else 0,
            monetary=r.get("is_monetary", "true") == "true",
            budget=json.dumps({f"{fy} {cat}": v for (fy, cat), v in sorted(b.items())}),
        )
    return g


@dataclass
class Channel:
    """What one intermediary channels."""

    body: str
    label_ja: str
    label_en: str
    sheets: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    instruments_in: list[str] = field(default_factory=list)
    instruments_out: list[str] = field(default_factory=list)
    funders: list[str] = field(default_factory=list)
    recipient_categories: list[str] = field(default_factory=list)
    budgets: dict[str, int] = field(default_factory=dict)
    """``"2025 InitialBudget"`` → yen, each sheet counted once."""


def _intermediaries(g: nx.MultiDiGraph) -> list[str]:
    out = []
    for n, data in g.nodes(data=True):
        if g.in_degree(n) == 0:
            continue
        if data.get("kind") == "NamedBody" or g.out_degree(n) > 0:
            out.append(n)
    return sorted(out)


def channels(store: Store, body: str | None = None, *, graph: nx.MultiDiGraph | None = None) -> list[Channel]:
    """For each named body that receives money (or only *body*), what it channels.

    Budgets are those of the sheets the body appears in, each sheet counted once per fiscal year
    and category (a sheet that is part of another program counts as its parent).
    """
    g = graph if graph is not None else to_networkx(store)
    budgets = budgets_by_sheet(store)
    bodies = [n for n in _intermediaries(g) if g.nodes[n].get("kind") == "NamedBody"]
    if body is not None:
        bodies = [b for b in bodies if b == body]
    out = []
    for b in bodies:
        data = g.nodes[b]
        ch = Channel(b, data.get("label_ja", ""), data.get("label_en", ""))
        ins = list(g.in_edges(b, data=True))
        outs = list(g.out_edges(b, data=True))
        ch.sheets = sorted({e["sheet"] for _, _, e in ins})
        ch.programs = sorted({e["program"] for _, _, e in ins + outs})
        ch.instruments_in = sorted({i for _, _, e in ins for i in e["instruments"].split()})
        ch.instruments_out = sorted({i for _, _, e in outs for i in e["instruments"].split()})
        ch.funders = sorted({u for u, _, _ in ins})
        ch.recipient_categories = sorted({g.nodes[v].get("category", "") or v for _, v, _ in outs})
        totals: dict[str, int] = defaultdict(int)
        for s in ch.sheets:
            for (fy, cat), v in budgets.get(s, {}).items():
                totals[f"{fy} {cat}"] += v
        ch.budgets = dict(sorted(totals.items()))
        out.append(ch)
    return out


def chains(store: Store, *, graph: nx.MultiDiGraph | None = None) -> list[dict[str, object]]:
    """Every chain from 国 to a final recipient, per sheet, with hop count and instruments.

    Returns dictionaries with ``sheet``, ``path`` (actor ids), ``category`` (of the last actor),
    ``hops`` and ``instruments`` (one entry per hop).
    """
    g = graph if graph is not None else to_networkx(store)
    out: list[dict[str, object]] = []
    by_sheet: dict[str, nx.MultiDiGraph] = defaultdict(nx.MultiDiGraph)
    for u, v, k, e in g.edges(keys=True, data=True):
        by_sheet[e["sheet"]].add_edge(u, v, key=k, **e)
    for sheet, sg in sorted(by_sheet.items()):
        if "orgs:state" not in sg:
            continue
        sinks = [n for n in sg if sg.out_degree(n) == 0]
        for sink in sorted(sinks):
            for path in nx.all_simple_edge_paths(sg, "orgs:state", sink):
                out.append(
                    {
                        "sheet": sheet,
                        "path": ["orgs:state", *[v for _, v, _ in path]],
                        "category": g.nodes[sink].get("category", "") or sink,
                        "hops": len(path),
                        "instruments": [sg.edges[u, v, k]["instruments"] for u, v, k in path],
                    }
                )
    return out


def unit_program_graph(store: Store) -> nx.Graph:
    """Bipartite graph of units and programs, with every unit linked to its parent unit too.

    Node attribute ``bipartite`` is 0 for units and 1 for programs; unit nodes carry ``level``.
    """
    g = nx.Graph()
    for r in _select(store, _UNITS):
        g.add_node(r["unit"], bipartite=0, label_ja=r["unit_label"], level=r.get("level", ""))
        g.add_node(r["program"], bipartite=1, label_ja=r["program_label"])
        g.add_edge(r["unit"], r["program"], relation="runs")
    return g


BUDGET_LINE_KEYS = ("2024 SupplementaryBudget", "2025 InitialBudget")
"""The amounts the source's budget lines are about: FY2024 supplementary and the FY2025 request.
FY2024 initial figures (in parentheses) and multi-year totals overlap these and are left out."""


def rank_intermediaries(store: Store, *, graph: nx.MultiDiGraph | None = None) -> list[dict[str, object]]:
    """Intermediaries ranked by the budget lines they appear in, then by betweenness centrality.

    ``budget_lines_yen`` adds, over the sheets the body appears in, the FY2024 supplementary
    budget and the FY2025 request (:data:`BUDGET_LINE_KEYS`); each sheet counts once.
    """
    g = graph if graph is not None else to_networkx(store)
    simple = nx.DiGraph(g)
    between = nx.betweenness_centrality(simple)
    rows = []
    for ch in channels(store, graph=g):
        lines = sum(v for k, v in ch.budgets.items() if k in BUDGET_LINE_KEYS)
        rows.append(
            {
                "body": ch.body,
                "label_ja": ch.label_ja,
                "sheets": len(ch.sheets),
                "budget_lines_yen": lines,
                "betweenness": round(between.get(ch.body, 0.0), 6),
            }
        )
    rows.sort(key=lambda r: (-int(r["budget_lines_yen"]), -float(r["betweenness"]), str(r["body"])))  # type: ignore[call-overload]
    return rows


def ids_of(graph: nx.Graph) -> set[str]:
    """Every IRI a view mentions (node ids and id-valued attributes), expanded from prefixed names."""
    from kg.load import PREFIXES

    found: set[str] = set()

    def add(value: object) -> None:
        if isinstance(value, str):
            for part in value.split(","):
                prefix, sep, rest = part.strip().partition(":")
                if sep and prefix in PREFIXES:
                    found.add(PREFIXES[prefix] + rest)
                elif part.strip().startswith(("http://", "https://")):
                    found.add(part.strip())

    for n, d in graph.nodes(data=True):
        add(n)
        for v in d.values():
            add(v)
    for *_, d in graph.edges(data=True):
        for v in d.values():
            add(v)
    return found


def _flat(value: object) -> dict[str, object]:
    """An attribute as one or more flat cells: a dict (or its JSON text) becomes one cell per key."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return {"": value}
    if isinstance(value, dict):
        return {f" {k}": v for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return {"": "; ".join(str(v) for v in value)}
    return {"": value}


def _csv_edges(graph: nx.Graph, labels: Mapping[str, str] | None) -> str:
    from kg.load import PREFIXES

    def label(text: object) -> str:
        if labels is None or not isinstance(text, str):
            return "" if text is None else str(text)
        parts = []
        for part in text.split(","):
            prefix, sep, rest = part.strip().partition(":")
            full = PREFIXES[prefix] + rest if sep and prefix in PREFIXES else part.strip()
            parts.append(labels.get(full, part.strip()))
        return "、".join(parts)

    rows = []
    columns: dict[str, None] = {}
    edges: Iterable[tuple[str, str, dict[str, object]]] = graph.edges(data=True)
    for u, v, d in edges:
        row: dict[str, object] = {"source": u, "target": v}
        if labels is not None:
            row["source_label"] = labels.get(_expand(u), graph.nodes[u].get("label_ja", u))
            row["target_label"] = labels.get(_expand(v), graph.nodes[v].get("label_ja", v))
        for a in sorted(d):
            for suffix, cell in _flat(d[a]).items():
                row[a + suffix] = cell
                if labels is not None and not suffix and isinstance(cell, str) and ":" in cell and a != "rates":
                    text = label(cell)
                    if text != cell:
                        row[f"{a}_label"] = text
        rows.append(row)
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", restval="")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _expand(name: str) -> str:
    from kg.load import PREFIXES

    prefix, sep, rest = name.partition(":")
    return PREFIXES[prefix] + rest if sep and prefix in PREFIXES else name


def export(graph: nx.Graph, fmt: str, path: Path | None = None, *, labels: Mapping[str, str] | None = None) -> str:
    """Write *graph* as GraphML, GEXF, node-link JSON or a CSV edge list; return the text.

    The CSV has one value per cell: attributes holding a mapping (a program's budgets by year and
    category) become one column per key; with ``labels`` (IRI → label) each id column gets a
    ``_label`` column beside it.

    Raises
    ------
    UnknownFormat
    """
    if fmt not in EXPORT_FORMATS:
        raise UnknownFormat(fmt, EXPORT_FORMATS)
    if fmt == "graphml":
        text = "\n".join(nx.generate_graphml(graph))
    elif fmt == "gexf":
        text = "\n".join(nx.generate_gexf(graph))
    elif fmt == "json":
        text = json.dumps(nx.node_link_data(graph, edges="edges"), ensure_ascii=False, indent=1)
    else:
        text = _csv_edges(graph, labels)
    if path is not None:
        path.write_text(text, encoding="utf-8")
    return text
