"""``/api/tickets?status=open`` (or ``in_progress``) from a copy in memory, never stale.

Dashboards poll the open and in-progress tickets; answering each poll by reading
~30,000 stored objects scattered over the active table cost ~100 ms of CPU at
1,000,000 tickets (bench/README.md, "Issue 14"). The service keeps, per active
status, a copy of those objects (one JSON array of them in creation order, with
each one's place, key and description offsets) with the PostgreSQL snapshot it
was read in. The array is the whole answer: issue 23 found the copies of 80,000
active tickets holding ~160 MB (every object once as its own bytes, once more in
the joined answer, and a few Python objects per ticket); kept once, they hold
about the objects' bytes (bench/README.md, "The API's in-process copies, in memory").

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
changes were asked for), so such a copy's whole body is kept for that second of support time only:
while no support time passes (nights, weekends, holidays) every answer is the same.

What a copy holds, and its bounds, are in :class:`ActiveCopy`'s docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np

from nephthys.api import sla_now, stored_tickets
from nephthys.api.status_case import LOWER, UPPER, upper_statuses
from nephthys.support_calendar import SupportCalendar
from nephthys.utils import allocator

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

# Whom a ticket waits on ("ActiveTicketJson"."waitingOn"), one byte a ticket.
_WAIT_CODES: dict[str | None, int] = {None: 0, "HELPERS": 1, "ASKER": 2}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Rows read per round trip when a copy is read whole: each batch is joined as it comes, so a whole
# read never holds 80,000 row objects (and their bytes) beside the array it builds.
_READ_BATCH = 2_000
_SLA_MEMBER = stored_tickets.SLA_MEMBER
_COMMA = ord(",")
_NONE = np.zeros(0, np.int64)  # no positions


def _micros(at: datetime) -> int:
    """An instant as whole microseconds since 1970 (PostgreSQL's and Python's resolution: exact)."""
    return (at - _EPOCH) // _MICROSECOND


def as_stored(json: bytes) -> bytes:
    """An object's bytes kept as the database stores them (API_STATUS_CASE=lower)."""
    return json


