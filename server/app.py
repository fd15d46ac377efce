"""The HTTP server: :func:`create_app` builds one FastAPI app around one store.

Run it with ``kg serve`` (loads ``graph_data/`` or uses ``--store URL``), or with uvicorn::

    uvicorn --factory server.app:make_app          # builds the app when uvicorn starts
    uvicorn server.app:app                         # the same, through a lazy module attribute

Both open the store named by ``KG_STORE`` (a SPARQL endpoint URL), or else load the Turtle files
of ``KG_DATA`` (paths separated by ``os.pathsep``; default ``graph_data/``) with the ontology.
Nothing is loaded when this module is imported: ``server.app.app`` is built on first access
(PEP 562 module ``__getattr__``) and all state hangs off the app (``app.state.kg``).

Routes
------
``/sparql``
    SPARQL 1.1 Protocol, read-only; service description without a query (:mod:`server.sparql`).
``/void``
    VoID description of the dataset.
``/id/{path}``, ``/ont``
    Linked data and the ontology, HTML or RDF by ``Accept`` (:mod:`server.linked_data`).
``/``, ``/search``, ``/programs``, ``/programs/{slug}``, ``/bodies/{slug}``, ``/query``
    Web pages (:mod:`server.web`); tables through :mod:`server.tables`, search through :mod:`kg.search`.
``/orgs/{法人番号}``, ``/ministries/{name}``, ``/rs/{予算事業ID}``
    National pages from the RS review data (:mod:`server.national`).
``/sankey``, ``/sankey.svg``, ``/programs/{slug}/diagram.svg``, ``/assets/plotly.min.js``
    Pictures (:mod:`server.pictures`).
``/api/…``
    REST JSON (:mod:`server.api`); ``/openapi.json`` and its documentation at ``/docs``.
``/admin/reload``, ``/admin/status``
    Reload the data files, and what is served (bearer token; :mod:`server.admin`).

Safety (see SECURITY.md): user queries run in killable worker processes without network access
(:mod:`server.pool`); every response carries security headers and CORS is limited to the data
routes (:mod:`server.security`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from kg import __version__
from kg.formats import compact, yen_label
from kg.load import project_root
from kg.store import EmbeddedStore, Store, open_store
from server import admin, api, linked_data, national, pictures, sparql, web
from server.compression import PageCompression
from server.data import local_path
from server.engine import QueryRunner
from server.errors import install_handlers
from server.graphs import Graphs
from server.security import ClientIdentity, ScopedCORS, SecurityHeaders
from server.state import Ontology, ServerState

__all__ = ["create_app", "make_app"]

HERE = Path(__file__).parent

DESCRIPTION = """\
日本の政府予算事業（経済産業省の予算PR資料）と、その資金が国から受け手まで流れる経路のナレッジグラフ。
A knowledge graph of Japanese government budget programs and the bodies that channel their money.

* SPARQL 1.1 Protocol at `/sparql` (read-only), VoID at `/void`
* Linked data at `/id/…`, the ontology at `/ont`
* REST JSON at `/api/…`; errors are `{"error": {"status", "title", "detail"}}`
"""


def oku(amount: Any) -> str:
    """Yen as 億円 (or 万円 under 1億), as the budget sheets write them: :func:`kg.formats.yen_label`.

    Examples
    --------
    >>> oku(340000000000), oku(610000000), oku(45000000)
    ('3,400億円', '6.1億円', '4,500万円')
    """
    return yen_label(amount)


def yen(amount: Any) -> str:
    """Yen with thousands separators.

    Examples
    --------
    >>> yen(340000000000)
    '340,000,000,000円'
    """
    if amount is None or amount == "":
        return ""
    return f"{int(amount):,}円"


def make_templates() -> Jinja2Templates:
    """The Jinja environment of the pages, with the filters they use."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(oku=oku, yen=yen, href=local_path, compact=compact, markdown=web.markdown_html)
    env.globals["version"] = __version__
    env.globals["rs_sheets"] = national.rs_sheets
    return Jinja2Templates(env=env)


