"""The JSON API's routes, one module per route family (see docs/api.md)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from nephthys.api import aggregates, metrics, openapi, question_tags, stats, stats_v2, ticket, tickets, user


def api_routes() -> list[BaseRoute]:
    return [
        stats_v2.route,
        stats.route,
        tickets.route,
        ticket.route,
        user.route,
        question_tags.route,
        *aggregates.routes,
        metrics.route,
        openapi.route,
    ]
