"""Every named query gives the same answers on the embedded store, `oxigraph serve` and Virtuoso.

The remote stores are started by the fixtures in ``conftest.py`` and filled with
``kg load --store`` (Graph Store Protocol). Every ``kg/queries/*.rq`` is run with its example
parameters and with its required parameters only.

Only what SPARQL 1.1 leaves open is normalised, each by a function named here:

* :func:`rows_as_multiset` — without ``ORDER BY`` the order of solutions is not defined (§15.1);
  with ``ORDER BY`` the sort keys must still come in the same order (:func:`sort_keys`), but the
  order of rows with equal keys is not defined.
* :func:`group_concat_values` — the order in which ``GROUP_CONCAT`` joins its values is not
  defined (§18.5.1.7), so a joined cell is compared as the sorted list of its parts.
* :func:`group_concat_values` also drops the language tag of a joined cell: SPARQL 1.1 does not
  say whether ``GROUP_CONCAT`` of same-language strings keeps the tag (Oxigraph keeps it, Virtuoso
  answers a simple literal; SPARQL 1.2 settles it as Oxigraph does).

Nothing else is: numbers, datatypes and language tags of every other cell must be identical.
Where Virtuoso answered differently for other reasons, the queries were made portable (see the
comments in ``caps.rq``, ``program-chain.rq`` and ``budget-change.rq``) and the loader writes
integers as Turtle numerals (Virtuoso 7.2 keeps ``"3500000000"^^xsd:integer`` as a decimal).
"""

from __future__ import annotations

import re

import pytest
from rdflib.term import Literal

from kg import queries
from kg.cli import main
from kg.store import EmbeddedStore, RemoteStore, Table, Term

pytestmark = pytest.mark.remote

ENGINES = ["oxigraph", "virtuoso"]


@pytest.fixture(scope="module", params=ENGINES)
def remote(request: pytest.FixtureRequest) -> RemoteStore:
    return RemoteStore(request.getfixturevalue(f"{request.param}_url"))


def example_params(q: queries.NamedQuery) -> dict[str, str]:
    """The parameters of the query's ``# example:`` line."""
    out = {}
    for p in q.params:
        marker = f"{p.name}="
        if marker in q.example:
            out[p.name] = q.example.split(marker, 1)[1].split()[0]
    return out


def group_concats(text: str) -> dict[str, str]:
    """``{variable: separator}`` for every ``(GROUP_CONCAT(… ; separator="s") AS ?variable)``."""
    out = {}
    for m in re.finditer(r"GROUP_CONCAT\s*\((?P<body>(?:[^()]|\([^()]*\))*)\)\s+AS\s+\?(?P<var>\w+)", text, re.IGNORECASE):
        sep = re.search(r"separator\s*=\s*\"([^\"]*)\"", m["body"], re.IGNORECASE)
        out[m["var"]] = sep.group(1) if sep else " "
    return out


def group_concat_values(cell: Term | None, separator: str) -> object:
    """A GROUP_CONCAT cell as the sorted list of its parts, without a language tag (see above)."""
    if cell is None:
        return None
    return ("GROUP_CONCAT", tuple(sorted(str(cell).split(separator))))


def normalised(table: Table, text: str) -> list[tuple[object, ...]]:
    joined = group_concats(text)
    out = []
    for row in table.rows:
        out.append(tuple(group_concat_values(cell, joined[var]) if var in joined else
                         (None if cell is None else cell.n3()) for var, cell in zip(table.variables, row)))
    return out


def rows_as_multiset(rows: list[tuple[object, ...]]) -> list[str]:
    """Rows in a fixed order (repr-sorted): the order of solutions is compared by :func:`sort_keys`."""
    return sorted(map(repr, rows))


