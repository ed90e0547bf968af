"""A request body limit for every route, as plain ASGI: refused with 413 before it is read whole.

A ``Content-Length`` over the limit is refused before the app runs. A body without one
(chunked) is counted as the app reads it: the chunk that goes over the limit raises
``BodyTooLarge`` inside the app's ``receive()``, and this middleware answers 413 if no
response has started, so at most the limit (plus one chunk) is ever held.

It sits innermost (after the JSON-errors middleware), so the exception it raises through
the app comes back to it rather than being turned into a 500.
"""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Slack's event and interaction payloads are a few kB; the API takes no bodies at all. 1 MB is generous.
MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(Exception):
    """Raised from ``receive()`` when a streamed body goes over the limit."""


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send, f"Content-Length {declared}")
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, send, f"more than {self.max_bytes} bytes streamed")

    async def _refuse(self, scope: Scope, send: Send, what: str) -> None:
        log.warning(
            "request body refused on %s: %s (limit %d bytes)", scope.get("path"), what, self.max_bytes
        )
        content = orjson.dumps({"error": "payload_too_large", "max_bytes": self.max_bytes})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    # The rest of the body is not read: the client should not reuse this connection.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed Content-Length before the app sees it
    return None
