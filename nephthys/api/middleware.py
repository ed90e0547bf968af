"""Middleware for the HTTP app: stalled clients, metrics, JSON errors, API access (keys and API_TOKEN).

All four are plain ASGI (no BaseHTTPMiddleware), so streamed bodies pass
through untouched and a request costs a few microseconds more, not a task.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

import orjson
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nephthys.api.keys import KEY_PREFIX, KeyChecker
from nephthys.api.metrics import Metrics, MetricsMiddleware
from nephthys.config import Settings
from nephthys.utils.stalled_clients import StalledClientMiddleware

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


def bearer_credentials(scope: Scope) -> str | None:
    """The credentials of an ``Authorization: Bearer <credentials>`` header; the scheme in any case (RFC 7235)."""
    header = next((value for name, value in scope.get("headers", []) if name == b"authorization"), None)
    if header is None:
        return None
    scheme, _, credentials = header.decode("latin-1").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


# Set in the scope of a request that presented a valid key or API_TOKEN (nephthys.api.access reads it).
KEY_HOLDER = "nephthys.key_holder"


class ApiAccessMiddleware:
    """Who may read /api/*, and whether they hold a key.

    - ``API_ACCESS=keys`` (or ``API_TOKEN`` set, as before): every /api/* request
      needs ``Authorization: Bearer <key>``, an API key or API_TOKEN; else 401.
    - ``API_ACCESS=open``: anyone may read; a key sent anyway is checked (a wrong one
      counts as none), so a key in use is recorded as used (``lastUsedAt``) in every mode.

    API_TOKEN is compared in constant time; keys by their hash (nephthys.api.keys).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.required = settings.api_access == "keys" or bool(settings.api_token)
        self.token = settings.api_token.encode() if settings.api_token else None
        self.checker = KeyChecker()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope.get("path", "").startswith(API_PREFIX)):
            await self.app(scope, receive, send)
            return
        credentials = bearer_credentials(scope)
        if credentials is None and not self.required:  # open, and no key sent: nothing to look up
            await self.app(scope, receive, send)
            return
        valid = credentials is not None and await self._is_valid(scope, credentials)
        if valid:
            scope[KEY_HOLDER] = True
        elif self.required:
            await _send_json(
                send,
                401,
                {"error": "unauthorized", "detail": "send an API key as 'Authorization: Bearer <key>'"},
                [(b"www-authenticate", b'Bearer realm="nephthys"')],
            )
            return
        await self.app(scope, receive, send)

    async def _is_valid(self, scope: Scope, credentials: str) -> bool:
        # compare_digest takes the same time wherever the first difference is.
        if self.token is not None and hmac.compare_digest(credentials.encode(), self.token):
            return True
        if not credentials.startswith(KEY_PREFIX):
            return False  # not one of ours: no database read
        async with scope["app"].state.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            return await self.checker.is_valid(driver, credentials)


def api_middleware(settings: Settings) -> list[Middleware]:
    return [
        # Outermost: a stalled client's request unwinds through the others (a stream ends its transaction).
        Middleware(StalledClientMiddleware, stall_seconds=settings.client_stall_seconds),
        Middleware(MetricsMiddleware, metrics=Metrics()),
        Middleware(JsonErrorsMiddleware),
        Middleware(ApiAccessMiddleware, settings=settings),
    ]
