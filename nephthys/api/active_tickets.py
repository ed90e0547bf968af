"""``/api/tickets?status=open`` (or ``in_progress``) from a copy in memory, never stale.

Dashboards poll the open and in-progress tickets; answering each poll by reading
~30,000 stored objects scattered over the active table cost ~100 ms of CPU at
1,000,000 tickets (bench/README.md, "Issue 14"). The service keeps, per active
status, a copy of those objects (their bytes and description offsets, in
creation order) with the PostgreSQL snapshot it was read in.

Each request opens a REPEATABLE READ transaction and asks, in one statement,
which tickets' stored objects changed between the copy's snapshot and its own:
the notes in "TicketJsonChange" (migration 0014, written by triggers in every
changing transaction) whose transaction its snapshot sees and the copy's did
not. Only those tickets are read again; then the copy holds exactly what the
request's snapshot holds, and is answered. A change committed before a request
began is therefore always in its answer. The copy is read whole again when a
note says everything changed (a TRUNCATE, a rebuild) or when notes it would
need have been pruned (``prunedBelow`` beyond its snapshot).

With API_STATUS_CASE=upper the copy holds each object with its status already in
capitals (nephthys/api/status_case.py), rewritten once as it is read, not per answer.

Each object is kept with whom its ticket waits on ("ActiveTicketJson"."waitingOn", migration
0020), so ``?waiting_on=`` is answered from the copies too: with a status from that status's
copy, without one from both copies, brought up to date in one snapshot and merged in order.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from nephthys.api import stored_tickets
from nephthys.api.status_case import LOWER, UPPER, upper_statuses

ACTIVE_STATUSES = ("OPEN", "IN_PROGRESS")

# The request's snapshot, and the tickets whose stored objects changed since the copy's ($1: its xmin,
# $2: its snapshot; NULL when there is no copy). A NULL ticket: everything changed.
CHANGES_SINCE = """SELECT pg_current_snapshot()::text AS snapshot,
    pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
    (SELECT "prunedBelow" FROM "TicketJsonChangeHorizon" WHERE id = 1) AS pruned_below,
    CASE WHEN $1::bigint IS NOT NULL THEN ARRAY(
        SELECT DISTINCT c."ticketId" FROM "TicketJsonChange" c
        WHERE c.xid >= $1::bigint AND NOT pg_visible_in_snapshot(c.xid::text::xid8, $2::text::pg_snapshot)
    ) END AS changed"""

_COLUMNS = (
    'j."ticketId", j."createdAt", textsend(j.json) AS json, j."descriptionAt", j."descriptionLength", '
    'j."waitingOn"::text AS "waitingOn"'
)
# Each status's tickets through its partial index, in creation order (a literal: a parameter
# would let a generic plan miss the partial index).
EVERY_TICKET = {
    status: f"""SELECT {_COLUMNS} FROM "ActiveTicketJson" j WHERE j.status = '{status}'
        ORDER BY j."createdAt", j."ticketId" """
    for status in ACTIVE_STATUSES
}
# $1: the status, $2: the changed tickets.
SOME_TICKETS = f"""SELECT {_COLUMNS} FROM "ActiveTicketJson" j
    WHERE j."ticketId" = ANY($2::integer[]) AND j.status = $1::"TicketStatus" """

Key = tuple[datetime, int]
# Each row's "waitingOn" as one shared string (asyncpg makes a new one per row): a pointer a ticket.
_WAITS: dict[str | None, str | None] = {"HELPERS": "HELPERS", "ASKER": "ASKER", None: None}


def _shared_wait(value: str | None) -> str | None:
    return _WAITS.setdefault(value, value)


# Below and above every ticket id, to bisect on a creation time alone.
_BEFORE_ANY_ID, _AFTER_ANY_ID = -(2**63), 2**63


def as_stored(json: bytes) -> bytes:
    """An object's bytes kept as the database stores them (API_STATUS_CASE=lower)."""
    return json


