"""Response times in support minutes: first response, next response and resolution, over tickets created in a period.

Definitions (docs/api.md says the same in prose; the spans are nephthys/tickets/timeline.py's):

- The tickets are those created in ``[since, until)`` (either bound may be open).
- ``first_response``: each ticket's FIRST_RESPONSE span once it has ended (the question to
  the first helper message); ``next_response``: every ended NEXT_RESPONSE span (an asker
  message that made the ticket wait on the helpers again, to the next helper message);
  ``resolution``: one value per closed ticket, "Ticket"."resolutionMinutes" (the sum of
  its RESOLUTION parts: the question to its last closure, less the time it waited on the
  asker and the time it spent closed before a reopen). A running span, and an open
  ticket's resolution, do not count until they end.
- Every value is in support minutes under the installed support calendar (SUPPORT_HOURS,
  SUPPORT_HOLIDAYS, TIMEZONE); the service recounts them at start-up when the calendar
  changed (nephthys/tickets/support_minutes.py), so a new calendar applies to all history.
- Per measure: ``count``; ``mean`` (arithmetic); ``p50``, ``p90``, ``p95`` by linear
  interpolation between the closest ranks (PostgreSQL's ``percentile_cont``); every
  figure but ``count`` is ``None`` when ``count`` is 0.
- Groups (``by``): ``team_tag``, per team tag on the ticket now (a ticket with two tags
  counts in both; untagged tickets in none); ``helper``, per person who gave the first
  response (first response), the response (each next response) or is credited with the
  closure (resolution: "Ticket"."closedById", the credit rule's closer; not when that is the
  asker, who closed their own question). A span whose person is unknown (a deleted user) is
  in no group. A group lists all three measures, with
  ``count`` 0 for a measure it has none of.

How it stays fast (migration 0027): triggers keep, per measure, group (all, each team tag, each
helper) and epoch-aligned period of 64, 8 and 1 UTC days of the tickets' creation, how many values
fall in each value bucket (fixed thresholds, ``response_time_bucket``) with their count and exact
sum. A request adds up the rows of the period's whole days (a year is at most ~33 periods per group;
an end that is most of a longer period is read as that period less the rest, ``signed_day_tiling``)
and reads the values of its parts of a day at either end from the spans; for each percentile it
finds the bucket holding the rank in those counts, then reads the value at the rank's offset inside
that bucket, and the next one, from an index ordered by minutes (the spans' and closed tickets'
indexes of migration 0021 for all and per helper, "ResponseTimeTagValues" per team tag). Every
group's counts are added in one numpy pass and its buckets found in another; the percentiles of a
group and measure that fall in one bucket (p90 and p95 mostly, in a small group all three) share one
index read, and all the reads are one statement. The
figures are the same floats ``percentile_cont`` gives (``direct_response_times`` is the direct
computation, kept as the definition the tests and the bench compare with); the mean is the exact
sum over the count.
"""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from sqlalchemy import text

from nephthys.stats.overview import Executor

Grouping = Literal["none", "team_tag", "helper"]
GROUPINGS: tuple[Grouping, ...] = ("none", "team_tag", "helper")
MEASURES = ("first_response", "next_response", "resolution")
PERCENTILES = (0.5, 0.9, 0.95)
PERCENTILE_KEYS = tuple(f"p{round(fraction * 100)}" for fraction in PERCENTILES)

# Settings for the statement's transaction only (SET LOCAL), what the plans above rely on:
SORT_SETTINGS = {
    # Sorting a year of one measure (~1M float8 values, ~40 MB as tuplesort holds them) in memory,
    # not in temporary files; per process.
    "work_mem": "64MB",
    # The three measures in three processes (one Gather over a Parallel Append of the three
    # aggregates, which the planner chooses with its default costs once a measure has a few
    # thousand values); a server set to 0 would run them one after the other.
    "max_parallel_workers_per_gather": "2",
    # A plan for the period asked: a generic plan cached for a month would sort a year.
    "plan_cache_mode": "force_custom_plan",
}
_SET_LOCAL = text(
    "SELECT " + ", ".join(f"set_config('{name}', :v{i}, true)" for i, name in enumerate(SORT_SETTINGS))
)
_FRACTIONS = f"ARRAY[{', '.join(str(fraction) for fraction in PERCENTILES)}]::float8[]"


def _period(column: str, bounded_below: bool, bounded_above: bool) -> str:
    return "".join(
        [
            f" AND {column} >= CAST(:since AS timestamptz)" if bounded_below else "",
            f" AND {column} < CAST(:until AS timestamptz)" if bounded_above else "",
        ]
    )