def _schema_type(schema: dict[str, Any]) -> str:
    """A short type name of a JSON schema: ``string``, ``integer | null``, ``array of Budget`` …"""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_schema_type(schema.get('items', {}))}"
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_schema_type(schema['additionalProperties'])}"
    return str(schema.get("type", "any"))


def _docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", name="docs", response_class=HTMLResponse)
    def docs(request: Request) -> Response:
        """The OpenAPI description as a page (FastAPI's Swagger UI would load scripts from a CDN)."""
        state = request.app.state.kg
        spec = request.app.openapi()
        operations = []
        for path, methods in spec.get("paths", {}).items():
            for method, op in methods.items():
                responses = []
                for code, resp in op.get("responses", {}).items():
                    content = resp.get("content", {})
                    schema: dict[str, Any] = next((c["schema"] for c in content.values() if c.get("schema")), {})
                    ref = schema.get("$ref") or schema.get("items", {}).get("$ref") or ""
                    responses.append({"code": code, "description": resp.get("description", ""),
                                      "types": sorted(content), "schema": ref.rsplit("/", 1)[-1],
                                      "array": schema.get("type") == "array"})
                operations.append({
                    "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                    "description": op.get("description", ""), "tags": op.get("tags", []),
                    "parameters": [{"name": p["name"], "in": p.get("in", ""), "required": p.get("required", False),
                                    "type": _schema_type(p.get("schema", {})),
                                    "description": p.get("description", "")} for p in op.get("parameters", [])],
                    "responses": responses,
                })
        schemas = []
        for name, schema in spec.get("components", {}).get("schemas", {}).items():
            fields = [{"name": f, "type": _schema_type(s), "description": s.get("description", "")}
                      for f, s in schema.get("properties", {}).items()]
            schemas.append({"name": name, "description": schema.get("description", ""), "fields": fields})
        context = {"spec": spec, "operations": operations, "schemas": schemas}
        return state.templates.TemplateResponse(request, "apidocs.html", context)

    return router