@dataclass
class ActiveCopy:
    """One status's stored objects as of a snapshot, in creation order.

    ``keys`` (createdAt, ticketId), ``jsons`` (the objects' bytes), ``cuts`` (where
    each object's description member starts, and its length) and ``waits`` (whom the
    ticket waits on: "HELPERS", "ASKER" or None) are parallel tuples in that order; ``where`` finds a ticket's key. They are tuples of tuples, bytes and
    ints, which Python's garbage collector stops tracking, so ~80,000 kept items add
    nothing to its full collections (lists would be walked by every one). A patch
    builds new tuples (copying pointers); a whole body is one join of ``jsons``.
    """

    snapshot: str
    xmin: int
    keys: tuple[Key, ...] = ()
    jsons: tuple[bytes, ...] = ()
    cuts: tuple[tuple[int, int], ...] = ()
    waits: tuple[str | None, ...] = ()
    where: dict[int, Key] = field(default_factory=dict)
    # Whole arrays already joined, by (descriptions, waiting_on): dropped at every patch.
    _bodies: dict[tuple[bool, str | None], bytes] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        snapshot: str,
        xmin: int,
        rows: list[asyncpg.Record],
        served: Callable[[bytes], bytes] = as_stored,
    ) -> ActiveCopy:
        """A copy of ``rows``, each object's bytes as ``served`` makes them (the status's case)."""
        keys = [_key(row) for row in rows]  # already in order
        return cls(
            snapshot,
            xmin,
            tuple(keys),
            tuple(served(row["json"]) for row in rows),
            tuple((row["descriptionAt"], row["descriptionLength"]) for row in rows),
            tuple(_shared_wait(row["waitingOn"]) for row in rows),
            {key[1]: key for key in keys},
        )

    def patch(
        self,
        snapshot: str,
        xmin: int,
        changed: list[int],
        rows: list[asyncpg.Record],
        served: Callable[[bytes], bytes] = as_stored,
    ) -> None:
        """Replace the ``changed`` tickets by ``rows`` (those of them that have this status now)."""
        keys, jsons, cuts, waits = list(self.keys), list(self.jsons), list(self.cuts), list(self.waits)
        for ticket_id in changed:
            key = self.where.pop(ticket_id, None)
            if key is not None:
                at = bisect.bisect_left(keys, key)
                del keys[at], jsons[at], cuts[at], waits[at]
        for row in rows:
            key = _key(row)
            at = bisect.bisect_left(keys, key)
            keys.insert(at, key)
            jsons.insert(at, served(row["json"]))
            cuts.insert(at, (row["descriptionAt"], row["descriptionLength"]))
            waits.insert(at, _shared_wait(row["waitingOn"]))
            self.where[key[1]] = key
        self.keys, self.jsons, self.cuts, self.waits = tuple(keys), tuple(jsons), tuple(cuts), tuple(waits)
        self.advance(snapshot, xmin)
        self._bodies.clear()

    def advance(self, snapshot: str, xmin: int) -> None:
        self.snapshot, self.xmin = snapshot, xmin

    def body(
        self,
        descriptions: bool,
        since: datetime | None,
        until: datetime | None,
        waiting_on: str | None = None,
    ) -> bytes:
        """The JSON array of the tickets created in [since, until] (waiting on ``waiting_on``, when
        given), oldest first."""
        low, high = self._range(since, until)
        whole = low == 0 and high == len(self.keys)
        cached = (descriptions, waiting_on)
        if whole and cached in self._bodies:
            return self._bodies[cached]
        body = _array([json for _, json in self.entries(descriptions, since, until, waiting_on)])
        if whole:
            self._bodies[cached] = body
        return body

    def entries(
        self,
        descriptions: bool,
        since: datetime | None,
        until: datetime | None,
        waiting_on: str | None = None,
    ) -> list[tuple[Key, bytes]]:
        """(key, object bytes) of the tickets ``body`` answers, in order (to merge with another copy's)."""
        low, high = self._range(since, until)
        found: Iterable[tuple[Key, bytes, tuple[int, int]]] = zip(
            self.keys[low:high], self.jsons[low:high], self.cuts[low:high], strict=True
        )
        if waiting_on is not None:
            found = (
                entry for entry, waits in zip(found, self.waits[low:high], strict=True) if waits == waiting_on
            )
        if descriptions:
            return [(key, json) for key, json, _ in found]
        return [
            (key, stored_tickets.without_description(json, at, length)) for key, json, (at, length) in found
        ]

    def _range(self, since: datetime | None, until: datetime | None) -> tuple[int, int]:
        low = 0 if since is None else bisect.bisect_left(self.keys, (since, _BEFORE_ANY_ID))
        high = len(self.keys) if until is None else bisect.bisect_right(self.keys, (until, _AFTER_ANY_ID))
        return low, high


