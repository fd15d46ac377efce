"""What one app holds: its store, query runner, limits, templates, the parsed ontology, and who may change it.

There is no module-level graph: :func:`server.app.create_app` builds one :class:`ServerState`
and hangs it on ``app.state.kg``; routes reach it with :func:`get_state`. A reload or an update
replaces ``store`` (a read-only view of the new store folder, and the runner's workers) in one step
and bumps ``generation``; a route reads ``state.store`` once per request, so it works on one graph
from start to end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from fastapi import Request
from fastapi.templating import Jinja2Templates

from kg.load import ontology_sources
from kg.store import Store
from server.engine import QueryRunner

__all__ = ["Ontology", "ServerState", "get_state"]


@dataclass
class Ontology:
    """The ontology files (``ontology/jf.ttl`` and ``vocab.ttl``), parsed once per app."""

    files: list[Path]
    triples: list[ox.Triple]

    @classmethod
    def load(cls, files: list[Path] | None = None) -> Ontology:
        """Parse *files* (default :func:`kg.load.ontology_sources`)."""
        files = files if files is not None else ontology_sources()
        triples: list[ox.Triple] = []
        for f in files:
            triples.extend(q.triple for q in ox.parse(path=str(f), format=ox.RdfFormat.TURTLE,
                                                        base_iri=f.resolve().as_uri()))
        return cls(files, triples)


@dataclass
class ServerState:
    """Everything the routes of one app share."""

    store: Store
    runner: QueryRunner
    templates: Jinja2Templates
    ontology: Ontology
    max_body: int
    admin_token: str | None = None
    """Bearer token of ``POST /admin/reload`` and (with ``allow_update``) SPARQL updates."""
    allow_update: bool = False
    persistent: bool = False
    """The store is on disk (``kg serve --location``): updates are flushed, reloads are refused."""
    reload_from: list[Path] | None = None
    """Data files and folders a reload reads (the ontology is always added); ``None``: not reloadable."""
    generation: int = 1
    loaded: dict[str, tuple[int, int]] = field(default_factory=dict)
    """The files the current graph was read from: path → (mtime_ns, size)."""
    last_reload: dict[str, object] | None = None
    public_url: str = "http://127.0.0.1:8000"
    """Where clients reach this server (``kg serve --public-url``): the endpoint IRI of the service
    description and VoID, never taken from a request's ``Host`` header."""
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while an update or a reload builds and swaps in a new graph: one at a time."""


def get_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving *request*."""
    state = request.app.state.kg
    if not isinstance(state, ServerState):  # pragma: no cover - create_app always sets it
        raise TypeError("app.state.kg is not a ServerState; build the app with server.app.create_app")
    return state
