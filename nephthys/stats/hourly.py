"""Window and daily figures as sums over the trigger-kept hourly figures (migration 0025), exact.

The definitions are ``nephthys.stats.overview``'s (a window ``[start, end)``) and
``nephthys.stats.daily``'s (a local day); these functions give the same answers as
``overview.window_stats`` and ``daily``'s direct statement, only faster: the tests and
bench/figures.py check the two are equal.

**A window** ``[s, u)``: the whole UTC hours inside it, ``[ceil(s), floor(u))``, are
read from "TicketHourFigures" (at most 8,760 rows a year) and "TicketClosedByPeriod"
(closings per helper in the largest epoch-aligned hours, days and 32-day periods that
tile those hours: a few thousand rows a year); the parts of an hour at the two ends are
read from "Ticket" (index ranges of under an hour each). ``closed_today_from_today``
is the closed tickets created in the window (with a ``closedAt``) less those closed at
or after ``u`` (those closed within a day: the closed tickets created in the day before
``u``; the others: a GiST index of the spans of closed tickets that took over a day) and
those closed before ``s`` (closed before they were created: a partial index, empty in practice).

**Days** between consecutive edges: a UTC hour no edge falls strictly inside belongs to
one day whole, and is read from "TicketHourFigures" and "TicketHourDurations" (each
hour's hang and resolution times, ascending; PostgreSQL concatenates each day's); an hour an
edge cuts (zones with half-hour and 45-minute offsets) is read ticket by ticket from "Ticket"'s
indexes alone (the creation index includes both instants the durations need, migration 0036).
The tickets unresolved at an edge ``e`` are those created before it less those closed
before it, plus those closed before it but created at or after it (closed before created).
Percentiles are picked with numpy's partition at the ranks PostgreSQL's ``percentile_cont``
uses, and interpolated with its formula, so they are the same floats.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
from sqlalchemy import text

from nephthys.stats.overview import (
    HANG_MS,
    HANGS,
    RESOLUTION_MS,
    RESOLUTIONS,
    UNRESOLVED_HANGS,
    Executor,
    _floats,
    _leaderboard_json,
    _mean_minutes,
)

HOUR = timedelta(hours=1)
ZERO = timedelta(0)
# The partial indexes' predicate (migration 0025): closed tickets that took over a day.
LONG_RESOLUTION = """t."closedAt" - t."createdAt" > interval '1 day'"""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The periods of "TicketClosedByPeriod", longest first (migration 0025).
PERIODS = (timedelta(days=32), timedelta(days=1), HOUR)
DAILY_PERCENTILES = (0.5, 0.9, 0.95)


def floor_to(instant: datetime, period: timedelta) -> datetime:
    """The start of the epoch-aligned ``period`` holding ``instant``."""
    return EPOCH + ((instant - EPOCH) // period) * period


def ceil_to(instant: datetime, period: timedelta) -> datetime:
    start = floor_to(instant, period)
    return start if start == instant else start + period


def tiling(
    start: datetime | None, end: datetime | None
) -> list[tuple[int, datetime | None, datetime | None]]:
    """``[start, end)`` (whole hours; None: open) as ranges of whole periods ``(seconds, first start, end)``.

    The longest periods in the middle (an open end: every period of the longest kind on
    that side), shorter ones toward the ends; at most 5 ranges.
    """
    ranges: list[tuple[int, datetime | None, datetime | None]] = []
    for index, period in enumerate(PERIODS):
        seconds = int(period.total_seconds())
        inner_low = None if start is None else ceil_to(start, period)
        inner_high = None if end is None else floor_to(end, period)
        if inner_low is not None and inner_high is not None and inner_low >= inner_high:
            if period == HOUR:
                return []
            continue
        ranges.append((seconds, inner_low, inner_high))
        # What is left on each side is tiled by the shorter periods.
        rest = []
        if start is not None and inner_low is not None:
            rest.append((start, inner_low))
        if end is not None and inner_high is not None:
            rest.append((inner_high, end))
        for shorter in PERIODS[index + 1 :]:
            shorter_seconds = int(shorter.total_seconds())
            next_rest = []
            for a, b in rest:
                if a >= b:
                    continue
                inner_a, inner_b = ceil_to(a, shorter), floor_to(b, shorter)
                if inner_a < inner_b:
                    ranges.append((shorter_seconds, inner_a, inner_b))
                    next_rest += [(a, inner_a), (inner_b, b)]
                else:
                    next_rest.append((a, b))
            rest = next_rest
        break
    return ranges


def bounds_parameters(start: datetime | None, end: datetime | None) -> dict:
    """A window's parameters (None: open on that side): its whole hours ``[s_h, u_h)`` (None: open),
    its two ends' parts of an hour ``[s, s_h)`` and ``[u_h, u)`` (NULL, so empty, when open), and
    the whole hours' tiling by periods (``period_*``)."""
    start_hour = None if start is None else ceil_to(start, HOUR)
    end_hour = None if end is None else floor_to(end, HOUR)
    if start_hour is not None and end_hour is not None and start_hour >= end_hour:
        # No whole hour inside: the first end's part is the whole window, the second is empty.
        start_hour = end_hour = end
        periods = []
    else:
        periods = tiling(start_hour, end_hour)
    return {
        "s": start,
        "u": end,
        "s_h": start_hour,
        "u_h": end_hour,
        "period_seconds": [p[0] for p in periods],
        "period_lows": [p[1] for p in periods],
        "period_highs": [p[2] for p in periods],
    }


