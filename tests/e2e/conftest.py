"""Fixtures for end-to-end tests: a live ``kg serve`` on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.launch import free_port, kg_serve_command, launched

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``python -m kg serve --port N`` on 127.0.0.1; stopped after the session."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "KG_STORE"}
    base = f"http://127.0.0.1:{port}"
    with launched(kg_serve_command(port), f"{base}/sparql?query=ASK%20%7B%7D", env=env, cwd=ROOT, log=log,
                  describe="kg serve"):
        yield base
