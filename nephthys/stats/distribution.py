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
"""

from __future__ import annotations

import functools
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


async def duration_distribution(
    executor: Executor, metric: Metric, since: datetime | None = None, until: datetime | None = None
) -> dict:
    """``{metric, count, percentiles, buckets}`` over tickets created in ``[since, until)``."""
    result = await executor.execute(
        text(_distribution_sql(metric, since is not None, until is not None)),
        {"since": since, "until": until},
    )
    row = result.one()
    percentiles = (
        {key: value / _MS_PER_MINUTE for key, value in zip(_PERCENTILE_KEYS, row.percentiles_ms, strict=True)}
        if row.percentiles_ms is not None
        else dict.fromkeys(_PERCENTILE_KEYS)
    )
    edges: list[int | None] = [*BUCKET_EDGES_MINUTES, None]
    return {
        "metric": metric,
        "count": row.count,
        "percentiles": percentiles,
        "buckets": [
            {"up_to_minutes": edge, "count": count} for edge, count in zip(edges, row.buckets, strict=True)
        ],
    }
