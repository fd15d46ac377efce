"""gzip for pages and API answers, not for SPARQL answers.

Every text page, API answer and download is compressed (Starlette's GZipMiddleware). SPARQL
answers are left out: they are streamed from a worker's spool file, can be 64 MiB, and compressing
them would put that CPU work on the event loop, where it would hold every other client.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PageCompression"]


class PageCompression:
    """GZip every HTTP response except those under ``exclude`` (default ``/sparql``).

    Parameters
    ----------
    app : ASGI app
    exclude : sequence of str
        Path prefixes answered uncompressed.
    minimum_size : int
        Smaller bodies are sent as they are.
    level : int
        zlib level; 6 costs a third of level 9's CPU for nearly the same size on HTML and JSON.
    """

    def __init__(self, app: ASGIApp, *, exclude: Sequence[str] = ("/sparql",), minimum_size: int = 500,
                 level: int = 6) -> None:
        self.app = app
        self.exclude = tuple(exclude)
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=level)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith(self.exclude):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