@dataclass
class _Rows:
    """Some rows' objects joined by commas (as served), and their columns, in the rows' order."""

    joined: bytes
    lengths: np.ndarray  # each object's length in bytes
    created: np.ndarray  # createdAt, in microseconds since 1970
    ids: np.ndarray
    cut_at: np.ndarray  # where the description cut starts, in the object
    cut_length: np.ndarray
    waits: np.ndarray  # _WAIT_CODES

    @classmethod
    def of(cls, rows: list[asyncpg.Record], served: Callable[[bytes], bytes]) -> _Rows:
        count = len(rows)
        jsons = [row["json"] for row in rows]
        # A status member never spans two objects, so the case is rewritten over the joined bytes at once.
        joined = served(b",".join(jsons))
        return cls(
            joined,
            np.fromiter(map(len, jsons), np.int64, count),
            np.fromiter((_micros(row["createdAt"]) for row in rows), np.int64, count),
            np.fromiter((row["ticketId"] for row in rows), np.int32, count),
            np.fromiter((row["descriptionAt"] for row in rows), np.int32, count),
            np.fromiter((row["descriptionLength"] for row in rows), np.int32, count),
            np.fromiter((_WAIT_CODES[row["waitingOn"]] for row in rows), np.int8, count),
        )


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Where each object starts in ``[`` + the objects joined by commas + ``]``, and one more entry:
    object ``i`` is ``array[starts[i] : starts[i + 1] - 1]`` (what follows it is a comma or ``]``)."""
    starts = np.empty(len(lengths) + 1, np.int64)
    starts[0] = 1
    np.cumsum(lengths + 1, out=starts[1:])
    starts[1:] += 1
    return starts


def _joined_array(parts: list[bytes | memoryview]) -> bytes:
    """``[`` + the parts (each one or more whole objects) joined by commas + ``]``, copied once."""
    if not parts:
        return b"[]"
    pieces: list[bytes | memoryview] = [b"["]
    for part in parts:
        pieces += (part, b",")
    pieces[-1] = b"]"
    return b"".join(pieces)


@dataclass
class _Array:
    """A JSON array of objects and where each starts (``_starts``)."""

    data: bytes
    starts: np.ndarray

    def objects(self, low: int, high: int) -> memoryview:
        """Objects ``low`` to ``high - 1`` joined by their commas (low < high)."""
        return memoryview(self.data)[self.starts[low] : self.starts[high] - 1]

    def compose(
        self, runs: _Runs, rewritten: np.ndarray, values: list[bytes], members: np.ndarray | None = None
    ) -> bytes:
        """The array of the objects in ``runs`` (in order), the ``sla`` value of those at the
        ``rewritten`` positions (in order, each inside a run) replaced by ``values``.

        Each run is copied from the array with the byte before it (``[`` or a comma), so the pieces
        are joined as they are, once; a rewritten object splits its run around its ``sla`` value
        (``members``: where each one's value starts, when known).
        """
        lows, highs = runs
        if not len(lows):
            return b"[]"
        starts = self.starts
        begins, ends = starts[lows] - 1, starts[highs] - 1
        ends_at_value = np.zeros(len(ends), bool)
        if len(rewritten):
            closing = starts[rewritten + 1] - 2  # each rewritten object's closing brace
            if members is None:
                members = _sla_values_at(self.data, starts[rewritten], closing)
            # Segments from a run's start or a closing brace, to a run's end or an sla value.
            begins = np.sort(np.concatenate((begins, closing)))
            ends = np.concatenate((ends, members))
            order = np.argsort(ends, kind="stable")
            ends, ends_at_value = (
                ends[order],
                np.concatenate((ends_at_value, np.ones(len(members), bool)))[order],
            )
        begins[0] += 1  # the first run's "[" or comma: the array's own "[" goes first
        view = memoryview(self.data)
        pieces: list[bytes | memoryview] = [b"["]
        if not len(rewritten):
            pieces += [view[begin:end] for begin, end in zip(begins.tolist(), ends.tolist(), strict=True)]
        else:
            next_value = iter(values)
            for begin, end, at_value in zip(
                begins.tolist(), ends.tolist(), ends_at_value.tolist(), strict=True
            ):
                pieces.append(view[begin:end])
                if at_value:
                    pieces.append(next(next_value))
        pieces.append(b"]")
        return b"".join(pieces)

    def each(self, positions: np.ndarray) -> list[bytes | memoryview]:
        """The objects at ``positions``, one piece each."""
        view, starts = memoryview(self.data), self.starts
        begins, ends = starts[positions].tolist(), (starts[positions + 1] - 1).tolist()
        return [view[begin:end] for begin, end in zip(begins, ends, strict=True)]

    def rewritten(self, positions: np.ndarray, values: list[bytes]) -> _Array:
        """This array with the ``sla`` value of the objects at ``positions`` (in order) replaced by
        ``values``."""
        if not len(positions):
            return self
        data, starts = self.data, self.starts
        closing = starts[positions + 1] - 2  # each object's closing brace
        members = _sla_values_at(data, starts[positions], closing)
        lengths = np.diff(starts) - 1
        lengths[positions] += np.fromiter(map(len, values), np.int64, len(values)) - (closing - members)
        return _Array(self.compose(_one_run(0, len(lengths)), positions, values, members), _starts(lengths))


def _sla_values_at(data: bytes, begins: np.ndarray, closing: np.ndarray) -> np.ndarray:
    """Where the ``sla`` value of each object (from ``begins`` to its ``closing`` brace) starts."""
    return np.fromiter(
        (
            data.rfind(_SLA_MEMBER, begin, end) + len(_SLA_MEMBER)
            for begin, end in zip(begins.tolist(), closing.tolist(), strict=True)
        ),
        np.int64,
        len(begins),
    )


# Ranges of consecutive positions: their lows and highs (exclusive), in order.
_Runs = tuple[np.ndarray, np.ndarray]


def _runs(positions: np.ndarray) -> _Runs:
    """Sorted positions as ranges of consecutive ones."""
    if not len(positions):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    lows = positions[np.concatenate(([0], breaks))]
    highs = positions[np.concatenate((breaks - 1, [len(positions) - 1]))] + 1
    return lows, highs


def _one_run(low: int, high: int) -> _Runs:
    return np.array([low] if low < high else [], np.int64), np.array([high] if low < high else [], np.int64)


# A running clock in a template (sla_now.template): its state and minutes left to fill in, its due
# instant written out between them.
_RUNNING_IN_TEMPLATE = re.compile(rb'"state":"%s","due_at":"([^"]*)","minutes_left":%\.2f')
_RUNNING_IN_SHAPE = b'"state":"%s","due_at":"%s","minutes_left":%.2f'


@dataclass
class _Templates:
    """The sla templates (sla_now.template) of a copy's tickets with a running clock, in a few arrays.

    As a dict of ``Template`` tuples they cost ~700 bytes a ticket (a bytes of ~300, two tuples, a
    ``_Running`` and two floats per clock, the dict's entry: 32 MiB for the 50,012 tickets of
    1,000,000 with a running clock, issue 23). Here a template is its shape, the %-format with each
    running clock's due instant left out too (tickets under one policy share a few: kept once), and
    per running clock its due instant's text and two float64s: ~110 bytes a ticket. In the order the
    tickets came (a patch drops some and appends the new ones), found by id through ``_order``.
    """

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    shape_of: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # into ``shapes``
    shapes: list[bytes] = field(default_factory=list)  # each used by at least one ticket
    clock_ends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # ticket i's last clock + 1
    due_texts: np.ndarray = field(default_factory=lambda: np.zeros(0, "S1"))  # each clock's due_at text
    dues: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))  # its due instant (s)
    due_readings: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))  # its odometer reading
    _order: np.ndarray | None = None  # argsort of ids, built when first needed

    @classmethod
    def of(cls, templates: dict[int, sla_now.Template]) -> _Templates:
        count = len(templates)
        shapes: dict[bytes, int] = {}
        shape_of = np.empty(count, np.int32)
        due_texts: list[bytes] = []
        for i, (text, running) in enumerate(templates.values()):
            found = _RUNNING_IN_TEMPLATE.findall(text)
            assert len(found) == len(running), "one due instant per running clock"
            due_texts += found
            shape = _RUNNING_IN_TEMPLATE.sub(_RUNNING_IN_SHAPE, text) if found else text
            shape_of[i] = shapes.setdefault(shape, len(shapes))
        clocks = [clock for _, running in templates.values() for clock in running]
        return cls(
            np.fromiter(templates, np.int32, count),
            shape_of,
            list(shapes),
            np.cumsum(np.fromiter((len(running) for _, running in templates.values()), np.int64, count)),
            np.array(due_texts, "S") if due_texts else np.zeros(0, "S1"),
            np.fromiter((clock.due for clock in clocks), np.float64, len(clocks)),
            np.fromiter((clock.due_reading for clock in clocks), np.float64, len(clocks)),
        )

    @classmethod
    def joined(cls, parts: list[_Templates]) -> _Templates:
        parts = [part for part in parts if len(part)]
        if len(parts) < 2:
            return parts[0].compacted() if parts else cls()
        shape_offsets = np.cumsum([0] + [len(part.shapes) for part in parts[:-1]]).tolist()
        clock_offsets = np.cumsum([0] + [len(part.dues) for part in parts[:-1]]).tolist()
        return cls(
            np.concatenate([part.ids for part in parts]),
            np.concatenate([part.shape_of + at for part, at in zip(parts, shape_offsets, strict=True)]),
            [shape for part in parts for shape in part.shapes],
            np.concatenate([part.clock_ends + at for part, at in zip(parts, clock_offsets, strict=True)]),
            np.concatenate([part.due_texts for part in parts]),
            np.concatenate([part.dues for part in parts]),
            np.concatenate([part.due_readings for part in parts]),
        ).compacted()

    def compacted(self) -> _Templates:
        """The same templates, each shape kept once and only while a ticket uses it (the bound)."""
        used, shape_of = np.unique(self.shape_of, return_inverse=True)
        index: dict[bytes, int] = {}
        remap = np.fromiter(
            (index.setdefault(self.shapes[at], len(index)) for at in used.tolist()), np.int32, len(used)
        )
        self.shape_of, self.shapes = remap[shape_of].astype(np.int32), list(index)
        return self

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return sum(len(shape) for shape in self.shapes) + sum(
            column.nbytes
            for column in (
                self.ids,
                self.shape_of,
                self.clock_ends,
                self.due_texts,
                self.dues,
                self.due_readings,
            )
        )

    def without(self, ticket_ids: list[int]) -> _Templates:
        """These templates but those of ``ticket_ids`` (their shapes kept until ``joined``)."""
        gone = np.isin(self.ids, np.asarray(ticket_ids, np.int32))
        if not gone.any():
            return self
        kept = np.flatnonzero(~gone)
        clock_counts = self.clock_ends - self._clock_starts()
        clocks = np.repeat(~gone, clock_counts)
        return _Templates(
            self.ids[kept],
            self.shape_of[kept],
            self.shapes,
            np.cumsum(clock_counts[kept]),
            self.due_texts[clocks],
            self.dues[clocks],
            self.due_readings[clocks],
        )

    def fill(self, ticket_ids: np.ndarray, shown: sla_now.SlaShown) -> list[bytes]:
        """The sla values of these tickets (each one here) at ``shown``'s instant, in their order:
        ``shown.fill`` of each one's template."""
        if self._order is None:
            self._order = np.argsort(self.ids, kind="stable")
        found = self._order[np.searchsorted(self.ids[self._order], ticket_ids)]
        # Their clocks, in their order: ticket i's are ends[i] - counts[i] to ends[i].
        clock_starts = self._clock_starts()[found]
        counts = self.clock_ends[found] - clock_starts
        ends = np.cumsum(counts)
        clocks = np.repeat(clock_starts - (ends - counts), counts) + np.arange(ends[-1] if len(ends) else 0)
        # Each clock's state, due instant and minutes left, as its shape takes them.
        states_and_minutes = shown.clock_values(self.dues[clocks], self.due_readings[clocks])
        values: list[bytes | float] = [b""] * (3 * len(clocks))
        values[0::3], values[2::3] = states_and_minutes[0::2], states_and_minutes[1::2]
        values[1::3] = self.due_texts[clocks].tolist()
        shapes = self.shapes
        return [
            # No running clock: the text as it is, as ``fill`` gives it.
            shapes[shape] % tuple(values[3 * (end - count) : 3 * end]) if count else shapes[shape]
            for shape, end, count in zip(
                self.shape_of[found].tolist(), ends.tolist(), counts.tolist(), strict=True
            )
        ]

    def _clock_starts(self) -> np.ndarray:
        return np.concatenate(([0], self.clock_ends[:-1])).astype(np.int64)


@dataclass
class ActiveCopy:
    """One status's stored objects as of a snapshot, in creation order, in one JSON array.

    ``array`` is the answer to the whole status with descriptions: ``[`` + the objects (as served:
    the status's case) joined by commas + ``]``, one ``bytes``, served as it is. Beside it, one
    entry per ticket in numpy arrays (about 30 bytes a ticket): where its object starts, its
    creation instant (microseconds, to bisect on), its id, its description cut (offset in the
    object, length) and whom it waits on (a byte). Nothing per ticket is a Python object, so the
    copy adds nothing to the garbage collector's walks.

    While tickets of the copy have a running SLA clock, the array holds their ``sla`` members as
    shown at one second of support time (``SlaShown.key``): an answer for another second first
    builds the next array with every running clock filled in at its instant (``show``) and drops
    the one before, so such a copy is still one array, not an array and a body per second; after a
    change within the same second, only the objects the patch put in are filled. Its tickets'
    templates (sla_now.py) are kept beside it.

    Bounds (what a copy holds beyond its array and those columns): the array without descriptions,
    built the first time one is asked for and dropped at the next change or second shown
    (API_DESCRIPTIONS=keys), and the templates of the tickets with a running clock. Every other
    answer (a range, ``?waiting_on=``) is joined per request from the array and kept by nobody.

    A patch builds the next array from runs of the current one and the new objects (one copy of
    the bytes, what the join of the whole answer after a change cost before).
    """

    snapshot: str
    xmin: int
    array: _Array = field(default_factory=lambda: _Array(b"[]", _starts(np.zeros(0, np.int64))))
    created: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    cut_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    cut_length: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    waits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # The sla templates of the tickets with a running clock (sla_now.py).
    slas: _Templates = field(default_factory=lambda: _Templates())
    # Built when first needed, dropped at every patch: the array without descriptions; the positions
    # of the tickets in ``slas``.
    _hidden: _Array | None = None
    _running: np.ndarray | None = None
    # The support second (SlaShown.key) whose sla values the running tickets' objects in ``array``
    # hold (None: as stored, since a read), but for those of ``_unshown``: running tickets put in by
    # a patch since, their objects as stored.
    _shown_at: int | None = None
    _unshown: set[int] = field(default_factory=set)
    # How many times ``array`` was built anew since the read (by a patch or another second shown):
    # the memo gives the freed pages back after each (nephthys/utils/allocator.py).
    rebuilds: int = 0

    @classmethod
    def read(
        cls,
        snapshot: str,
        xmin: int,
        batches: list[_Rows],
        slas: _Templates | dict[int, sla_now.Template] | None = None,
    ) -> ActiveCopy:
        """A copy of the rows read in ``batches`` (in order), with the ``slas`` templates of those with a
        running clock."""
        batches = [batch for batch in batches if len(batch.ids)]
        templates = slas if isinstance(slas, _Templates) else _Templates.of(slas or {})
        if not batches:
            return cls(snapshot, xmin, slas=templates)

        def column(name: str) -> np.ndarray:
            return np.concatenate([getattr(batch, name) for batch in batches])

        return cls(
            snapshot,
            xmin,
            _Array(_joined_array([batch.joined for batch in batches]), _starts(column("lengths"))),
            column("created"),
            column("ids"),
            column("cut_at"),
            column("cut_length"),
            column("waits"),
            templates,
        )

    @property
    def count(self) -> int:
        return len(self.ids)

    def patch(
        self, snapshot: str, xmin: int, changed: list[int], rows: _Rows, slas: dict[int, sla_now.Template]
    ) -> None:
        """Replace the ``changed`` tickets by ``rows`` (those of them that have this status now), with
        the ``slas`` templates of those with a running clock."""
        self.slas = _Templates.joined([self.slas.without(changed), _Templates.of(slas)])
        self._unshown.difference_update(changed)
        self._unshown.update(slas)
        gone = np.isin(self.ids, np.asarray(changed, np.int32))
        kept = np.flatnonzero(~gone)
        # The new objects in key order, and where each goes among the kept ones.
        order = np.lexsort((rows.ids, rows.created))
        kept_created, kept_ids = self.created[kept], self.ids[kept]
        places = np.empty(len(order), np.int64)
        for i, row in enumerate(order.tolist()):
            created, ticket_id = rows.created[row], rows.ids[row]
            low = int(np.searchsorted(kept_created, created, "left"))
            high = int(np.searchsorted(kept_created, created, "right"))
            places[i] = low + int(np.searchsorted(kept_ids[low:high], ticket_id))
        # The next array: runs of kept objects from the current one, the new objects between them.
        lengths = np.diff(self.array.starts) - 1
        new_starts = _starts(rows.lengths)
        new_view = memoryview(rows.joined)
        parts: list[bytes | memoryview] = []
        run_low = 0  # in ``kept``
        for i, row in enumerate(order.tolist()):
            place = int(places[i])
            parts += _kept_runs(self.array, kept, run_low, place)
            parts.append(new_view[new_starts[row] - 1 : new_starts[row + 1] - 2])
            run_low = place
        parts += _kept_runs(self.array, kept, run_low, len(kept))

        def merged(current: np.ndarray, new: np.ndarray) -> np.ndarray:
            return np.insert(current[kept], places, new[order])

        self.array = _Array(_joined_array(parts), _starts(merged(lengths, rows.lengths)))
        self.rebuilds += 1
        self.created = merged(self.created, rows.created)
        self.ids = merged(self.ids, rows.ids)
        self.cut_at = merged(self.cut_at, rows.cut_at)
        self.cut_length = merged(self.cut_length, rows.cut_length)
        self.waits = merged(self.waits, rows.waits)
        self._hidden = self._running = None
        self.advance(snapshot, xmin)

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
        self.show(shown)
        low, high = self._range(since, until)
        source = self.array if descriptions else self.hidden()
        if low == 0 and high == self.count and waiting_on is None:
            return source.data
        if waiting_on is None:
            return _joined_array([source.objects(low, high)] if low < high else [])
        return source.compose(_runs(self._waiting(low, high, waiting_on)), _NONE, [])

    def entries(
        self,
        descriptions: bool,
        since: datetime | None,
        until: datetime | None,
        waiting_on: str | None = None,
        shown: sla_now.SlaShown | None = None,
    ) -> tuple[np.ndarray, np.ndarray, list[bytes | memoryview]]:
        """The tickets ``body`` answers, in order (to merge with another copy's): their creation
        instants, ids, and objects."""
        self.show(shown)
        low, high = self._range(since, until)
        selected = (
            np.arange(low, high, dtype=np.int64)
            if waiting_on is None
            else self._waiting(low, high, waiting_on)
        )
        source = self.array if descriptions else self.hidden()
        return self.created[selected], self.ids[selected], source.each(selected)

    def show(self, shown: sla_now.SlaShown | None) -> None:
        """Make the array hold the running clocks as shown at ``shown``'s instant (a copy without
        running clocks is always as shown)."""
        if not self.slas:
            return
        assert shown is not None, "a copy with running clocks is shown at an instant"
        if self._shown_at == shown.key:
            if not self._unshown:
                return
            # Only the objects a patch put in since: the others already hold this second's values.
            running = np.flatnonzero(
                np.isin(self.ids, np.fromiter(self._unshown, np.int32, len(self._unshown)))
            )
        else:
            running = self.running()
        self.array = self.array.rewritten(running, self._values(running, shown))
        self.rebuilds += 1
        self._hidden, self._shown_at = None, shown.key
        self._unshown.clear()

    def hidden(self) -> _Array:
        """The array without descriptions (and without the titles that are the question's words):
        ``stored_tickets.without_description`` of every object."""
        if self._hidden is None:
            data, starts = self.array.data, self.array.starts
            view = memoryview(data)
            cuts = starts[:-1] + self.cut_at
            # A cut that starts at a comma is the description member alone and goes; one that starts
            # at the title's value runs to the description's end and becomes null.
            members = np.frombuffer(data, np.uint8)[cuts] == _COMMA if len(cuts) else np.zeros(0, bool)
            pieces: list[bytes | memoryview] = [view[:1]]
            copied = 1
            for cut, length, member in zip(
                cuts.tolist(), self.cut_length.tolist(), members.tolist(), strict=True
            ):
                pieces.append(view[copied:cut])
                if not member:
                    pieces.append(b"null")
                copied = cut + length
            pieces.append(view[copied:])
            lengths = np.diff(starts) - 1 - self.cut_length + np.where(members, 0, len(b"null"))
            self._hidden = _Array(b"".join(pieces), _starts(lengths))
        return self._hidden

    def running(self) -> np.ndarray:
        """The positions of the tickets with a running clock, in order."""
        if self._running is None:
            self._running = np.flatnonzero(np.isin(self.ids, self.slas.ids))
        return self._running

    def _values(self, positions: np.ndarray, shown: sla_now.SlaShown) -> list[bytes]:
        return self.slas.fill(self.ids[positions], shown)

    def _waiting(self, low: int, high: int, waiting_on: str) -> np.ndarray:
        return np.flatnonzero(self.waits[low:high] == _WAIT_CODES[waiting_on]) + low

    def _range(self, since: datetime | None, until: datetime | None) -> tuple[int, int]:
        low = 0 if since is None else int(np.searchsorted(self.created, _micros(since), "left"))
        high = self.count if until is None else int(np.searchsorted(self.created, _micros(until), "right"))
        return low, max(low, high)


def merged_body(
    copies: list[ActiveCopy],
    descriptions: bool,
    since: datetime | None,
    until: datetime | None,
    waiting_on: str | None,
    shown: sla_now.SlaShown | None,
) -> bytes:
    """The copies' answers as one array, in (createdAt, id) order."""
    found = [copy.entries(descriptions, since, until, waiting_on, shown) for copy in copies]
    order = np.lexsort(
        (np.concatenate([ids for _, ids, _ in found]), np.concatenate([at for at, _, _ in found]))
    )
    objects = [each for _, _, pieces in found for each in pieces]
    return _joined_array([objects[at] for at in order.tolist()])


def _kept_runs(array: _Array, kept: np.ndarray, low: int, high: int) -> list[memoryview]:
    """The kept objects ``kept[low:high]`` as runs of consecutive ones in ``array``."""
    lows, highs = _runs(kept[low:high])
    return [array.objects(first, last) for first, last in zip(lows.tolist(), highs.tolist(), strict=True)]


class ActiveTicketsMemo:
    """The service's copies, one per active status; one request at a time brings a copy up to date."""

    def __init__(self, status_case: str = LOWER, calendar: SupportCalendar | None = None) -> None:
        self._rebuilt = False  # a copy was read or patched since the free pages were last given back
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
            built = [(copy, copy.rebuilds) for copy in copies]
            # The running clocks at the snapshot's instant (answers within one support second share a body).
            shown = sla_now.SlaShown(self._now, self._calendar) if any(copy.slas for copy in copies) else None
            if len(copies) == 1:
                body = copies[0].body(descriptions, since, until, waiting_on, shown)
            else:
                body = merged_body(copies, descriptions, since, until, waiting_on, shown)
            if self._rebuilt or any(copy.rebuilds != count for copy, count in built):
                self._give_back()
            return body

    async def read_at_start(self, driver: asyncpg.Connection, *, descriptions: bool) -> None:
        """Read both copies now (and, without ``descriptions``, cut each one's array as such a request
        gets it), so the first request after start only brings them up to date.

        ``driver`` must not be in a transaction. Each copy in its own snapshot, as a request would.
        """
        for status in ACTIVE_STATUSES:
            async with self._locks[status]:
                async with driver.transaction(isolation="repeatable_read", readonly=True):
                    copy = await self._up_to_date(driver, status)
                if not descriptions:
                    copy.hidden()
            self._give_back()

    def _give_back(self) -> None:
        """After a copy's array was built anew: the old one's pages, and those of what was read or made
        with it, back to the system (nephthys/utils/allocator.py)."""
        allocator.give_back()
        self._rebuilt = False

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
            batches, slas = [], []
            cursor = await driver.cursor(EVERY_TICKET[status])
            while rows := await cursor.fetch(_READ_BATCH):
                batches.append(_Rows.of(rows, self._served[status]))
                # Made compact batch by batch: 80,000 rows' templates are never Python objects at once.
                slas.append(_Templates.of(await self._templates(driver, rows)))
                del rows
            copy = ActiveCopy.read(snapshot, xmin, batches, _Templates.joined(slas))
            self._copies[status] = copy
            self._rebuilt = True
        elif changed:
            rows = await driver.fetch(SOME_TICKETS, status, changed)
            copy.patch(
                snapshot,
                xmin,
                changed,
                _Rows.of(rows, self._served[status]),
                await self._templates(driver, rows),
            )
            self._rebuilt = True
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
