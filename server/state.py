"""What one app holds: its store, query runner, limits, templates and the parsed ontology.

There is no module-level graph: :func:`server.app.create_app` builds one :class:`ServerState`
and hangs it on ``app.state.kg``; routes reach it with :func:`get_state`.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def get_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving *request*."""
    state = request.app.state.kg
    if not isinstance(state, ServerState):  # pragma: no cover - create_app always sets it
        raise TypeError("app.state.kg is not a ServerState; build the app with server.app.create_app")
    return state
