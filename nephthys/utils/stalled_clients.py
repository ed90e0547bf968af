"""Drops a response whose client stops reading it (CLIENT_STALL_SECONDS), as plain ASGI.

The server's ``send`` waits while the socket's buffers are full: a client that sends a
request and never reads the answer keeps the handler waiting for ever, and a streamed
export (nephthys/api/tickets.py) keeps its database connection and transaction meanwhile.
Here every ``send`` gets the bound: one that has not gone through within it raises
:class:`ClientStalled` inside the handler, which unwinds it (a stream rolls back its
transaction and gives its connection back), and the middleware ends the request. The
server then closes the connection.

The bound is per ``send``, not per response: a slow client that keeps taking data (a long
export over a slow link) is never cut off, only one that takes nothing for the whole bound.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class ClientStalled(Exception):
    """Raised from ``send()`` when the client has not taken a piece of the response within the bound."""


class StalledClientMiddleware:
    def __init__(self, app: ASGIApp, stall_seconds: float) -> None:
        self.app = app
        self.stall_seconds = stall_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_within_bound(message: Message) -> None:
            bound = asyncio.timeout(self.stall_seconds)
            try:
                async with bound:
                    await send(message)
            except TimeoutError:
                if bound.expired():
                    raise ClientStalled(f"nothing taken for {self.stall_seconds:g} s") from None
                raise

        try:
            await self.app(scope, receive, send_within_bound)
        except ClientStalled as stalled:
            client = scope.get("client")
            log.warning(
                "dropped the answer to %s %s from %s: %s",
                scope.get("method"),
                scope.get("path"),
                client[0] if client else "?",
                stalled,
            )