def _values(measure: str, key: str | None, bounded_below: bool, bounded_above: bool) -> str:
    """``(v, k)`` rows of one measure over the period, ordered by (k, v); ``k`` names the group.

    In order, because ``percentile_cont`` sorts its values however they come, and a sort that
    finds them sorted already is one pass (PostgreSQL's qsort checks first). Over a short
    period the planner reads the period's range of the creation-time index and sorts the few
    rows; over a long one it reads the index ordered by minutes and skips the rows outside.
    """
    if measure == "resolution":
        value, created, source = 't."resolutionMinutes"', 't."createdAt"', '"Ticket" t'
        where = 't."resolutionMinutes" IS NOT NULL'
        ticket, person = "t.id", 't."closedById"'
        if key == "helper":  # an asker who closed their own question is no helper
            where += ' AND t."closedById" <> t."openedById"'
    else:
        value, created, source = "s.minutes", 's."ticketCreatedAt"', '"TicketSpan" s'
        where = f"""s.kind = '{measure.upper()}' AND s."endAt" IS NOT NULL"""
        ticket, person = 's."ticketId"', 's."actorId"'
    where += _period(created, bounded_below, bounded_above)
    if key is None:
        return f"SELECT {value} AS v, NULL::int AS k FROM {source} WHERE {where} ORDER BY {value}"
    if key == "team_tag":
        source += f' JOIN tags_on_tickets tt ON tt."ticketId" = {ticket}'
        group = 'tt."tagId"'
    else:
        group = person
    return f"SELECT {value} AS v, {group} AS k FROM {source} WHERE {where} AND {group} IS NOT NULL ORDER BY {group}, {value}"


def _figures(value: str) -> str:
    return (
        f"count(*) AS n, avg({value}) AS mean, "
        f"percentile_cont({_FRACTIONS}) WITHIN GROUP (ORDER BY {value}) AS percentiles"
    )


@functools.cache
def _totals_sql(bounded_below: bool, bounded_above: bool) -> str:
    """One row per measure (``m`` its position in MEASURES): each aggregate its own branch of one Append."""
    branches = [
        f"SELECT {position} AS m, {_figures('x.v')} FROM ({_values(measure, None, bounded_below, bounded_above)}) x"
        for position, measure in enumerate(MEASURES)
    ]
    return "\nUNION ALL\n".join(branches)


# Each group's name in the same statement (one snapshot): a tag's name, or a person's user object.
_GROUP_NAMES = {
    "team_tag": ("g.name AS tag_name, NULL AS slack_id, NULL AS username", 'JOIN "Tag" g ON g.id = x.k'),
    "helper": ('NULL AS tag_name, u."slackId" AS slack_id, u.username', 'JOIN "User" u ON u.id = x.k'),
}


@functools.cache
def _groups_sql(by: Grouping, bounded_below: bool, bounded_above: bool) -> str:
    """One row per measure and group (``k``: the tag's or the person's id) with its name; no key, no group."""
    branches = [
        f"""SELECT {position} AS m, x.k, {_figures("x.v")}
            FROM ({_values(measure, by, bounded_below, bounded_above)}) x GROUP BY x.k"""
        for position, measure in enumerate(MEASURES)
    ]
    names, join = _GROUP_NAMES[by]
    return f"""SELECT x.m, x.k, x.n, x.mean, x.percentiles, {names}
               FROM ({" UNION ALL ".join(branches)}) x {join}"""


def _measure(count: int, mean: float | None, percentiles: list[float] | None) -> dict[str, Any]:
    if not count:
        return {"count": 0, "mean": None, **dict.fromkeys(PERCENTILE_KEYS)}
    assert percentiles is not None
    return {"count": count, "mean": mean, **dict(zip(PERCENTILE_KEYS, percentiles, strict=True))}


def _empty() -> dict[str, Any]:
    return _measure(0, None, None)


async def use_sort_settings(executor: Executor) -> None:
    """This transaction's settings for the measures' statements (SET LOCAL: this transaction only)."""
    await executor.execute(_SET_LOCAL, {f"v{i}": value for i, value in enumerate(SORT_SETTINGS.values())})


