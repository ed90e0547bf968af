"""GET /api/unanswered?limit=: the queue of questions waiting for a helper, longest-waiting first.

The dashboard's queue reads it; the definition is ``nephthys.stats.unanswered``'s.
"""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.params import BadParameter, whole_number
from nephthys.api.responses import error_response, json_response
from nephthys.api.stats_v2 import links_for
from nephthys.stats.unanswered import unanswered_queue

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


async def unanswered(request: Request) -> Response:
    try:
        limit = whole_number(request, "limit", low=1, high=MAX_LIMIT) or DEFAULT_LIMIT
    except BadParameter as error:
        return error_response(400, "invalid_limit", detail=str(error))
    async with request.app.state.engine.connect() as connection:
        now = (await connection.execute(text("SELECT now()"))).scalar_one()
        queue = await unanswered_queue(
            connection, now, links_for(request), limit=limit, with_descriptions=True
        )
    return json_response(queue)


route = Route("/api/unanswered", unanswered, methods=["GET"])
