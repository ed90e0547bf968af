"""GET /api/stats/feedback?since=&until=: what askers said about their resolved questions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.params import BadParameter, period
from nephthys.api.responses import error_response, json_response
from nephthys.database.models import FeedbackRating
from nephthys.stats.feedback import feedback_stats

# The API's names for the ratings (lower case, like ticket statuses).
RATING_NAMES = {
    FeedbackRating.NOT_GOOD: "not_good",
    FeedbackRating.OKAY: "okay",
    FeedbackRating.GREAT: "great",
}


def _share(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


async def feedback(request: Request) -> Response:
    """Feedback created in [since, until): counts and shares per rating, response rate, per helper."""
    try:
        since, until = period(request)
    except BadParameter as error:
        return error_response(400, str(error))
    async with request.app.state.sessions() as session:
        stats = await feedback_stats(session, since=since, until=until)
    return json_response(
        {
            "total": stats.total,
            "ratings": {
                name: {"count": stats.counts[rating], "share": _share(stats.share(rating))}
                for rating, name in RATING_NAMES.items()
            },
            "closed_tickets": stats.closed_tickets,
            "closed_tickets_with_feedback": stats.closed_tickets_with_feedback,
            "response_rate": _share(stats.response_rate),
            "helpers": [
                {
                    "id": helper.id,
                    "slack_id": helper.slack_id,
                    "total": helper.total,
                    **{name: helper.counts[rating] for rating, name in RATING_NAMES.items()},
                }
                for helper in stats.helpers
            ],
        }
    )


route = Route("/api/stats/feedback", feedback, methods=["GET"])
