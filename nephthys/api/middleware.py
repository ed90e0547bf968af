"""Middleware for the HTTP app: metrics, JSON errors, the optional API token.

All three are plain ASGI (no BaseHTTPMiddleware), so streamed bodies pass
through untouched and a request costs a few microseconds more, not a task.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

import orjson
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nephthys.api.metrics import Metrics, MetricsMiddleware
from nephthys.config import Settings

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


async def _send_json(
    send: Send, status: int, body: dict, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    content = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


def _is_database_failure(error: BaseException) -> bool:
    """asyncpg, SQLAlchemy and socket errors mean the database, not the request, is at fault."""
    return isinstance(error, OSError | TimeoutError) or type(error).__module__.startswith(
        ("asyncpg", "sqlalchemy")
    )


class JsonErrorsMiddleware:
    """Every answer is JSON: unknown paths and methods, and failures, whatever happened.

    A failure before the response started becomes 503 ``database_unavailable``
    when the database is at fault, else 500 ``internal_error`` (logged); no
    traceback reaches the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        replaced_status: int | None = None

        async def send_json_errors(message: Message) -> None:
            nonlocal started, replaced_status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = dict(message.get("headers", []))
                is_plain = headers.get(b"content-type", b"").startswith(b"text/plain")
                if status in (404, 405) and is_plain:
                    replaced_status = status
                    extra = [(b"allow", headers[b"allow"])] if b"allow" in headers else []
                    error = "not_found" if status == 404 else "method_not_allowed"
                    await _send_json(send, status, {"error": error}, extra)
                    return
            elif replaced_status is not None:
                return  # the plain-text body of a replaced answer
            await send(message)

        try:
            await self.app(scope, receive, send_json_errors)
        except Exception as error:
            if started:
                raise  # mid-stream: the status is gone; dropping the connection is all that is left
            if _is_database_failure(error):
                log.warning("database unavailable answering %s: %s", scope.get("path"), error)
                await _send_json(send, 503, {"error": "database_unavailable"})
            else:
                log.exception("unexpected failure answering %s", scope.get("path"))
                await _send_json(send, 500, {"error": "internal_error"})


class ApiTokenMiddleware:
    """With API_TOKEN set, every /api/* request needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(API_PREFIX):
            given = next((value for name, value in scope.get("headers", []) if name == b"authorization"), b"")
            # compare_digest takes the same time wherever the first difference is.
            if not hmac.compare_digest(given, self.expected):
                await _send_json(
                    send,
                    401,
                    {
                        "error": "unauthorized",
                        "detail": "send the API token as 'Authorization: Bearer <token>'",
                    },
                    [(b"www-authenticate", b'Bearer realm="nephthys"')],
                )
                return
        await self.app(scope, receive, send)


def api_middleware(settings: Settings) -> list[Middleware]:
    middleware = [Middleware(MetricsMiddleware, metrics=Metrics()), Middleware(JsonErrorsMiddleware)]
    if settings.api_token:
        middleware.append(Middleware(ApiTokenMiddleware, token=settings.api_token))
    return middleware
