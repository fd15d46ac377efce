"""Vocabulary lint: terms exist, prefixes are well formed, and languages are what they claim."""

from __future__ import annotations

import re

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

from kg.load import data_sources, ontology_sources, parse, shapes_sources

FILES = ontology_sources() + shapes_sources() + data_sources()
CLOSED = {"sh": SH, "owl": OWL, "rdfs": RDFS, "skos": SKOS, "rdf": RDF}
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
JF = "https://w3id.org/jp-funding/ont#"


@pytest.fixture(scope="module")
def graphs():
    return {f: parse(f) for f in FILES}


@pytest.mark.parametrize("prefix", sorted(CLOSED))
def test_every_w3c_term_used_exists(graphs, prefix: str) -> None:
    ns = CLOSED[prefix]
    unknown = set()
    for g in graphs.values():
        for triple in g:
            for term in triple:
                if isinstance(term, URIRef) and str(term).startswith(str(ns)) and term not in ns:
                    unknown.add(str(term))
    assert unknown == set()


def test_every_jf_term_used_is_defined(graphs) -> None:
    ontology = [g for f, g in graphs.items() if f.name in ("jf.ttl", "vocab.ttl") or f.name.startswith("shapes")]
    defined = {s for g in ontology for s in g.subjects(RDF.type, None) if str(s).startswith(JF)}
    used = {t for g in graphs.values() for tr in g for t in tr if isinstance(t, URIRef) and str(t).startswith(JF)}
    used -= {URIRef(JF)}
    assert used - defined == set()


def test_prefix_iris_end_with_hash_or_slash() -> None:
    for f in FILES:
        for line in f.read_text(encoding="utf-8").splitlines():
            m = re.match(r"@prefix\s+(\S*):\s+<([^>]*)>", line)
            if m:
                assert m.group(2).endswith(("#", "/")), f"{f.name}: prefix {m.group(1)}: <{m.group(2)}>"


def test_prefix_blocks_are_sorted_and_used() -> None:
    for f in FILES:
        text = f.read_text(encoding="utf-8")
        prefixes = re.findall(r"^@prefix\s+(\S*):", text, flags=re.MULTILINE)
        assert prefixes == sorted(prefixes), f"{f.name}: @prefix block not sorted"
        body = re.sub(r"^@prefix.*$", "", text, flags=re.MULTILINE)
        for p in prefixes:
            assert re.search(rf"(?<![\w-]){re.escape(p)}:", body), f"{f.name}: prefix {p}: declared but unused"
        assert "shacl:" not in text


def test_language_tags_match_the_text(graphs) -> None:
    wrong = []
    for f, g in graphs.items():
        for s, p, o in g:
            if isinstance(o, Literal) and o.language and p in (RDFS.label, SKOS.prefLabel, SKOS.definition):
                if o.language == "ja" and not JAPANESE.search(o):
                    wrong.append((f.name, str(s), str(o)))
                if o.language == "en" and JAPANESE.search(o):
                    wrong.append((f.name, str(s), str(o)))
    assert wrong == []


def test_every_class_and_property_is_documented(graphs) -> None:
    onto = next(g for f, g in graphs.items() if f.name == "jf.ttl")
    for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty):
        for s in onto.subjects(RDF.type, kind):
            if not str(s).startswith(JF):
                continue
            langs = {o.language for o in onto.objects(s, RDFS.label)}
            assert {"ja", "en"} <= langs, s
            assert {o.language for o in onto.objects(s, RDFS.comment)} >= {"ja", "en"}, s
            if kind != OWL.Class:
                assert onto.value(s, RDFS.domain) is not None and onto.value(s, RDFS.range) is not None, s
