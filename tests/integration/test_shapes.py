"""Every SHACL shape has fixtures that prove it fires, and the real graph conforms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib.namespace import RDF, SH

from kg.load import Loaded, data_sources, ontology_sources, project_root
from kg.validate import validate_graph

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "shapes"
INVALID = sorted((FIXTURES / "invalid").glob("*.ttl"))
VALID = sorted((FIXTURES / "valid").glob("*.ttl"))
SUPPORT = [project_root() / "graph_data" / "organisations.ttl", project_root() / "graph_data" / "source.ttl"]


def _validate(extra: Path, shapes):
    loaded = Loaded()
    for f in ontology_sources() + SUPPORT + [extra]:
        loaded.add(f)
    return validate_graph(loaded, shapes)


def _named_shapes(shapes) -> set[str]:
    names = set()
    for kind in (SH.NodeShape, SH.PropertyShape):
        for s in shapes.subjects(RDF.type, kind):
            if not isinstance(s, type(next(iter([s])))) or str(s).startswith("https://w3id.org/jp-funding/ont#"):
                names.add(str(s).rsplit("#", 1)[1])
    return names


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_fails_on_expected_shape_and_path(path: Path, shapes) -> None:
    first, second = path.read_text(encoding="utf-8").splitlines()[:2]
    assert first.startswith("# Invalid: ")
    m = re.fullmatch(r"# Expect: (\S+) (\S+) (Violation|Warning)", second)
    assert m, f"{path.name}: second line must be '# Expect: SHAPE PATH SEVERITY'"
    shape, expected_path, severity = m.groups()
    report = _validate(path, shapes)
    hits = [r for r in report.results if r.shape == shape and r.severity == severity
            and (expected_path == "*" or r.path == expected_path)]
    assert hits, f"{path.name}: no {severity} from {shape} on {expected_path}; got:\n{report.format()}"


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_fixture_has_no_results(path: Path, shapes) -> None:
    assert path.read_text(encoding="utf-8").startswith("# Valid: ")
    report = _validate(path, shapes)
    assert report.results == (), report.format()


def test_every_shape_has_valid_and_invalid_fixtures(shapes) -> None:
    names = _named_shapes(shapes)
    assert len(names) >= 15
    valid = {p.stem.rsplit("-", 1)[0] for p in VALID}
    invalid = {p.stem.rsplit("-", 1)[0] for p in INVALID}
    assert names - invalid == set(), "shapes without an invalid fixture"
    assert names - valid == set(), "shapes without a valid fixture"


def test_fixture_stems_name_existing_shapes(shapes) -> None:
    names = _named_shapes(shapes)
    for p in VALID + INVALID:
        assert p.stem.rsplit("-", 1)[0] in names, p.name


def test_project_graph_conforms(loaded, shapes) -> None:
    report = validate_graph(loaded, shapes)
    assert report.violations == (), report.format()
    assert report.triples > 3000
    assert len(data_sources()) >= 29
