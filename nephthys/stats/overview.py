"""Every ticket statistic, as SQL: the one definition used by the API, the App Home and the daily summary.

Definitions (docs/api.md says the same in prose):

- A window is half-open, ``[start, end)``.
- Hang time of a ticket: ``assignedAt - createdAt`` (time to the first helper
  response); only tickets with ``assignedAt`` count. "Unresolved": status is not
  CLOSED. Resolution time: ``closedAt - createdAt``; only tickets with
  ``closedAt`` count. Means are arithmetic means in minutes, ``None`` when no
  ticket qualifies. Durations are exact milliseconds (timestamps are stored to
  the millisecond); every mean is ``sum_ms / count / 60000``.
- ``new_tickets_*``: tickets created in the window, by their status now.
  ``closed_today``: tickets now CLOSED whose ``closedAt`` is in the window;
  ``closed_today_from_today``: those of them also created in the window.
  ``assigned_today_in_progress``: tickets now IN_PROGRESS whose ``assignedAt``
  is in the window. The three means are over tickets created in the window.
- Leaderboards: helpers (``User.helper``) by tickets they closed (``closedById``;
  all time, or with ``closedAt`` in the window), most first, ties by user id;
  helpers with none are left out. Each entry carries the helper's ``username``
  (null while unknown).
- Oldest unanswered ticket: among OPEN tickets whose last message was not a
  helper's, the earliest ``lastMsgAt`` (ties by id; tickets without
  ``lastMsgAt`` come last).

All-time figures read the trigger-kept totals (migration 0003) in O(1); windows
use the indexes on createdAt, closedAt and assignedAt. Every function takes an
``AsyncSession`` or ``AsyncConnection`` and the instant ``now`` it is computed
for, so callers and tests control the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Executor = AsyncSession | AsyncConnection

DAY = timedelta(days=1)
WEEK = timedelta(days=7)

# stats_v2's windows, each ending ``end_offset`` before now and ``length`` long.
STATS_V2_WINDOWS: dict[str, tuple[timedelta, timedelta]] = {
    "past_24h": (timedelta(0), DAY),
    "past_24h_previous": (DAY, DAY),
    "past_7d": (timedelta(0), WEEK),
    "past_7d_previous": (WEEK, WEEK),
}


def _ms(later: str, earlier: str) -> str:
    """Exact milliseconds from ``earlier`` to ``later``.

    The float8 seconds of the interval are off by far less than half a
    millisecond for any span up to centuries, so rounding gives the exact
    count (the same one the totals' triggers store), several times faster than numeric.
    """
    return f"round(date_part('epoch', {later} - {earlier}) * 1000)::bigint"


def _mean_minutes(sum_ms: str, count: str) -> str:
    return f"(({sum_ms})::numeric / nullif({count}, 0) / 60000)::float8"


HANG_MS = _ms('t."assignedAt"', 't."createdAt"')
RESOLUTION_MS = _ms('t."closedAt"', 't."createdAt"')
HANGS = 't."assignedAt" IS NOT NULL'
UNRESOLVED_HANGS = f"{HANGS} AND t.status <> 'CLOSED'"
RESOLUTIONS = 't."closedAt" IS NOT NULL'


def _leaderboard_json(counts: str) -> str:
    """JSON array of ``{id, slack_id, count, username}`` over ``counts`` (columns user_id, n), helpers only.

    ``username`` is the helper's Slack name when known, else null. A change to it
    moves ``TicketTotals.version`` (migration 0015), so no memo keeps an old name.
    """
    return f"""(SELECT coalesce(json_agg(json_build_object('id', board.id, 'slack_id', board.slack_id,
                                                      'count', board.n, 'username', board.username)
                                    ORDER BY board.n DESC, board.id),
                         '[]'::json)
        FROM (SELECT u.id, u."slackId" AS slack_id, c.n, u.username
              FROM ({counts}) c JOIN "User" u ON u.id = c.user_id
              WHERE u.helper AND c.n > 0
              ORDER BY c.n DESC, u.id LIMIT CAST(:top AS bigint)) board)"""


ALL_TIME_COUNTS = 'SELECT "userId" AS user_id, "count" AS n FROM "UserClosedCount"'


def _window_counts(start: str, end: str) -> str:
    return f"""SELECT "closedById" AS user_id, count(*) AS n FROM "Ticket"
               WHERE "closedAt" >= {start} AND "closedAt" < {end} AND "closedById" IS NOT NULL
               GROUP BY "closedById\""""


OLDEST_UNANSWERED_JSON = """(SELECT json_build_object(
        'id', t.id,
        'created_at_ms', (extract(epoch from t."createdAt") * 1000)::bigint,
        'msg_ts', t."msgTs")
    FROM "Ticket" t
    WHERE t.status = 'OPEN' AND t."lastMsgBy" IS DISTINCT FROM 'HELPER'
    ORDER BY t."lastMsgAt" NULLS LAST, t.id
    LIMIT 1)"""

OVERALL_JSON = f"""(SELECT json_build_object(
        'tickets_total', s.open + s."inProgress" + s.closed,
        'tickets_open', s.open,
        'tickets_closed', s.closed,
        'tickets_in_progress', s."inProgress",
        'helpers_leaderboard', {_leaderboard_json(ALL_TIME_COUNTS)},
        'mean_hang_time_minutes_unresolved', {_mean_minutes('s."hangUnresolvedSumMs"', 's."hangUnresolvedCount"')},
        'mean_hang_time_minutes_all', {_mean_minutes('s."hangSumMs"', 's."hangCount"')},
        'mean_resolution_time_minutes', {_mean_minutes('s."resolutionSumMs"', 's."resolutionCount"')},
        'oldest_unanswered_ticket', {OLDEST_UNANSWERED_JSON})
    FROM "TicketTotals" s WHERE s.id = 1)"""


def _window_json(start: str, end: str) -> str:
    """One window's statistics as a JSON object; ``start``/``end`` are SQL timestamptz expressions."""

    def in_window(column: str) -> str:
        return f"{column} >= {start} AND {column} < {end}"

    def mean_of(duration_ms: str, which: str) -> str:
        return _mean_minutes(f"sum({duration_ms}) FILTER (WHERE {which})", f"count(*) FILTER (WHERE {which})")

    closed_in_window = in_window('t."closedAt"')
    closed_today = (
        f"""(SELECT count(*) FROM "Ticket" c WHERE {in_window('c."closedAt"')} AND c.status = 'CLOSED')"""
    )
    assigned_in_progress = f"""(SELECT count(*) FROM "Ticket" a WHERE {in_window('a."assignedAt"')} AND a.status = 'IN_PROGRESS')"""
    return f"""(SELECT json_build_object(
        'new_tickets_total', count(*),
        'new_tickets_now_closed', count(*) FILTER (WHERE t.status = 'CLOSED'),
        'new_tickets_still_open', count(*) FILTER (WHERE t.status = 'OPEN'),
        'new_tickets_in_progress', count(*) FILTER (WHERE t.status = 'IN_PROGRESS'),
        'closed_today', {closed_today},
        'closed_today_from_today', count(*) FILTER (WHERE t.status = 'CLOSED' AND {closed_in_window}),
        'assigned_today_in_progress', {assigned_in_progress},
        'helpers_leaderboard', {_leaderboard_json(_window_counts(start, end))},
        'mean_hang_time_minutes_unresolved', {mean_of(HANG_MS, UNRESOLVED_HANGS)},
        'mean_hang_time_minutes_all', {mean_of(HANG_MS, HANGS)},
        'mean_resolution_time_minutes', {mean_of(RESOLUTION_MS, RESOLUTIONS)})
    FROM "Ticket" t WHERE {in_window('t."createdAt"')})"""


def _param(name: str) -> str:
    return f"CAST(:{name} AS timestamptz)"


# ---------------------------------------------------------------- links


@dataclass(frozen=True)
class MessageLinks:
    """Builds Slack permalinks to questions in the help channel."""

    workspace_url: str
    help_channel: str | None

    def question(self, msg_ts: str) -> str:
        """``https://<workspace>/archives/<channel>/p<ts without the dot>``.

        Without a configured help channel no message link can be built; the
        workspace's URL is the best link there is (still a string, as the
        contract says).
        """
        if not self.help_channel:
            return self.workspace_url
        return f"{self.workspace_url}/archives/{self.help_channel}/p{msg_ts.replace('.', '')}"


def iso(instant: datetime) -> str:
    """ISO 8601 with the UTC offset and milliseconds, the API's one timestamp format."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds")


def _from_ms(milliseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


MEAN_KEYS = (
    "mean_hang_time_minutes_unresolved",
    "mean_hang_time_minutes_all",
    "mean_resolution_time_minutes",
)


def _floats(section: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL writes a whole-number float8 as ``5``; the contract's means are floats."""
    for key in MEAN_KEYS:
        if section.get(key) is not None:
            section[key] = float(section[key])
    return section


def age_minutes(raw_oldest: dict, now: datetime) -> float:
    """Minutes from the oldest unanswered ticket's creation to ``now``."""
    return (now - _from_ms(raw_oldest["created_at_ms"])).total_seconds() / 60


def oldest_unanswered_view(raw: dict | None, now: datetime, links: MessageLinks) -> dict | None:
    """``{id, created_at, age_minutes, link}`` from the SQL's raw oldest-unanswered object."""
    if raw is None:
        return None
    created_at = _from_ms(raw["created_at_ms"])
    return {
        "id": raw["id"],
        "created_at": iso(created_at),
        "age_minutes": age_minutes(raw, now),
        "link": links.question(raw["msg_ts"]),
    }


def overall_view(raw: dict, now: datetime, links: MessageLinks) -> dict:
    """The contract's ``all_time`` object from the SQL's raw one."""
    overall = _floats(dict(raw))
    overall["mean_hang_time_minutes"] = overall["mean_hang_time_minutes_all"]
    overall["oldest_unanswered_ticket"] = oldest_unanswered_view(raw["oldest_unanswered_ticket"], now, links)
    return overall


async def _one_json(executor: Executor, sql: str, params: dict) -> Any:
    result = await executor.execute(text(sql), params)
    return orjson.loads(result.scalar_one())


# ---------------------------------------------------------------- single statistics


async def overall_stats(executor: Executor, now: datetime, links: MessageLinks) -> dict:
    """All-time figures: counts by status, helpers leaderboard, means, oldest unanswered ticket."""
    raw = await _one_json(executor, f"SELECT {OVERALL_JSON}::text", {"top": None})
    return overall_view(raw, now, links)


async def window_stats(executor: Executor, start: datetime, end: datetime) -> dict:
    """The figures of tickets in the window ``[start, end)``."""
    raw = await _one_json(
        executor,
        f"SELECT {_window_json(_param('start'), _param('end'))}::text",
        {"start": start, "end": end, "top": None},
    )
    return _floats(raw)


async def helpers_leaderboard(
    executor: Executor, *, start: datetime | None = None, end: datetime | None = None, top: int | None = None
) -> list[dict]:
    """Helpers by tickets closed (all time, or with closedAt in ``[start, end)``), at most ``top`` of them."""
    if start is None and end is None:
        counts = ALL_TIME_COUNTS
    else:
        counts = _window_counts(
            _param("start") if start is not None else "'-infinity'::timestamptz",
            _param("end") if end is not None else "'infinity'::timestamptz",
        )
    return await _one_json(
        executor, f"SELECT {_leaderboard_json(counts)}::text", {"start": start, "end": end, "top": top}
    )


async def oldest_unanswered_ticket(executor: Executor, now: datetime, links: MessageLinks) -> dict | None:
    """The open ticket waiting longest for a helper's word, or None."""
    result = await executor.execute(text(f"SELECT {OLDEST_UNANSWERED_JSON}::text"))
    raw = result.scalar_one()
    return oldest_unanswered_view(orjson.loads(raw) if raw else None, now, links)


# ---------------------------------------------------------------- /api/stats_v2 in one round trip


@dataclass(frozen=True)
class StatsV2Raw:
    """stats_v2 as computed at ``now`` from the database state ``version``.

    ``valid_until``: the first instant at or after ``now`` when some ticket
    timestamp crosses a window edge (``None``: never). Until then, and while the
    version is unchanged, the window figures and leaderboards stay exactly the
    same; only ``age_minutes`` moves with the clock (see ``stats_v2_view``).
    """

    version: int | None
    now: datetime
    valid_until: datetime | None
    document: dict


# Every instant at which a window of stats_v2 opens or closes, relative to now.
WINDOW_EDGES = sorted(
    {end for end, _ in STATS_V2_WINDOWS.values()} | {e + n for e, n in STATS_V2_WINDOWS.values()}
)
EDGE_COLUMNS = ('"createdAt"', '"closedAt"', '"assignedAt"')


def _valid_until_sql() -> str:
    """The earliest ``T + edge >= now`` over every ticket timestamp T that windows look at."""
    terms = [
        f"""(SELECT min({column}) FROM "Ticket" WHERE {column} >= {_param(f"edge_{index}")})
            + make_interval(secs => {edge.total_seconds()})"""
        for column in EDGE_COLUMNS
        for index, edge in enumerate(WINDOW_EDGES)
    ]
    return f"least({', '.join(terms)})"


def _stats_v2_sql() -> str:
    windows = ", ".join(
        f"'{name}', {_window_json(_param(f'{name}_start'), _param(f'{name}_end'))}"
        for name in STATS_V2_WINDOWS
    )
    return f"""SELECT
        (SELECT "version" FROM "TicketTotals" WHERE id = 1) AS version,
        {_valid_until_sql()} AS valid_until,
        json_build_object('all_time', {OVERALL_JSON}, {windows})::text AS document"""


STATS_V2_SQL = _stats_v2_sql()


def stats_v2_params(now: datetime) -> dict[str, Any]:
    params: dict[str, Any] = {"top": None}
    for name, (end_offset, length) in STATS_V2_WINDOWS.items():
        params[f"{name}_end"] = now - end_offset
        params[f"{name}_start"] = now - end_offset - length
    for index, edge in enumerate(WINDOW_EDGES):
        params[f"edge_{index}"] = now - edge
    return params


async def stats_v2_raw(executor: Executor, now: datetime) -> StatsV2Raw:
    """Everything /api/stats_v2 shows at ``now``, in one statement (one snapshot, one round trip)."""
    result = await executor.execute(text(STATS_V2_SQL), stats_v2_params(now))
    row = result.one()
    document = orjson.loads(row.document)
    for name in STATS_V2_WINDOWS:
        _floats(document[name])
    return StatsV2Raw(version=row.version, now=now, valid_until=row.valid_until, document=document)


def stats_v2_view(raw: StatsV2Raw, now: datetime, links: MessageLinks) -> dict:
    """The contract's stats_v2 object at ``now`` (``now`` may be later than ``raw.now``)."""
    view = dict(raw.document)
    view["all_time"] = overall_view(raw.document["all_time"], now, links)
    return view


async def stats_v2(executor: Executor, now: datetime, links: MessageLinks) -> dict:
    """The /api/stats_v2 object at ``now``."""
    return stats_v2_view(await stats_v2_raw(executor, now), now, links)


# ---------------------------------------------------------------- /api/stats (first generation)

LEGACY_SQL = f"""SELECT json_build_object(
    'all_time', {OVERALL_JSON},
    'past_24h', {_window_json(_param("start"), _param("end"))})::text"""


def _legacy_leaderboard(entries: list[dict]) -> list[dict]:
    return [
        {
            "user_id": e["id"],
            "slack_id": e["slack_id"],
            "closed_ticket_count": e["count"],
            "username": e["username"],
        }
        for e in entries
    ]


async def legacy_stats(executor: Executor, now: datetime) -> dict:
    """The first-generation /api/stats keys; ``prev_day_*`` are over ``[now - 24h, now)``.

    ``average_hang_time_minutes`` is the mean hang time of unresolved tickets,
    as the first generation computed it.
    """
    raw = await _one_json(executor, LEGACY_SQL, {"start": now - DAY, "end": now, "top": 3})
    overall, day = _floats(raw["all_time"]), _floats(raw["past_24h"])
    oldest = overall["oldest_unanswered_ticket"]
    return {
        "total_tickets": overall["tickets_total"],
        "total_open": overall["tickets_open"],
        "total_in_progress": overall["tickets_in_progress"],
        "total_closed": overall["tickets_closed"],
        "total_top_3_users_with_closed_tickets": _legacy_leaderboard(overall["helpers_leaderboard"]),
        "average_hang_time_minutes": overall["mean_hang_time_minutes_unresolved"],
        "mean_resolution_time_minutes": overall["mean_resolution_time_minutes"],
        "oldest_unanswered_ticket_age_minutes": age_minutes(oldest, now) if oldest else None,
        "prev_day_total": day["new_tickets_total"],
        "prev_day_open": day["new_tickets_still_open"],
        "prev_day_in_progress": day["new_tickets_in_progress"],
        "prev_day_closed": day["new_tickets_now_closed"],
        "prev_day_top_3_users_with_closed_tickets": _legacy_leaderboard(day["helpers_leaderboard"]),
        "prev_day_average_hang_time_minutes": day["mean_hang_time_minutes_unresolved"],
    }
