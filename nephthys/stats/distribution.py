"""How hang or resolution times are spread: percentiles and a fixed histogram, over tickets created in a range.

Definitions (docs/api.md says the same in prose):

- The tickets are those created in ``[since, until)`` (either bound may be
  open); hang time is ``assignedAt − createdAt`` over those with ``assignedAt``,
  resolution time ``closedAt − createdAt`` over those with ``closedAt``, as in
  ``nephthys.stats.overview``; ``count`` is how many qualify.
- Percentiles (p50, p75, p90, p95, p99) in minutes, by linear interpolation
  between the closest ranks (PostgreSQL's ``percentile_cont``); ``None`` when
  no ticket qualifies.
- Buckets: edges 5, 15, 30, 60, 120, 240, 480, 1440, 2880 and 10080 minutes; a
  duration ``d`` falls in the first bucket whose edge is ≥ ``d``, and in the
  last bucket (``up_to_minutes: None``) when it is longer than every edge.
  Compared in exact milliseconds, so 5 minutes to the millisecond is in the first.

Over all time (no bounds) the figures come from structures kept exact by
triggers (migration 0012) instead of a sort of every duration: the tickets per
one-minute *bin* of each metric ("TicketDurationCount"), whose sums are the
count and the buckets (every bucket edge is a bin edge), and an index on each
duration, where the value at a rank is a short ordered read from the start of
the bin that holds that rank. The percentile then interpolates exactly as
``percentile_cont`` does. A bounded range still sorts its tickets' durations.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime
from typing import Literal

from sqlalchemy import text

from nephthys.stats.overview import HANG_MS, HANGS, RESOLUTION_MS, RESOLUTIONS, Executor

Metric = Literal["hang", "resolution"]
METRICS: dict[str, tuple[str, str]] = {"hang": (HANG_MS, HANGS), "resolution": (RESOLUTION_MS, RESOLUTIONS)}
BUCKET_EDGES_MINUTES = (5, 15, 30, 60, 120, 240, 480, 1440, 2880, 10080)
DISTRIBUTION_PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
_PERCENTILE_KEYS = tuple(f"p{round(fraction * 100)}" for fraction in DISTRIBUTION_PERCENTILES)
_MS_PER_MINUTE = 60_000.0


@functools.cache
def _distribution_sql(metric: Metric, bounded_below: bool, bounded_above: bool) -> str:
    duration_ms, qualifies = METRICS[metric]
    fractions = f"ARRAY[{', '.join(str(f) for f in DISTRIBUTION_PERCENTILES)}]::float8[]"
    # Bucket i holds edge[i-1] < d <= edge[i] (exact milliseconds); the last, d > every edge.
    buckets = []
    lower = None
    for edge in BUCKET_EDGES_MINUTES:
        upper_ms = edge * 60_000
        condition = f"d.ms <= {upper_ms}" if lower is None else f"d.ms > {lower} AND d.ms <= {upper_ms}"
        buckets.append(f"count(*) FILTER (WHERE {condition})")
        lower = upper_ms
    buckets.append(f"count(*) FILTER (WHERE d.ms > {lower})")
    bounds = "".join(
        [
            ' AND t."createdAt" >= CAST(:since AS timestamptz)' if bounded_below else "",
            ' AND t."createdAt" < CAST(:until AS timestamptz)' if bounded_above else "",
        ]
    )
    return f"""SELECT count(*) AS count,
        percentile_cont({fractions}) WITHIN GROUP (ORDER BY d.ms::float8) AS percentiles_ms,
        ARRAY[{", ".join(buckets)}] AS buckets
    FROM (SELECT {duration_ms} AS ms FROM "Ticket" t
          WHERE {qualifies}{bounds}) d"""


# Bins as migration 0012 defines them: 0 for d <= 0, then one per minute to a week, then one per hour.
_MINUTE_BINS = 10080
_WEEK_MS = _MINUTE_BINS * 60_000
_BIGINT_MIN = -(2**63)

BINS_SQL = text(
    'SELECT "bin", "count" FROM "TicketDurationCount" WHERE "metric" = :metric AND "count" <> 0 ORDER BY "bin"'
)


def bin_floor_ms(bin_number: int) -> int:
    """The smallest whole millisecond in a bin (bin 0 holds every duration <= 0)."""
    if bin_number == 0:
        return _BIGINT_MIN
    if bin_number <= _MINUTE_BINS:
        return (bin_number - 1) * 60_000 + 1
    return _WEEK_MS + (bin_number - _MINUTE_BINS - 1) * 3_600_000 + 1


@functools.cache
def _ranked_sql(metric: Metric) -> str:
    """The duration ``skip`` entries into the ordered index from a bin's first millisecond, for each pair."""
    duration_ms, qualifies = METRICS[metric]
    return f"""SELECT w.ord, (
        SELECT {duration_ms} FROM "Ticket" t
        WHERE {qualifies} AND {duration_ms} >= w.floor_ms
        ORDER BY {duration_ms} OFFSET w.skip LIMIT 1) AS ms
    FROM unnest(CAST(:floors AS bigint[]), CAST(:skips AS bigint[])) WITH ORDINALITY AS w(floor_ms, skip, ord)
    ORDER BY w.ord"""


