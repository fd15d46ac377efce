"""Shared fixtures: the project's graph, parsed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.load import Loaded, load
from kg.store import EmbeddedStore
from kg.validate import load_shapes

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "sources" / "000_4fb7892f9c08ac14.txt"


@pytest.fixture(scope="session")
def loaded() -> Loaded:
    """Ontology + graph_data as one rdflib graph."""
    return load()


@pytest.fixture(scope="session")
def store() -> EmbeddedStore:
    """The embedded store loaded with ontology + graph_data."""
    return EmbeddedStore.from_paths()


@pytest.fixture(scope="session")
def shapes():
    return load_shapes()


@pytest.fixture(scope="session")
def source_lines() -> list[str]:
    """The source text's lines, normalized (1-based: index 0 is line 1)."""
    from kg.normalize import normalize_text

    if not SOURCE.exists():
        pytest.skip(f"source text not found at {SOURCE}")
    return normalize_text(SOURCE.read_text(encoding="utf-8")).split("\n")
