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
- A helper's ratings: the feedback their closed tickets received, counted exactly as
  /api/stats/feedback counts their entry in ``helpers`` (``nephthys.stats.feedback``,
  the same statement): all time is the API with no bounds, the last 30 days is
  feedback created in ``[now - 30d, now)``. Feedback changes no ticket, so these are
  read afresh on every render, never memoised on the ticket data's version.
- Question tags over a window: tickets created in ``[now - window, now)`` carrying the
  tag, as /api/stats/question_tags counts them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from nephthys.database.models import FeedbackRating
from nephthys.stats.feedback import helper_ratings
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
class _Remembered:
    version: int | None
    fingerprint: object
    now: datetime
    valid_until: datetime | None
    value: Any


class HomeFiguresMemo:
    """The Home's own figures reused exactly, on the terms of stats_v2's memo (nephthys.stats.memo).

    A remembered figure is reused for a request only when the data is provably the same:
    the same ``TicketTotals.version`` (every transaction that changes a ticket or a helper
    takes a new one), the same ``fingerprint`` of what else it reads (the question tags'
    ids and labels), and the request's clock ``n`` with ``now <= n < valid_until`` (no
    ticket timestamp crosses the edge of one of its windows in between). Not a cache with
    a time to live: a change or a crossing computes afresh.

    **Bound** (enforced in :meth:`remember`): keys include a helper's Slack id, so at most
    ``size`` figures are kept (default 10,000, each a few small numbers: about 2 MB), the
    least recently used forgotten first.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._entries: OrderedDict[object, _Remembered] = OrderedDict()

    def entries(self) -> int:
        """How many figures are remembered (at most ``size``; not ``__len__``: an empty memo is still a memo)."""
        return len(self._entries)

    def lookup(
        self, key: object, *, version: int | None, fingerprint: object, now: datetime
    ) -> _Remembered | None:
        entry = self._entries.get(key)
        if entry is None or version is None or entry.version != version or entry.fingerprint != fingerprint:
            return None
        if now < entry.now or (entry.valid_until is not None and now >= entry.valid_until):
            return None
        self._entries.move_to_end(key)
        return entry

    def remember(
        self,
        key: object,
        *,
        version: int | None,
        fingerprint: object,
        now: datetime,
        valid_until: datetime | None,
        value: Any,
    ) -> None:
        self._entries[key] = _Remembered(version, fingerprint, now, valid_until, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    slack_id: str
    count: int
    username: str | None = None  # None: not known


@dataclass(frozen=True)
class Leaderboard:
    """The first ``top`` entries, and the viewer's own entry (``None``: not on the board)."""

    top: list[LeaderboardEntry]
    viewer: LeaderboardEntry | None

    @property
    def viewer_outside_top(self) -> bool:
        return self.viewer is not None and self.viewer.rank > len(self.top)


