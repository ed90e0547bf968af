"""Serving /api/stats_v2 again without recomputing it, only while the answer is provably the same.

This is not a time-to-live cache. A remembered computation ``(version, now,
valid_until)`` is reused for a request only when

- the request's snapshot shows the same ``TicketTotals.version`` (every
  transaction that changes a ticket or a user takes a new version from a
  sequence, in the same transaction, so an equal version means the same data), and
- the request's clock ``n`` satisfies ``now <= n < valid_until``: no ticket
  timestamp crosses the edge of any window between the two instants, so every
  window holds the same tickets.

The one figure that moves with the clock alone, ``age_minutes``, is computed
for each request. The check costs one indexed single-row read; a change or a
crossing recomputes everything in one statement, one request at a time.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from nephthys.stats.overview import StatsV2Raw


class StatsV2Memo:
    def __init__(self) -> None:
        self._last: StatsV2Raw | None = None
        # One recomputation at a time; a request waiting for it re-checks the new result.
        self.computing = asyncio.Lock()

    def lookup(self, version: int | None, now: datetime) -> StatsV2Raw | None:
        """The remembered result if it is exactly the answer for ``version`` at ``now``."""
        last = self._last
        if last is None or version is None or last.version != version:
            return None
        if now < last.now or (last.valid_until is not None and now >= last.valid_until):
            return None
        return last

    def remember(self, raw: StatsV2Raw) -> None:
        self._last = raw
