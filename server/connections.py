"""Connection guards for ``kg serve``: slow and idle connections are closed, and each address gets a cap.

uvicorn closes a keep-alive connection idle for ``timeout_keep_alive`` seconds after a response,
but waits forever for the first request of a new connection and for a request sent one byte at a
time, and its only cap (``limit_concurrency``) answers *everyone* 503 once enough connections are
open — so a few hundred idle sockets from one client shut out all the others. :func:`guarded`
returns uvicorn's h11 protocol with three more rules:

* the request line and headers must arrive within ``header_timeout`` seconds of the connection
  (or of the end of the previous response), and the whole body within ``body_timeout``; else the
  connection is closed;
* one client address may hold ``per_client`` connections; one more is closed at once, without
  touching anyone else's;
* nothing else counts against a global limit, so while one client holds its cap of idle
  connections every other client is served. (The operating system's file limit is raised to its
  hard maximum by ``kg serve``.)

Examples
--------
>>> protocol = guarded(per_client=2, header_timeout=1.0, body_timeout=2.0)
>>> protocol.per_client, protocol.header_timeout
(2, 1.0)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["GuardedH11Protocol", "guarded", "raise_file_limit"]


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with request read timeouts and a connection cap per client address."""

    per_client = 64
    header_timeout = 10.0
    body_timeout = 30.0
    open_by_address: ClassVar[Counter[str]] = Counter()
    refused = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._address: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else "-"
        counts = type(self).open_by_address
        if counts[address] >= self.per_client:
            type(self).refused += 1
            transport.abort()  # connection_lost follows; nothing was counted for it
            return
        counts[address] += 1
        self._address = address
        self._arm(self.header_timeout, self._headers_due)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address is not None:
            counts = type(self).open_by_address
            counts[self._address] -= 1
            if counts[self._address] <= 0:
                del counts[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.DONE:  # the whole request is in: the app's time from here
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.SEND_BODY:  # answered before the body came (413, 415): it is due all the same
            self._arm(self.body_timeout, self._body_due)
        else:  # the keep-alive timer runs; the next request's head is due too
            self._arm(self.timeout_keep_alive + self.header_timeout, self._headers_due)

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _headers_due(self) -> None:
        self._read_timer = None
        state = self.conn.their_state
        if state is h11.IDLE:  # no complete request line and headers yet
            self._close()
        elif state is h11.SEND_BODY:
            self._arm(max(self.body_timeout - self.header_timeout, 0.1), self._body_due)

    def _body_due(self) -> None:
        self._read_timer = None
        if self.conn.their_state is h11.SEND_BODY:
            self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.abort()


def guarded(*, per_client: int = 64, header_timeout: float = 10.0, body_timeout: float = 30.0) -> type[H11Protocol]:
    """A :class:`GuardedH11Protocol` subclass with these limits, for ``uvicorn.run(http=…)``."""
    if per_client < 1 or header_timeout <= 0 or body_timeout < header_timeout:
        raise ValueError("per_client must be positive and 0 < header_timeout <= body_timeout")
    return type("GuardedH11", (GuardedH11Protocol,), {
        "per_client": per_client, "header_timeout": header_timeout, "body_timeout": body_timeout,
        "open_by_address": Counter(), "refused": 0,
    })


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard maximum; return the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