def create_app(store: Store, *, query_timeout: float = 10.0, max_rows: int = 10000,
               max_body: int = 1_000_000, workers: int | None = None, worker_memory: int | None = 1 << 30,
               admin_token: str | None = None, allow_update: bool = False, persistent: bool = False,
               reload_from: Sequence[Path | str] | None = None, watch: float | None = None,
               public_url: str = "http://127.0.0.1:8000", csv_raw: bool = False, graphs: Graphs | None = None,
               share: int | None = None) -> FastAPI:
    """Build the app serving *store*.

    Parameters
    ----------
    store : EmbeddedStore or RemoteStore
        Where queries run. An embedded store is queried with pyoxigraph (user queries in worker
        processes); a remote one gets every query forwarded over the SPARQL 1.1 Protocol.
    query_timeout : float
        Seconds a SPARQL query may take before it is stopped and the request answered 503.
    max_rows : int
        Rows (or triples) of a SPARQL answer; the rest are dropped and the response says
        ``X-Result-Truncated: true``.
    max_body : int
        Largest accepted request body in bytes (413 beyond).
    workers : int, optional
        Query worker processes for an embedded store (default: the number of CPUs, 2 to 4);
        0 runs user queries in threads, where a long query cannot be stopped.
    worker_memory : int, optional
        Address-space limit of each worker in bytes (default 1 GiB; ``None``: no limit).
    admin_token : str, optional
        Bearer token for ``POST /admin/reload`` and, with *allow_update*, SPARQL updates; at least
        16 characters. Without it both are refused.
    allow_update : bool
        Accept SPARQL updates from clients with the token.
    persistent : bool
        The store is kept on disk: updates are flushed before they are acknowledged; no reloads.
    reload_from : sequence of path-like, optional
        Data files or folders a reload reads (the ontology is added); ``None``: not reloadable.
    watch : float, optional
        Poll the files of *reload_from* every *watch* seconds and reload when they change.
    public_url : str
        Where clients reach the server: the endpoint IRI in the service description and VoID
        (never the request's ``Host`` header).
    csv_raw : bool
        Write CSV answers as they are; by default a cell starting with ``= + - @``, tab or CR gets
        a leading ``'`` so a spreadsheet does not run it as a formula.
    graphs : server.graphs.Graphs, optional
        The store folders the workers read (``kg serve`` passes its cache or ``--location``);
        default: a temporary folder, an in-memory *store* copied to it.
    share : int, optional
        SPARQL worker slots one client (address or bearer token) may hold; default half the workers.

    Returns
    -------
    FastAPI

    Raises
    ------
    ValueError
        A limit is not positive, the token is too short, updates are allowed without a token,
        or *watch* is given without *reload_from*.
    TypeError
        *store* is neither an EmbeddedStore nor a RemoteStore.
    """
    for name, value in (("query_timeout", query_timeout), ("max_rows", max_rows), ("max_body", max_body)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    if admin_token is not None and len(admin_token) < admin.MIN_TOKEN:
        raise ValueError(f"the admin token must have at least {admin.MIN_TOKEN} characters; "
                         "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if allow_update and admin_token is None:
        raise ValueError("allow_update needs an admin_token: updates are only taken from clients with the token")
    if watch is not None and (reload_from is None or watch <= 0):
        raise ValueError("watch needs reload_from (the files to watch) and a positive interval")
    if workers is None:
        workers = max(2, min(4, os.cpu_count() or 2))
    # max_threads: the server's own queries (one resource's description) and a remote store's
    if not re.match(r"https?://[^/\s]+", public_url):
        raise ValueError(f"public_url must be an http(s) URL, got {public_url!r}")
    runner = QueryRunner(store, timeout=query_timeout, max_rows=max_rows, max_threads=32, workers=workers,
                         worker_memory=worker_memory, graphs=graphs, share=share, csv_raw=csv_raw)
    state = ServerState(
        store=store,
        runner=runner,
        templates=make_templates(),
        ontology=Ontology.load(),
        max_body=max_body,
        admin_token=admin_token,
        allow_update=allow_update,
        persistent=persistent,
        reload_from=[Path(p) for p in reload_from] if reload_from is not None else None,
        public_url=public_url.rstrip("/"),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(lambda: runner.start(wait=60.0))  # no query waits for a worker starting up
        watcher = None
        if state.reload_from is not None:
            state.loaded = await run_in_threadpool(admin.fingerprint, state)
        if watch is not None:
            watcher = asyncio.create_task(admin.watch(state, watch))
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            runner.close()

    app = FastAPI(
        title="jp-funding-kg",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.kg = state
    install_handlers(app)
    app.add_middleware(ScopedCORS)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ClientIdentity)
    app.add_middleware(PageCompression)  # pages, API and downloads; SPARQL answers stream uncompressed
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(sparql.router)
    app.include_router(linked_data.router)
    app.include_router(api.router)
    app.include_router(pictures.router)
    app.include_router(web.router)
    app.include_router(national.router)
    app.include_router(admin.router)
    app.include_router(_docs_router())
    return app


def make_app() -> FastAPI:
    """The app for ``uvicorn --factory server.app:make_app``: store from ``KG_STORE`` or ``KG_DATA``.

    ``KG_UPDATE_TOKEN`` enables ``POST /admin/reload`` (updates stay off: use ``kg serve
    --allow-update`` for those). Run uvicorn with ``--no-server-header`` so it names no software.
    """
    paths = [p for p in os.environ.get("KG_DATA", "").split(os.pathsep) if p]
    store = open_store(data=paths or None)
    files = [Path(p) for p in paths] or [project_root() / "graph_data"]
    reload_from = files if isinstance(store, EmbeddedStore) else None
    return create_app(store, admin_token=os.environ.get("KG_UPDATE_TOKEN") or None, reload_from=reload_from)


_built: dict[str, FastAPI] = {}


def __getattr__(name: str) -> FastAPI:
    """``server.app.app``: built by :func:`make_app` on first access, never at import."""
    if name == "app":
        if "app" not in _built:
            _built["app"] = make_app()
        return _built["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
