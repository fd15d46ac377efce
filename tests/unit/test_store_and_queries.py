"""Small inline graphs: parameter binding, query forms, formats, syntax errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kg.errors import QueryError, TurtleSyntaxError, UnknownFormat, UnknownName
from kg.formats import render
from kg.load import check_syntax
from kg.queries import get, parse_query_file, to_term
from kg.store import EmbeddedStore, Table, inject_values, query_form

TTL = """@prefix ex: <http://example.org/> .
ex:a ex:p "x" .
ex:b ex:p "y" .
ex:b ex:q 3 .
"""


@pytest.fixture()
def tiny(tmp_path: Path) -> EmbeddedStore:
    f = tmp_path / "tiny.ttl"
    f.write_text(TTL, encoding="utf-8")
    s = EmbeddedStore()
    s.load([f])
    return s


def test_bindings_restrict_results(tiny) -> None:
    t = tiny.query("SELECT ?s WHERE { ?s <http://example.org/p> ?o }", bindings={"o": Literal("y")})
    assert isinstance(t, Table)
    assert t.column("s") == [URIRef("http://example.org/b")]


def test_injected_text_cannot_escape_the_literal(tiny) -> None:
    evil = 'x" } ?s ?p ?o { "'
    t = tiny.query("SELECT ?s WHERE { ?s <http://example.org/p> ?o }", bindings={"o": Literal(evil)})
    assert t.rows == ()


def test_bad_iri_parameter_is_refused() -> None:
    with pytest.raises(QueryError, match="not an IRI"):
        to_term("http://x/> } DROP ALL {", "iri")
    with pytest.raises(QueryError):
        inject_values("SELECT * WHERE { ?s ?p ?o }", {"s": URIRef("http://a b")})


@pytest.mark.parametrize("text,form", [
    ("SELECT * WHERE {?s ?p ?o}", "SELECT"),
    ("# SELECT in a comment\nASK { ?s ?p ?o }", "ASK"),
    ("PREFIX ex: <http://e/describe> CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
    ("DESCRIBE <http://e/a>", "DESCRIBE"),
    ("DELETE WHERE { ?s ?p ?o }", "UPDATE"),
    ('SELECT ("INSERT" AS ?x) {}', "SELECT"),
], ids=["select", "comment", "prefix-iri", "describe", "update", "keyword-in-string"])
def test_query_form(text, form) -> None:
    assert query_form(text) == form


def test_embedded_syntax_error_names_position(tiny) -> None:
    with pytest.raises(QueryError, match="SPARQL syntax error"):
        tiny.query("SELECT ?s WHERE { ?s ?p }")


def test_turtle_syntax_error_has_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.ttl"
    f.write_text("@prefix ex: <http://example.org/> .\nex:a ex:p ex:b .\n\nex:c jfx:p ex:d .\n", encoding="utf-8")
    with pytest.raises(TurtleSyntaxError) as info:
        check_syntax(f)
    assert info.value.line == 4
    assert str(info.value).startswith(f"{f}:4:")
    assert "jfx:" in str(info.value)


def test_bad_file_loses_nothing_already_loaded(tiny, tmp_path: Path) -> None:
    before = tiny.count()
    good = tmp_path / "good.ttl"
    good.write_text("<http://e/x> <http://e/y> <http://e/z> .\n", encoding="utf-8")
    bad = tmp_path / "bad.ttl"
    bad.write_text("<http://e/x> <http://e/y> .\n", encoding="utf-8")
    with pytest.raises(TurtleSyntaxError):
        tiny.load([good, bad])
    assert tiny.count() == before


def test_named_query_parameter_errors() -> None:
    q = get("body-programs")
    with pytest.raises(QueryError, match="needs --param body"):
        q.bind({})
    with pytest.raises(QueryError, match="has no parameter nope"):
        q.bind({"body": "orgs:jetro", "nope": "1"})
    with pytest.raises(UnknownName, match="did you mean: body-programs"):
        get("body-program")


def test_malformed_query_header(tmp_path: Path) -> None:
    f = tmp_path / "x.rq"
    f.write_text("# param: body uri the body\nSELECT * WHERE { ?body ?p ?o }\n", encoding="utf-8")
    with pytest.raises(QueryError, match=r"x.rq:1: malformed param line"):
        parse_query_file(f)


@pytest.mark.parametrize("fmt", ["table", "csv", "tsv", "json"])
def test_render_formats(tiny, fmt) -> None:
    t = tiny.query("SELECT ?s ?n WHERE { ?s <http://example.org/q> ?n }")
    out = render(t, fmt)
    if fmt == "json":
        assert json.loads(out) == [{"s": "http://example.org/b", "n": 3}]
    else:
        assert "http://example.org/b" in out and "3" in out


def test_render_unknown_format(tiny) -> None:
    with pytest.raises(UnknownFormat, match="supported: table, csv, tsv, json"):
        render(True, "xml")
