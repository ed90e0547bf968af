"""Middleware for the HTTP app (metrics, API token)."""

from __future__ import annotations

from starlette.middleware import Middleware

from nephthys.config import Settings


def api_middleware(settings: Settings) -> list[Middleware]:
    return []
