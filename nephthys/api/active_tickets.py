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

Each object ends with its ``sla`` member (migration 0028). A ticket with a running SLA clock is
kept with its member as a template (nephthys/api/sla_now.py: its fixed text and, per running
clock, its due instant's support reading), read with the object; each answer fills the templates
in at the clock of the snapshot that brought the copy up to date (``now()``, the instant the
changes were asked for), so such a copy's body is kept for that second of support time only: while
no support time passes (nights, weekends, holidays) every answer is the same.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from nephthys.api import sla_now, stored_tickets
from nephthys.api.status_case import LOWER, UPPER, upper_statuses
from nephthys.support_calendar import SupportCalendar

ACTIVE_STATUSES = ("OPEN", "IN_PROGRESS")
UTC_ZONE = ZoneInfo("UTC")

# The request's snapshot, and the tickets whose stored objects changed since the copy's ($1: its xmin,
# $2: its snapshot; NULL when there is no copy). A NULL ticket: everything changed.
CHANGES_SINCE = """SELECT pg_current_snapshot()::text AS snapshot, now() AS now,
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
    # The sla templates of the tickets with a running clock, by ticket id (sla_now.py).
    slas: dict[int, sla_now.Template] = field(default_factory=dict)
    # Whole arrays already joined, by (descriptions, waiting_on): dropped at every patch. With running
    # clocks, those of one support second (SlaShown.key), dropped when another is asked for.
    _bodies: dict[tuple[bool, str | None], bytes] = field(default_factory=dict)
    _bodies_at: int | None = None

    @classmethod
    def read(
        cls,
        snapshot: str,
        xmin: int,
        rows: list[asyncpg.Record],
        served: Callable[[bytes], bytes] = as_stored,
        slas: dict[int, sla_now.Template] | None = None,
    ) -> ActiveCopy:
        """A copy of ``rows``, each object's bytes as ``served`` makes them (the status's case), with
        the ``slas`` templates of those with a running clock."""
        keys = [_key(row) for row in rows]  # already in order
        return cls(
            snapshot,
            xmin,
            tuple(keys),
            tuple(served(row["json"]) for row in rows),
            tuple((row["descriptionAt"], row["descriptionLength"]) for row in rows),
            tuple(_shared_wait(row["waitingOn"]) for row in rows),
            {key[1]: key for key in keys},
            dict(slas or {}),
        )

    def patch(
        self,
        snapshot: str,
        xmin: int,
        changed: list[int],
        rows: list[asyncpg.Record],
        served: Callable[[bytes], bytes] = as_stored,
        slas: dict[int, sla_now.Template] | None = None,
    ) -> None:
        """Replace the ``changed`` tickets by ``rows`` (those of them that have this status now), with
        the ``slas`` templates of those with a running clock."""
        keys, jsons, cuts, waits = list(self.keys), list(self.jsons), list(self.cuts), list(self.waits)
        for ticket_id in changed:
            self.slas.pop(ticket_id, None)
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
        self.slas.update(slas or {})
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
        shown: sla_now.SlaShown | None = None,
    ) -> bytes:
        """The JSON array of the tickets created in [since, until] (waiting on ``waiting_on``, when
        given), oldest first; the running clocks shown at ``shown``'s instant."""
        low, high = self._range(since, until)
        whole = low == 0 and high == len(self.keys)
        if whole and self.slas:
            # A copy with running clocks changes with the time: its bodies hold for their instant only.
            assert shown is not None, "a copy with running clocks is shown at an instant"
            if self._bodies_at != shown.key:
                self._bodies.clear()
                self._bodies_at = shown.key
        cached = (descriptions, waiting_on)
        if whole and cached in self._bodies:
            return self._bodies[cached]
        body = _array([json for _, json in self.entries(descriptions, since, until, waiting_on, shown)])
        if whole:
            self._bodies[cached] = body
        return body

    def entries(
        self,
        descriptions: bool,
        since: datetime | None,
        until: datetime | None,
        waiting_on: str | None = None,
        shown: sla_now.SlaShown | None = None,
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
            entries = [(key, json) for key, json, _ in found]
        else:
            entries = [
                (key, stored_tickets.without_description(json, at, length))
                for key, json, (at, length) in found
            ]
        if self.slas:
            assert shown is not None, "a copy with running clocks is shown at an instant"
            slas, fill, rewrite = self.slas, shown.fill, stored_tickets.with_sla_value
            entries = [
                (key, json) if (parts := slas.get(key[1])) is None else (key, rewrite(json, fill(parts)))
                for key, json in entries
            ]
        return entries

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

    def __init__(self, status_case: str = LOWER, calendar: SupportCalendar | None = None) -> None:
        self._calendar = calendar or SupportCalendar(UTC_ZONE)
        self._now = datetime.now(UTC)  # the last snapshot's clock (set with every request's changes)
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
            # The running clocks at the snapshot's instant (answers within one support second share a body).
            shown = sla_now.SlaShown(self._now, self._calendar) if any(copy.slas for copy in copies) else None
            if len(copies) == 1:
                return copies[0].body(descriptions, since, until, waiting_on, shown)
            merged = heapq.merge(
                *(copy.entries(descriptions, since, until, waiting_on, shown) for copy in copies)
            )
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
                if not copy.slas:  # one with running clocks is joined for its answers' instants
                    copy.body(descriptions, None, None)

    async def _up_to_date(self, driver: asyncpg.Connection, status: str) -> ActiveCopy:
        copy = self._copies.get(status)
        now = await driver.fetchrow(
            CHANGES_SINCE, copy.xmin if copy else None, copy.snapshot if copy else None
        )
        snapshot, xmin, changed = now["snapshot"], now["xmin"], now["changed"]
        self._now = now["now"]
        if copy is None or copy.xmin < now["pruned_below"] or None in changed:
            for setting in stored_tickets.READ_SETTINGS:
                await driver.execute(setting)
            rows = await driver.fetch(EVERY_TICKET[status])
            copy = ActiveCopy.read(
                snapshot, xmin, rows, self._served[status], await self._templates(driver, rows)
            )
            self._copies[status] = copy
        elif changed:
            rows = await driver.fetch(SOME_TICKETS, status, changed)
            copy.patch(
                snapshot, xmin, changed, rows, self._served[status], await self._templates(driver, rows)
            )
        else:
            copy.advance(snapshot, xmin)
        return copy

    async def _templates(
        self, driver: asyncpg.Connection, rows: list[asyncpg.Record]
    ) -> dict[int, sla_now.Template]:
        """The sla templates of the rows' tickets with a running clock (their clocks read in the snapshot)."""
        running = [row["ticketId"] for row in rows if sla_now.stored_running(row["json"])]
        if not running:
            return {}
        meter = sla_now.odometer(self._calendar)
        found = await sla_now.clocks_of(driver, running)
        return {ticket_id: sla_now.template(clocks, meter) for ticket_id, clocks in found.items()}
