"""GET /api/stats_v2: how the help channel is doing, all time and over the last 24 hours and 7 days."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.responses import json_response
from nephthys.stats.memo import StatsV2Memo
from nephthys.stats.overview import MessageLinks, stats_v2_raw, stats_v2_view

# The request's clock is the database's: windows end at the now() of the
# request's first statement, whose snapshot also gives the data version.
VERSION_AND_NOW = text('SELECT (SELECT "version" FROM "TicketTotals" WHERE id = 1) AS version, now() AS now')


def links_for(request: Request) -> MessageLinks:
    settings = request.app.state.settings
    return MessageLinks(settings.slack_workspace_url, settings.slack_help_channel)


def _memo(request: Request) -> StatsV2Memo:
    state = request.app.state
    if not hasattr(state, "stats_v2_memo"):
        state.stats_v2_memo = StatsV2Memo()
    return state.stats_v2_memo


async def stats_v2(request: Request) -> Response:
    memo = _memo(request)
    async with request.app.state.engine.connect() as connection:
        check = (await connection.execute(VERSION_AND_NOW)).one()
        raw = memo.lookup(check.version, check.now)
        if raw is None:
            async with memo.computing:
                raw = memo.lookup(check.version, check.now)
                if raw is None:
                    raw = await stats_v2_raw(connection, check.now)
                    memo.remember(raw)
    return json_response(stats_v2_view(raw, check.now, links_for(request)))


route = Route("/api/stats_v2", stats_v2, methods=["GET"])