def kept_periods(table: str, alias: str, condition: str = "") -> str:
    """The rows of ``table`` (periodSeconds, periodStart) in the window's tiling, as ``alias``;
    ``condition`` (``AND …`` on ``alias``) narrows each period's read.

    Each period range is its own look-up of the primary key (a lateral subquery, fenced so the
    planner cannot flatten it): as a plain join, at 1,000,000 tickets the planner could not weigh
    the ranges and scanned the whole table (~720,000 rows of "TicketClosedByPeriod") to keep ~9,000.
    """
    return f"""unnest(CAST(:period_seconds AS integer[]), CAST(:period_lows AS timestamptz[]),
                    CAST(:period_highs AS timestamptz[])) AS p(seconds, low, high)
        CROSS JOIN LATERAL (
            SELECT {alias}.* FROM {table} {alias}
            WHERE {alias}."periodSeconds" = p.seconds
              AND {alias}."periodStart" >= coalesce(p.low, '-infinity')
              AND {alias}."periodStart" < coalesce(p.high, 'infinity') {condition}
            OFFSET 0) {alias}"""


def _p(name: str) -> str:
    return f"CAST(:{name} AS timestamptz)"


def in_edges(column: str) -> str:
    """``column`` in either end's part of an hour: ``[s, s_h)`` or ``[u_h, u)``."""
    return (
        f"(({column} >= {_p('s')} AND {column} < {_p('s_h')}) "
        f"OR ({column} >= {_p('u_h')} AND {column} < {_p('u')}))"
    )


_HOUR_SUMS = (
    "createdOpen",
    "createdInProgress",
    "createdClosed",
    "createdClosedDated",
    "hangCount",
    "hangSumMs",
    "hangUnresolvedCount",
    "hangUnresolvedSumMs",
    "resolutionCount",
    "resolutionSumMs",
    "closedNowClosed",
    "assignedInProgress",
)

