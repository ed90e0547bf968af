"""GET /api/stats/question_tags?since=&until=: how often each recurring question came up."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.params import BadParameter, instant
from nephthys.api.responses import error_response, json_response
from nephthys.stats.question_tags import question_tag_counts


async def question_tag_stats(request: Request) -> Response:
    """Each question tag's count of tickets created in [since, until), most first (zero counts too)."""
    try:
        since = instant(request, "since", "after")
        until = instant(request, "until", "before")
    except BadParameter as error:
        return error_response(400, str(error))
    if since is not None and until is not None and since > until:
        return error_response(400, "since: must not be after until")
    async with request.app.state.sessions() as session:
        counts = await question_tag_counts(session, since=since, until=until)
    return json_response([{"id": row.id, "label": row.label, "count": row.count} for row in counts])


route = Route("/api/stats/question_tags", question_tag_stats, methods=["GET"])
