"""Every fact can be found in the source text at the place the graph says."""

from __future__ import annotations

import itertools
import re

import pytest
from rdflib import Literal

from kg.formats import plain
from kg.normalize import find_radicals, normalize_text

NEAR = 6  # diagram labels are scattered; a fact's text must start within this many lines of jf:sourceLine


def squash(text: str) -> str:
    """Drop white space, full-width parentheses vs ASCII, and the bullet/colon variants."""
    text = text.translate(str.maketrans({"(": "（", ")": "）", ":": "：", ",": "、"}))
    return re.sub(r"\s+", "", text)


def test_normalizer_maps_every_radical_in_the_source(source_lines) -> None:
    text = "\n".join(source_lines)
    assert find_radicals(text) == []
    assert "支援事業費補助金" in source_lines[0]


@pytest.mark.parametrize("raw,expected", [
    ("\u2ea0間", "民間"),  # CJK RADICALS SUPPLEMENT: survives NFKC
    ("\u2f40援", "支援"),  # KANGXI RADICAL BRANCH
    ("中\u2f29企業", "中小企業"),
    ("補助率\ufe13１/3", "補助率：1/3"),
    ("（１）", "（1）"),
], ids=["supplement", "kangxi", "kangxi-2", "colon-and-digits", "parentheses-kept"])
def test_normalize_text(raw, expected) -> None:
    assert normalize_text(raw) == expected


def test_no_literal_in_the_graph_has_a_radical(loaded) -> None:
    bad = [(s, p, o) for s, p, o in loaded.graph if isinstance(o, Literal) and find_radicals(str(o))]
    assert bad == []


def test_every_budget_line_is_in_its_sheet(store, source_lines) -> None:
    table = store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?p ?t ?a ?b WHERE { "
        "?p jf:budgetLineText ?t ; jf:sourceLineStart ?a ; jf:sourceLineEnd ?b }")
    assert len(table.rows) == 27
    for p, text, a, b in table.rows:
        sheet = squash("".join(source_lines[int(a) - 1:int(b)]))
        assert squash(str(text)) in sheet, f"{plain(p)}: budget line not found in lines {a}-{b}"


def test_sheets_do_not_overlap_and_cover_the_source(store, source_lines) -> None:
    table = store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?a ?b WHERE { "
        "?p jf:budgetLineText ?t ; jf:sourceLineStart ?a ; jf:sourceLineEnd ?b } ORDER BY ?a")
    spans = [(int(a), int(b)) for a, b in table.rows]
    assert spans[0][0] == 1
    for (_, b1), (a2, _) in itertools.pairwise(spans):
        assert a2 == b1 + 1, f"gap or overlap between sheet ending {b1} and sheet starting {a2}"
    assert spans[-1][1] >= len([line for line in source_lines if line.strip()]) - 1 or spans[-1][1] >= 1930


def test_source_texts_are_near_their_lines(store, source_lines) -> None:
    table = store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?s ?p ?t ?line WHERE { "
        "VALUES ?p { jf:sourceText jf:rateText jf:targetText } ?s ?p ?t ; jf:sourceLine ?line }")
    missing = []
    for s, p, text, line in table.rows:
        n = int(line)
        window = squash("".join(source_lines[max(0, n - 1 - NEAR): n + NEAR + 40]))
        needle = squash(str(text))
        if plain(p) == "jf:rateText":
            # a class and a ratio printed apart (「中小企業」…「1/2以内」)
            parts = re.split(r"(?<=[業等体])(?=\d)", needle)
        else:
            # a target may join a lead sentence to one of its bullet points
            parts = needle.split("。")
        if not all(part in window for part in parts if part):
            missing.append(f"{plain(s)} {plain(p)} {str(text)[:40]!r} @ {n}")
    assert missing == []