RANGE_SQL = f"""
WITH hours AS (
    SELECT {", ".join(f'coalesce(sum(h."{c}"), 0) AS "{c}"' for c in _HOUR_SUMS)}
    FROM "TicketHourFigures" h WHERE h."hour" >= {_p("s_h")} AND h."hour" < {_p("u_h")}
), created_edges AS (
    SELECT count(*) FILTER (WHERE t.status = 'OPEN') AS "createdOpen",
           count(*) FILTER (WHERE t.status = 'IN_PROGRESS') AS "createdInProgress",
           count(*) FILTER (WHERE t.status = 'CLOSED') AS "createdClosed",
           count(*) FILTER (WHERE t.status = 'CLOSED' AND t."closedAt" IS NOT NULL) AS "createdClosedDated",
           count(*) FILTER (WHERE {HANGS}) AS "hangCount",
           coalesce(sum({HANG_MS}) FILTER (WHERE {HANGS}), 0) AS "hangSumMs",
           count(*) FILTER (WHERE {UNRESOLVED_HANGS}) AS "hangUnresolvedCount",
           coalesce(sum({HANG_MS}) FILTER (WHERE {UNRESOLVED_HANGS}), 0) AS "hangUnresolvedSumMs",
           count(*) FILTER (WHERE {RESOLUTIONS}) AS "resolutionCount",
           coalesce(sum({RESOLUTION_MS}) FILTER (WHERE {RESOLUTIONS}), 0) AS "resolutionSumMs"
    FROM "Ticket" t WHERE {in_edges('t."createdAt"')}
), closed_edges AS (
    SELECT count(*) AS n FROM "Ticket" t WHERE t.status = 'CLOSED' AND {in_edges('t."closedAt"')}
), assigned_edges AS (
    SELECT count(*) AS n FROM "Ticket" t WHERE t.status = 'IN_PROGRESS' AND {in_edges('t."assignedAt"')}
), closed_after AS (
    -- Closed tickets created in the window and closed at or after its end: those closed within a
    -- day were created in the day before the end; the few that took longer span the end.
    SELECT (SELECT count(*) FROM "Ticket" t
            WHERE t.status = 'CLOSED' AND t."createdAt" >= greatest({_p("s")}, {_p("u")} - interval '1 day')
              AND t."createdAt" < {_p("u")} AND t."closedAt" >= {_p("u")} AND NOT ({LONG_RESOLUTION}))
         + (SELECT count(*) FROM "Ticket" t
            WHERE t.status = 'CLOSED' AND {LONG_RESOLUTION}
              -- [createdAt, closedAt] holds u: closedAt >= u (not written out: the GiST index is the way in)
              AND tstzrange(t."createdAt", t."closedAt", '[]') @> {_p("u")}
              AND t."createdAt" >= {_p("s")} AND t."createdAt" < {_p("u")}) AS n
), closed_before AS (
    -- Closed tickets created in the window and closed before it began (closed before created).
    SELECT count(*) AS n FROM "Ticket" t
    WHERE t."closedAt" < t."createdAt" AND t.status = 'CLOSED'
      AND t."createdAt" >= {_p("s")} AND t."createdAt" < {_p("u")} AND t."closedAt" < {_p("s")}
), figures AS (
    SELECT {", ".join(f'h."{c}" + e."{c}" AS "{c}"' for c in _HOUR_SUMS[:10])},
           h."closedNowClosed" + (SELECT n FROM closed_edges) AS "closedNowClosed",
           h."assignedInProgress" + (SELECT n FROM assigned_edges) AS "assignedInProgress"
    FROM hours h, created_edges e
), closers AS (
    SELECT user_id, sum(n) AS n FROM (
        SELECT c."userId" AS user_id, c."count" AS n
        FROM {kept_periods('"TicketClosedByPeriod"', "c")}
        UNION ALL
        SELECT t."closedById", 1 FROM "Ticket" t
        WHERE t."closedById" IS NOT NULL AND {in_edges('t."closedAt"')}
    ) counted GROUP BY user_id
)
SELECT json_build_object(
    'new_tickets_total', f."createdOpen" + f."createdInProgress" + f."createdClosed",
    'new_tickets_now_closed', f."createdClosed",
    'new_tickets_still_open', f."createdOpen",
    'new_tickets_in_progress', f."createdInProgress",
    'closed_today', f."closedNowClosed",
    'closed_today_from_today', f."createdClosedDated" - (SELECT n FROM closed_after) - (SELECT n FROM closed_before),
    'assigned_today_in_progress', f."assignedInProgress",
    'helpers_leaderboard', {_leaderboard_json("SELECT user_id, n FROM closers")},
    'mean_hang_time_minutes_unresolved', {_mean_minutes('f."hangUnresolvedSumMs"', 'f."hangUnresolvedCount"')},
    'mean_hang_time_minutes_all', {_mean_minutes('f."hangSumMs"', 'f."hangCount"')},
    'mean_resolution_time_minutes', {_mean_minutes('f."resolutionSumMs"', 'f."resolutionCount"')})::text
FROM figures f
"""


