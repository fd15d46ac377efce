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
from kg.formats import expand, plain
from kg.load import PREFIXES
from kg.store import EmbeddedStore, Store, Table

__all__ = [
    "EXPORT_FORMATS",
    "Channel",
    "budgets_by_sheet",
    "chains",
    "channels",
    "export",
    "rank_intermediaries",
    "rs_block_chains",
    "rs_money_graph",
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
  ?of a jf:Program .  # the PR sheets' flows; the RS spending chains have views of their own
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
SELECT DISTINCT ?program WHERE { ?program a jf:Program ; jf:budget ?b }
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
  ?sheet a jf:Program ; jf:budget ?b .
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


_NAMESPACES = {ns: prefix for prefix, ns in PREFIXES.items()}


class _Compactor(dict[str, str]):
    """:func:`kg.formats.compact` with a memory: a view meets the same IRIs again and again.

    Every namespace of :data:`kg.load.PREFIXES` ends in ``/`` or ``#``, so the longest one an IRI
    starts with is found by cutting the IRI after its last ``/`` or ``#``, then the one before, …
    (the same answer as ``compact``, checked by a doctest).

    Examples
    --------
    >>> c = _Compactor()
    >>> iris = ["https://w3id.org/jp-funding/id/program/a/b", "https://w3id.org/jp-funding/ont#Program",
    ...         "https://w3id.org/jp-funding/id/org/", "http://example.org/x"]
    >>> [c[i] for i in iris] == [plain_iri(i) for i in iris]
    True
    """

    def __missing__(self, iri: str) -> str:
        end = len(iri) - 1  # the namespace must be shorter than the IRI
        out = iri
        while end > 0:
            cut = max(iri.rfind("/", 0, end), iri.rfind("#", 0, end))
            if cut < 0:
                break
            prefix = _NAMESPACES.get(iri[: cut + 1])
            if prefix is not None:
                out = f"{prefix}:{iri[cut + 1:]}"
                break
            end = cut
        self[iri] = out
        return out


def _select(store: Store, sparql: str) -> list[dict[str, str]]:
    """Rows of a SELECT as ``{variable: text}`` (compact IRIs, lexical forms; unbound left out).

    On the embedded store the pyoxigraph solutions are read directly, without making an rdflib
    term per cell: at a million triples that is most of the time a view takes.
    """
    if isinstance(store, EmbeddedStore):
        solutions = store.raw.query(sparql, use_default_graph_as_union=True)  # .nq data: every graph
        names = [v.value for v in solutions.variables]  # type: ignore[union-attr]
        compact = _Compactor()
        named = ox.NamedNode
        out = []
        for sol in solutions:  # type: ignore[union-attr]
            row = {}
            for i, name in enumerate(names):
                term = sol[i]
                if term is None:
                    continue
                row[name] = compact[term.value] if isinstance(term, named) else term.value
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


_CHANNEL_FLOWS = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
SELECT ?of ?funder ?recipient ?inst WHERE {
  ?flow a jf:FundingFlow ; jf:ofProgram ?of ; jf:funder ?funder ; jf:recipient ?recipient ; jf:instrument ?inst .
  ?of a jf:Program .  # the PR sheets' flows; the RS spending chains have views of their own
}
"""
"""One row per flow and instrument: every channel field is a union over rows, so no GROUP BY is
needed (at 1M triples the GROUP_CONCAT of :data:`_FLOWS` costs as much as the join itself)."""

_NAMED_BODIES = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?body ?ja ?en WHERE {
  ?body a jf:NamedBody .
  OPTIONAL { ?body rdfs:label ?ja FILTER (LANG(?ja) = "ja") }
  OPTIONAL { ?body rdfs:label ?en FILTER (LANG(?en) = "en") }
}
"""

_CATEGORIES = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
SELECT ?actor ?category WHERE {
  ?actor a ?kind ; jf:actorCategory ?category . FILTER (?kind IN (jf:NamedBody, jf:GenericActor))
}
"""


def channels(store: Store, body: str | None = None, *, graph: nx.MultiDiGraph | None = None) -> list[Channel]:
    """For each named body that receives money (or only *body*), what it channels.

    Budgets are those of the sheets the body appears in, each sheet counted once per fiscal year
    and category (a sheet that is part of another program counts as its parent).

    Without *graph* this reads six plain queries (flows and their instruments, the named bodies,
    actor categories, the ``jf:partOf`` tree, budgets) and never builds the money-flow graph: the
    same answer as over :func:`to_networkx` (``tests/integration/test_channels_view.py``) in a
    fraction of the time at a million triples (``bench/views.py``).
    """
    if graph is not None:
        return _channels_of_graph(store, graph, body)
    sheets = sheets_of(store)
    budgets = budgets_by_sheet(store)
    labels = {r["body"]: (r.get("ja", ""), r.get("en", "")) for r in _select(store, _NAMED_BODIES)}
    category = {r["actor"]: r["category"] for r in _select(store, _CATEGORIES)}
    ins: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # body → (program, funder, instrument)
    outs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # body → (program, recipient, instrument)
    for r in _select(store, _CHANNEL_FLOWS):
        of, funder, recipient = r["of"], r["funder"], r["recipient"]
        into, out_of = recipient in labels, funder in labels
        if not (into or out_of) or of not in sheets:
            continue  # touches no named body, or a flow of no sheet (no edge of the money-flow graph)
        if into:
            ins[recipient].append((of, funder, r["inst"]))
        if out_of:
            outs[funder].append((of, recipient, r["inst"]))
    bodies = sorted(b for b in ins if b in labels)
    if body is not None:
        bodies = [b for b in bodies if b == body]
    out = []
    for b in bodies:
        ja, en = labels.get(b, ("", ""))
        ch = Channel(b, ja, en)
        ch.sheets = sorted({s for of, _, _ in ins[b] for s in sheets[of]})
        ch.programs = sorted({of for of, _, _ in ins[b] + outs.get(b, [])})
        ch.instruments_in = sorted({i for _, _, i in ins[b]})
        ch.instruments_out = sorted({i for _, _, i in outs.get(b, [])})
        ch.funders = sorted({u for _, u, _ in ins[b]})
        ch.recipient_categories = sorted({category.get(v, "") or v for _, v, _ in outs.get(b, [])})
        ch.budgets = _sheet_totals(ch.sheets, budgets)
        out.append(ch)
    return out


def _sheet_totals(sheets: list[str], budgets: dict[str, dict[tuple[int, str], int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for s in sheets:
        for (fy, cat), v in budgets.get(s, {}).items():
            totals[f"{fy} {cat}"] += v
    return dict(sorted(totals.items()))


def _channels_of_graph(store: Store, g: nx.MultiDiGraph, body: str | None) -> list[Channel]:
    """:func:`channels` read from the money-flow graph of :func:`to_networkx`."""
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
        ch.budgets = _sheet_totals(ch.sheets, budgets)
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
    found: set[str] = set()

    def add(value: object) -> None:
        if isinstance(value, str):
            for part in value.split(","):
                full = expand(part)
                if full.startswith(("http://", "https://")):
                    found.add(full)

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
    def label(text: object) -> str:
        if labels is None or not isinstance(text, str):
            return "" if text is None else str(text)
        return "、".join(labels.get(expand(part), part.strip()) for part in text.split(","))

    rows = []
    columns: dict[str, None] = {}
    edges: Iterable[tuple[str, str, dict[str, object]]] = graph.edges(data=True)
    for u, v, d in edges:
        row: dict[str, object] = {"source": u, "target": v}
        if labels is not None:
            row["source_label"] = labels.get(expand(u), graph.nodes[u].get("label_ja", u))
            row["target_label"] = labels.get(expand(v), graph.nodes[v].get("label_ja", v))
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


# ---------------------------------------------------------------- the national money graph (RS data)

_RS_MONEY = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?program ?program_label ?org ?org_label ?number (SUM(?a) AS ?amount) (COUNT(?item) AS ?items) WHERE {
  ?block a jf:SpendingBlock ; jf:ofProgram ?program ; jf:member ?org .
  OPTIONAL { ?item a jf:SpendingItem ; jf:block ?block ; jf:payee ?org ; jf:amount ?a }
  OPTIONAL { ?program rdfs:label ?program_label }
  OPTIONAL { ?org rdfs:label ?org_label }
  OPTIONAL { ?org jf:corporateNumber ?number }
}
GROUP BY ?program ?program_label ?org ?org_label ?number
"""

_RS_CHAINS = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?flow ?program ?funder ?funder_label ?recipient ?recipient_label ?hop ?kind ?instrument WHERE {
  ?flow a jf:FundingFlow ; jf:ofProgram ?program ; jf:funder ?funder ; jf:recipient ?recipient .
  ?program a jf:ReviewProgram .
  OPTIONAL { ?funder rdfs:label ?funder_label }
  OPTIONAL { ?recipient rdfs:label ?recipient_label }
  OPTIONAL { ?flow jf:hop ?hop }
  OPTIONAL { ?flow jf:sourceText ?kind }
  OPTIONAL { ?flow jf:instrument ?instrument }
}
"""


def rs_money_graph(store: Store) -> nx.Graph:
    """Bipartite graph of RS programs and the named organisations in their spending blocks.

    Node attribute ``bipartite`` is 1 for programs and 0 for organisations (with
    ``corporate_number`` where known); an edge carries ``amount`` (yen itemised in 5-3, 0 when
    the sheet names the body without items) and ``items``. Organisations with a corporate number
    are one node across all programs, so degree is the number of programs a body received from.
    """
    g = nx.Graph()
    for r in _select(store, _RS_MONEY):
        g.add_node(r["program"], bipartite=1, label_ja=r.get("program_label", ""))
        g.add_node(r["org"], bipartite=0, label_ja=r.get("org_label", ""), corporate_number=r.get("number", ""))
        amount = int(Decimal(r.get("amount", "0")))
        if g.has_edge(r["program"], r["org"]):  # pragma: no cover - one row per pair (GROUP BY)
            g[r["program"]][r["org"]]["amount"] += amount
        else:
            g.add_edge(r["program"], r["org"], amount=amount, items=int(r.get("items", "0")))
    return g


def rs_block_chains(store: Store) -> nx.MultiDiGraph:
    """The 5-2 chains: ministries and spending blocks as nodes, one edge per RS funding flow.

    Edges carry ``program``, ``hop``, the published ``kind`` and the mapped ``instrument``;
    ``nx.dag_longest_path_length`` per program gives its depth below the ministry.
    """
    g = nx.MultiDiGraph()
    for r in _select(store, _RS_CHAINS):
        g.add_node(r["funder"], label_ja=r.get("funder_label", ""))
        g.add_node(r["recipient"], label_ja=r.get("recipient_label", ""), program=r["program"])
        g.add_edge(r["funder"], r["recipient"], key=r["flow"], program=r["program"],
                   hop=int(r.get("hop", "0")), kind=r.get("kind", ""), instrument=r.get("instrument", ""))
    return g
