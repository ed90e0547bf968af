"""GET /api/user?id=<slack id>: how many tickets someone opened and closed, and whether they help."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.params import BadParameter, first
from nephthys.api.responses import error_response, json_response

# tickets_closed leaves out tickets the user opened (closing your own question is not helping).
USER_SUMMARY = text(
    """SELECT u.helper,
        (SELECT count(*) FROM "Ticket" t WHERE t."openedById" = u.id) AS tickets_opened,
        (SELECT count(*) FROM "Ticket" t WHERE t."closedById" = u.id AND t."openedById" <> u.id)
            AS tickets_closed
    FROM "User" u WHERE u."slackId" = :slack_id"""
)


async def user(request: Request) -> Response:
    try:
        found = first(request, "id")
    except BadParameter as error:
        return error_response(400, "invalid_user_id", detail=str(error))
    if found is None:
        return error_response(400, "missing_user_id")
    async with request.app.state.engine.connect() as connection:
        row = (await connection.execute(USER_SUMMARY, {"slack_id": found[1]})).one_or_none()
    if row is None:
        return error_response(404, "user_not_found")
    return json_response(
        {"tickets_opened": row.tickets_opened, "tickets_closed": row.tickets_closed, "helper": row.helper}
    )


route = Route("/api/user", user, methods=["GET"])