def sort_keys(table: Table, text: str, rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """The ORDER BY variables of each row, in the order the store gave them (empty without ORDER BY)."""
    m = re.search(r"\bORDER\s+BY\s+(.*?)(?:\bLIMIT\b|\bOFFSET\b|$)", text, re.IGNORECASE | re.DOTALL)
    if not m:
        return []
    keys = [v for v in re.findall(r"\?(\w+)", m.group(1)) if v in table.variables]
    idx = [table.variables.index(k) for k in keys]
    return [tuple(row[i] for i in idx) for row in rows]


def _params(q: queries.NamedQuery, with_params: bool) -> dict[str, str]:
    params = example_params(q)
    if not with_params:
        params = {p.name: params[p.name] for p in q.params if p.required and p.name in params}
    return params


ALL = sorted(queries.all_queries())

VIRTUOSO_BUGS = {
    ("caps", False): "Virtuoso 7.2 drops the caps of sub-measures (those with a jf:partOf ancestor) when "
                     "OPTIONAL { ?of jf:partOf+ ?ancestor } meets the LANG filters on the labels; no rewrite "
                     "found that is also fast on Oxigraph (see caps.rq); with a program the answers agree",
}
"""Known Virtuoso defects, each a strict xfail: it fails loudly the day a rewrite or Virtuoso fixes it."""


def test_same_triple_count(store: EmbeddedStore, remote: RemoteStore) -> None:
    assert remote.count() == store.count()


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("with_params", [True, False], ids=["example-params", "required-params-only"])
def test_named_query_parity(request: pytest.FixtureRequest, store: EmbeddedStore, remote: RemoteStore, name: str,
                            with_params: bool) -> None:
    if (name, with_params) in VIRTUOSO_BUGS and "virtuoso" in request.node.callspec.id:
        request.applymarker(pytest.mark.xfail(strict=True, reason=VIRTUOSO_BUGS[name, with_params]))
    q = queries.get(name)
    params = _params(q, with_params)
    local = q.run(store, params)
    far = q.run(remote, params)
    assert isinstance(local, Table) and isinstance(far, Table)
    assert local.variables == far.variables
    mine, theirs = normalised(local, q.text), normalised(far, q.text)
    assert rows_as_multiset(theirs) == rows_as_multiset(mine)
    assert sort_keys(far, q.text, theirs) == sort_keys(local, q.text, mine)


def test_normalisations_are_not_blind() -> None:
    """The normalisations keep what they must: values, datatypes, tags outside GROUP_CONCAT, key order."""
    text = 'SELECT ?a (GROUP_CONCAT(?x; separator="、") AS ?j) WHERE { ?a ?p ?x } GROUP BY ?a ORDER BY ?a'
    t1 = Table(("a", "j"), ((Literal(1), Literal("b、a", lang="ja")), (Literal(2), None)))
    t2 = Table(("a", "j"), ((Literal(1), Literal("a、b")), (Literal(2), None)))
    assert normalised(t1, text) == normalised(t2, text)
    t3 = Table(("a", "j"), ((Literal("1"), Literal("a、b")), (Literal(2), None)))  # datatype differs
    assert rows_as_multiset(normalised(t3, text)) != rows_as_multiset(normalised(t1, text))
    t4 = Table(("a", "j"), ((Literal(2), None), (Literal(1), Literal("a、b"))))  # ORDER BY broken
    assert sort_keys(t4, text, normalised(t4, text)) != sort_keys(t1, text, normalised(t1, text))


@pytest.mark.parametrize("engine", ENGINES)
def test_cli_against_remote(request: pytest.FixtureRequest, engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = request.getfixturevalue(f"{engine}_url")
    assert main(["channels", "orgs:smrj", "--store", url, "--format", "json"]) == 0
    assert "program:sme-productivity-revolution-r6s" in capsys.readouterr().out


def test_load_into_virtuoso_needs_a_graph_and_a_user(virtuoso_url: str, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Virtuoso has no default graph and writes only for a user: kg load says what to add (exit 2)."""
    monkeypatch.delenv("KG_STORE_USER", raising=False)
    monkeypatch.setenv("KG_STORE_PASSWORD", "dba")
    bare = virtuoso_url.split("?", 1)[0]
    assert main(["load", "--store", bare, "--user", "dba"]) == 2
    err = capsys.readouterr().err
    assert "no default graph" in err and "default-graph-uri=" in err and "Traceback" not in err
    assert main(["load", "--store", virtuoso_url]) == 2
    err = capsys.readouterr().err
    assert "refused access (HTTP 403)" in err and "--user" in err
    monkeypatch.setenv("KG_STORE_PASSWORD", "wrong")
    assert main(["load", "--store", virtuoso_url, "--user", "dba"]) == 2
    assert "refused access (HTTP 401)" in capsys.readouterr().err
    assert RemoteStore(virtuoso_url).count() == EmbeddedStore.from_paths().count()  # nothing was added
