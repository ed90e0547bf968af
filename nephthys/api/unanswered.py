"""GET /api/unanswered?limit=: the queue of questions waiting for a helper, longest-waiting first.

The dashboard's queue reads it; the definition is ``nephthys.stats.unanswered``'s.
Each ticket's ``description`` follows API_DESCRIPTIONS, as ticket objects do:
left out for a request without a valid key when it is ``keys``.
Its weak ETag covers everything but ``waiting_minutes`` (which grows with the
clock), as /api/stats_v2's leaves out ``age_minutes``: a poller gets a 304 until
the queue itself changes.
"""

from __future__ import annotations

import orjson
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.access import shows_descriptions
from nephthys.api.etag import entity_tag, matches, not_modified
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
            connection, now, links_for(request), limit=limit, with_descriptions=shows_descriptions(request)
        )
    unchanging = [{k: v for k, v in ticket.items() if k != "waiting_minutes"} for ticket in queue["tickets"]]
    etag = entity_tag(orjson.dumps({"total": queue["total"], "tickets": unchanging}), weak=True)
    if matches(request, etag):
        return not_modified(etag)
    return json_response(queue, headers={"ETag": etag})


route = Route("/api/unanswered", unanswered, methods=["GET"])
