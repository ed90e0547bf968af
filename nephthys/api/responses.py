"""JSON responses of the API (orjson), errors included."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

JSON = "application/json"


class OrjsonResponse(Response):
    media_type = JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return OrjsonResponse(content, status_code=status_code, headers=headers)


def error_response(status_code: int, error: str, **extra: Any) -> Response:
    """``{"error": ..., **extra}`` with ``status_code``; every API error has this shape."""
    return OrjsonResponse({"error": error, **extra}, status_code=status_code)


def too_many_requests(error: str, retry_after_seconds: int, detail: str) -> Response:
    """429 ``{"error": ..., "detail": ..., "retry_after_seconds": N}`` with ``Retry-After: N``."""
    return OrjsonResponse(
        {"error": error, "detail": detail, "retry_after_seconds": retry_after_seconds},
        status_code=429,
        headers={"Retry-After": str(retry_after_seconds)},
    )
