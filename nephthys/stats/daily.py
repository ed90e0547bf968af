"""A series of local calendar days: tickets opened, closed and left unresolved, and duration percentiles.

Definitions (docs/api.md says the same in prose), for each local day
``[midnight, next midnight)`` in a time zone:

- ``new_tickets``: tickets whose ``createdAt`` is in the day;
- ``closed_tickets``: tickets whose ``closedAt`` is in the day (whatever their status now);
- ``unresolved_at_end``: tickets created before the day's end whose ``closedAt``
  is null or not before the day's end;
- ``hang_time_minutes`` / ``resolution_time_minutes``: the 50th, 90th and 95th
  percentiles over the tickets created in the day of ``assignedAt − createdAt``
  (where ``assignedAt`` is set) and ``closedAt − createdAt`` (where ``closedAt``
  is set), in minutes, by linear interpolation between the closest ranks
  (PostgreSQL's ``percentile_cont``); ``None`` when no ticket qualifies.

Day edges are computed in Python with ``zoneinfo``: a day is 23 or 25 hours long
when the zone changes its clocks that day. A midnight the clocks skip starts the
day at the first instant that exists; a midnight they repeat, at its first
occurrence (``fold=0``), so the edges always increase and every instant belongs
to exactly one day.

One statement reads every figure: the tickets created in the series (one index
range on ``createdAt``), those closed in it (one on ``closedAt``), and for
``unresolved_at_end`` the tickets that could be unresolved at some day's end
(created before the last edge, not closed before the first day's end), each
adding +1 from the first day it is unresolved at and -1 from the first it is not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from nephthys.stats.overview import HANG_MS, RESOLUTION_MS, Executor

# The longest series one request may ask for.
MAX_DAYS = 366
DAILY_PERCENTILES = (0.5, 0.9, 0.95)
_PERCENTILE_KEYS = tuple(f"p{round(fraction * 100)}" for fraction in DAILY_PERCENTILES)
_MS_PER_MINUTE = 60_000.0


def local_day_edges(first: date, last: date, zone: ZoneInfo) -> list[datetime]:
    """The instants at which each local day from ``first`` to ``last`` begins, and the one after ``last`` ends.

    ``len(result) == days + 1``; day ``i`` is ``[result[i], result[i + 1])``.
    """
    days = (last - first).days + 1
    edges = []
    for offset in range(days + 1):
        local_midnight = datetime.combine(first + timedelta(days=offset), time(0), tzinfo=zone)
        # A round trip through UTC turns a skipped midnight into the first instant that exists.
        edges.append(local_midnight.astimezone(UTC))
    return edges


_FRACTIONS = f"ARRAY[{', '.join(str(f) for f in DAILY_PERCENTILES)}]::float8[]"

DAILY_SQL = f"""
WITH created AS (
    SELECT width_bucket(t."createdAt", CAST(:starts AS timestamptz[])) AS day,
           count(*) AS new_tickets,
           percentile_cont({_FRACTIONS}) WITHIN GROUP (ORDER BY ({HANG_MS})::float8) AS hang_ms,
           percentile_cont({_FRACTIONS}) WITHIN GROUP (ORDER BY ({RESOLUTION_MS})::float8) AS resolution_ms
    FROM "Ticket" t
    WHERE t."createdAt" >= CAST(:first AS timestamptz) AND t."createdAt" < CAST(:last AS timestamptz)
    GROUP BY 1
), closed AS (
    SELECT width_bucket(t."closedAt", CAST(:starts AS timestamptz[])) AS day, count(*) AS closed_tickets
    FROM "Ticket" t
    WHERE t."closedAt" >= CAST(:first AS timestamptz) AND t."closedAt" < CAST(:last AS timestamptz)
    GROUP BY 1
), spans AS (
    -- Unresolved at the ends of days [from_day, to_day): created before the day's end,
    -- not closed before it. Day i ends at ends[i]; width_bucket counts the ends at or before the instant.
    SELECT width_bucket(t."createdAt", CAST(:ends AS timestamptz[])) + 1 AS from_day,
           width_bucket(t."closedAt", CAST(:ends AS timestamptz[])) + 1 AS to_day
    FROM "Ticket" t
    WHERE t."createdAt" < CAST(:last AS timestamptz)
      AND (t."closedAt" IS NULL OR t."closedAt" >= CAST(:first_end AS timestamptz))
), changes AS (
    SELECT from_day AS day, count(*) AS change FROM spans
    WHERE to_day IS NULL OR to_day > from_day GROUP BY 1
    UNION ALL
    SELECT to_day, -count(*) FROM spans WHERE to_day > from_day GROUP BY 1
), unresolved AS (
    SELECT d.day, coalesce(sum(sum(c.change)) OVER (ORDER BY d.day), 0) AS unresolved_at_end
    FROM generate_series(1, CAST(:days AS integer)) AS d(day) LEFT JOIN changes c ON c.day = d.day
    GROUP BY d.day
)
SELECT u.day, coalesce(n.new_tickets, 0) AS new_tickets, coalesce(c.closed_tickets, 0) AS closed_tickets,
       u.unresolved_at_end, n.hang_ms, n.resolution_ms
FROM unresolved u
LEFT JOIN created n ON n.day = u.day
LEFT JOIN closed c ON c.day = u.day
ORDER BY u.day
"""


def _percentiles(milliseconds: list[float] | None) -> dict[str, float | None]:
    if milliseconds is None:
        return dict.fromkeys(_PERCENTILE_KEYS)
    return {key: value / _MS_PER_MINUTE for key, value in zip(_PERCENTILE_KEYS, milliseconds, strict=True)}


async def daily_stats(executor: Executor, first: date, last: date, zone: ZoneInfo) -> list[dict]:
    """One entry per local day from ``first`` to ``last`` inclusive (see the module's definitions)."""
    edges = local_day_edges(first, last, zone)
    days = len(edges) - 1
    result = await executor.execute(
        text(DAILY_SQL),
        {
            "starts": edges[:-1],
            "ends": edges[1:],
            "first": edges[0],
            "last": edges[-1],
            "first_end": edges[1],
            "days": days,
        },
    )
    series = []
    for row in result:
        series.append(
            {
                "date": (first + timedelta(days=row.day - 1)).isoformat(),
                "new_tickets": row.new_tickets,
                "closed_tickets": row.closed_tickets,
                "unresolved_at_end": int(row.unresolved_at_end),
                "hang_time_minutes": _percentiles(row.hang_ms),
                "resolution_time_minutes": _percentiles(row.resolution_ms),
            }
        )
    return series
