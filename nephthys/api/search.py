"""GET /api/tickets/search?q=WORDS&limit=N: the tickets the words find, best first.

The same ticket objects as /api/tickets (the stored ones, migration 0011), under its access rules;
found by the team's memory (nephthys/memory/similar.py: question and closing answer, any script,
typos forgiven). A match reveals what a ticket says, so with API_DESCRIPTIONS=keys a search needs a
key (401 without one), and the objects carry their descriptions.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api import stored_tickets
from nephthys.api.access import shows_descriptions
from nephthys.api.params import BadParameter, first, whole_number
from nephthys.api.responses import JSON, OrjsonResponse, error_response
from nephthys.api.status_case import UPPER, upper_statuses
from nephthys.memory import similar

DEFAULT_LIMIT = 10
MAX_LIMIT = similar.SEARCH_LIMIT_MAX

_OBJECTS = " UNION ALL ".join(
    f'SELECT j."ticketId" AS id, {stored_tickets.json_column(True)} AS json FROM {table} j '
    'WHERE j."ticketId" = ANY($1::int[])'
    for table in (stored_tickets.ACTIVE, stored_tickets.CLOSED)
)


def unauthorized() -> Response:
    return OrjsonResponse(
        {
            "error": "unauthorized",
            "detail": "searching reads descriptions: send 'Authorization: Bearer <key>'",
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="nephthys"'},
    )


async def search(request: Request) -> Response:
    if not shows_descriptions(request):
        return unauthorized()
    try:
        found = first(request, "q")
        limit = whole_number(request, "limit", low=1, high=MAX_LIMIT) or DEFAULT_LIMIT
    except BadParameter as error:
        return error_response(400, str(error))
    if found is None or not found[1].strip():
        return error_response(400, "q: expected the words to search for")
    matches = await similar.search_tickets(request.app.state.sessions, words=found[1], limit=limit)
    if not matches:
        return Response(b"[]", media_type=JSON)
    async with request.app.state.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        rows = {row["id"]: row["json"] for row in await driver.fetch(_OBJECTS, [m.id for m in matches])}
    body = ("[" + ",".join(rows[m.id] for m in matches if m.id in rows) + "]").encode()
    if request.app.state.settings.api_status_case == UPPER:
        body = upper_statuses(body)
    return Response(body, media_type=JSON)


route = Route("/api/tickets/search", search, methods=["GET"])
