"""Diagrams on the real ontology and graph_data/: every program's scheme, the Sankey, the gallery.

Expected labels and totals are read from the store with queries written here, never typed in, so
the tests follow the data as sheets are added.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from rdflib import URIRef

from kg import diagrams
from kg.errors import KGError, UnknownFormat, UnknownName
from kg.formats import plain
from kg.load import PREFIXES
from kg.queries import get as named_query
from kg.store import EmbeddedStore, Table

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's 'dot' binary is not installed (apt-get install graphviz fonts-noto-cjk); "
    "SVG/PNG rendering needs it, DOT and Mermaid do not",
)

PREFIX = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

FLOWS_OF = PREFIX + """
SELECT ?flow ?of ?funder ?recipient ?funder_label ?recipient_label ?instrument_label ?rate_text ?text WHERE {
  ?of jf:partOf* ?program .
  ?flow a jf:FundingFlow ; jf:ofProgram ?of ; jf:funder ?funder ; jf:recipient ?recipient .
  OPTIONAL { ?funder rdfs:label ?funder_label FILTER (LANG(?funder_label) = "ja") }
  OPTIONAL { ?recipient rdfs:label ?recipient_label FILTER (LANG(?recipient_label) = "ja") }
  OPTIONAL { ?flow jf:instrument/skos:prefLabel ?instrument_label FILTER (LANG(?instrument_label) = "ja") }
  OPTIONAL { ?flow jf:rate/jf:rateText ?rate_text }
  OPTIONAL { ?flow jf:sourceText ?text }
}
"""


def _table(store: EmbeddedStore, sparql: str, **bindings: URIRef) -> list[dict[str, str]]:
    answer = store.query(sparql, bindings=bindings or None)
    assert isinstance(answer, Table)
    return [{k: plain(v) for k, v in row.items() if v is not None} for row in answer.dicts()]


def _programs() -> list[str]:
    store = EmbeddedStore.from_paths()
    rows = _table(store, PREFIX + "SELECT ?p WHERE { ?p a jf:Program }")
    return sorted(r["p"] for r in rows)


PROGRAMS = _programs()


def _full(name: str) -> URIRef:
    prefix, local = name.split(":", 1)
    return URIRef(PREFIXES[prefix] + local)


@pytest.fixture(scope="session")
def store() -> EmbeddedStore:
    return EmbeddedStore.from_paths()


@pytest.fixture(scope="session")
def hierarchy(store: EmbeddedStore) -> dict[str, str]:
    """child → parent (jf:partOf)."""
    return {r["p"]: r["parent"] for r in _table(store, PREFIX + "SELECT ?p ?parent WHERE { ?p jf:partOf ?parent }")}


@pytest.fixture(scope="session")
def homes(store: EmbeddedStore) -> dict[str, str]:
    """generic actor → the program it belongs to (jf:actorInProgram)."""
    rows = _table(store, PREFIX + "SELECT ?a ?home WHERE { ?a a jf:GenericActor ; jf:actorInProgram ?home }")
    return {r["a"]: r["home"] for r in rows}


def _ancestors(program: str, parent: dict[str, str]) -> list[str]:
    out = []
    while program in parent and parent[program] not in out:
        program = parent[program]
        out.append(program)
    return out


def _expected(store: EmbeddedStore, program: str) -> dict[str, dict[str, object]]:
    """flow → funder, recipient, their labels, instrument labels, rate texts and source text."""
    flows: dict[str, dict[str, object]] = defaultdict(lambda: {"instruments": set(), "rates": set()})
    for r in _table(store, FLOWS_OF, program=_full(program)):
        f = flows[r["flow"]]
        for k in ("of", "funder", "recipient", "funder_label", "recipient_label", "text"):
            if k in r:
                f[k] = r[k]
        if "instrument_label" in r:
            f["instruments"].add(r["instrument_label"])  # type: ignore[union-attr]
        if "rate_text" in r:
            f["rates"].add(r["rate_text"])  # type: ignore[union-attr]
    return dict(flows)


def _unwrap(text: str) -> str:
    return text.replace("\\n", "").replace("\\l", "")


def _node_statements(dot: str) -> dict[str, str]:
    """node id → its statement, for the actor nodes (orgs: / actor:)."""
    out = {}
    for line in dot.splitlines():
        m = re.match(r'\s*"((?:orgs|actor):[^"]+)" \[', line)
        if m:
            out[m.group(1)] = line
    return out


def _attr(statement: str, name: str) -> str:
    m = re.search(rf'\b{name}="((?:[^"\\]|\\.)*)"', statement) or re.search(rf"\b{name}=(\w+)", statement)
    assert m, f"no {name}= in {statement}"
    return m.group(1)


# ---------------------------------------------------------------- every program and sub-measure


def test_there_are_programs_and_sub_measures(hierarchy: dict[str, str]) -> None:
    assert len(PROGRAMS) > 27
    assert any(p in hierarchy for p in PROGRAMS)


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.removeprefix("program:") for p in PROGRAMS])
def test_program_dot_shows_its_actors_instruments_and_rates(
    store: EmbeddedStore, hierarchy: dict[str, str], homes: dict[str, str], program: str
) -> None:
    dot = diagrams.program_dot(store, program)
    assert dot.startswith("digraph") and "rankdir=LR" in dot and diagrams.FONT in dot
    nodes = _node_statements(dot)
    expected = _expected(store, program)
    for flow, f in expected.items():
        for end in ("funder", "recipient"):
            actor = str(f[end])
            assert actor in nodes, f"{program}: actor {actor} of {flow} is not drawn"
            assert str(f[f"{end}_label"]) in _unwrap(_attr(nodes[actor], "label")), (program, actor)
        edges = [line for line in dot.splitlines() if f'id="{flow}"' in line]
        assert len(edges) == 1, f"{program}: {flow} should be one arrow"
        edge = edges[0]
        assert edge.lstrip().startswith(f'"{f["funder"]}" -> "{f["recipient"]}"')
        for text in [*f["instruments"], *f["rates"]]:  # type: ignore[misc]
            assert text in _unwrap(edge), f"{program}: {text!r} missing on {flow}"
        if "text" in f:
            assert _unwrap(_attr(edge, "label")) == f["text"]
    # no actor of another program: only the tree's flows and the ancestors' (grey context) appear
    allowed = {"orgs:state"} | {str(f[e]) for f in expected.values() for e in ("funder", "recipient")}
    for up in _ancestors(program, hierarchy):
        allowed |= {str(f[e]) for f in _expected(store, up).values()
                    if f["of"] == up for e in ("funder", "recipient")}
    assert set(nodes) <= allowed, f"{program}: foreign actors {set(nodes) - allowed}"
    sheet = [program, *_ancestors(program, hierarchy)][-1]
    for actor in nodes:
        if actor in homes:  # a generic actor belongs to this sheet (or to a sheet inside it)
            assert [homes[actor], *_ancestors(homes[actor], hierarchy)][-1] == sheet, actor
    assert '"table" [shape=plain label=<<TABLE' in dot


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.removeprefix("program:") for p in PROGRAMS])
def test_program_mermaid_renders(store: EmbeddedStore, program: str) -> None:
    text = diagrams.program_mermaid(store, program)
    lines = text.splitlines()
    assert lines[0].startswith(f"%% {program}") and lines[1] == "flowchart LR"
    plain_text = html.unescape(text.replace("<br/>", "")).replace("#quot;", '"')
    for f in _expected(store, program).values():
        assert str(f["funder_label"]) in plain_text and str(f["recipient_label"]) in plain_text
        if "text" in f:
            assert f'|"{f["text"]}"|' in plain_text


def test_full_iri_and_bare_slug_name_the_same_program(store: EmbeddedStore) -> None:
    by_prefix = diagrams.program_dot(store, "program:go-tech-r7")
    assert diagrams.program_dot(store, "https://w3id.org/jp-funding/id/program/go-tech-r7") == by_prefix
    assert diagrams.program_dot(store, "<https://w3id.org/jp-funding/id/program/go-tech-r7>") == by_prefix
    assert diagrams.program_dot(store, "go-tech-r7") == by_prefix


def test_sub_measures_are_clusters(store: EmbeddedStore) -> None:
    dot = diagrams.program_dot(store, "program:global-south-co-creation-r6s")
    assert dot.count("subgraph cluster_") >= 2
    mermaid = diagrams.program_mermaid(store, "program:global-south-co-creation-r6s")
    assert mermaid.count("subgraph c") >= 2


def test_sub_measure_shows_the_parent_arrows_leading_in(store: EmbeddedStore) -> None:
    dot = diagrams.program_dot(store, "program:large-scale-growth-investment-r6s-1")
    state_edges = [line for line in dot.splitlines() if line.lstrip().startswith('"orgs:state" -> "actor:')]
    assert state_edges and all(diagrams._CONTEXT_COLOR in line for line in state_edges)


def test_unknown_program_suggests_close_matches(store: EmbeddedStore) -> None:
    with pytest.raises(UnknownName) as info:
        diagrams.program_dot(store, "program:go-tec-r7")
    assert "program:go-tech-r7" in info.value.candidates
    assert "did you mean" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, KGError)
    with pytest.raises(UnknownName) as by_label:
        diagrams.program_mermaid(store, "中小企業生産性革命推進")
    assert "program:sme-productivity-revolution-r6s" in by_label.value.candidates
    with pytest.raises(UnknownName):
        diagrams.render_program(store, "program:no-such-thing", fmt="dot")
    with pytest.raises(UnknownName):
        diagrams.sankey_figure(store, programs=["program:go-tec-r7"])


def test_unknown_format_lists_supported(store: EmbeddedStore) -> None:
    with pytest.raises(UnknownFormat, match="svg, png, dot, mermaid"):
        diagrams.render_program(store, "program:go-tech-r7", fmt="pdf")
    with pytest.raises(UnknownFormat):
        diagrams.sankey_static(store, fmt="jpeg")
    with pytest.raises(UnknownName):
        diagrams.sankey_figure(store, category="Initial")


@pytest.mark.parametrize("fmt", ["dot", "mermaid"], ids=["dot", "mermaid"])
def test_render_program_text_formats(store: EmbeddedStore, fmt: str) -> None:
    out = diagrams.render_program(store, "program:sme-productivity-revolution-r6s", fmt=fmt)
    assert "中小企業基盤整備機構" in out.decode("utf-8")


@needs_dot
def test_svg_of_sme_productivity_has_smrj_and_grant(store: EmbeddedStore) -> None:
    svg = diagrams.render_program(store, "program:sme-productivity-revolution-r6s", fmt="svg").decode("utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "中小企業基盤整備機構" in svg
    assert "交付金" in svg
    assert diagrams.FONT in svg


@needs_dot
def test_png_renders(store: EmbeddedStore) -> None:
    png = diagrams.render_program(store, "program:large-scale-growth-investment-r6s", fmt="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- Sankey


def _budget_total(store: EmbeddedStore, fiscal_year: int, category: str) -> int:
    answer = named_query("budget-totals").run(store)
    assert isinstance(answer, Table)
    for row in answer.dicts():
        if int(str(row["fiscal_year"])) == fiscal_year and plain(row["category"]) == f"jf:{category}":
            return int(str(row["total"]))
    return 0


CASES = [(2025, "InitialBudget"), (2024, "SupplementaryBudget"), (2024, "InitialBudget")]


@pytest.mark.parametrize(("fiscal_year", "category"), CASES, ids=[f"{y}-{c}" for y, c in CASES])
def test_sankey_total_out_of_the_state_equals_budget_totals(
    store: EmbeddedStore, fiscal_year: int, category: str
) -> None:
    expected = _budget_total(store, fiscal_year, category)
    assert expected > 0
    fig = diagrams.sankey_figure(store, fiscal_year=fiscal_year, category=category)
    sankey = fig.data[0]
    keys = list(sankey.node.customdata)
    state = keys.index("orgs:state")
    links = list(zip(sankey.link.source, sankey.link.target, sankey.link.value))
    assert sum(v for s, _, v in links if s == state) == expected
    assert not any(t == state for _, t, _ in links), "nothing flows back to the state"
    # money is conserved: no node passes on more than it receives
    received: dict[int, float] = defaultdict(float)
    sent: dict[int, float] = defaultdict(float)
    for s, t, v in links:
        received[t] += v
        sent[s] += v
    for node, out in sent.items():
        if node != state:
            assert out <= received[node], keys[node]


def test_sankey_of_chosen_programs(store: EmbeddedStore) -> None:
    program = "program:sme-productivity-revolution-r6s"
    rows = _table(store, PREFIX + """SELECT ?amount WHERE { ?program jf:budget ?b . ?b jf:amount ?amount ;
        jf:fiscalYear ?fy ; jf:budgetCategory jf:SupplementaryBudget . FILTER (STR(?fy) = "2024") }""",
                  program=_full(program))
    nodes, links = diagrams.sankey_links(store, fiscal_year=2024, category="SupplementaryBudget", programs=[program])
    assert sum(link.value for link in links if link.source == "orgs:state") == sum(int(r["amount"]) for r in rows)
    assert "orgs:smrj" in {n.key for n in nodes}


def test_sankey_html_is_standalone(store: EmbeddedStore) -> None:
    page = diagrams.sankey_html(store, fiscal_year=2024, category="SupplementaryBudget")
    assert "<html>" in page[:200]
    assert not re.search(r"<script[^>]+src=", page), "plotly.js must be inline, not from a CDN"
    data, layout = _plotly_figure(page)
    (trace,) = data
    assert trace["type"] == "sankey"
    assert any("中小企業基盤整備機構" in label for label in trace["node"]["label"])
    assert isinstance(layout, dict)


def _plotly_figure(page: str) -> tuple[list[dict], dict]:
    """The data and layout arguments of the page's ``Plotly.newPlot(id, data, layout, …)`` call, parsed.

    plotly writes them as JSON; whether non-ASCII text comes out raw or as ``\\uXXXX`` depends on its
    version, so the test reads the decoded JSON rather than the page's bytes.
    """
    start = page.index("Plotly.newPlot(") + len("Plotly.newPlot(")
    decoder = json.JSONDecoder()
    args: list[object] = []
    pos = start
    while len(args) < 3:
        while page[pos] in " \t\r\n,":
            pos += 1
        value, pos = decoder.raw_decode(page, pos)
        args.append(value)
    _id, data, layout = args
    assert isinstance(data, list) and isinstance(layout, dict)
    return data, layout


@needs_dot
@pytest.mark.parametrize("fmt", ["svg", "png"], ids=["svg", "png"])
def test_sankey_static(store: EmbeddedStore, fmt: str) -> None:
    out = diagrams.sankey_static(store, fiscal_year=2024, category="SupplementaryBudget", fmt=fmt)
    if fmt == "svg":
        assert "<svg" in out.decode("utf-8") and "国" in out.decode("utf-8")
    else:
        assert out[:4] == b"\x89PNG"


@needs_dot
def test_channels_svg(store: EmbeddedStore) -> None:
    svg = diagrams.channels_svg(store).decode("utf-8")
    assert "<svg" in svg and "中小企業基盤整備機構" in svg and "日本貿易振興機構" in svg


@needs_dot
def test_gallery_writes_every_program_and_an_index(store: EmbeddedStore, tmp_path: Path) -> None:
    written = diagrams.gallery(store, tmp_path)
    names = {p.name for p in written}
    assert {"index.html", "sankey.html"} <= names
    svgs = [p for p in written if p.suffix == ".svg" and p.name != "channels.svg"]
    assert len(svgs) == len(PROGRAMS)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    for p in svgs:
        assert p.read_bytes().lstrip().startswith(b"<?xml")
        assert f'href="{p.name}"' in index
    assert 'href="sankey.html"' in index


# ---------------------------------------------------------------- chains of blocks and edges (RS spending chains)


@pytest.mark.parametrize("program", ["program:sme-productivity-revolution-r6s", "program:large-scale-growth-investment-r6s"])
def test_program_chain_has_the_schemes_arrows(store, program: str) -> None:
    chain = diagrams.program_chain(store, program)
    dot = diagrams.program_dot(store, program)
    drawn = set(re.findall(r'^\s+"([^"]+)" -> "([^"]+)" \[id=', dot, flags=re.MULTILINE))
    assert {(e.source, e.target) for e in chain.edges} == drawn and drawn
    assert {b.key for b in chain.blocks} >= {x for pair in drawn for x in pair}
    assert chain_labels_are_labels(chain)


def chain_labels_are_labels(chain: diagrams.Chain) -> bool:
    return all(":" not in b.label for b in chain.blocks)


def test_chain_writers_show_amounts_and_refuse_broken_chains() -> None:
    chain = diagrams.Chain("RS 支出先", [diagrams.Block("s", "国", "state"), diagrams.Block("c", "株式会社A", "beneficiary")],
                           [diagrams.Edge("s", "c", "委託", amount=4_500_000_000)])
    assert "45億円" in diagrams.chain_dot(chain) and "45億円" in diagrams.chain_mermaid(chain)
    with pytest.raises(UnknownFormat):
        diagrams.render_chain(chain, fmt="pdf")
    broken = diagrams.Chain("x", [diagrams.Block("s", "国", "state")], [diagrams.Edge("s", "nowhere")])
    with pytest.raises(ValueError, match="no block 'nowhere'"):
        diagrams.chain_dot(broken)


@needs_dot
def test_chain_renders_svg() -> None:
    chain = diagrams.Chain("RS", [diagrams.Block("s", "国", "state"), diagrams.Block("c", "株式会社A", "beneficiary")],
                           [diagrams.Edge("s", "c", "補助", amount=610_000_000)])
    svg = diagrams.render_chain(chain, fmt="svg").decode()
    assert "<svg" in svg and "株式会社A" in svg and "6.1億円" in svg
