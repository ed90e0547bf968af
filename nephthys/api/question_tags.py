"""GET /api/stats/question_tags?since=&until=: how often each recurring question came up."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nephthys.stats.question_tags import question_tag_counts


class BadParameter(ValueError):
    pass


def _instant(request: Request, *names: str) -> datetime | None:
    """The first of ``names`` given, as an ISO 8601 date or date-time (UTC unless it says otherwise)."""
    for name in names:
        raw = request.query_params.get(name)
        if raw is None or not raw.strip():
            continue
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise BadParameter(
                f"{name}: expected an ISO 8601 date or date-time like 2026-01-31, got {raw!r}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return None


async def question_tag_stats(request: Request) -> JSONResponse:
    """Each question tag's count of tickets created in [since, until), most first."""
    try:
        since = _instant(request, "since", "after")
        until = _instant(request, "until", "before")
    except BadParameter as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    if since is not None and until is not None and since > until:
        return JSONResponse({"error": "since: must not be after until"}, status_code=400)
    async with request.app.state.sessions() as session:
        counts = await question_tag_counts(session, since=since, until=until)
    return JSONResponse([{"id": row.id, "label": row.label, "count": row.count} for row in counts])


route = Route("/api/stats/question_tags", question_tag_stats, methods=["GET"])

__all__ = ["question_tag_stats", "route"]