def _array(parts: list[bytes]) -> bytes:
    """``[`` + the parts joined by commas + ``]``, copying the parts' bytes once (``parts`` is changed)."""
    if not parts:
        return b"[]"
    parts[0] = b"[" + parts[0]
    parts[-1] = parts[-1] + b"]"
    return b",".join(parts)


def _key(row: asyncpg.Record) -> Key:
    return (row["createdAt"], row["ticketId"])


class ActiveTicketsMemo:
    """The service's copies, one per active status; one request at a time brings a copy up to date."""

    def __init__(self, status_case: str = LOWER) -> None:
        self._copies: dict[str, ActiveCopy] = {}
        self._locks = {status: asyncio.Lock() for status in ACTIVE_STATUSES}
        # How each status's objects are kept: as stored, or with the status in capitals (one scan each:
        # a copy holds one status).
        self._served: dict[str, Callable[[bytes], bytes]] = {
            status: functools.partial(upper_statuses, statuses=(status.lower(),))
            if status_case == UPPER
            else as_stored
            for status in ACTIVE_STATUSES
        }

    async def answer(
        self,
        driver: asyncpg.Connection,
        status: str | None,
        *,
        descriptions: bool,
        since: datetime | None = None,
        until: datetime | None = None,
        waiting_on: str | None = None,
    ) -> bytes:
        """The tickets of ``status`` (None: both active statuses) as a JSON array, exactly as a
        snapshot taken now shows them.

        ``driver`` must not be in a transaction. The locks are taken before the
        snapshot, so a copy is never newer than the request bringing it up to date;
        always in the same order, so two requests never wait on each other.
        """
        statuses = ACTIVE_STATUSES if status is None else (status,)
        async with contextlib.AsyncExitStack() as held:
            for each in statuses:
                await held.enter_async_context(self._locks[each])
            async with driver.transaction(isolation="repeatable_read", readonly=True):
                copies = [await self._up_to_date(driver, each) for each in statuses]
            if len(copies) == 1:
                return copies[0].body(descriptions, since, until, waiting_on)
            merged = heapq.merge(*(copy.entries(descriptions, since, until, waiting_on) for copy in copies))
            return _array([json for _, json in merged])

    async def read_at_start(self, driver: asyncpg.Connection, *, descriptions: bool) -> None:
        """Read both copies now, and join each one's whole array as a request with ``descriptions``
        gets it, so the first such request after start only brings them up to date.

        ``driver`` must not be in a transaction. Each copy in its own snapshot, as a request would.
        """
        for status in ACTIVE_STATUSES:
            async with self._locks[status]:
                async with driver.transaction(isolation="repeatable_read", readonly=True):
                    copy = await self._up_to_date(driver, status)
                copy.body(descriptions, None, None)

    async def _up_to_date(self, driver: asyncpg.Connection, status: str) -> ActiveCopy:
        copy = self._copies.get(status)
        now = await driver.fetchrow(
            CHANGES_SINCE, copy.xmin if copy else None, copy.snapshot if copy else None
        )
        snapshot, xmin, changed = now["snapshot"], now["xmin"], now["changed"]
        if copy is None or copy.xmin < now["pruned_below"] or None in changed:
            for setting in stored_tickets.READ_SETTINGS:
                await driver.execute(setting)
            copy = ActiveCopy.read(
                snapshot, xmin, await driver.fetch(EVERY_TICKET[status]), self._served[status]
            )
            self._copies[status] = copy
        elif changed:
            copy.patch(
                snapshot,
                xmin,
                changed,
                await driver.fetch(SOME_TICKETS, status, changed),
                self._served[status],
            )
        else:
            copy.advance(snapshot, xmin)
        return copy
