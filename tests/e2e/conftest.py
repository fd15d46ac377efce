"""Fixtures for end-to-end tests: a live ``kg serve`` on loopback, and remote stores
(``oxigraph serve``, OpenLink Virtuoso) filled with ``kg load --store``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.cli import main
from kg.launch import free_port, kg_serve_command, launched, virtuoso, virtuoso_command

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


@pytest.fixture(scope="session")
def oxigraph_url() -> Iterator[str]:
    """Query endpoint of an ``oxigraph serve`` (PyPI ``oxigraph``) filled with ``kg load --store``."""
    exe = shutil.which("oxigraph")
    if exe is None:
        pytest.skip("the oxigraph server (pip install oxigraph) is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}/query"
    with launched([exe, "serve", "--bind", f"127.0.0.1:{port}"], f"{url}?query=ASK%20%7B%7D",
                  describe="oxigraph serve"):
        assert main(["load", "--store", url]) == 0
        yield url


@pytest.fixture(scope="session")
def virtuoso_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Query endpoint of a new Virtuoso (Debian ``virtuoso-opensource``) filled with ``kg load --store``.

    The URL carries ``default-graph-uri``: Virtuoso has no default graph of its own.
    """
    if virtuoso_command() is None:
        pytest.skip("virtuoso-t is not installed (Debian: apt-get install virtuoso-opensource; CI installs it)")
    with virtuoso(tmp_path_factory.mktemp("virtuoso")) as server:
        saved = os.environ.get("KG_STORE_PASSWORD")
        os.environ["KG_STORE_PASSWORD"] = server.password
        try:
            assert main(["load", "--store", server.url, "--user", server.user]) == 0
        finally:
            if saved is None:
                del os.environ["KG_STORE_PASSWORD"]
            else:
                os.environ["KG_STORE_PASSWORD"] = saved
        yield server.url
