"""The JSON API's routes, one module per route family (see docs/api.md)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def api_routes() -> list[BaseRoute]:
    return []
