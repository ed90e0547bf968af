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
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from nephthys.stats.overview import MessageLinks, StatsV2Raw, age_minutes, stats_v2_raw, stats_v2_view

# Stands for age_minutes in a pre-rendered document; random, so no data can contain it.
_AGE_PLACEHOLDER = f"age-minutes-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class RenderedStatsV2:
    """stats_v2 as JSON bytes, with age_minutes left to fill in per request."""

    raw: StatsV2Raw
    before_age: bytes
    after_age: bytes | None  # None: no oldest unanswered ticket, nothing to fill in
    # A hash of the document but for age_minutes (which moves with the clock): the API's weak ETag.
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        everything_but_age = self.before_age + b"\x00" + (self.after_age or b"")
        object.__setattr__(
            self, "fingerprint", hashlib.blake2b(everything_but_age, digest_size=16).hexdigest()
        )

    @classmethod
    def of(cls, raw: StatsV2Raw, links: MessageLinks) -> RenderedStatsV2:
        view = stats_v2_view(raw, raw.now, links)
        oldest = view["all_time"]["oldest_unanswered_ticket"]
        if oldest is None:
            return cls(raw, orjson.dumps(view), None)
        oldest["age_minutes"] = _AGE_PLACEHOLDER
        before, after = orjson.dumps(view).split(orjson.dumps(_AGE_PLACEHOLDER), 1)
        return cls(raw, before, after)

    def at(self, now: datetime) -> bytes:
        if self.after_age is None:
            return self.before_age
        oldest = self.raw.document["all_time"]["oldest_unanswered_ticket"]
        return self.before_age + orjson.dumps(age_minutes(oldest, now)) + self.after_age


class StatsV2Memo:
    def __init__(self) -> None:
        self._last: RenderedStatsV2 | None = None
        # One recomputation at a time; a request waiting for it re-checks the new result.
        self.computing = asyncio.Lock()

    def lookup(self, version: int | None, now: datetime) -> RenderedStatsV2 | None:
        """The remembered result if it is exactly the answer for ``version`` at ``now``."""
        last = self._last
        if last is None or version is None or last.raw.version != version:
            return None
        if now < last.raw.now or (last.raw.valid_until is not None and now >= last.raw.valid_until):
            return None
        return last

    def remember(self, rendered: RenderedStatsV2) -> None:
        self._last = rendered


@dataclass(frozen=True)
class RememberedAnswer:
    version: int
    body: bytes
    etag: str


class AnswerMemo:
    """The last answers of the aggregate routes, each reused only while the data version is the same.

    Keyed by the route and its resolved parameters (absolute instants and
    dates, never "now"), so an answer is a function of the key and the data
    alone: the same ``TicketTotals.version`` means the same answer.

    **Bound** (enforced in :meth:`remember`): at most ``size`` answers (default
    64) and ``max_bytes`` of answer bodies (default 8 MiB), the least recently
    used answer forgotten first; an answer larger than a quarter of
    ``max_bytes`` is not remembered at all.
    """

    def __init__(self, size: int = 64, max_bytes: int = 8 * 1024 * 1024) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._answers: OrderedDict[Hashable, RememberedAnswer] = OrderedDict()
        self.computing = asyncio.Lock()

    def entries(self) -> int:
        """How many answers are remembered (at most ``size``; not ``__len__``: an empty memo is still a memo)."""
        return len(self._answers)

    @property
    def bytes(self) -> int:
        """The remembered bodies' size in bytes (at most ``max_bytes``)."""
        return self._bytes

    def lookup(self, key: Hashable, version: int | None) -> RememberedAnswer | None:
        answer = self._answers.get(key)
        if answer is None or version is None or answer.version != version:
            return None
        self._answers.move_to_end(key)
        return answer

    def remember(self, key: Hashable, answer: RememberedAnswer) -> None:
        previous = self._answers.pop(key, None)
        if previous is not None:
            self._bytes -= len(previous.body)
        if len(answer.body) * 4 > self._max_bytes:
            return  # one answer would push out most of the others
        self._answers[key] = answer
        self._bytes += len(answer.body)
        while len(self._answers) > self._size or self._bytes > self._max_bytes:
            _, gone = self._answers.popitem(last=False)
            self._bytes -= len(gone.body)


# The clock is the database's: windows end at the now() of the first statement, whose
# snapshot also gives the data version. (JIT is off for every connection: see database/engine.py.)
VERSION_AND_NOW = 'SELECT (SELECT "version" FROM "TicketTotals" WHERE id = 1) AS version, now() AS now'


async def current_stats_v2(
    connection: AsyncConnection, memo: StatsV2Memo, links: MessageLinks
) -> tuple[RenderedStatsV2, datetime]:
    """stats_v2 as it is now, and that now: the remembered result when it is exactly right, else computed.

    /api/stats_v2 and the App Home both call this with the service's one memo, so they
    show the same figures from the same computation.
    """
    # The driver directly: no BEGIN/ROLLBACK around a single-row read.
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    check = await driver.fetchrow(VERSION_AND_NOW)
    version, now = check["version"], check["now"]
    rendered = memo.lookup(version, now)
    if rendered is None:
        async with memo.computing:
            rendered = memo.lookup(version, now)
            if rendered is None:
                rendered = RenderedStatsV2.of(await stats_v2_raw(connection, now), links)
                memo.remember(rendered)
    return rendered, now
