"""GET /api/stats: the first-generation flat statistics, as existing dashboards read them."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.responses import json_response
from nephthys.stats.overview import legacy_stats


async def stats(request: Request) -> Response:
    async with request.app.state.engine.connect() as connection:
        now = (await connection.execute(text("SELECT now()"))).scalar_one()
        return json_response(await legacy_stats(connection, now))


route = Route("/api/stats", stats, methods=["GET"])
