"""The JSON API's routes, one module per route family (see docs/api.md)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from nephthys.api import (
    aggregates,
    feedback,
    metrics,
    openapi,
    question_tags,
    search,
    sla_attention,
    stats,
    stats_v2,
    ticket,
    tickets,
    timeline,
    unanswered,
    user,
)


def api_routes() -> list[BaseRoute]:
    return [
        stats_v2.route,
        stats.route,
        search.route,
        tickets.route,
        ticket.route,
        timeline.route,
        user.route,
        question_tags.route,
        feedback.route,
        *aggregates.routes,
        unanswered.route,
        sla_attention.route,
        metrics.route,
        openapi.route,
    ]
