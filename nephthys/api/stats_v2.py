"""GET /api/stats_v2: how the help channel is doing, all time and over the last 24 hours and 7 days."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.etag import matches, not_modified
from nephthys.api.responses import JSON
from nephthys.stats.memo import RenderedStatsV2, StatsV2Memo
from nephthys.stats.overview import MessageLinks, stats_v2_raw

# The request's clock is the database's: windows end at the now() of the
# request's first statement, whose snapshot also gives the data version.
NO_JIT = text("SET LOCAL jit = off")
VERSION_AND_NOW = 'SELECT (SELECT "version" FROM "TicketTotals" WHERE id = 1) AS version, now() AS now'


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
        # The driver directly: no BEGIN/ROLLBACK around a single-row read.
        driver = (await connection.get_raw_connection()).driver_connection
        check = await driver.fetchrow(VERSION_AND_NOW)
        version, now = check["version"], check["now"]
        rendered = memo.lookup(version, now)
        if rendered is None:
            async with memo.computing:
                rendered = memo.lookup(version, now)
                if rendered is None:
                    # One statement of many small index scans: compiling it costs more than it saves.
                    await connection.execute(NO_JIT)
                    rendered = RenderedStatsV2.of(await stats_v2_raw(connection, now), links_for(request))
                    memo.remember(rendered)
    # Weak: age_minutes moves with the clock; every other figure is what the tag names.
    etag = f'W/"{rendered.fingerprint}"'
    if matches(request, etag):
        return not_modified(etag)
    return Response(rendered.at(now), media_type=JSON, headers={"ETag": etag})


route = Route("/api/stats_v2", stats_v2, methods=["GET"])
