"""One JSON error shape for every error the server answers.

Every error body is ``{"error": {"status": int, "title": str, "detail": str}}``: ``title`` is the
HTTP reason phrase, ``detail`` says what went wrong and how to fix it. Handlers here turn
:class:`ApiError`, Starlette's HTTP errors, request-validation errors and :mod:`kg` errors into
that shape; nothing else writes error bodies. A browser asking for a page (``Accept: text/html``
preferred, outside the data routes) gets the same error as the site's HTML error page
(:func:`html_error`); API clients keep the JSON.

Statuses follow the house style: 400 malformed query or parameter, 401 no bearer token where one
is needed, 403 refused (updates on a read-only server, a wrong token, SERVICE, LOAD), 404 unknown
resource, 406 unsatisfiable ``Accept`` (the detail names the supported types), 409 a reload of a
graph not loaded from files, 413 body too large, 415 wrong ``Content-Type``, 422 a reload rejected
(Turtle syntax error or SHACL violation, with ``file:line``), 502 a remote store failed, 503 query
timed out or server busy, 500 only for bugs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kg.errors import KGError, MissingRenderer, QueryError, StoreError, UnknownName

__all__ = [
    "ApiError",
    "NotAcceptable",
    "QueryTimeout",
    "error_body",
    "error_response",
    "install_handlers",
]


class ApiError(Exception):
    """An error answered with the shared JSON shape.

    Parameters
    ----------
    status : int
        HTTP status code.
    detail : str
        What went wrong and how to fix it.
    headers : mapping, optional
        Extra response headers (e.g. ``Allow``).
    """

    def __init__(self, status: int, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


class NotAcceptable(ApiError):
    """406: none of the offered media types is acceptable; the detail lists them."""

    def __init__(self, accept: str, offered: Sequence[str]) -> None:
        self.offered = tuple(offered)
        super().__init__(
            406,
            f"cannot answer in any type of Accept: {accept!r}; supported types: {', '.join(self.offered)}",
        )


class QueryTimeout(ApiError):
    """503: the query did not finish before its deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            503,
            f"the query did not finish within {seconds:g} s and was stopped; add a LIMIT, narrow the "
            "graph patterns or ask for fewer results",
            headers={"Retry-After": "1"},
        )


def error_body(status: int, detail: str) -> dict[str, dict[str, object]]:
    """The JSON error document for *status*.

    Examples
    --------
    >>> error_body(404, "no such program")
    {'error': {'status': 404, 'title': 'Not Found', 'detail': 'no such program'}}
    """
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {"error": {"status": status, "title": title, "detail": detail}}


def error_response(status: int, detail: str, *, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A JSON response carrying :func:`error_body`."""
    return JSONResponse(error_body(status, detail), status_code=status, headers=dict(headers or {}))


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body"))
        kind = (err.get("loc") or ("parameter",))[0]
        parts.append(f"{kind} parameter {where!r}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request parameters"


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers that write the shared error shape."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.detail, headers=exc.headers)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no page at {request.url.path}; see / for the site and /docs for the API"
        if exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, _validation_detail(exc))

    async def kg_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, MissingRenderer):  # the server is missing a part: not the client's fault
            return error_response(503, f"this picture cannot be drawn here: {exc}")
        if isinstance(exc, UnknownName):
            return error_response(404, str(exc))
        if isinstance(exc, QueryError):
            return error_response(400, str(exc))
        if isinstance(exc, StoreError):
            return error_response(502, str(exc))
        return error_response(400, str(exc))

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, f"internal server error ({type(exc).__name__}); this is a bug, please report it")

    def by_accept(handler: Any) -> Any:
        async def answer(request: Request, exc: Exception) -> Response:
            response: JSONResponse = await handler(request, exc)
            return html_error(request, response) or response
        return answer

    app.add_exception_handler(ApiError, by_accept(api_error))
    app.add_exception_handler(StarletteHTTPException, by_accept(http_error))
    app.add_exception_handler(RequestValidationError, by_accept(validation_error))
    app.add_exception_handler(KGError, by_accept(kg_error))
    app.add_exception_handler(Exception, by_accept(server_error))


_DATA_PATHS = ("/api/", "/sparql", "/admin/", "/void", "/openapi.json", "/assets/", "/static/")


def wants_html(request: Request) -> bool:
    """A browser asking for a page: ``text/html`` preferred over JSON in ``Accept``, outside the data routes."""
    if request.url.path.startswith(_DATA_PATHS) or request.url.path.endswith((".svg", ".json", ".ico", ".js")):
        return False
    best: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = [x.strip() for x in part.split(";")]
        q = 1.0
        for prm in params:
            if prm.startswith("q="):
                try:
                    q = float(prm[2:])
                except ValueError:
                    q = 0.0
        best[media.lower()] = max(q, best.get(media.lower(), 0.0))
    html = max(best.get("text/html", 0.0), best.get("application/xhtml+xml", 0.0))
    return html > 0 and html >= best.get("application/json", 0.0)


def html_error(request: Request, response: JSONResponse) -> Response | None:
    """The error of *response* as the site's HTML error page, when :func:`wants_html`; else ``None``."""
    state = getattr(request.app.state, "kg", None)
    if state is None or not wants_html(request):
        return None
    try:
        body = json.loads(bytes(response.body))["error"]
    except (ValueError, KeyError, TypeError):
        return None
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
    page: Response = state.templates.TemplateResponse(request, "error.html", {"error": body},
                                                      status_code=response.status_code, headers=headers)
    return page
