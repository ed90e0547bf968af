"""GET /api/sla/attention?limit=: the tickets whose SLA clocks are breached or at risk now.

The dashboard's SLA section reads it; the definitions are ``nephthys.stats.sla``'s, the same as
``/api/tickets?sla=`` (at the database's clock, in one snapshot). A ticket's ``title`` follows
API_DESCRIPTIONS as /api/unanswered's does. Its weak ETag covers everything but ``minutes_left``
(which moves with the clock): a poller gets a 304 until the list itself changes.
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
from nephthys.stats.sla import sla_attention

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


async def attention(request: Request) -> Response:
    try:
        limit = whole_number(request, "limit", low=1, high=MAX_LIMIT) or DEFAULT_LIMIT
    except BadParameter as error:
        return error_response(400, "invalid_limit", detail=str(error))
    async with request.app.state.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            now = (await connection.execute(text("SELECT now()"))).scalar_one()
            found = await sla_attention(
                connection,
                now=now,
                links=links_for(request),
                calendar=request.app.state.settings.support_calendar,
                limit=limit,
                with_descriptions=shows_descriptions(request),
            )
    unchanging = {
        **found,
        "tickets": [{k: v for k, v in t.items() if k != "minutes_left"} for t in found["tickets"]],
    }
    etag = entity_tag(orjson.dumps(unchanging), weak=True)
    if matches(request, etag):
        return not_modified(etag)
    return json_response(found, headers={"ETag": etag})


route = Route("/api/sla/attention", attention, methods=["GET"])
