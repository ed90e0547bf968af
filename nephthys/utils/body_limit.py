"""A request body limit for every route, as plain ASGI: refused with 413 before it is read whole.

A ``Content-Length`` over the limit is refused before the app runs. A body without one
(chunked) is counted as the app reads it: the chunk that goes over the limit raises
``BodyTooLarge`` inside the app's ``receive()``, and this middleware answers 413 if no
response has started, so at most the limit (plus one chunk) is ever held.

It sits innermost (after the JSON-errors middleware), so the exception it raises through
the app comes back to it rather than being turned into a 500.

After the 413 is written, what the client is still sending is read and dropped (never
held), up to ``DISCARD_BYTES`` and ``DISCARD_SECONDS``, before the connection closes. A
client that posts its body in one go without ``Expect: 100-continue`` (httpx, requests)
reads the response only once it has written the body; closing on unread data made the
kernel answer with a reset, which discards the 413 the client had not read yet.
"""

from __future__ import annotations

import logging

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Slack's event and interaction payloads are a few kB; the API takes no bodies at all. 1 MB is generous.
MAX_BODY_BYTES = 1024 * 1024

# Read and dropped after a 413 so the client can read it: a 5 MB upload is common, 16 MB ends it.
DISCARD_BYTES = 16 * 1024 * 1024
DISCARD_SECONDS = 10


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
            await self._discard_rest(receive, send, coming=declared)
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
            await self._discard_rest(receive, send, coming=None if declared is None else declared - received)

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
        # Not the last part yet: the server closes the connection once the response is complete,
        # and :meth:`_discard_rest` must read what is still coming first.
        await send({"type": "http.response.body", "body": content, "more_body": True})

    async def _discard_rest(self, receive: Receive, send: Send, *, coming: int | None) -> None:
        """Read and drop the rest of the body (within the bounds), then complete the response."""
        if coming is None or coming <= DISCARD_BYTES:  # a larger declared body will not fit: close at once
            discarded = 0
            with anyio.move_on_after(DISCARD_SECONDS):
                while discarded < DISCARD_BYTES:
                    message = await receive()
                    if message["type"] != "http.request":
                        break  # the client went away
                    discarded += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
        await send({"type": "http.response.body", "body": b""})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed Content-Length before the app sees it
    return None
