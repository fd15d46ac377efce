"""``kg validate DATA --shapes SHAPES``: the silent "conforms" cases of issue 12, the report graph, exit codes.

Each of the first four tests is a case where the fast engine before issue 12 answered "conforms,
0 results" on data that violates the shapes. Both engines run each case through the CLI, and the
report is read back from ``--format turtle`` (parsed, not compared as text).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import RDF, SH, XSD

from kg.cli import main
from kg.shacl.shapes import as_written

PREFIXES = """@prefix ex: <http://example.org/> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
EX = rdflib.Namespace("http://example.org/")
ENGINES = ("fast", "pyshacl")


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: str, shapes: str, engine: str,
         fmt: str = "turtle") -> tuple[int, str, str]:
    d, s = tmp_path / "data.ttl", tmp_path / "shapes.ttl"
    d.write_text(PREFIXES + data, encoding="utf-8")
    s.write_text(PREFIXES + shapes, encoding="utf-8")
    code = main(["validate", str(d), "--shapes", str(s), "--engine", engine, "--format", fmt])
    out, err = capsys.readouterr()
    return code, out, err


def _results(out: str) -> tuple[bool, set[tuple[rdflib.term.Node | None, ...]]]:
    with as_written():  # rdflib would read "01"^^xsd:integer as "1"
        g = rdflib.Graph().parse(data=out, format="turtle")
    (report,) = g.subjects(RDF.type, SH.ValidationReport)
    rows = {(g.value(r, SH.focusNode), g.value(r, SH.value), g.value(r, SH.sourceConstraintComponent),
             g.value(r, SH.resultSeverity)) for r in g.objects(report, SH.result)}
    return bool(g.value(report, SH.conforms).toPython()), rows


@pytest.mark.parametrize("engine", ENGINES)
def test_custom_sparql_constraint_component_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       engine: str) -> None:
    shapes = """
ex:MaxLengthComponent a sh:ConstraintComponent ;
    sh:parameter [ sh:path ex:maxChars ] ;
    sh:propertyValidator [
        a sh:SPARQLSelectValidator ;
        sh:select "SELECT $this ?value WHERE { $this $PATH ?value . FILTER (STRLEN(STR(?value)) > $maxChars) }" ;
    ] .
ex:S a sh:NodeShape ;
    sh:targetClass ex:C ;
    sh:property [ sh:path ex:name ; ex:maxChars 3 ] .
"""
    code, out, err = _run(tmp_path, capsys, 'ex:a a ex:C ; ex:name "toolong" .\nex:b a ex:C ; ex:name "ok" .\n',
                          shapes, engine)
    conforms, rows = _results(out)
    assert (code, conforms) == (1, False)
    assert rows == {(EX.a, rdflib.Literal("toolong"), EX.MaxLengthComponent, SH.Violation)}
    if engine == "fast":
        assert "validated by pySHACL" in err and "constraint component" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_equals_and_disjoint_on_a_node_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             engine: str) -> None:
    shapes = """
ex:Same a sh:NodeShape ; sh:targetNode ex:a, ex:b ; sh:equals ex:self .
ex:Apart a sh:NodeShape ; sh:targetNode ex:a, ex:b ; sh:disjoint ex:other .
"""
    data = "ex:a ex:self ex:a ; ex:other ex:a .\nex:b ex:self ex:b ; ex:other ex:a .\n"
    code, out, _ = _run(tmp_path, capsys, data, shapes, engine)
    conforms, rows = _results(out)
    assert (code, conforms) == (1, False)
    assert rows == {(EX.a, EX.a, SH.DisjointConstraintComponent, SH.Violation)}


@pytest.mark.parametrize("engine", ENGINES)
def test_implicit_class_target_reaches_instances_of_subclasses(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               engine: str) -> None:
    shapes = "ex:Person a rdfs:Class, sh:NodeShape ;\n    sh:property [ sh:path ex:name ; sh:minCount 1 ] .\n"
    data = "ex:Student rdfs:subClassOf ex:Person .\nex:s a ex:Student .\nex:p a ex:Person ; ex:name \"P\" .\n"
    code, out, _ = _run(tmp_path, capsys, data, shapes, engine)
    conforms, rows = _results(out)
    assert (code, conforms) == (1, False)
    assert rows == {(EX.s, None, SH.MinCountConstraintComponent, SH.Violation)}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("where", [
    "{ FILTER ($this = ex:bad) }",
    "{ $this ex:p ?y } UNION { FILTER ($this = ex:bad) }",
    "{ { FILTER (sameTerm($this, ex:bad)) } }",
], ids=["nested-group", "union", "nested-filter"])
def test_this_is_pre_bound_in_nested_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str,
                                            where: str) -> None:
    shapes = f"""
ex:S a sh:NodeShape ;
    sh:targetNode ex:bad, ex:good ;
    sh:sparql [ sh:prefixes ex:decl ; sh:select "SELECT $this WHERE {{ {where} }}" ] .
ex:decl sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^xsd:anyURI ] .
"""
    code, out, _ = _run(tmp_path, capsys, "ex:x ex:p ex:y .\n", shapes, engine)
    conforms, rows = _results(out)
    assert (code, conforms) == (1, False)
    assert rows == {(EX.bad, EX.bad, SH.SPARQLConstraintComponent, SH.Violation)}


