"""GET /api/stats/question_tags?since=&until=: how often each recurring question came up."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.params import BadParameter, period
from nephthys.api.responses import error_response, json_response
from nephthys.stats.question_tags import question_tag_counts


async def question_tag_stats(request: Request) -> Response:
    """Each question tag's count of tickets created in [since, until), most first (zero counts too)."""
    try:
        since, until = period(request)
    except BadParameter as error:
        return error_response(400, str(error))
    async with request.app.state.sessions() as session:
        counts = await question_tag_counts(session, since=since, until=until)
    return json_response([{"id": row.id, "label": row.label, "count": row.count} for row in counts])


route = Route("/api/stats/question_tags", question_tag_stats, methods=["GET"])