def leaderboard(entries: list[dict], *, viewer_slack_id: str | None, top: int = DASHBOARD_TOP) -> Leaderboard:
    """A stats leaderboard (``{id, slack_id, count, username}``, in order) cut to ``top``, with the viewer's place."""
    ranked = [
        LeaderboardEntry(rank=i, slack_id=e["slack_id"], count=e["count"], username=e.get("username"))
        for i, e in enumerate(entries, 1)
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
class HelperRatings:
    """The feedback a helper's closed tickets received, per rating, all time and in the last 30 days."""

    all_time: dict[FeedbackRating, int]
    month: dict[FeedbackRating, int]

    @property
    def total(self) -> int:
        return sum(self.all_time.values())


@dataclass(frozen=True)
class HelperFigures:
    day: BoardPlace
    week: BoardPlace
    month: BoardPlace
    all_time: BoardPlace
    mean_first_response_minutes: float | None
    in_progress: int
    ratings: HelperRatings


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


# The first instant the 30-day board [now - 30d, now) changes with the clock alone: a
# closing leaves it 30 days after closedAt, and one stamped at or after now enters at closedAt.
_MONTH_VALID_UNTIL_SQL = text(
    """SELECT least(
           (SELECT min("closedAt") FROM "Ticket" WHERE "closedAt" >= CAST(:start AS timestamptz))
               + make_interval(days => 30),
           (SELECT min("closedAt") FROM "Ticket" WHERE "closedAt" >= CAST(:now AS timestamptz)))"""
)


async def month_leaderboard(
    connection: AsyncConnection, figures_memo: HomeFiguresMemo, *, version: int | None, now: datetime
) -> list[dict]:
    """``helpers_leaderboard`` over ``[now - 30d, now)``, reused exactly while provably the same."""
    remembered = figures_memo.lookup("month_board", version=version, fingerprint=None, now=now)
    if remembered is not None:
        return remembered.value
    start = now - MONTH
    board = await helpers_leaderboard(connection, start=start, end=now)
    valid_until = (
        await connection.execute(_MONTH_VALID_UNTIL_SQL, {"start": start, "now": now})
    ).scalar_one()
    figures_memo.remember(
        "month_board", version=version, fingerprint=None, now=now, valid_until=valid_until, value=board
    )
    return board


async def helper_figures(
    connection: AsyncConnection,
    memo: StatsV2Memo,
    links: MessageLinks,
    *,
    slack_id: str,
    figures_memo: HomeFiguresMemo | None = None,
) -> HelperFigures:
    """The viewer's closed tickets and ranks (24 h, 7 d, 30 d, all time), first-response mean, work in
    hand, and the ratings their closed tickets received (all time, 30 days)."""
    figures_memo = figures_memo or HomeFiguresMemo()
    rendered, now = await current_stats_v2(connection, memo, links)
    version, document = rendered.raw.version, rendered.raw.document
    month = await month_leaderboard(connection, figures_memo, version=version, now=now)
    key = ("own", slack_id)
    remembered = figures_memo.lookup(key, version=version, fingerprint=None, now=now)
    if remembered is not None:
        own = remembered.value
    else:
        row = (await connection.execute(_OWN_TICKETS_SQL, {"slack_id": slack_id})).one()
        own = (
            float(row.mean_first_response) if row.mean_first_response is not None else None,
            row.in_progress,
        )
        figures_memo.remember(key, version=version, fingerprint=None, now=now, valid_until=None, value=own)
    ratings = HelperRatings(
        all_time=await helper_ratings(connection, slack_id=slack_id),
        month=await helper_ratings(connection, slack_id=slack_id, since=now - MONTH, until=now),
    )
    return HelperFigures(
        day=_place(document["past_24h"]["helpers_leaderboard"], slack_id),
        week=_place(document["past_7d"]["helpers_leaderboard"], slack_id),
        month=_place(month, slack_id),
        all_time=_place(document["all_time"]["helpers_leaderboard"], slack_id),
        mean_first_response_minutes=own[0],
        in_progress=own[1],
        ratings=ratings,
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


# The data version, the clock, and what else the counts read: the question tags themselves
# (creating or renaming one changes no ticket, so no version).
_QUESTION_TAGS_CHECK_SQL = text(
    """SELECT (SELECT "version" FROM "TicketTotals" WHERE id = 1) AS version, now() AS now,
              (SELECT md5(coalesce(string_agg(id::text || ':' || label, E'\\n' ORDER BY id), ''))
               FROM "QuestionTag") AS fingerprint"""
)
# When the counts change with the clock alone: a tagged ticket leaves the 7-day (30-day)
# window 7 (30) days after its creation, and one created at or after now enters at creation.
_QUESTION_TAGS_VALID_UNTIL_SQL = text(
    """SELECT least(
           (SELECT min("createdAt") FROM "Ticket" WHERE "createdAt" >= CAST(:week_start AS timestamptz)
                AND "questionTagId" IS NOT NULL) + make_interval(days => 7),
           (SELECT min("createdAt") FROM "Ticket" WHERE "createdAt" >= CAST(:month_start AS timestamptz)
                AND "questionTagId" IS NOT NULL) + make_interval(days => 30),
           (SELECT min("createdAt") FROM "Ticket" WHERE "createdAt" >= CAST(:now AS timestamptz)
                AND "questionTagId" IS NOT NULL))"""
)


async def current_question_tag_figures(
    connection: AsyncConnection, figures_memo: HomeFiguresMemo
) -> list[QuestionTagFigures]:
    """``question_tag_figures`` at the database's now, reused exactly while provably the same."""
    check = (await connection.execute(_QUESTION_TAGS_CHECK_SQL)).one()
    remembered = figures_memo.lookup(
        "question_tags", version=check.version, fingerprint=check.fingerprint, now=check.now
    )
    if remembered is not None:
        return remembered.value
    now = check.now
    counted = await question_tag_figures(connection, now=now)
    valid_until = (
        await connection.execute(
            _QUESTION_TAGS_VALID_UNTIL_SQL, {"now": now, "week_start": now - WEEK, "month_start": now - MONTH}
        )
    ).scalar_one()
    figures_memo.remember(
        "question_tags",
        version=check.version,
        fingerprint=check.fingerprint,
        now=now,
        valid_until=valid_until,
        value=counted,
    )
    return counted


__all__ = [
    "DashboardFigures",
    "HomeFiguresMemo",
    "current_question_tag_figures",
    "HelperFigures",
    "HelperRatings",
    "Leaderboard",
    "QuestionTagFigures",
    "dashboard_figures",
    "helper_figures",
    "leaderboard",
    "question_tag_figures",
]
