"""GET /api/ticket?id=N: one ticket, shaped as the contract's Ticket object.

The shape is built by PostgreSQL (``TICKET_JSON``), so /api/ticket and the
streamed /api/tickets write byte-for-byte the same objects.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.params import INT32_MAX
from nephthys.api.responses import JSON, error_response


def _user_json(alias: str) -> str:
    return f"""CASE WHEN {alias}.id IS NULL THEN NULL
                    ELSE json_build_object('id', {alias}.id, 'slack_id', {alias}."slackId") END"""


# One ticket as JSON text; team tags by name. created_at: ISO 8601, milliseconds, UTC offset.
TICKET_JSON = f"""json_build_object(
    'id', t.id,
    'title', t.title,
    'description', t.description,
    'status', lower(t.status::text),
    'opened_by', {_user_json("opener")},
    'closed_by', {_user_json("closer")},
    'assigned_to', {_user_json("assignee")},
    'reopened_by', {_user_json("reopener")},
    'tags', coalesce((SELECT json_agg(tag.name ORDER BY tag.name)
                      FROM tags_on_tickets link JOIN "Tag" tag ON tag.id = link."tagId"
                      WHERE link."ticketId" = t.id), '[]'::json),
    'created_at', to_char(t."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"'),
    'message_ts', t."msgTs")::text"""

TICKET_JOINS = """LEFT JOIN "User" opener ON opener.id = t."openedById"
    LEFT JOIN "User" closer ON closer.id = t."closedById"
    LEFT JOIN "User" assignee ON assignee.id = t."assignedToId"
    LEFT JOIN "User" reopener ON reopener.id = t."reopenedById\""""

ONE_TICKET = f'SELECT {TICKET_JSON} FROM "Ticket" t {TICKET_JOINS} WHERE t.id = $1'


def _ticket_id(request: Request) -> int | str:
    """The ticket id asked for, or the error to answer."""
    values = request.query_params.getlist("id")
    if not values:
        return "missing_ticket_id"
    value = values[0].strip()
    if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 11:
        return "invalid_ticket_id"
    number = int(value)
    return number if -INT32_MAX - 1 <= number <= INT32_MAX else "invalid_ticket_id"


async def ticket(request: Request) -> Response:
    ticket_id = _ticket_id(request)
    if isinstance(ticket_id, str):
        return error_response(400, ticket_id)
    async with request.app.state.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        body = await raw.driver_connection.fetchval(ONE_TICKET, ticket_id)
    if body is None:
        return error_response(404, "ticket_not_found")
    return Response(body.encode(), media_type=JSON)


route = Route("/api/ticket", ticket, methods=["GET"])
