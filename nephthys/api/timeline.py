"""GET /api/ticket/timeline?id=N: the ticket's events in order (at, then id).

Each event is ``{"kind", "at", "by"}``: the kind as stored (upper snake case, e.g.
``HELPER_MESSAGE``), the instant Slack says it happened (the API's timestamp format), and
who did it as the same user object ticket objects carry, or null for the bot. The
parameter, its errors and the access rules are /api/ticket's. Message texts are never
served. One statement builds the whole body, served by the index on
("ticketId", at, id) (migration 0018).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.responses import JSON, error_response
from nephthys.api.ticket import requested_ticket_id
from nephthys.api.ticket_json import _iso as iso_sql

_EVENT = f"""'{{"kind":"' || e.kind || '","at":"' || {iso_sql("e.at")} || '","by":' ||
    CASE WHEN u.id IS NULL THEN 'null'
         ELSE '{{"id":' || u.id || ',"slack_id":' || to_json(u."slackId")::text
              || ',"username":' || coalesce(to_json(u.username)::text, 'null') || '}}' END || '}}'"""

# NULL when there is no such ticket; else the JSON array (empty when it has no events).
TIMELINE = f"""SELECT '[' || coalesce(
        (SELECT string_agg({_EVENT}, ',' ORDER BY e.at, e.id)
         FROM "TicketEvent" e LEFT JOIN "User" u ON u.id = e."actorId"
         WHERE e."ticketId" = t.id), '') || ']'
    FROM "Ticket" t WHERE t.id = $1"""


async def timeline(request: Request) -> Response:
    ticket_id = requested_ticket_id(request)
    if isinstance(ticket_id, str):
        return error_response(400, ticket_id)
    async with request.app.state.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        body = await driver.fetchval(TIMELINE, ticket_id)
    if body is None:
        return error_response(404, "ticket_not_found")
    return Response(body.encode(), media_type=JSON)


route = Route("/api/ticket/timeline", timeline, methods=["GET"])
