"""The embedded store and a real `oxigraph serve` give identical answers to every named query.

The fixture starts `oxigraph serve` (PyPI package `oxigraph`) on a free loopback port, loads the
graph with `kg load --store …` (Graph Store Protocol) and stops the server afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from kg import queries
from kg.cli import main
from kg.launch import free_port, launched
from kg.store import RemoteStore, Table

pytestmark = pytest.mark.remote


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteStore]:
    exe = shutil.which("oxigraph")
    if exe is None:
        pytest.skip("the oxigraph server (pip install oxigraph) is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}/query"
    with launched([exe, "serve", "--bind", f"127.0.0.1:{port}"], f"{url}?query=ASK%20%7B%7D",
                  describe="oxigraph serve"):
        assert main(["load", "--store", url]) == 0
        yield RemoteStore(url)


def _example_params(q: queries.NamedQuery) -> dict[str, str]:
    out = {}
    for p in q.params:
        marker = f"{p.name}="
        if marker in q.example:
            out[p.name] = q.example.split(marker, 1)[1].split()[0]
    return out


ALL = sorted(queries.all_queries())


def test_same_triple_count(store, remote) -> None:
    assert remote.count() == store.count()


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("with_params", [True, False], ids=["example-params", "no-optional-params"])
def test_named_query_parity(store, remote, name: str, with_params: bool) -> None:
    q = queries.get(name)
    params = _example_params(q)
    if not with_params:
        params = {p.name: params[p.name] for p in q.params if p.required and p.name in params}
    local = q.run(store, params)
    far = q.run(remote, params)
    assert isinstance(local, Table) and isinstance(far, Table)
    assert local.variables == far.variables
    assert sorted(map(repr, local.rows)) == sorted(map(repr, far.rows))
    assert local.rows, f"{name} answered nothing on the embedded store"


def test_cli_against_remote(remote, capsys) -> None:
    assert main(["channels", "orgs:smrj", "--store", remote.url, "--format", "json"]) == 0
    assert "program:sme-productivity-revolution-r6s" in capsys.readouterr().out
