"""GET /api/ticket?id=N: one ticket, shaped as the contract's Ticket object.

The object is the one stored for /api/tickets (migration 0011), so both write byte-for-byte the same
(in the same case: nephthys/api/status_case.py); an object with a running SLA clock has its ``sla``
member rewritten at the database's clock, as every answer does (nephthys/api/sla_now.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api import sla_now, stored_tickets
from nephthys.api.access import shows_descriptions
from nephthys.api.params import INT32_MAX
from nephthys.api.responses import JSON, error_response
from nephthys.api.status_case import UPPER, upper_statuses

ONE_TICKET = stored_tickets.one_ticket_sql()
ONE_TICKET_WITHOUT_DESCRIPTION = stored_tickets.one_ticket_sql(descriptions=False)


def requested_ticket_id(request: Request) -> int | str:
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
    ticket_id = requested_ticket_id(request)
    if isinstance(ticket_id, str):
        return error_response(400, ticket_id)
    async with request.app.state.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        descriptions = shows_descriptions(request)
        body = await driver.fetchval(
            ONE_TICKET if descriptions else ONE_TICKET_WITHOUT_DESCRIPTION, ticket_id
        )
        if body is None:
            return error_response(404, "ticket_not_found")
        json = body.encode()
        if sla_now.stored_running(json):
            # Its clocks are read after the object (another statement): a change committed in
            # between shows in the member, which is at most as old as the object.
            (json,) = await sla_now.rewrite_objects(
                driver, [(ticket_id, json)], request.app.state.settings.support_calendar
            )
    if request.app.state.settings.api_status_case == UPPER:
        json = upper_statuses(json)
    return Response(json, media_type=JSON)


route = Route("/api/ticket", ticket, methods=["GET"])
