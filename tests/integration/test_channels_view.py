"""The channels view read from plain queries equals the one read from the money-flow graph.

``views.channels(store)`` no longer builds ``views.to_networkx``; ``views.channels(store,
graph=…)`` still walks the graph as before. Both must agree on the project's graph and on a
synthetic one (``kg synth``) with many programs, sub-measures and intermediaries.
"""

from __future__ import annotations

import pytest

from kg import views
from kg.cli import main
from kg.store import EmbeddedStore


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    path = tmp_path_factory.mktemp("synth") / "synth.ttl"
    assert main(["synth", "--programs", "40", "--seed", "3", "-o", str(path)]) == 0
    return EmbeddedStore.from_paths([path])


def _both(store: EmbeddedStore, body: str | None = None) -> tuple[list[views.Channel], list[views.Channel]]:
    return views.channels(store, body), views.channels(store, body, graph=views.to_networkx(store))


def test_channels_equal_on_the_project_graph(store: EmbeddedStore) -> None:
    fast, walked = _both(store)
    assert fast == walked
    assert {c.body for c in fast} >= {"orgs:smrj", "orgs:jetro"}
    assert all(c.sheets and c.funders and c.budgets for c in fast)


def test_channels_equal_on_a_synthetic_graph(synthetic: EmbeddedStore) -> None:
    fast, walked = _both(synthetic)
    assert fast == walked
    assert len(fast) > 5
    assert any(c.instruments_out and c.recipient_categories for c in fast)


def test_one_body(store: EmbeddedStore) -> None:
    fast, walked = _both(store, "orgs:jetro")
    assert fast == walked
    assert [c.body for c in fast] == ["orgs:jetro"]
    assert views.channels(store, "orgs:no-such-body") == []