def range_parameters(start: datetime, end: datetime) -> dict:
    """The range statement's parameters (both ends given)."""
    return {**bounds_parameters(start, end), "top": None}


async def range_stats(executor: Executor, start: datetime, end: datetime) -> dict:
    """``overview.window_stats(start, end)``, from the hourly figures and the window's two ends."""
    if end < start:
        end = start
    result = await executor.execute(text(RANGE_SQL), range_parameters(start, end))
    return _floats(orjson.loads(result.scalar_one()))


# ---------------------------------------------------------------- days

# One row: every whole hour's creations and closings in [grid_start, grid_end), and the tickets
# created and closed before grid_start.
_DAY_HOURS_SQL = text(
    """SELECT
        (SELECT coalesce(sum("createdOpen" + "createdInProgress" + "createdClosed"), 0)
         FROM "TicketHourFigures" WHERE "hour" < CAST(:grid_start AS timestamptz)) AS created_before,
        (SELECT coalesce(sum("closedAny"), 0)
         FROM "TicketHourFigures" WHERE "hour" < CAST(:grid_start AS timestamptz)) AS closed_before,
        coalesce(array_agg(date_part('epoch', "hour" - CAST(:grid_start AS timestamptz))::bigint / 3600), '{}')
            AS hours,
        coalesce(array_agg("createdOpen" + "createdInProgress" + "createdClosed"), '{}') AS created,
        coalesce(array_agg("closedAny"), '{}') AS closed
       FROM "TicketHourFigures"
       WHERE "hour" >= CAST(:grid_start AS timestamptz) AND "hour" < CAST(:grid_end AS timestamptz)"""
)
# Each day's durations: its whole hours' (big-endian 8-byte integers, each hour's ascending)
# concatenated by PostgreSQL, one row a day. A day's hours are one range of the primary key (the
# hours an edge cuts lie outside every range), read by its own small aggregate: no sort and no
# hash table holding the year's megabytes, and the service handles ~365 rows instead of ~8,760.
_DAY_DURATIONS_SQL = text(
    """SELECT d.day, a.hang, a.resolution
       FROM unnest(CAST(:firsts AS timestamptz[]), CAST(:stops AS timestamptz[])) WITH ORDINALITY AS d(first, stop, day)
       CROSS JOIN LATERAL (
           SELECT string_agg(h."hangMs", ''::bytea) AS hang, string_agg(h."resolutionMs", ''::bytea) AS resolution
           FROM "TicketHourDurations" h WHERE h."hour" >= d.first AND h."hour" < d.stop) a
       WHERE d.first < d.stop"""
)
_BIG_ENDIAN_INT64 = np.dtype(">i8")
# The tickets of the hours an edge cuts: per day (1-based; 0 and days + 1 are outside), their
# creations with their durations, and their closings.
_CUT_CREATED_SQL = text(
    f"""SELECT width_bucket(t."createdAt", CAST(:edges AS timestamptz[])) AS day, count(*) AS n,
               coalesce(array_agg({HANG_MS}) FILTER (WHERE {HANGS}), '{{}}') AS hang,
               coalesce(array_agg({RESOLUTION_MS}) FILTER (WHERE {RESOLUTIONS}), '{{}}') AS resolution
        FROM unnest(CAST(:cut_hours AS timestamptz[])) AS c(hour)
        JOIN "Ticket" t ON t."createdAt" >= c.hour AND t."createdAt" < c.hour + interval '1 hour'
        GROUP BY 1"""
)
_CUT_CLOSED_SQL = text(
    """SELECT width_bucket(t."closedAt", CAST(:edges AS timestamptz[])) AS day, count(*) AS n
       FROM unnest(CAST(:cut_hours AS timestamptz[])) AS c(hour)
       JOIN "Ticket" t ON t."closedAt" >= c.hour AND t."closedAt" < c.hour + interval '1 hour'
       GROUP BY 1"""
)
# For each edge inside an hour: the tickets created, and closed, in that hour before it.
_CUT_BEFORE_EDGE_SQL = text(
    """SELECT e.at,
              (SELECT count(*) FROM "Ticket" t WHERE t."createdAt" >= e.hour AND t."createdAt" < e.at) AS created,
              (SELECT count(*) FROM "Ticket" t WHERE t."closedAt" >= e.hour AND t."closedAt" < e.at) AS closed
       FROM unnest(CAST(:cut_edges AS timestamptz[]), CAST(:cut_edge_hours AS timestamptz[])) AS e(at, hour)"""
)
# Tickets closed before they were created (none in practice) that could matter at some edge.
_CLOSED_BEFORE_CREATED_SQL = text(
    """SELECT t."closedAt" AS closed, t."createdAt" AS created FROM "Ticket" t
       WHERE t."closedAt" < t."createdAt" AND t."createdAt" >= CAST(:first AS timestamptz)
         AND t."closedAt" < CAST(:last AS timestamptz)"""
)