def _percentile_cont(fraction: float, count: int, value_at) -> float:
    """PostgreSQL's percentile_cont (float8_lerp) from the values at the two ranks around ``fraction·(n − 1)``."""
    rank = fraction * (count - 1)
    first_rank, second_rank = math.floor(rank), math.ceil(rank)
    first, second = value_at(first_rank), value_at(second_rank)
    if first_rank == second_rank:
        return first
    return first + (second - first) * (rank - first_rank)


async def _all_time_distribution(
    executor: Executor, metric: Metric
) -> tuple[int, list[float] | None, list[int]]:
    bins = [
        (int(bin_number), int(n)) for bin_number, n in await executor.execute(BINS_SQL, {"metric": metric})
    ]
    count = sum(n for _, n in bins)
    bucket_counts = [0] * (len(BUCKET_EDGES_MINUTES) + 1)
    for bin_number, n in bins:
        # Bin m <= 10080 holds (m-1, m] minutes: it lies in the first bucket whose edge is >= m.
        bucket = next((i for i, edge in enumerate(BUCKET_EDGES_MINUTES) if bin_number <= edge), None)
        bucket_counts[len(BUCKET_EDGES_MINUTES) if bucket is None else bucket] += n
    if count == 0:
        return 0, None, bucket_counts
    # The ranks each percentile needs, and where each starts: (bin's first ms, entries to skip).
    wanted = sorted(
        {
            r
            for f in DISTRIBUTION_PERCENTILES
            for r in (math.floor(f * (count - 1)), math.ceil(f * (count - 1)))
        }
    )
    starts: dict[int, tuple[int, int]] = {}
    before, index = 0, 0
    for bin_number, n in bins:
        while index < len(wanted) and wanted[index] < before + n:
            starts[wanted[index]] = (bin_floor_ms(bin_number), wanted[index] - before)
            index += 1
        before += n
    ranks = list(starts)
    result = await executor.execute(
        text(_ranked_sql(metric)),
        {"floors": [starts[r][0] for r in ranks], "skips": [starts[r][1] for r in ranks]},
    )
    values = {ranks[row.ord - 1]: float(row.ms) for row in result}
    percentiles_ms = [_percentile_cont(f, count, values.__getitem__) for f in DISTRIBUTION_PERCENTILES]
    return count, percentiles_ms, bucket_counts


async def duration_distribution(
    executor: Executor, metric: Metric, since: datetime | None = None, until: datetime | None = None
) -> dict:
    """``{metric, count, percentiles, buckets}`` over tickets created in ``[since, until)``."""
    if since is None and until is None:
        count, percentiles_ms, bucket_counts = await _all_time_distribution(executor, metric)
    else:
        result = await executor.execute(
            text(_distribution_sql(metric, since is not None, until is not None)),
            {"since": since, "until": until},
        )
        row = result.one()
        count, percentiles_ms, bucket_counts = row._mapping["count"], row.percentiles_ms, row.buckets
    percentiles = (
        {key: value / _MS_PER_MINUTE for key, value in zip(_PERCENTILE_KEYS, percentiles_ms, strict=True)}
        if percentiles_ms is not None
        else dict.fromkeys(_PERCENTILE_KEYS)
    )
    edges: list[int | None] = [*BUCKET_EDGES_MINUTES, None]
    return {
        "metric": metric,
        "count": count,
        "percentiles": percentiles,
        "buckets": [
            {"up_to_minutes": edge, "count": n} for edge, n in zip(edges, bucket_counts, strict=True)
        ],
    }
