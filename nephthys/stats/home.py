"""The App Home's figures: the dashboard, a helper's own statistics and question-tag counts.

The definitions are ``nephthys.stats.overview``'s (its docstring, docs/api.md):

- The dashboard *is* /api/stats_v2: the same document from the same computation,
  reused exactly as the API reuses it (``nephthys.stats.memo.current_stats_v2``, one
  memo per service), so the Home and the API never disagree.
- A helper's rank on a leaderboard: their 1-based position on that leaderboard
  (helpers by tickets closed, most first, ties by user id, helpers with none left
  out); ``None`` when they are not on it. The 24-hour, 7-day and all-time boards are
  stats_v2's own; the 30-day board is ``helpers_leaderboard`` over ``[now - 30d, now)``.
- Mean time to first response of a helper: the mean hang time (``assignedAt -
  createdAt``, exact milliseconds) over tickets assigned to them, in minutes.
- Question tags over a window: tickets created in ``[now - window, now)`` carrying the
  tag, as /api/stats/question_tags counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from nephthys.stats.memo import StatsV2Memo, current_stats_v2
from nephthys.stats.overview import (
    HANG_MS,
    WEEK,
    MessageLinks,
    _mean_minutes,
    helpers_leaderboard,
    stats_v2_view,
)

MONTH = timedelta(days=30)
DASHBOARD_TOP = 10


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    slack_id: str
    count: int


@dataclass(frozen=True)
class Leaderboard:
    """The first ``top`` entries, and the viewer's own entry (``None``: not on the board)."""

    top: list[LeaderboardEntry]
    viewer: LeaderboardEntry | None

    @property
    def viewer_outside_top(self) -> bool:
        return self.viewer is not None and self.viewer.rank > len(self.top)


def leaderboard(entries: list[dict], *, viewer_slack_id: str | None, top: int = DASHBOARD_TOP) -> Leaderboard:
    """A stats leaderboard (``{id, slack_id, count}``, in order) cut to ``top``, with the viewer's place."""
    ranked = [
        LeaderboardEntry(rank=i, slack_id=e["slack_id"], count=e["count"]) for i, e in enumerate(entries, 1)
    ]
    viewer = next((entry for entry in ranked if entry.slack_id == viewer_slack_id), None)
    return Leaderboard(top=ranked[:top], viewer=viewer)


@dataclass(frozen=True)
class WindowFigures:
    """One window of stats_v2 beside the window before it."""

    new_tickets: int
    new_tickets_before: int
    closed: int
    closed_before: int
    mean_hang_minutes: float | None
    mean_resolution_minutes: float | None


@dataclass(frozen=True)
class OldestUnanswered:
    id: int
    age_minutes: float
    link: str


@dataclass(frozen=True)
class DashboardFigures:
    now: datetime
    tickets_total: int
    tickets_open: int
    tickets_in_progress: int
    tickets_closed: int
    mean_hang_minutes: float | None
    mean_resolution_minutes: float | None
    oldest_unanswered: OldestUnanswered | None
    day: WindowFigures
    week: WindowFigures
    all_time_board: Leaderboard
    week_board: Leaderboard


def _window(current: dict, before: dict) -> WindowFigures:
    return WindowFigures(
        new_tickets=current["new_tickets_total"],
        new_tickets_before=before["new_tickets_total"],
        closed=current["closed_today"],
        closed_before=before["closed_today"],
        mean_hang_minutes=current["mean_hang_time_minutes_all"],
        mean_resolution_minutes=current["mean_resolution_time_minutes"],
    )


def dashboard_from_stats_v2(document: dict, now: datetime, *, viewer_slack_id: str) -> DashboardFigures:
    """The dashboard's figures from a /api/stats_v2 document (as the API serves it at ``now``)."""
    overall = document["all_time"]
    oldest = overall["oldest_unanswered_ticket"]
    return DashboardFigures(
        now=now,
        tickets_total=overall["tickets_total"],
        tickets_open=overall["tickets_open"],
        tickets_in_progress=overall["tickets_in_progress"],
        tickets_closed=overall["tickets_closed"],
        mean_hang_minutes=overall["mean_hang_time_minutes_all"],
        mean_resolution_minutes=overall["mean_resolution_time_minutes"],
        oldest_unanswered=(
            OldestUnanswered(id=oldest["id"], age_minutes=oldest["age_minutes"], link=oldest["link"])
            if oldest
            else None
        ),
        day=_window(document["past_24h"], document["past_24h_previous"]),
        week=_window(document["past_7d"], document["past_7d_previous"]),
        all_time_board=leaderboard(overall["helpers_leaderboard"], viewer_slack_id=viewer_slack_id),
        week_board=leaderboard(document["past_7d"]["helpers_leaderboard"], viewer_slack_id=viewer_slack_id),
    )


