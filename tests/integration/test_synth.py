"""``kg synth``: a deterministic synthetic graph shaped like graph_data/ that passes ``kg validate``.

The graphs are written into ``tmp_path`` by the tests (no fixture files). The same file is then
read by ``kg validate``, ``kg query --data`` and ``kg serve --data`` (issue 6: those commands work
on any data, not only graph_data/).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from kg import synth
from kg.cli import main
from kg.fastshacl import Dataset, validate_dataset
from kg.launch import free_port
from kg.load import ontology_sources

JF = "https://w3id.org/jp-funding/ont#"
PREFIXES = f"""PREFIX jf: <{JF}>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""
N = 120


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth") / f"synth-{N}.ttl"
    code = main(["synth", "--programs", str(N), "--seed", "7", "-o", str(path)])
    assert code == 0
    return path


@pytest.fixture(scope="module")
def store(graph: Path) -> ox.Store:
    s = ox.Store()
    s.load(path=str(graph), format=ox.RdfFormat.TURTLE)
    return s


def _rows(store: ox.Store, sparql: str) -> list[dict[str, str]]:
    solutions = store.query(PREFIXES + sparql)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [v.value for v in solutions.variables]
    return [{n: s[n].value for n in names if s[n] is not None} for s in solutions]


def _one(store: ox.Store, sparql: str) -> int:
    [row] = _rows(store, sparql)
    return int(next(iter(row.values())))


def test_synth_validates_with_no_violation_and_no_warning(graph: Path) -> None:
    report = validate_dataset(Dataset(ontology_sources() + [graph]))
    assert report.results == (), report.format()
    assert report.triples > 15_000


def test_same_seed_same_bytes_other_seed_other_graph() -> None:
    a, n_a = synth.synth(30, seed=1)
    b, n_b = synth.synth(30, seed=1)
    c, _ = synth.synth(30, seed=2)
    assert a == b and n_a == n_b
    assert a != c


def test_triple_count_is_exact_and_scales_to_a_million_at_5000() -> None:
    text, n = synth.synth(25, seed=3)
    parsed = sum(1 for _ in ox.parse(text.encode(), format=ox.RdfFormat.TURTLE))
    assert parsed == n
    _, big = synth.synth(5000, seed=1)
    assert 900_000 <= big <= 1_100_000


def test_house_style_and_iri_patterns(graph: Path) -> None:
    text = graph.read_text(encoding="utf-8")
    prefixes = re.findall(r"^@prefix (\w+):", text, re.MULTILINE)
    assert prefixes == sorted(prefixes)
    assert "_:" not in text and "[" not in text.split("\n\n", 1)[1]  # no blank nodes
    assert re.search(r"^program:[a-z]+-[a-z-]+-\d{5}-r(7|6s)\n    a jf:Program ;$", text, re.MULTILINE)
    assert re.search(r"^budget:\S+-2025-initial\n    a jf:BudgetAmount ;$", text, re.MULTILINE)
    assert re.search(r"^actor:\S+-smes-\d+\n    a jf:GenericActor ;$", text, re.MULTILINE)
    for kind in ("flow", "rate", "cap", "target"):
        assert re.search(rf"^{kind}:\S+-\d+\n    a jf:", text, re.MULTILINE), kind


def test_budgets_cover_both_years_and_all_three_categories(store: ox.Store) -> None:
    rows = _rows(store, "SELECT DISTINCT ?fy ?cat WHERE { ?b jf:fiscalYear ?fy ; jf:budgetCategory ?cat }")
    seen = {(r["fy"], r["cat"].rsplit("#", 1)[1]) for r in rows}
    assert {("2024", "InitialBudget"), ("2025", "InitialBudget"), ("2024", "SupplementaryBudget")} <= seen
    assert {c for _, c in seen} == {"InitialBudget", "SupplementaryBudget", "MultiYearTotal"}
    sheets = _one(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p jf:budgetLineText ?t FILTER NOT EXISTS "
                         "{ ?p jf:partOf ?x } }")
    assert sheets == N


def test_sub_measures_with_part_of_some_nested_and_same_scheme_pairs(store: ox.Store) -> None:
    subs = _one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s jf:partOf ?p }")
    nested = _one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s jf:partOf/jf:partOf ?p }")
    pairs = _one(store, "SELECT (COUNT(*) AS ?n) WHERE { ?a jf:sameSchemeAs ?b . ?b jf:sameSchemeAs ?a }")
    assert subs > N and nested > 0 and pairs > 0