# A day's figures: (new, closed, unresolved at end, hang percentiles ms, resolution percentiles ms).
DayFigures = tuple[int, int, int, list[float] | None, list[float] | None]


def percentile_cont(
    values: np.ndarray, fractions: tuple[float, ...] = DAILY_PERCENTILES
) -> list[float] | None:
    """PostgreSQL's ``percentile_cont(fractions) WITHIN GROUP (ORDER BY value::float8)``, the same floats."""
    count = len(values)
    if count == 0:
        return None
    ranks = []
    for fraction in fractions:
        position = fraction * (count - 1)
        ranks.append((position, math.floor(position), math.ceil(position)))
    wanted = sorted({r for _, low, high in ranks for r in (low, high)})
    chosen = np.partition(values, wanted)
    result = []
    for position, low, high in ranks:
        low_value = float(chosen[low])
        if low == high:
            result.append(low_value)
        else:
            high_value = float(chosen[high])
            result.append(low_value + ((position - low) * (high_value - low_value)))
    return result


def _native_int64(big_endian: bytes) -> np.ndarray:
    """Big-endian 8-byte integers as a native int64 array (a byte swap, no conversion per element)."""
    values = np.frombuffer(big_endian, dtype=_BIG_ENDIAN_INT64)
    return values.byteswap().view(values.dtype.newbyteorder("="))


