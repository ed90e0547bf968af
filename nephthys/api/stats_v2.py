"""GET /api/stats_v2: how the help channel is doing, all time and over the last 24 hours and 7 days."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.etag import matches, not_modified
from nephthys.api.responses import JSON
from nephthys.stats.memo import StatsV2Memo, current_stats_v2
from nephthys.stats.overview import MessageLinks


def links_for(request: Request) -> MessageLinks:
    settings = request.app.state.settings
    return MessageLinks(settings.slack_workspace_url, settings.slack_help_channel)


def _memo(request: Request) -> StatsV2Memo:
    """The service's one memo (the App Home shares it: see create_app)."""
    state = request.app.state
    if not hasattr(state, "stats_v2_memo"):
        state.stats_v2_memo = StatsV2Memo()
    return state.stats_v2_memo


async def stats_v2(request: Request) -> Response:
    async with request.app.state.engine.connect() as connection:
        rendered, now = await current_stats_v2(connection, _memo(request), links_for(request))
    # Weak: age_minutes moves with the clock; every other figure is what the tag names.
    etag = f'W/"{rendered.fingerprint}"'
    if matches(request, etag):
        return not_modified(etag)
    return Response(rendered.at(now), media_type=JSON, headers={"ETag": etag})


route = Route("/api/stats_v2", stats_v2, methods=["GET"])