async def direct_response_times(
    executor: Executor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Grouping = "none",
) -> dict[str, Any]:
    """``response_times`` computed directly: every value of the period read and sorted (migration 0021's
    indexes). The definition the counts of migration 0027 must agree with (the tests compare the two).

    Call inside a transaction (the API's read-only snapshot): the sort settings are local to it.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by: expected one of {GROUPINGS}, got {by!r}")
    params = {"since": since, "until": until}
    bounds = (since is not None, until is not None)
    await use_sort_settings(executor)
    totals: dict[str, Any] = {measure: _empty() for measure in MEASURES}
    for row in await executor.execute(text(_totals_sql(*bounds)), params):
        totals[MEASURES[row.m]] = _measure(row.n, row.mean, row.percentiles)
    if by == "none":
        return totals
    groups: dict[int, dict[str, Any]] = {}
    for row in await executor.execute(text(_groups_sql(by, *bounds)), params):
        if row.k not in groups:
            name = (
                {"team_tag": row.tag_name}
                if by == "team_tag"
                else {"helper": {"id": row.k, "slack_id": row.slack_id, "username": row.username}}
            )
            groups[row.k] = {**name, **{measure: _empty() for measure in MEASURES}}
        groups[row.k][MEASURES[row.m]] = _measure(row.n, row.mean, row.percentiles)
    # Team tags by name, people by id.
    order = (lambda k: (groups[k]["team_tag"], k)) if by == "team_tag" else (lambda k: k)
    return {**totals, "groups": [groups[k] for k in sorted(groups, key=order)]}


# ---------------------------------------------------------------- from the kept counts (migration 0027)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
# The periods of "ResponseTimeCounts", longest first (migration 0027).
PERIOD_DAYS = (64, 8, 1)
GROUP_KINDS: dict[Grouping, int] = {"none": 0, "team_tag": 1, "helper": 2}
MEASURE_KINDS = ("FIRST_RESPONSE", "NEXT_RESPONSE", "RESOLUTION")
_LOWEST_DAY, _HIGHEST_DAY = -(2**31), 2**31 - 1


def thresholds(ratio: float, low: float = 0.01, high: float = 2.0e6) -> list[float]:
    """The value buckets' lower bounds (``response_time_bucket``): 0, then ``low`` growing by ``ratio``."""
    values = [0.0]
    k = 0
    while True:
        value = float(f"{low * ratio**k:.6g}")
        if value > high:
            return values
        values.append(value)
        k += 1


# Per group kind, migration 0027's thresholds: bucket b >= 1 holds [THRESHOLDS[b - 1], THRESHOLDS[b]),
# bucket 0 what is below 0.
THRESHOLDS = {0: thresholds(1.05), 1: thresholds(1.05), 2: thresholds(1.05)}


def bucket_floor(kind: int, bucket: int) -> float:
    return -math.inf if bucket == 0 else THRESHOLDS[kind][bucket - 1]


def day_of(instant: datetime) -> int:
    """Days since 1970-01-01 (UTC) of the day holding ``instant``."""
    return (instant - EPOCH) // DAY


def _day_start(day: int) -> datetime | None:
    """The instant ``day`` starts, or None past what a datetime holds."""
    try:
        return EPOCH + day * DAY
    except OverflowError:
        return None