def _hour_index(hour: datetime, grid_start: datetime) -> int:
    return int((hour - grid_start) // HOUR)


async def days_from_hours(executor: Executor, edges: list[datetime]) -> list[DayFigures]:
    """The figures of the days between consecutive ``edges`` (see ``nephthys.stats.daily``), from the hourly figures."""
    days = len(edges) - 1
    grid_start, grid_end = floor_to(edges[0], HOUR), ceil_to(edges[-1], HOUR)
    hours = _hour_index(grid_end, grid_start)
    cut_hours = sorted({floor_to(e, HOUR) for e in edges if floor_to(e, HOUR) != e})
    cut_edges = [e for e in edges if floor_to(e, HOUR) != e]
    window = {"grid_start": grid_start, "grid_end": grid_end}

    row = (await executor.execute(_DAY_HOURS_SQL, window)).one()
    created = np.zeros(hours + 1, dtype=np.int64)
    closed = np.zeros(hours + 1, dtype=np.int64)
    if row.hours:
        at = np.array(row.hours, dtype=np.int64)  # each row's hour index in the grid
        created[at] = np.array(row.created, dtype=np.int64)
        closed[at] = np.array(row.closed, dtype=np.int64)
    # Cumulative: tickets created (closed) before each grid hour starts.
    created_before_hour = np.concatenate(([0], np.cumsum(created[:-1]))) + int(row.created_before)
    closed_before_hour = np.concatenate(([0], np.cumsum(closed[:-1]))) + int(row.closed_before)

    # Each edge's grid hour (the hour holding it) and whether it cuts that hour; each day's whole
    # hours are [first, stop) in grid indexes (an hour an edge cuts belongs to no day's whole hours).
    edge_hour = np.array([(e - grid_start) // HOUR for e in edges], dtype=np.int64)
    edge_cuts = np.array([(e - grid_start) % HOUR != ZERO for e in edges], dtype=bool)
    firsts = edge_hour[:-1] + edge_cuts[:-1]
    stops = np.maximum(firsts, edge_hour[1:])
    created_sums = np.concatenate(([0], np.cumsum(created)))
    closed_sums = np.concatenate(([0], np.cumsum(closed)))
    new = (created_sums[stops] - created_sums[firsts]).tolist()
    closings = (closed_sums[stops] - closed_sums[firsts]).tolist()
    extra_hang: dict[int, list[int]] = {}
    extra_resolution: dict[int, list[int]] = {}
    # Tickets created (closed) before each day's end: the whole hours before the end's hour, plus,
    # when the end cuts its hour, those of that hour before it.
    created_before_end = created_before_hour[edge_hour[1:]]
    closed_before_end = closed_before_hour[edge_hour[1:]]
    if cut_hours:
        cut = {"cut_hours": cut_hours, "edges": edges}
        for cut_row in await executor.execute(_CUT_CREATED_SQL, cut):
            if 1 <= cut_row.day <= days:
                new[cut_row.day - 1] += cut_row.n
                extra_hang[cut_row.day - 1] = list(cut_row.hang)
                extra_resolution[cut_row.day - 1] = list(cut_row.resolution)
        for cut_row in await executor.execute(_CUT_CLOSED_SQL, cut):
            if 1 <= cut_row.day <= days:
                closings[cut_row.day - 1] += cut_row.n
        cut_created_before: dict[datetime, int] = {}
        cut_closed_before: dict[datetime, int] = {}
        for cut_row in await executor.execute(
            _CUT_BEFORE_EDGE_SQL,
            {"cut_edges": cut_edges, "cut_edge_hours": [floor_to(e, HOUR) for e in cut_edges]},
        ):
            cut_created_before[cut_row.at] = cut_row.created
            cut_closed_before[cut_row.at] = cut_row.closed
        created_before_end = created_before_end + np.array(
            [cut_created_before.get(e, 0) for e in edges[1:]], dtype=np.int64
        )
        closed_before_end = closed_before_end + np.array(
            [cut_closed_before.get(e, 0) for e in edges[1:]], dtype=np.int64
        )
    unresolved = (created_before_end - closed_before_end).tolist()

    backwards = (
        await executor.execute(
            _CLOSED_BEFORE_CREATED_SQL, {"first": edges[1] if days else edges[0], "last": edges[-1]}
        )
    ).all()
    for index, edge in enumerate(edges[1:]):
        # Closed before ``edge`` but created at or after it: counted as closed, never as created.
        unresolved[index] += sum(1 for r in backwards if r.closed < edge <= r.created)

    # Each day's durations as integers (milliseconds, exact as floats): percentile_cont converts
    # only the ranks it picks. Decoded day by day: small arrays, no copy of the year's megabytes.
    no_values = np.zeros(0, dtype=np.int64)
    hang_of_day = [no_values] * days
    resolution_of_day = [no_values] * days
    for day, hang_bytes, resolution_bytes in await executor.execute(
        _DAY_DURATIONS_SQL,
        {
            "firsts": [grid_start + int(first) * HOUR for first in firsts],
            "stops": [grid_start + int(stop) * HOUR for stop in stops],
        },
    ):
        if hang_bytes:
            hang_of_day[day - 1] = _native_int64(hang_bytes)
        if resolution_bytes:
            resolution_of_day[day - 1] = _native_int64(resolution_bytes)

    figures: list[DayFigures] = []
    for index in range(days):
        hang, resolution = hang_of_day[index], resolution_of_day[index]
        if index in extra_hang:
            hang = np.concatenate((hang, np.array(extra_hang[index], dtype=np.int64)))
            resolution = np.concatenate((resolution, np.array(extra_resolution[index], dtype=np.int64)))
        figures.append(
            (
                new[index],
                closings[index],
                unresolved[index],
                percentile_cont(hang),
                percentile_cont(resolution),
            )
        )
    return figures


__all__ = [
    "bounds_parameters",
    "days_from_hours",
    "in_edges",
    "kept_periods",
    "percentile_cont",
    "range_stats",
    "tiling",
]
