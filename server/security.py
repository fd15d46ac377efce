"""Response headers that keep browsers safe, and CORS only where cross-site scripts need it.

Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
``X-Frame-Options: DENY`` and ``Cross-Origin-Opener-Policy: same-origin``. HTML pages get
:data:`PAGE_CSP`: everything from this server only, no script at all. A page that needs inline
scripts (the Sankey, which embeds plotly.js) sets its own policy with :func:`script_csp`, naming each
script by its SHA-256 hash; the middleware leaves such a policy alone. Other responses get a policy
that allows nothing, so a document opened directly (an SVG, say) can run nothing either.

CORS (:class:`ScopedCORS`): any origin may ``GET``/``POST`` the SPARQL endpoint and ``GET`` the REST
API, VoID, the ontology and linked data, without credentials and with only ``Accept`` and
``Content-Type`` headers — so no browser page elsewhere can send the bearer token of the admin
routes, which get no CORS at all, like the HTML pages.

Examples
--------
>>> script_csp('<script>alert(1)</script>').split("; ")[1]
"script-src 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
"""

from __future__ import annotations

import base64
import hashlib
import re
from contextvars import ContextVar

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CLIENT", "DATA_CSP", "PAGE_CSP", "SVG_CSP", "ClientIdentity", "ScopedCORS", "SecurityHeaders",
           "client_key", "script_csp"]

CLIENT: ContextVar[str | None] = ContextVar("kg_client", default=None)
"""Who sent the request being served (:func:`client_key`), set by :class:`ClientIdentity`; the
query runner gives each client its share of the SPARQL workers by it."""


def client_key(authorization: str | None, address: str | None) -> str:
    """A client: its bearer token (hashed, never kept) when it sends one, else its address.

    The address is the TCP peer's; ``kg serve`` trusts no ``X-Forwarded-For``.

    Examples
    --------
    >>> client_key(None, "127.0.0.2")
    'address:127.0.0.2'
    >>> client_key("Bearer abc", "127.0.0.2")[:6]
    'token:'
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:16]
    return "address:" + (address or "-")


class ClientIdentity:
    """ASGI middleware setting :data:`CLIENT` for the request, from its ``Authorization`` header or peer address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        auth = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"authorization"), None)
        peer = scope.get("client")
        token = CLIENT.set(client_key(auth, peer[0] if peer else None))
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT.reset(token)

PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
"""The policy of every HTML page: local style sheet and images, no scripts, no frames, no plugins."""

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'none'"
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"

COMMON = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
}

_SCRIPT = re.compile(r"<script\b[^>]*>([\s\S]*?)</script\s*>", re.IGNORECASE)


def script_csp(html: str) -> str:
    """A page policy allowing exactly the inline ``<script>`` elements of *html* (by SHA-256 hash).

    Inline ``style`` stays allowed on such a page: the scripts set styles as they draw.
    """
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode() + "'"
                     for m in _SCRIPT.finditer(html)})
    return (f"default-src 'none'; script-src {' '.join(hashes) or chr(39) + 'none' + chr(39)}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class SecurityHeaders:
    """ASGI middleware adding :data:`COMMON` headers and a Content-Security-Policy to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                present = {k.lower() for k, _ in headers}
                for k, v in COMMON.items():
                    if k not in present:
                        headers.append((k, v))
                if b"content-security-policy" not in present:
                    ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"").lower()
                    policy = PAGE_CSP if ctype.startswith(b"text/html") else (
                        SVG_CSP if ctype.startswith(b"image/svg+xml") else DATA_CSP)
                    headers.append((b"content-security-policy", policy.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ScopedCORS:
    """CORS for the data routes only: ``/sparql`` (GET, POST); ``/api/``, ``/void``, ``/ont``, ``/id/`` (GET)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        common = {"allow_origins": ["*"], "allow_credentials": False, "expose_headers": ["X-Result-Truncated"],
                  "max_age": 600}
        self.read_write = CORSMiddleware(app, allow_methods=["GET", "POST"], allow_headers=["Accept", "Content-Type"],
                                         **common)  # type: ignore[arg-type]
        self.read_only = CORSMiddleware(app, allow_methods=["GET"], allow_headers=["Accept"],
                                        **common)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == "/sparql":
                await self.read_write(scope, receive, send)
                return
            if path.startswith(("/api/", "/id/")) or path in ("/void", "/ont"):
                await self.read_only(scope, receive, send)
                return
        await self.app(scope, receive, send)