@pytest.mark.parametrize("engine", ENGINES)
def test_warnings_make_conforms_false_but_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    engine: str) -> None:
    shapes = "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:severity sh:Warning ; sh:class ex:C .\n"
    code, out, _ = _run(tmp_path, capsys, "ex:a ex:p 1 .\n", shapes, engine)
    conforms, rows = _results(out)
    assert (code, conforms) == (0, False)
    assert rows == {(EX.a, EX.a, SH.ClassConstraintComponent, SH.Warning)}
    code, out, err = _run(tmp_path, capsys, "ex:a ex:p 1 .\n", shapes, engine, fmt="text")
    assert code == 0 and "Warning: " in err and "0 violation(s), 1 warning(s)" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_values_keep_their_lexical_form_and_datatype(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     engine: str) -> None:
    shapes = """
ex:S a sh:NodeShape ; sh:targetNode ex:a ;
    sh:property [ sh:path ex:small ; sh:datatype xsd:byte ] ;
    sh:property [ sh:path ex:n ; sh:pattern "^[1-9]" ] ;
    sh:property [ sh:path ex:d ; sh:maxLength 2 ] .
"""
    data = 'ex:a ex:small "300"^^xsd:byte, "3"^^xsd:byte ; ex:n "01"^^xsd:integer ; ex:d 1.0 .\n'
    code, out, _ = _run(tmp_path, capsys, data, shapes, engine)
    conforms, rows = _results(out)
    values = {(str(v), v.datatype) for _, v, _, _ in rows if isinstance(v, rdflib.Literal)}
    assert code == 1 and not conforms
    assert values == {("300", XSD.byte), ("01", XSD.integer), ("1.0", XSD.decimal)}


@pytest.mark.parametrize("query", [
    "SELECT $this WHERE { $this ?p ?o . SERVICE <http://example.org/sparql> { ?a ?b ?c } }",
    "SELECT $this WHERE { $this ?p ?o . MINUS { $this ?p 1 } }",
    "SELECT $this WHERE { VALUES ?o { 1 } $this ?p ?o }",
    "SELECT $this WHERE { $this ?p ?o . BIND (1 AS ?value) }",
], ids=["service", "minus", "values", "reassign-value"])
@pytest.mark.parametrize("engine", ENGINES)
def test_forbidden_sparql_is_refused_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          engine: str, query: str) -> None:
    shapes = f'ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:sparql [ sh:select "{query}" ] .\n'
    code, out, err = _run(tmp_path, capsys, "ex:a ex:p 1 .\n", shapes, engine)
    assert code == 2 and out == ""
    assert "not allowed" in err or "cannot be assigned" in err
    assert "Traceback" not in err


def test_node_results_name_the_node_constraint_component(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shapes = "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:property [ sh:path ex:p ; sh:node ex:T ] .\n" \
             "ex:T a sh:NodeShape ; sh:class ex:C .\n"
    _, out, _ = _run(tmp_path, capsys, "ex:a ex:p ex:b .\n", shapes, "fast")
    assert _results(out)[1] == {(EX.a, EX.b, SH.NodeConstraintComponent, SH.Violation)}


def test_json_report_is_json_ld_of_the_same_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shapes = "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:class ex:C .\n"
    code, out, _ = _run(tmp_path, capsys, "ex:a ex:p 1 .\n", shapes, "fast", fmt="json")
    assert code == 1
    g = rdflib.Graph().parse(data=json.dumps(json.loads(out)), format="json-ld")
    (result,) = g.subjects(RDF.type, SH.ValidationResult)
    assert g.value(result, SH.focusNode) == EX.a and g.value(result, SH.resultMessage) is not None


def test_shapes_without_data_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = tmp_path / "shapes.ttl"
    s.write_text(PREFIXES, encoding="utf-8")
    assert main(["validate", "--shapes", str(s)]) == 2
    assert "name the data files" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ENGINES)
def test_literals_the_store_would_merge_are_counted_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          engine: str) -> None:
    # "1" and "01" are two triples in the file; Oxigraph stores both as "1": the run goes to pySHACL
    shapes = "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:property [ sh:path ex:n ; sh:maxCount 1 ] .\n"
    code, out, err = _run(tmp_path, capsys, 'ex:a ex:n 1, "01"^^xsd:integer .\n', shapes, engine)
    assert (code, _results(out)[1]) == (1, {(EX.a, None, SH.MaxCountConstraintComponent, SH.Violation)})
    if engine == "fast":
        assert "validated with pySHACL" in err


def test_unknown_shacl_terms_are_named_and_left_to_pyshacl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shapes = "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:minCont 1 ; sh:class ex:C .\n"
    code, out, err = _run(tmp_path, capsys, "ex:a ex:p 1 .\n", shapes, "fast")
    assert "sh:minCont is not a SHACL term" in err
    assert (code, _results(out)[1]) == (1, {(EX.a, EX.a, SH.ClassConstraintComponent, SH.Violation)})


@pytest.mark.parametrize("engine", ENGINES)
def test_a_query_that_does_not_parse_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  engine: str) -> None:
    shapes = 'ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:sparql [ sh:select "SELECT $this WHERE { $this ex:p }" ] .\n'
    code, out, err = _run(tmp_path, capsys, "ex:a ex:p 1 .\n", shapes, engine)
    assert (code, out) == (2, "")
    assert "does not parse" in err and "Traceback" not in err
