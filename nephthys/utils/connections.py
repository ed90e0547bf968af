"""How the HTTP server bounds its connections: in time, in number, and at shutdown.

uvicorn (0.55) times only idle keep-alive connections: a client that opens a connection and
sends its request headers slowly, or never, holds a file descriptor for as long as it likes
(~20,000 of them used the service's 20,000 and ``/health`` failed). ``limit_concurrency``
does not help: it answers 503 only once a request's headers are complete, which a slow client
never reaches. So the server runs uvicorn's own httptools protocol with a few additions
(:class:`BoundedHttpToolsProtocol`), the shape uvicorn invites with ``Config(http=<class>)``:

- **Header deadline**: a connection has ``header_timeout`` seconds from its opening (or from
  the first byte of its next request on a kept-alive connection) to complete its request
  headers; otherwise it is closed. The body and the response are not timed here.
- **Open connections**: at most ``max_connections``. One more evicts the oldest idle
  keep-alive connection, else the oldest one still waiting for its headers (under a
  slow-header flood those are the attacker's, while a normal client sends its headers at
  once), else (all are busy with requests) the new connection is closed.
- **Idle keep-alive**: at most ``max_idle`` idle connections (the oldest beyond are closed),
  each for ``keep_alive`` seconds (nephthys/utils/keep_alive.py).
- **Graceful stop**: requests in flight get ``graceful_shutdown`` seconds (uvicorn's
  ``timeout_graceful_shutdown``); after that they are cancelled and the server stops, so a
  stalled reader cannot hold a deploy.

:func:`server_config` builds the uvicorn configuration that ``nephthys serve`` and the tests'
server (tests/support/server.py) both use.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass, field
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from nephthys.utils.keep_alive import KEEP_ALIVE_SECONDS

log = logging.getLogger(__name__)

HEADER_TIMEOUT_SECONDS = 10
"""Time to send the request headers. Slack and any client send them in one packet; a proxy in front too."""

GRACEFUL_SHUTDOWN_SECONDS = 10
"""Time requests in flight get after a stop signal (Docker waits 10 s, Kubernetes 30 s, before SIGKILL)."""

MAX_IDLE_CONNECTIONS = 1000
"""Idle keep-alive connections kept at most; a proxy in front keeps far fewer open to us."""

BACKLOG = 2048
"""Connections the kernel queues before accept (uvicorn's default). asyncio accepts up to this many
in one go before any is counted, so the file descriptors kept in reserve include it."""

RESERVED_FILE_DESCRIPTORS = BACKLOG + 256
"""Descriptors the connection bound leaves free: one accept burst, plus the database pool, Slack's
HTTP clients, logs and files."""


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the soft limit now in force.

    Linux starts processes at a soft limit of 1024 whatever the hard limit allows; the connection
    bound below is derived from this, so the more the process may open, the more clients it serves.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # a container may refuse; the soft limit still bounds us below
            pass
    return open_files_limit()


def open_files_limit() -> int:
    """This process's soft RLIMIT_NOFILE: how many descriptors it may have open."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def _fitted_max_connections() -> int:
    return max(64, open_files_limit() - RESERVED_FILE_DESCRIPTORS)


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds above; tests make them small."""

    header_timeout: float = HEADER_TIMEOUT_SECONDS
    max_connections: int = field(default_factory=_fitted_max_connections)
    """Open connections at most: by default the open-files limit less the reserve, read when made."""
    max_idle: int = MAX_IDLE_CONNECTIONS
    keep_alive: int = KEEP_ALIVE_SECONDS
    graceful_shutdown: int = GRACEFUL_SHUTDOWN_SECONDS


class _ConnectionBook:
    """One server's connections waiting for headers and idle, each in the order it got there."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        # dicts as ordered sets: the first key is the oldest.
        self.waiting_for_headers: dict[BoundedHttpToolsProtocol, None] = {}
        self.idle: dict[BoundedHttpToolsProtocol, None] = {}
        self.refused = 0
        self.refusal_logged_at: float | None = None

    def forget(self, connection: BoundedHttpToolsProtocol) -> None:
        self.waiting_for_headers.pop(connection, None)
        self.idle.pop(connection, None)

    def evictable(self) -> BoundedHttpToolsProtocol | None:
        """The connection to close to make room: the oldest idle, else the oldest waiting for headers."""
        for group in (self.idle, self.waiting_for_headers):
            if group:
                return next(iter(group))
        return None


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and bounds on open and idle connections."""

    book: ClassVar[_ConnectionBook]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_deadline: asyncio.TimerHandle | None = None

    # -- the connection's life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.book.limits.max_connections and not self._make_room():
            self._close()
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        self.book.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.book.idle.pop(self, None)
        super().data_received(data)

    # -- parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.header_deadline is None:  # the next request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._cancel_header_deadline()
        self.book.waiting_for_headers.pop(self, None)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # uvicorn armed its idle timer: idle now
            idle = self.book.idle
            idle[self] = None
            while len(idle) > self.book.limits.max_idle:
                oldest = next(iter(idle))
                self.book.forget(oldest)
                oldest._close()

    # -- the bounds

    def _await_headers(self) -> None:
        self._cancel_header_deadline()
        self.header_deadline = self.loop.call_later(self.book.limits.header_timeout, self._headers_too_slow)
        self.book.waiting_for_headers[self] = None

    def _cancel_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        self.book.forget(self)
        self._close()

    def _make_room(self) -> bool:
        """Close the connection that matters least to fit this one; False when every one is busy."""
        victim = self.book.evictable()
        if victim is None:
            self._log_refusal()
            return False
        self.book.forget(victim)
        victim._close()
        return True

    def _log_refusal(self) -> None:
        # Once a minute at most: a flood must not flood the log as well.
        book = self.book
        book.refused += 1
        now = self.loop.time()
        if book.refusal_logged_at is None or now - book.refusal_logged_at >= 60:
            log.warning(
                "%d connection(s) closed on arrival: %d open, all busy with requests (the bound)",
                book.refused,
                len(self.connections),
            )
            book.refused = 0
            book.refusal_logged_at = now

    def _close(self) -> None:
        self._cancel_header_deadline()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def bounded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """A protocol class for one server: its connections are counted together, apart from other servers'."""

    class Protocol(BoundedHttpToolsProtocol):
        book = _ConnectionBook(limits)

    return Protocol


def server_config(
    app: Any, *, host: str, port: int, log_level: str, limits: ConnectionLimits | None = None
) -> uvicorn.Config:
    """The uvicorn configuration of the service (``nephthys serve``) and of the tests' server."""
    limits = limits or ConnectionLimits()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        http=bounded_protocol(limits),
        backlog=BACKLOG,
        timeout_keep_alive=limits.keep_alive,
        timeout_graceful_shutdown=limits.graceful_shutdown,
    )
