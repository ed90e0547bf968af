"""The JSON API's routes, one module per route family (see docs/api.md)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from nephthys.api import question_tags


def api_routes() -> list[BaseRoute]:
    return [question_tags.route]