def test_chains_have_two_to_four_hops_from_the_state(store: ox.Store) -> None:
    # a chain ends at an actor that passes nothing on; walk it back to 国
    rows = _rows(store, """
        SELECT ?end (MAX(?hop) AS ?hops) (COUNT(?f) AS ?flows) WHERE {
          ?last jf:recipient ?end ; jf:hop ?hop .
          FILTER NOT EXISTS { ?next jf:funder ?end }
          ?f jf:recipient ?end .
        } GROUP BY ?end""")
    hops = {int(r["hops"]) for r in rows}
    assert hops == {2, 3, 4}
    first = _rows(store, "SELECT DISTINCT ?funder WHERE { ?f jf:hop 1 ; jf:funder ?funder }")
    assert [r["funder"] for r in first] == ["https://w3id.org/jp-funding/id/org/state"]
    # every flow past hop 1 starts where a flow of the same program one hop earlier ended
    broken = _one(store, """
        SELECT (COUNT(*) AS ?n) WHERE {
          ?f jf:hop ?h ; jf:funder ?x ; jf:ofProgram ?p . FILTER (?h > 1)
          FILTER NOT EXISTS { ?g jf:recipient ?x ; jf:hop ?h0 ; jf:ofProgram ?p . FILTER (?h0 = ?h - 1) }
        }""")
    assert broken == 0


def test_a_few_dozen_shared_intermediaries_used_by_many_programs(store: ox.Store) -> None:
    rows = _rows(store, """
        SELECT ?body (COUNT(DISTINCT ?p) AS ?programs) WHERE {
          ?body a jf:NamedBody . ?f jf:recipient ?body ; jf:ofProgram ?of . ?of jf:partOf* ?p .
          FILTER NOT EXISTS { ?p jf:partOf ?up }
        } GROUP BY ?body ORDER BY DESC(?programs)""")
    assert 24 <= len(rows) <= 60
    assert int(rows[0]["programs"]) >= N // 8  # the busiest body carries a large share
    generic = _one(store, """SELECT (COUNT(*) AS ?n) WHERE { ?a a jf:GenericActor ; jf:actorInProgram ?p }""")
    assert generic > N


def test_rates_by_beneficiary_class_caps_and_targets(store: ox.Store) -> None:
    classes = _rows(store, "SELECT DISTINCT ?c WHERE { ?r a jf:Rate ; jf:appliesTo ?c }")
    assert {r["c"].rsplit("/", 1)[1] for r in classes} >= {"smes", "large-companies"}
    assert _one(store, "SELECT (COUNT(*) AS ?n) WHERE { ?r jf:isFixedAmount true }") > 0
    assert _one(store, "SELECT (COUNT(*) AS ?n) WHERE { ?c a jf:Cap ; jf:capKind ?k }") > 0
    assert _one(store, "SELECT (COUNT(*) AS ?n) WHERE { ?t a jf:OutcomeTarget ; jf:targetYear ?y }") >= N


def test_units_form_ministry_bureau_department_division_trees(store: ox.Store) -> None:
    rows = _rows(store, """
        SELECT ?division ?top WHERE {
          ?p jf:responsibleUnit ?division .
          ?division org:subOrganizationOf ?dept . ?dept org:subOrganizationOf ?bureau .
          ?bureau org:subOrganizationOf ?top .
          ?division org:classification <https://w3id.org/jp-funding/id/unit-level/division> .
          ?dept org:classification <https://w3id.org/jp-funding/id/unit-level/department> .
          ?bureau org:classification <https://w3id.org/jp-funding/id/unit-level/bureau> .
          FILTER NOT EXISTS { ?top a org:OrganizationalUnit }
          ?top a jf:NamedBody .
        }""")
    assert len({r["top"] for r in rows}) >= 8
    unplaced = _one(store, "SELECT (COUNT(*) AS ?n) WHERE { ?p jf:responsibleUnit ?u FILTER NOT EXISTS "
                           "{ ?u org:subOrganizationOf/org:subOrganizationOf/org:subOrganizationOf ?top } }")
    assert unplaced == 0


def test_source_document_with_sha256(store: ox.Store) -> None:
    rows = _rows(store, "SELECT ?s ?h WHERE { ?s a jf:SourceDocument ; jf:sha256 ?h }")
    assert len(rows) == 1 and re.fullmatch(r"[0-9a-f]{64}", rows[0]["h"])
    derived = _one(store, "SELECT (COUNT(*) AS ?n) WHERE { ?p a jf:Program FILTER NOT EXISTS "
                          "{ ?p <http://www.w3.org/ns/prov#wasDerivedFrom> ?s } }")
    assert derived == 0


def test_cli_validate_and_query_take_the_file(graph: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(graph)]) == 0
    assert "0 violations, 0 warnings" in capsys.readouterr().err
    assert main(["query", "budget-totals", "--data", str(graph), "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["category"] for r in rows} == {"jf:InitialBudget", "jf:SupplementaryBudget", "jf:MultiYearTotal"}
    assert sum(r["programs"] for r in rows if r["category"] != "jf:MultiYearTotal") >= N
    assert main(["synth", "--programs", "0", "-o", str(graph.parent / "x.ttl")]) == 2


def test_serve_takes_the_file(graph: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kg", "serve", "--data", str(graph), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/sparql"
    query = PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { ?p jf:budgetLineText ?t }"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = httpx.get(url, params={"query": query},
                                 headers={"Accept": "application/sparql-results+json"}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "kg serve did not answer within 60 s"
                time.sleep(0.2)
        assert resp.status_code == 200
        assert int(resp.json()["results"]["bindings"][0]["n"]["value"]) >= N
    finally:
        proc.terminate()
        proc.wait(timeout=10)