def day_tiling(
    low: int | None, high: int | None, sizes: tuple[int, ...] = PERIOD_DAYS
) -> list[tuple[int, int, int]]:
    """Whole days ``[low, high)`` (None: open) as ranges of epoch-aligned periods ``(days, first start, end)``:
    the longest periods in the middle, shorter ones toward the ends (at most 5 ranges)."""
    if low is not None and high is not None and low >= high:
        return []
    size, shorter = sizes[0], sizes[1:]
    inner_low = None if low is None else -((-low) // size) * size
    inner_high = None if high is None else (high // size) * size
    if inner_low is not None and inner_high is not None and inner_low >= inner_high:
        return day_tiling(low, high, shorter)  # a period of one day always fits: shorter is not empty
    ranges = [
        (
            size,
            _LOWEST_DAY if inner_low is None else inner_low,
            _HIGHEST_DAY if inner_high is None else inner_high,
        )
    ]
    if low is not None and inner_low is not None and low < inner_low:
        ranges += day_tiling(low, inner_low, shorter)
    if high is not None and inner_high is not None and inner_high < high:
        ranges += day_tiling(inner_high, high, shorter)
    return ranges


def _rows(ranges: Iterable[tuple[int, int, int, int]]) -> int:
    """How many period rows (per group and measure) ``ranges`` read at most."""
    return sum((end - start) // days for days, start, end, _sign in ranges)


def signed_day_tiling(
    low: int, high: int, sizes: tuple[int, ...] = PERIOD_DAYS, sign: int = 1
) -> list[tuple[int, int, int, int]]:
    """Whole days ``[low, high)`` as ranges of epoch-aligned periods ``(days, first start, end, sign)``
    whose counts, added with their sign, are those of the days: where a part at either end is most of
    a longer period, that period less the rest (shorter periods, subtracted) reads fewer rows than the
    part in shorter periods (56 days: one 64-day row less one 8-day row, not seven 8-day rows).
    A longer period's counts are the sum of its shorter ones' (migration 0027 keeps all three)."""
    if low >= high:
        return []
    size, shorter = sizes[0], sizes[1:]
    if not shorter:
        return [(size, low, high, sign)]
    inner_low, inner_high = -((-low) // size) * size, (high // size) * size
    if inner_low >= inner_high:  # inside one period, or across one boundary
        options = [signed_day_tiling(low, high, shorter, sign)]
        start = (low // size) * size
        if high <= start + size:
            options.append(
                [(size, start, start + size, sign)]
                + signed_day_tiling(start, low, shorter, -sign)
                + signed_day_tiling(high, start + size, shorter, -sign)
            )
        return min(options, key=_rows)
    ranges = [(size, inner_low, inner_high, sign)]
    if low < inner_low:
        ranges += min(
            [
                signed_day_tiling(low, inner_low, shorter, sign),
                [(size, inner_low - size, inner_low, sign)]
                + signed_day_tiling(inner_low - size, low, shorter, -sign),
            ],
            key=_rows,
        )
    if inner_high < high:
        ranges += min(
            [
                signed_day_tiling(inner_high, high, shorter, sign),
                [(size, inner_high, inner_high + size, sign)]
                + signed_day_tiling(high, inner_high + size, shorter, -sign),
            ],
            key=_rows,
        )
    return ranges


# Per group and measure over the period's whole days: the count, the exact sum, and each period row's
# first bucket, number of buckets and sign (big-endian 4-byte triples) with its counts, in the same order.
_COUNTS_SQL = text(
    """SELECT c."groupKind" AS gk, c."groupId" AS gid, c.measure AS m, sum(p.sign * c.count) AS n,
              sum(p.sign * c.sum) AS total,
              string_agg(int4send(c.low) || int4send(length(c.counts) / 4) || int4send(p.sign), ''::bytea) AS parts,
              string_agg(c.counts, ''::bytea) AS counts
       FROM unnest(CAST(:days AS integer[]), CAST(:lows AS integer[]), CAST(:highs AS integer[]),
                   CAST(:signs AS integer[])) AS p(days, low, high, sign)
       CROSS JOIN unnest(CAST(:kinds AS integer[])) AS k(kind)
       -- each range of each kind is one range of the primary key (OFFSET 0: not flattened into a hash join)
       CROSS JOIN LATERAL (
           SELECT * FROM "ResponseTimeCounts" c
           WHERE c."groupKind" = k.kind AND c."periodDays" = p.days
             AND c."periodStart" >= p.low AND c."periodStart" < p.high OFFSET 0) c
       GROUP BY 1, 2, 3"""
)


def _added_counts(buckets: int, rows_per_group: list[int], parts: bytes, counts: bytes) -> np.ndarray:
    """Per group (``rows_per_group`` period rows each), its period rows' counts added up per bucket;
    ``parts`` holds each row's first bucket, length and sign (a subtracted row: -1), ``counts`` the
    rows' counts, in the same order.

    One numpy pass: each count's slot is its row's group and first bucket (one value per row,
    repeated over the row) plus its place in the concatenation."""
    header = np.frombuffer(parts, dtype=_ELEMENT).reshape(-1, 3).astype(np.int64)
    lows, lengths, signs = header[:, 0], header[:, 1], header[:, 2]
    values = np.frombuffer(counts, dtype=_ELEMENT).astype(np.float64)
    if (signs < 0).any():
        values *= np.repeat(signs, lengths)
    group_of_row = np.repeat(np.arange(len(rows_per_group), dtype=np.int64), rows_per_group)
    starts = np.cumsum(lengths) - lengths
    slot = np.repeat(group_of_row * buckets + lows - starts, lengths)
    slot += np.arange(len(values), dtype=np.int64)
    added = np.bincount(slot, weights=values, minlength=len(rows_per_group) * buckets)
    return np.rint(added).astype(np.int64).reshape(len(rows_per_group), buckets)


def _edges(column: str) -> str:
    """The two edge ranges (either may be empty or NULL), and each value's sign: the first range's
    (which lies before the second) or the second's."""
    return (
        f"(({column} >= CAST(:low_from AS timestamptz) AND {column} < CAST(:low_to AS timestamptz)) "
        f"OR ({column} >= CAST(:high_from AS timestamptz) AND {column} < CAST(:high_to AS timestamptz)))"
    )


def _edge_sign(column: str) -> str:
    return f"CASE WHEN {column} < CAST(:low_to AS timestamptz) THEN CAST(:low_sign AS integer) ELSE CAST(:high_sign AS integer) END"


# The values of the period's parts of a day at its two ends, per group and measure, with their exact sum
# (each value made numeric once, not once per group it is in).
_EDGES_SQL = text(
    f"""WITH v AS (
        SELECT CASE WHEN s.kind = 'FIRST_RESPONSE' THEN 0 ELSE 1 END AS m, s.minutes, s.minutes::numeric AS exact,
               s."actorId" AS helper, s."ticketId" AS ticket, {_edge_sign('s."ticketCreatedAt"')} AS sign
        FROM "TicketSpan" s
        WHERE s.kind IN ('FIRST_RESPONSE', 'NEXT_RESPONSE') AND s."endAt" IS NOT NULL AND s.kind <> 'RESOLUTION'
          AND s.minutes IS NOT NULL AND {_edges('s."ticketCreatedAt"')}
        UNION ALL
        SELECT 2, t."resolutionMinutes", t."resolutionMinutes"::numeric, CASE WHEN t."closedById" <> t."openedById" THEN t."closedById" END, t.id,
               {_edge_sign('t."createdAt"')}
        FROM "Ticket" t WHERE t."resolutionMinutes" IS NOT NULL AND {_edges('t."createdAt"')})
    SELECT g.gk, g.gid, v.m, v.sign, array_agg(v.minutes) AS minutes, sum(v.exact) AS total
    FROM v CROSS JOIN LATERAL (
        SELECT 0 AS gk, 0 AS gid
        UNION ALL SELECT 2, v.helper WHERE CAST(:kind AS integer) = 2 AND v.helper IS NOT NULL
        UNION ALL SELECT 1, tt."tagId" FROM tags_on_tickets tt
                  WHERE CAST(:kind AS integer) = 1 AND tt."ticketId" = v.ticket) g
    GROUP BY 1, 2, 3, 4"""
)
# Exact sums of numeric values (PostgreSQL's float8 -> numeric: 15 significant digits), never rounded.
_EXACT = decimal.Context(prec=80)

_IN_PERIOD = "{c} >= coalesce(CAST(:since AS timestamptz), '-infinity') AND {c} < coalesce(CAST(:until AS timestamptz), 'infinity')"
_SPAN_FILTER = """s.kind = CAST(l.kind AS "TicketSpanKind") AND s."endAt" IS NOT NULL AND s.kind <> 'RESOLUTION'
                  AND s.minutes >= l.low AND """ + _IN_PERIOD.format(c='s."ticketCreatedAt"')
_TICKET_FILTER = (
    """t."resolutionMinutes" IS NOT NULL AND t."resolutionMinutes" >= l.low AND """
    + _IN_PERIOD.format(c='t."createdAt"')
)
# Each lookup: the values from its offset on (as many as its limit) among the group's values of the measure in the
# period that are at least ``low`` (its bucket's floor), in order. One statement per source (group kind
# and measure), each lookup one index range.
_SOURCES = {
    (0, False): f"""SELECT s.minutes FROM "TicketSpan" s WHERE {_SPAN_FILTER}
                    ORDER BY s.minutes OFFSET l.off LIMIT l.lim""",
    (2, False): f"""SELECT s.minutes FROM "TicketSpan" s WHERE s."actorId" = l.gid AND {_SPAN_FILTER}
                    ORDER BY s.minutes OFFSET l.off LIMIT l.lim""",
    (0, True): f"""SELECT t."resolutionMinutes" FROM "Ticket" t WHERE {_TICKET_FILTER}
                   ORDER BY t."resolutionMinutes" OFFSET l.off LIMIT l.lim""",
    (2, True): f"""SELECT t."resolutionMinutes" FROM "Ticket" t
                   WHERE t."closedById" = l.gid AND t."closedById" <> t."openedById" AND {_TICKET_FILTER}
                   ORDER BY t."resolutionMinutes" OFFSET l.off LIMIT l.lim""",
    (
        1,
        False,
    ): f"""SELECT v.minutes FROM "ResponseTimeTagValues" v CROSS JOIN LATERAL generate_series(1, v.count) AS copy
                    WHERE v."tagId" = l.gid AND v.measure = l.m AND v.minutes >= l.low
                      AND {_IN_PERIOD.format(c='v."createdAt"')}
                    ORDER BY v.minutes OFFSET l.off LIMIT l.lim""",
}
_SOURCES[(1, True)] = _SOURCES[(1, False)]
_SOURCE_ORDER = sorted(_SOURCES)


@functools.cache
def _values_at_sql(sources: tuple[tuple[int, bool], ...]) -> Any:
    """One statement for the lookups of every source asked (each its own arrays: ``ids3`` and so on
    for the source at position 3 of _SOURCE_ORDER), their values and lookup ids in two arrays."""
    branches = []
    for source in sources:
        n = _SOURCE_ORDER.index(source)
        branches.append(
            f"""SELECT l.i, x.minutes
            FROM unnest(CAST(:ids{n} AS integer[]), CAST(:gids{n} AS integer[]), CAST(:ms{n} AS integer[]),
                        CAST(:kinds{n} AS text[]), CAST(:lows{n} AS float8[]), CAST(:offsets{n} AS bigint[]),
                        CAST(:limits{n} AS bigint[]))
                 AS l(i, gid, m, kind, low, off, lim)
            CROSS JOIN LATERAL ({_SOURCES[source]}) AS x(minutes)"""
        )
    return text(
        f"""SELECT coalesce(array_agg(v.i), '{{}}') AS ids, coalesce(array_agg(v.minutes), '{{}}') AS minutes
        FROM ({" UNION ALL ".join(branches)}) AS v"""
    )


# This transaction's settings (SET LOCAL): the statements are short, compiling them costs more than it
# saves; a plan for the values asked (a generic plan, cached after five runs, scans the edges' tables);
# and room for the counts' aggregate in memory (a year by helper holds ~16 MB of concatenated counts in
# its hash table: with the default 4 MB work_mem it spilled to disk in 5 batches, ~20 ms more); and no
# parallel workers (the edges' few hundred values were read by a Gather of two workers, whose start
# cost ~20 ms at 1M tickets: more than the read).
_COUNT_SETTINGS = text(
    "SELECT set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('work_mem', '64MB', true), set_config('max_parallel_workers_per_gather', '0', true)"
)
_TAG_NAMES_SQL = text('SELECT id, name FROM "Tag" WHERE id = ANY(CAST(:ids AS integer[]))')
_USERS_SQL = text(
    'SELECT id, "slackId" AS slack_id, username FROM "User" WHERE id = ANY(CAST(:ids AS integer[]))'
)
_ELEMENT = np.dtype(">i4")  # "ResponseTimeCounts"."counts": big-endian 4-byte counts
_THRESHOLD_ARRAYS = {kind: np.array(values, dtype=np.float64) for kind, values in THRESHOLDS.items()}
_BUCKETS = max(len(values) for values in THRESHOLDS.values()) + 1


async def response_times(
    executor: Executor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Grouping = "none",
) -> dict[str, Any]:
    """``{first_response, next_response, resolution}`` (each ``{count, mean, p50, p90, p95}``) over
    tickets created in ``[since, until)``, and ``groups`` when ``by`` is not ``none``.

    The same figures as ``direct_response_times``, from the counts triggers keep (migration 0027):
    the period's whole UTC days are added up from "ResponseTimeCounts" (per period of 64, 8 and 1
    days), its parts of a day at either end read from the spans; each percentile's ranks are found
    in the bucket counts and their values read at their offset inside the bucket, from an index.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by: expected one of {GROUPINGS}, got {by!r}")
    kind = GROUP_KINDS[by]
    kinds = [0] if kind == 0 else [0, kind]
    if until is not None and since is not None and until < since:
        until = since
    # Whole days [first_day, end_day) (None: open), and the instants where they start and end.
    first_day = None if since is None else day_of(since) + (EPOCH + day_of(since) * DAY != since)
    end_day = None if until is None else day_of(until)
    s_day = None if first_day is None else _day_start(first_day)
    u_day = None if end_day is None else _day_start(end_day)
    # The edges: values read from the spans, each range's with its sign (added or taken out).
    low_edge: tuple[datetime | None, datetime | None, int] = (since, s_day, 1)
    high_edge: tuple[datetime | None, datetime | None, int] = (u_day, until, 1)
    ranges: list[tuple[int, int, int, int]] = []
    if (first_day is not None and s_day is None) or (
        first_day is not None and end_day is not None and first_day >= end_day
    ):
        # No whole day (or none a datetime can name): the period is all edge.
        low_edge, high_edge = (since, until, 1), (until, until, 1)
    else:
        # A part of a day at either end that is more than half of it is read as the whole day (its
        # stored rows) less the rest of the day, fewer values to read: a period ending now has no
        # values after now, so its last day costs nothing.
        if since is not None and first_day is not None and s_day is not None and s_day - since > DAY / 2:
            first_day -= 1
            low_edge = (s_day - DAY, since, -1)
        if until is not None and end_day is not None and u_day is not None and until - u_day > DAY / 2:
            next_day = _day_start(end_day + 1)
            if next_day is not None:
                end_day += 1
                high_edge = (until, next_day, -1)
        ranges = (
            signed_day_tiling(first_day, end_day)
            if first_day is not None and end_day is not None
            else [(*r, 1) for r in day_tiling(first_day, end_day)]
        )

    await executor.execute(_COUNT_SETTINGS)
    # One row per group kind, group and measure with values in the period (``keys``): its count
    # and exact sum, and its values per bucket (a row of ``counts``).
    row_of: dict[tuple[int, int, int], int] = {}
    keys: list[tuple[int, int, int]] = []
    totals_of: list[Decimal] = []
    counted: list[int] = []

    def row(key: tuple[int, int, int]) -> int:
        found = row_of.get(key)
        if found is None:
            found = row_of[key] = len(keys)
            keys.append(key)
            totals_of.append(Decimal(0))
            counted.append(0)
        return found

    parts: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, their added counts), added up below
    if ranges:
        rows = await executor.execute(
            _COUNTS_SQL,
            {
                "days": [r[0] for r in ranges],
                "lows": [r[1] for r in ranges],
                "highs": [r[2] for r in ranges],
                "signs": [r[3] for r in ranges],
                "kinds": kinds,
            },
        )
        fetched = rows.all()
        if fetched:
            for gk, gid, m, n, total, _parts, _counts in fetched:
                i = row((gk, gid, m))
                counted[i] += int(n)
                totals_of[i] = _EXACT.add(totals_of[i], total)
            added = _added_counts(
                _BUCKETS,
                [len(r.parts) // 12 for r in fetched],
                b"".join(r.parts for r in fetched),
                b"".join(r.counts for r in fetched),
            )
            parts.append((np.arange(len(fetched)), added))
    if since is not None or until is not None:
        edges = {
            "low_from": low_edge[0],
            "low_to": low_edge[1],
            "low_sign": low_edge[2],
            "high_from": high_edge[0],
            "high_to": high_edge[1],
            "high_sign": high_edge[2],
            "kind": kind,
        }
        edge_rows: list[int] = []
        edge_signs: list[int] = []
        edge_minutes: list[list[float]] = []
        for gk, gid, m, sign, minutes, total in await executor.execute(_EDGES_SQL, edges):
            i = row((gk, gid, m))
            counted[i] += sign * len(minutes)
            totals_of[i] = _EXACT.add(totals_of[i], total if sign > 0 else -total)
            edge_rows.append(i)
            edge_signs.append(sign)
            edge_minutes.append(minutes)
        if edge_rows:
            # response_time_bucket: how many thresholds are at most the value (width_bucket), in
            # one pass per group kind.
            lengths = np.array([len(v) for v in edge_minutes], dtype=np.int64)
            values = np.fromiter(
                (v for minutes in edge_minutes for v in minutes), dtype=np.float64, count=int(lengths.sum())
            )
            owner = np.repeat(np.array(edge_rows, dtype=np.int64), lengths)
            kind_of = np.array([keys[i][0] for i in range(len(keys))], dtype=np.int64)[owner]
            buckets = np.empty(len(values), dtype=np.int64)
            for gk in set(kinds):
                mask = kind_of == gk
                buckets[mask] = np.searchsorted(_THRESHOLD_ARRAYS[gk], values[mask], side="right")
            signs = np.repeat(np.array(edge_signs, dtype=np.int64), lengths)
            edge_counts = np.rint(
                np.bincount(owner * _BUCKETS + buckets, weights=signs, minlength=len(keys) * _BUCKETS)
            ).astype(np.int64)
            parts.append((np.arange(len(keys)), edge_counts.reshape(len(keys), _BUCKETS)))

    counts = np.zeros((len(keys), _BUCKETS), dtype=np.int64)
    for at, added in parts:
        counts[at] += added
    n = np.array(counted, dtype=np.int64)

    # Each percentile's lower rank (percentile_cont: position = fraction * (n - 1)), found in the
    # counts of every row at once: its bucket and its offset inside the bucket.
    cumulative = np.cumsum(counts, axis=1)
    positions = np.array(PERCENTILES, dtype=np.float64)[None, :] * (n[:, None] - 1).astype(np.float64)
    lows = np.floor(positions).astype(np.int64)
    ranked = np.maximum(lows, 0)
    bucket_of = (cumulative[:, None, :] <= ranked[:, :, None]).sum(axis=2)
    before = np.where(
        bucket_of > 0,
        np.take_along_axis(cumulative, np.maximum(bucket_of - 1, 0), axis=1),
        0,
    )
    offsets = ranked - before
    # One lookup per row and bucket: from the lowest offset wanted there to the next value after
    # the highest (p90 and p95, often p50 too, share a small group's bucket).
    spans: dict[tuple[int, int], list[int]] = {}
    bucket_list, offset_list = bucket_of.tolist(), offsets.tolist()
    position_list, low_list = positions.tolist(), lows.tolist()
    for i in np.flatnonzero(n > 0).tolist():
        for bucket, offset in zip(bucket_list[i], offset_list[i], strict=True):
            span = spans.setdefault((i, bucket), [offset, offset])
            span[0], span[1] = min(span[0], offset), max(span[1], offset)
    lookup_keys = list(spans)
    by_source: dict[tuple[int, bool], list[int]] = {}
    for index, (i, _bucket) in enumerate(lookup_keys):
        by_source.setdefault((keys[i][0], keys[i][2] == 2), []).append(index)
    found: dict[int, list[float]] = {}
    if by_source:
        params: dict[str, Any] = {"since": since, "until": until}
        for source, indexes in by_source.items():
            n_at = _SOURCE_ORDER.index(source)
            chosen = [lookup_keys[index] for index in indexes]
            lookup_rows = [keys[i] for i, _b in chosen]
            params.update(
                {
                    f"ids{n_at}": indexes,
                    f"gids{n_at}": [gid for _gk, gid, _m in lookup_rows],
                    f"ms{n_at}": [m for _gk, _gid, m in lookup_rows],
                    f"kinds{n_at}": [MEASURE_KINDS[m] for _gk, _gid, m in lookup_rows],
                    f"lows{n_at}": [
                        bucket_floor(gk, b)
                        for (gk, _gid, _m), (_i, b) in zip(lookup_rows, chosen, strict=True)
                    ],
                    f"offsets{n_at}": [spans[key][0] for key in chosen],
                    f"limits{n_at}": [spans[key][1] - spans[key][0] + 2 for key in chosen],
                }
            )
        sources = tuple(source for source in _SOURCE_ORDER if source in by_source)
        ids, values = (await executor.execute(_values_at_sql(sources), params)).one()
        for index, minutes in zip(ids, values, strict=True):
            found.setdefault(index, []).append(minutes)
    lookup_index = {key: index for index, key in enumerate(lookup_keys)}

    def figures(gk: int, gid: int, m: int) -> dict[str, Any]:
        i = row_of.get((gk, gid, m))
        if i is None or counted[i] == 0:
            return _empty()
        values = []
        for position, low, bucket, offset in zip(
            position_list[i], low_list[i], bucket_list[i], offset_list[i], strict=True
        ):
            read = sorted(found[lookup_index[(i, bucket)]])
            at = offset - spans[(i, bucket)][0]
            if position == low:
                values.append(read[at])
            else:  # percentile_cont's interpolation, in its order of operations
                values.append(read[at] + ((position - low) * (read[at + 1] - read[at])))
        return _measure(counted[i], float(_EXACT.divide(totals_of[i], counted[i])), values)

    totals = {measure: figures(0, 0, m) for m, measure in enumerate(MEASURES)}
    if by == "none":
        return totals
    ids = sorted({gid for (gk, gid, _m), i in row_of.items() if gk == kind and counted[i] > 0})
    groups: dict[int, dict[str, Any]] = {}
    if by == "team_tag":
        for tag_id, name in await executor.execute(_TAG_NAMES_SQL, {"ids": ids}):
            groups[tag_id] = {"team_tag": name}
    else:
        for user_id, slack_id, username in await executor.execute(_USERS_SQL, {"ids": ids}):
            groups[user_id] = {"helper": {"id": user_id, "slack_id": slack_id, "username": username}}
    for gid, group in groups.items():
        group.update({measure: figures(kind, gid, m) for m, measure in enumerate(MEASURES)})
    # Team tags by name, people by id.
    order = (lambda k: (groups[k]["team_tag"], k)) if by == "team_tag" else (lambda k: k)
    return {**totals, "groups": [groups[k] for k in sorted(groups, key=order)]}
