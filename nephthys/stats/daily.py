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

A day that ends at or before the first instant any ticket has (its creation or
closure) holds no ticket: its figures are 0 and its percentiles ``None``, with
no query. The others are summed from the trigger-kept hourly figures
(``nephthys.stats.hourly``, migration 0025: ~24 rows and arrays a day, whatever the
zone). The direct computation (``from_hours=False``), one statement, reads every figure: the tickets created in the series (one index
range on ``createdAt``), those closed in it (one on ``closedAt``), and for
``unresolved_at_end`` the tickets that could be unresolved at some day's end
(created before the last edge, not closed before the first day's end), each
adding +1 from the first day it is unresolved at and -1 from the first it is not.

With ``remember=True`` (the API, in a REPEATABLE READ transaction) each day's
figures are kept in "DailyFigures" under the day's two instants, and a later
series reads the days it finds there and computes only the others, one
statement per run of consecutive missing days. Triggers on "Ticket" delete at
commit every day a ticket change touches (migration 0012 lists which), so a
kept day is the day as the data stands. New days are stored only under a share
lock on the totals row taken in the same snapshot, which fails when any ticket
change committed since the snapshot (the days are then simply not stored) and
holds a committing writer back until this transaction ends, so a writer's
deletions always see the days stored before it.

**Bound** (issue 18; migration 0017). Clients choose the days and zones, so the
kept days are bounded where they are inserted (:func:`_keep`):

- at most ``kept_days_limit`` rows (the ``DAILY_FIGURES_KEPT`` setting, default
  :data:`KEPT_DAYS`). A row is fixed-width, about :data:`KEPT_DAY_BYTES` bytes with
  its three index entries, so the default keeps about 2 MB;
- only days near the data are stored: a day that ends more than :data:`NEAR`
  before the first ticket was created, or starts more than :data:`NEAR` after the
  later of now and the last ticket's creation or closure, is computed and not
  stored (before the data every figure is 0: such days are cheap to compute);
- each kept day names the zone whose request stored it, and "DailyFiguresZone"
  records when each zone's days were last read or stored, at most one write a minute
  per zone (:data:`TOUCH_EVERY`), never one per row read. At the cap the least
  recently used zone is forgotten whole, but only a zone idle for
  :data:`EVICTABLE_AFTER`: days are never deleted faster than the cap per that
  time, so churn (dead rows waiting for VACUUM) stays near the cap too. When
  nothing may be forgotten, the days that do not fit are computed and not stored;
- storers take turns on the one "DailyFiguresStore" row without waiting (NOWAIT)
  and fail when another stored since their snapshot, so each counts the kept days
  exactly and the cap holds with several instances.

Answers never depend on what is kept: a day not found is computed.
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from nephthys.stats.hourly import days_from_hours
from nephthys.stats.overview import HANG_MS, RESOLUTION_MS, Executor

# The longest series one request may ask for.
MAX_DAYS = 366
# The kept days' bound (see the module's docstring): rows, and what one row costs on disk.
KEPT_DAYS = 10_000
KEPT_DAY_BYTES = 220
NEAR = timedelta(days=7)
EVICTABLE_AFTER = timedelta(minutes=10)
TOUCH_EVERY = timedelta(minutes=1)
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


# The same figures for a run of days that follows a day whose unresolved_at_end is known
# (:unresolved_before): no scan of every unresolved ticket. From one day's end to the next,
# unresolved_at_end gains the day's new tickets not closed before its end and loses the tickets
# closed in the day that were created before it began.
DAILY_AFTER_KNOWN_SQL = f"""
WITH created AS (
    SELECT r.day, count(*) AS new_tickets,
           count(*) FILTER (WHERE r.closed IS NULL OR r.closed >= (CAST(:ends AS timestamptz[]))[r.day]) AS open_at_end,
           percentile_cont({_FRACTIONS}) WITHIN GROUP (ORDER BY r.hang::float8) AS hang_ms,
           percentile_cont({_FRACTIONS}) WITHIN GROUP (ORDER BY r.resolution::float8) AS resolution_ms
    FROM (SELECT width_bucket(t."createdAt", CAST(:starts AS timestamptz[])) AS day, t."closedAt" AS closed,
                 {HANG_MS} AS hang, {RESOLUTION_MS} AS resolution
          FROM "Ticket" t
          WHERE t."createdAt" >= CAST(:first AS timestamptz) AND t."createdAt" < CAST(:last AS timestamptz)) r
    GROUP BY r.day
), closed AS (
    SELECT r.day, count(*) AS closed_tickets,
           count(*) FILTER (WHERE r.created < (CAST(:starts AS timestamptz[]))[r.day]) AS closed_from_before
    FROM (SELECT width_bucket(t."closedAt", CAST(:starts AS timestamptz[])) AS day, t."createdAt" AS created
          FROM "Ticket" t
          WHERE t."closedAt" >= CAST(:first AS timestamptz) AND t."closedAt" < CAST(:last AS timestamptz)) r
    GROUP BY r.day
)
SELECT d.day, coalesce(n.new_tickets, 0) AS new_tickets, coalesce(c.closed_tickets, 0) AS closed_tickets,
       CAST(:unresolved_before AS bigint)
         + sum(coalesce(n.open_at_end, 0) - coalesce(c.closed_from_before, 0)) OVER (ORDER BY d.day)
         AS unresolved_at_end,
       n.hang_ms, n.resolution_ms
FROM generate_series(1, CAST(:days AS integer)) AS d(day)
LEFT JOIN created n ON n.day = d.day
LEFT JOIN closed c ON c.day = d.day
ORDER BY d.day
"""


def _percentiles(milliseconds: list[float] | None) -> dict[str, float | None]:
    if milliseconds is None:
        return dict.fromkeys(_PERCENTILE_KEYS)
    return {key: value / _MS_PER_MINUTE for key, value in zip(_PERCENTILE_KEYS, milliseconds, strict=True)}


# A day's figures: (new, closed, unresolved at end, hang percentiles ms, resolution percentiles ms).
DayFigures = tuple[int, int, int, list[float] | None, list[float] | None]

# The first instant any ticket has (created or closed); null when there is no ticket.
DATA_START_SQL = text(
    """SELECT least((SELECT min("createdAt") FROM "Ticket"), (SELECT min("closedAt") FROM "Ticket"))"""
)
NO_TICKETS: DayFigures = (0, 0, 0, None, None)

KEPT_DAYS_SQL = text(
    """SELECT w.day, d."zone", d."newTickets", d."closedTickets", d."unresolvedAtEnd",
              d."hangP50Ms", d."hangP90Ms", d."hangP95Ms",
              d."resolutionP50Ms", d."resolutionP90Ms", d."resolutionP95Ms"
       FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) WITH ORDINALITY AS w(s, e, day)
       JOIN "DailyFigures" d ON d."dayStart" = w.s AND d."dayEnd" = w.e"""
)
# Fails (could not serialize) when a ticket change committed since this snapshot; holds writers' commits back.
KEEP_LOCK_SQL = text(
    """SELECT current_setting('transaction_isolation') AS isolation FROM "TicketTotals" WHERE id = 1 FOR SHARE"""
)
KEEP_DAYS_SQL = text(
    """INSERT INTO "DailyFigures" ("dayStart", "dayEnd", "newTickets", "closedTickets", "unresolvedAtEnd",
           "hangP50Ms", "hangP90Ms", "hangP95Ms", "resolutionP50Ms", "resolutionP90Ms", "resolutionP95Ms", "zone")
       SELECT *, CAST(:zone AS text) FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]),
           CAST(:new AS bigint[]), CAST(:closed AS bigint[]), CAST(:unresolved AS bigint[]),
           CAST(:h50 AS float8[]), CAST(:h90 AS float8[]), CAST(:h95 AS float8[]),
           CAST(:r50 AS float8[]), CAST(:r90 AS float8[]), CAST(:r95 AS float8[]))
       ON CONFLICT ("dayStart", "dayEnd") DO NOTHING"""
)
# In the request's snapshot: how many days are kept, where the data begins and ends, and whether
# a zone other than :zone may be forgotten.
KEEP_ROOM_SQL = text(
    """SELECT (SELECT count(*) FROM "DailyFigures") AS kept,
              (SELECT min("createdAt") FROM "Ticket") AS data_first,
              greatest(now(), (SELECT max("createdAt") FROM "Ticket"), (SELECT max("closedAt") FROM "Ticket"))
                  AS data_last,
              EXISTS (SELECT 1 FROM "DailyFiguresZone"
                      WHERE "zone" <> :zone AND "lastUsedAt" < now() - CAST(:idle AS interval)) AS evictable"""
)
# Storers take turns: fails at once if another holds the row, and (REPEATABLE READ) if another
# updated it since this snapshot, so the count above is exact for whoever gets past it.
KEEP_TURN_SQL = text("""SELECT 1 FROM "DailyFiguresStore" WHERE id = 1 FOR UPDATE NOWAIT""")
KEEP_TURN_TAKEN_SQL = text("""UPDATE "DailyFiguresStore" SET "storedAt" = now() WHERE id = 1""")
# The least recently used zone idle long enough, forgotten with its days (a zone in use right now is skipped).
FORGET_ZONE_SQL = text(
    """WITH victim AS (
           SELECT "zone" FROM "DailyFiguresZone"
           WHERE "zone" <> :zone AND "lastUsedAt" < now() - CAST(:idle AS interval)
           ORDER BY "lastUsedAt" LIMIT 1 FOR UPDATE SKIP LOCKED
       ), gone AS (
           DELETE FROM "DailyFiguresZone" z USING victim v WHERE z."zone" = v."zone" RETURNING z."zone"
       ), days AS (
           DELETE FROM "DailyFigures" d USING gone g WHERE d."zone" = g."zone" RETURNING 1
       )
       SELECT (SELECT count(*) FROM gone) AS zones, (SELECT count(*) FROM days) AS days"""
)
ZONE_USED_SQL = text(
    """INSERT INTO "DailyFiguresZone" ("zone", "lastUsedAt") VALUES (:zone, now())
       ON CONFLICT ("zone") DO UPDATE SET "lastUsedAt" = now()"""
)
# Reading kept days marks their zones used, at most once per TOUCH_EVERY.
# A zone another request is marking or storing right now is skipped (it is in use): this never waits.
ZONES_READ_SQL = text(
    """UPDATE "DailyFiguresZone" SET "lastUsedAt" = now()
       WHERE "zone" IN (SELECT "zone" FROM "DailyFiguresZone"
                        WHERE "zone" = ANY(CAST(:zones AS text[])) AND "lastUsedAt" < now() - CAST(:every AS interval)
                        FOR UPDATE SKIP LOCKED)"""
)


def _split(values: list[float | None]) -> list[float] | None:
    return None if any(v is None for v in values) else [float(v) for v in values if v is not None]


async def _computed_days(
    executor: Executor, edges: list[datetime], unresolved_before: int | None = None
) -> list[DayFigures]:
    """The figures of the days between consecutive ``edges``, in one statement.

    ``unresolved_before``: the tickets unresolved at ``edges[0]``, when known.
    """
    parameters = {
        "starts": edges[:-1],
        "ends": edges[1:],
        "first": edges[0],
        "last": edges[-1],
        "first_end": edges[1],
        "days": len(edges) - 1,
    }
    if unresolved_before is None:
        result = await executor.execute(text(DAILY_SQL), parameters)
    else:
        del parameters["first_end"]
        result = await executor.execute(
            text(DAILY_AFTER_KNOWN_SQL), {**parameters, "unresolved_before": unresolved_before}
        )
    return [
        (row.new_tickets, row.closed_tickets, int(row.unresolved_at_end), row.hang_ms, row.resolution_ms)
        for row in result
    ]


async def _keep(
    executor: Executor, edges: list[datetime], computed: dict[int, DayFigures], zone: str, limit: int
) -> bool:
    """Store the computed days near the data, within the bound (see the module's docstring), if no
    ticket change committed since this snapshot; whether any were stored."""
    if not computed or limit <= 0:
        return False
    room = (await executor.execute(KEEP_ROOM_SQL, {"zone": zone, "idle": EVICTABLE_AFTER})).one()
    if room.data_first is None:
        return False  # no tickets: every day is zeros
    near = [
        d for d in computed if edges[d + 1] > room.data_first - NEAR and edges[d] <= room.data_last + NEAR
    ]
    free = limit - room.kept
    if not near or (free <= 0 and not room.evictable):
        return False
    try:
        async with executor.begin_nested():
            isolation = (await executor.execute(KEEP_LOCK_SQL)).scalar_one()
            if isolation not in ("repeatable read", "serializable"):
                return False  # a later statement could see changes this snapshot's days miss
            await executor.execute(KEEP_TURN_SQL)
            await executor.execute(KEEP_TURN_TAKEN_SQL)
            while free < len(near):
                forgotten = (
                    await executor.execute(FORGET_ZONE_SQL, {"zone": zone, "idle": EVICTABLE_AFTER})
                ).one()
                if forgotten.zones == 0:
                    break
                free += forgotten.days
            if free <= 0:
                return False
            # What does not fit is left out, the days nearest the present kept.
            days = sorted(sorted(near, key=lambda d: edges[d], reverse=True)[:free])
            column = lambda index, part: [  # noqa: E731
                None if computed[d][index] is None else computed[d][index][part]  # type: ignore[index]
                for d in days
            ]
            await executor.execute(ZONE_USED_SQL, {"zone": zone})
            await executor.execute(
                KEEP_DAYS_SQL,
                {
                    "zone": zone,
                    "starts": [edges[d] for d in days],
                    "ends": [edges[d + 1] for d in days],
                    "new": [computed[d][0] for d in days],
                    "closed": [computed[d][1] for d in days],
                    "unresolved": [computed[d][2] for d in days],
                    "h50": column(3, 0),
                    "h90": column(3, 1),
                    "h95": column(3, 2),
                    "r50": column(4, 0),
                    "r90": column(4, 1),
                    "r95": column(4, 2),
                },
            )
    except DBAPIError:
        # A ticket change or another storer committed since the snapshot, or another storer holds
        # the turn: these days may be out of date or over the cap, and are simply not stored.
        return False
    return True


async def _touch(executor: Executor, zones: set[str]) -> None:
    """Mark the zones whose kept days were read as used (at most one write per zone per TOUCH_EVERY)."""
    try:
        async with executor.begin_nested():
            await executor.execute(ZONES_READ_SQL, {"zones": sorted(zones), "every": TOUCH_EVERY})
    except DBAPIError:
        pass  # another request marked them since this snapshot: they are marked


async def daily_stats(
    executor: Executor,
    first: date,
    last: date,
    zone: ZoneInfo,
    *,
    remember: bool = False,
    kept_days_limit: int = KEPT_DAYS,
    from_hours: bool = True,
) -> list[dict]:
    """One entry per local day from ``first`` to ``last`` inclusive (see the module's definitions).

    ``remember``: read and keep days in "DailyFigures" (only in a REPEATABLE READ transaction),
    at most ``kept_days_limit`` of them in all. ``from_hours``: days not kept are summed from the
    hourly figures (``nephthys.stats.hourly``, migration 0025); False reads every ticket of those
    days with the direct statements below (the reference the tests and the bench compare with).
    """
    edges = local_day_edges(first, last, zone)
    days = len(edges) - 1
    data_start = (await executor.execute(DATA_START_SQL)).scalar_one()
    # The days ending at or before any ticket's first instant hold no ticket: every figure is 0.
    empty = days if data_start is None else bisect.bisect_right(edges, data_start, lo=1) - 1
    figures: dict[int, DayFigures] = dict.fromkeys(range(empty), NO_TICKETS)
    zones_read: set[str] = set()
    if remember and empty < days:
        kept = await executor.execute(KEPT_DAYS_SQL, {"starts": edges[empty:-1], "ends": edges[empty + 1 :]})
        for row in kept:
            zones_read.add(row.zone)
            figures[empty + row.day - 1] = (
                row.newTickets,
                row.closedTickets,
                row.unresolvedAtEnd,
                _split([row.hangP50Ms, row.hangP90Ms, row.hangP95Ms]),
                _split([row.resolutionP50Ms, row.resolutionP90Ms, row.resolutionP95Ms]),
            )
    computed: dict[int, DayFigures] = {}
    day = 0
    while day < days:
        if day in figures:
            day += 1
            continue
        run_end = day
        while run_end < days and run_end not in figures:
            run_end += 1
        # A kept day just before the run knows how many were unresolved when the run begins.
        before = figures.get(day - 1)
        if from_hours:
            run = await days_from_hours(executor, edges[day : run_end + 1])
        else:
            run = await _computed_days(executor, edges[day : run_end + 1], before[2] if before else None)
        for offset, day_figures in enumerate(run):
            computed[day + offset] = day_figures
        day = run_end
    if remember:
        await _keep(executor, edges, computed, zone.key, kept_days_limit)
        if zones_read:
            await _touch(executor, zones_read)
    figures.update(computed)
    return [
        {
            "date": (first + timedelta(days=index)).isoformat(),
            "new_tickets": figures[index][0],
            "closed_tickets": figures[index][1],
            "unresolved_at_end": figures[index][2],
            "hang_time_minutes": _percentiles(figures[index][3]),
            "resolution_time_minutes": _percentiles(figures[index][4]),
        }
        for index in range(days)
    ]