async def dashboard_figures(
    connection: AsyncConnection, memo: StatsV2Memo, links: MessageLinks, *, viewer_slack_id: str
) -> DashboardFigures:
    """The dashboard, from the same (memoised) stats_v2 computation the API serves."""
    rendered, now = await current_stats_v2(connection, memo, links)
    document = stats_v2_view(rendered.raw, now, links)
    return dashboard_from_stats_v2(document, now, viewer_slack_id=viewer_slack_id)


# ---------------------------------------------------------------- a helper's own figures


@dataclass(frozen=True)
class BoardPlace:
    """A helper's tickets closed in a window and their rank on that window's leaderboard."""

    closed: int
    rank: int | None


@dataclass(frozen=True)
class HelperFigures:
    day: BoardPlace
    week: BoardPlace
    month: BoardPlace
    all_time: BoardPlace
    mean_first_response_minutes: float | None
    in_progress: int


def _place(entries: list[dict], slack_id: str) -> BoardPlace:
    for rank, entry in enumerate(entries, 1):
        if entry["slack_id"] == slack_id:
            return BoardPlace(closed=entry["count"], rank=rank)
    return BoardPlace(closed=0, rank=None)


_OWN_TICKETS_SQL = text(
    f"""SELECT {
        _mean_minutes(f'sum({HANG_MS}) FILTER (WHERE t."assignedAt" IS NOT NULL)', 'count(t."assignedAt")')
    } AS mean_first_response,
               count(*) FILTER (WHERE t.status = 'IN_PROGRESS') AS in_progress
        FROM "Ticket" t JOIN "User" u ON u.id = t."assignedToId"
        WHERE u."slackId" = :slack_id"""
)


async def helper_figures(
    connection: AsyncConnection, memo: StatsV2Memo, links: MessageLinks, *, slack_id: str
) -> HelperFigures:
    """The viewer's closed tickets and ranks (24 h, 7 d, 30 d, all time), first-response mean, work in hand."""
    rendered, now = await current_stats_v2(connection, memo, links)
    document = rendered.raw.document
    month = await helpers_leaderboard(connection, start=now - MONTH, end=now)
    own = (await connection.execute(_OWN_TICKETS_SQL, {"slack_id": slack_id})).one()
    return HelperFigures(
        day=_place(document["past_24h"]["helpers_leaderboard"], slack_id),
        week=_place(document["past_7d"]["helpers_leaderboard"], slack_id),
        month=_place(month, slack_id),
        all_time=_place(document["all_time"]["helpers_leaderboard"], slack_id),
        mean_first_response_minutes=(
            float(own.mean_first_response) if own.mean_first_response is not None else None
        ),
        in_progress=own.in_progress,
    )


# ---------------------------------------------------------------- question tags


@dataclass(frozen=True)
class QuestionTagFigures:
    id: int
    label: str
    week: int
    month: int
    all_time: int


_QUESTION_TAG_COUNTS_SQL = text(
    """SELECT q.id, q.label,
              coalesce(c.week, 0) AS week, coalesce(c.month, 0) AS month, coalesce(c.all_time, 0) AS all_time
       FROM "QuestionTag" q
       LEFT JOIN (SELECT "questionTagId" AS id,
                         count(*) FILTER (WHERE "createdAt" >= CAST(:week_start AS timestamptz)) AS week,
                         count(*) FILTER (WHERE "createdAt" >= CAST(:month_start AS timestamptz)) AS month,
                         count(*) AS all_time
                  FROM "Ticket"
                  WHERE "questionTagId" IS NOT NULL AND "createdAt" < CAST(:now AS timestamptz)
                  GROUP BY "questionTagId") c ON c.id = q.id
       ORDER BY coalesce(c.week, 0) DESC, coalesce(c.all_time, 0) DESC, lower(q.label), q.id"""
)


async def question_tag_figures(connection: AsyncConnection, *, now: datetime) -> list[QuestionTagFigures]:
    """Every question tag with its tickets created in the last 7 and 30 days and all time (before ``now``)."""
    rows = await connection.execute(
        _QUESTION_TAG_COUNTS_SQL, {"now": now, "week_start": now - WEEK, "month_start": now - MONTH}
    )
    return [
        QuestionTagFigures(id=r.id, label=r.label, week=r.week, month=r.month, all_time=r.all_time)
        for r in rows
    ]


__all__ = [
    "DashboardFigures",
    "HelperFigures",
    "Leaderboard",
    "QuestionTagFigures",
    "dashboard_figures",
    "helper_figures",
    "leaderboard",
    "question_tag_figures",
]
