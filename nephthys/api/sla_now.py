"""The ``sla`` member of the tickets with a running clock, rewritten as they are served.

Every stored ticket object ends with its ``sla`` member (migration 0028), exact for every ticket
whose clocks are all met, breached or paused (every closed ticket, every ticket of a database
without targets). A running clock's state and minutes left move with time, so an object with
one is stored with that clock's ``due_at`` and ``"minutes_left":null``, and each answer rewrites
its ``sla`` member at the answer's instant (the database's ``now()`` in the answer's snapshot):
the object is cut where its last member, ``,"sla":``, starts, and the member computed by
:class:`SlaShown` (what ``nephthys.sla.clocks.sla_json`` gives, without a calendar walk per
clock) is put in its place.

The cost is per ticket with a running clock in the answer; the other objects pass as stored.
The support minutes between two instants are the difference of their readings on a
:class:`SupportOdometer` (support seconds since a fixed day): per clock, its due instant's
reading is taken once when the ticket is prepared, and per answer, ``now``'s.

A stream (the export's blocks, batches of rows) reads no clock row: ``SlaShown.spliced`` fills
in each stored running clock from its own text, which holds the clock's due instant exactly
("dueAt" keeps milliseconds, as the text does); the state word and ``"minutes_left":null`` are
the only bytes that change, at fixed offsets from the clock's ``"state":"running"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import asyncpg
import numpy as np

from nephthys.api import stored_tickets
from nephthys.api.ticket_json import float8_json
from nephthys.sla import clocks
from nephthys.sla.clocks import CLOCK_NAMES, SlaState, StoredClock, TicketSpanKind
from nephthys.sla.odometer import SupportOdometer, odometer
from nephthys.support_calendar import SupportCalendar

SLA_MEMBER = stored_tickets.SLA_MEMBER
_RUNNING_STORED = b'"state":"running"'


class _Running:
    """A running clock: its due instant, and its reading on the odometer."""

    __slots__ = ("due", "due_reading")

    def __init__(self, clock: StoredClock, meter: SupportOdometer) -> None:
        assert clock.due_at is not None
        self.due = clock.due_at.timestamp()
        self.due_reading = meter.seconds(clock.due_at)


def _fixed_clock(clock: StoredClock) -> bytes:
    """A clock that is not running, as migration 0028 stores it."""
    return _fixed_clock_of(clock.state, clock.target_minutes, clock.minutes)


def _fixed_clock_of(state: str, target_minutes: int, minutes: float) -> bytes:
    if state == SlaState.PAUSED:
        shown, left = "paused", float8_json(round(target_minutes - minutes, 2))
    else:  # stopped: met, or breached (or a running clock without a due instant, as clock_view shows it)
        shown, left = ("met" if state == SlaState.MET else "breached"), "null"
    return f'{{"target_minutes":{target_minutes},"state":"{shown}","due_at":null,"minutes_left":{left}}}'.encode()


# A ticket's sla value as a %-format (a state and the minutes left per running clock) and its running
# clocks, in order: filled in by one format operation.
Template = tuple[bytes, tuple[_Running, ...]]


def template(ticket_clocks: Sequence[StoredClock], meter: SupportOdometer) -> Template:
    """A ticket's ``sla`` value with its running clocks left to fill in (``SlaShown.fill``)."""
    by_kind = {clock.kind: clock for clock in ticket_clocks}
    text = b""
    running: list[_Running] = []
    for kind, opening in _OPENINGS:
        text += opening
        clock = by_kind.get(kind)
        if clock is None:
            text += b"null"
        elif clock.state is SlaState.RUNNING and clock.due_at is not None:
            due_text = clocks._instant_text(clock.due_at).encode()
            text += _RUNNING_CLOCK_LEFT_OPEN % (clock.target_minutes, due_text)
            running.append(_Running(clock, meter))
        else:
            text += _fixed_clock(clock).replace(b"%", b"%%")
    return text + b"}", tuple(running)


# Each clock's member name, with what comes before it.
_OPENINGS = [
    (kind, b'%s"%s":' % (b"{" if i == 0 else b",", name.encode()))
    for i, (kind, name) in enumerate(CLOCK_NAMES.items())
]
_RUNNING, _BREACHED = b"running", b"breached"
# A running clock with its target and due instant in place, its state and minutes left still to fill
# (template). SlaShown.spliced writes the same two into the stored clock (_DUE_LAYOUT_TEXT).
_RUNNING_CLOCK_LEFT_OPEN = b'{"target_minutes":%d,"state":"%%s","due_at":"%s","minutes_left":%%.2f}'


class SlaShown:
    """One answer's instant: fills templates with the running clocks' states and minutes left then."""

    def __init__(self, now: datetime, calendar: SupportCalendar) -> None:
        self.now = now
        self.meter = odometer(calendar)
        self._at = now.timestamp()
        self._reading = self.meter.seconds(now)
        # What the filled values depend on, to the second: support time read at ``now``. Equal
        # readings are instants with no support time between them, where no running clock's state
        # changes either (a due instant lies inside a support window or at its close), so an answer
        # made at one serves the other (nights and weekends: every answer).
        self.key = int(self._reading)

    def fill(self, parts: Template) -> bytes:
        """The value of a template at this instant: each running clock running, or breached from its
        due instant on, with its support minutes left to the hundredth (the same number as
        ``round(left, 2)``; negative once breached)."""
        text, running = parts
        if not running:
            return text
        at, reading = self._at, self._reading
        values: list[bytes | float] = []
        for clock in running:
            values.append(_BREACHED if at >= clock.due else _RUNNING)
            values.append((clock.due_reading - reading) / 60)
        return text % tuple(values)

    def clock_values(self, dues: np.ndarray, due_readings: np.ndarray) -> list[bytes | float]:
        """What ``fill`` puts in for many running clocks (their due instants and readings) at once:
        each one's state and minutes left, one after the other, by the same float64 arithmetic."""
        values: list[bytes | float] = [b""] * (2 * len(dues))
        values[0::2] = [_BREACHED if breached else _RUNNING for breached in (self._at >= dues).tolist()]
        values[1::2] = ((due_readings - self._reading) / 60).tolist()
        return values

    def value(self, ticket_clocks: Sequence[StoredClock]) -> bytes:
        """A ticket's ``sla`` value: null without clocks."""
        return self.fill(template(ticket_clocks, self.meter)) if ticket_clocks else b"null"

    def spliced(
        self,
        data: bytes | bytearray,
        begin: int = 0,
        finish: int | None = None,
        ends: Sequence[int] | None = None,
    ) -> bytes | memoryview:
        """Stored objects each preceded by a comma (an export block, a batch of rows: ``data[begin:finish]``)
        as served at this instant: every running clock's state and minutes left written in, the
        other bytes as stored (byte for byte ``with_value(json, value(clocks))`` of each object).

        Nothing is read but the bytes: a stored running clock holds its due instant to the
        millisecond, which is all the "dueAt" column holds ("TIMESTAMPTZ(3)"). ``ends``: where the
        objects with a running clock end (octets from ``begin``, past each closing brace, as a
        block notes them, migration 0031), so only their ``sla`` members are read; without them,
        or when an object does not end where noted, the bytes are searched for running clocks
        instead (``"state":"running"`` outside a string is only ever a clock's: quotes in strings
        are escaped)."""
        finish = len(data) if finish is None else finish
        positions = None if ends is None else _running_at_ends(data, begin, finish, ends)
        if positions is None:
            positions = _running_in(data, begin, finish)
        view = memoryview(data)
        if not positions:
            return view[begin:finish]
        due, breached, left = self._shown_at(data, finish, positions)
        pieces: list[bytes | memoryview] = []
        position = begin
        for p, has_due, is_breached, minutes in zip(
            positions, due.tolist(), breached.tolist(), left.tolist(), strict=True
        ):
            pieces.append(view[position : p + _WORD_AT])
            pieces.append(_BREACHED if is_breached else _RUNNING)
            if has_due:
                pieces.append(view[p + _WORD_END : p + _LEFT_AT])
                pieces.append(b"%.2f" % minutes)
                position = p + _LEFT_END
            else:
                position = p + _WORD_END
        pieces.append(view[position:finish])
        return b"".join(pieces)

    def _shown_at(
        self, data: bytes | bytearray, finish: int, positions: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the stored running clocks at ``positions`` (each where its ``"state":"running"``
        starts), in one numpy pass: whether it has a due instant (its text read in place), whether
        it is breached at this instant, and its support minutes left."""
        octets = np.frombuffer(data, dtype=np.uint8)
        # Each clock's stored text from its state on, as far as a clock with a due instant runs.
        reach = np.array(positions, dtype=np.int64)[:, None] + _WINDOW
        if positions[-1] + len(_WINDOW) > finish:
            reach = np.minimum(reach, finish - 1)
        window = octets[reach]
        due = ~np.any((window != _DUE_LAYOUT) & _LAYOUT_FIXED, axis=1)
        # The due instants' text as milliseconds since 1970, UTC (numpy's parse checks the digits).
        text = np.ascontiguousarray(window[:, _DUE_TEXT_AT : _DUE_TEXT_AT + _DUE_TEXT_LENGTH])
        try:
            millis = np.where(due, text.view(f"S{_DUE_TEXT_LENGTH}").ravel(), _SOME_INSTANT)
            dues = np.where(due, millis.astype("datetime64[ms]").astype(np.int64) / 1000.0, np.nan)
        except ValueError:
            raise ValueError(
                "a stored running clock's due instant is not as migration 0028 writes it"
            ) from None
        if not due.all():
            for i in np.flatnonzero(~due).tolist():
                p = positions[i]
                if data[p : p + len(_DUELESS)] != _DUELESS or p + len(_DUELESS) > finish:
                    raise ValueError(
                        f"a stored running clock is not as migration 0028 writes it: {bytes(data[p : p + 80])!r}"
                    )
        left = (self.meter.seconds_of(np.where(due, dues, self._at)) - self._reading) / 60
        # At its due instant or after, breached (a running clock without one: always, as clock_view shows it).
        breached = ~(self._at < dues)
        return due, breached, left


# A running clock as migration 0028 stores it, from its state on: an answer changes its state word
# (running, or breached from its due instant on) and its minutes left (null, or the support minutes
# left to the hundredth), each at a fixed offset, the due instant's text between them being
# ``clocks._instant_text``'s (milliseconds, UTC). A running clock without a due instant shows breached.
_DUE_LAYOUT_TEXT = b'"state":"running","due_at":"0000-00-00T00:00:00.000+00:00","minutes_left":null'
_DUELESS = b'"state":"running","due_at":null,"minutes_left":null'
_WORD_AT, _WORD_END = len(b'"state":"'), len(b'"state":"running')
_LEFT_AT = _DUE_LAYOUT_TEXT.rindex(b"null")
_LEFT_END = _LEFT_AT + len(b"null")
_DUE_TEXT_AT = _DUE_LAYOUT_TEXT.index(b"0000")
_DUE_TEXT_LENGTH = len("0000-00-00T00:00:00.000")  # then "+00:00", checked with the layout
_DUE_LAYOUT = np.frombuffer(_DUE_LAYOUT_TEXT, dtype=np.uint8)
# Where the layout is fixed text (elsewhere, the due instant's digits and separators numpy's parse checks).
_LAYOUT_FIXED = np.ones(len(_DUE_LAYOUT_TEXT), dtype=bool)
_LAYOUT_FIXED[_DUE_TEXT_AT : _DUE_TEXT_AT + _DUE_TEXT_LENGTH] = False
_WINDOW = np.arange(len(_DUE_LAYOUT_TEXT), dtype=np.int64)
_SOME_INSTANT = b"1970-01-01T00:00:00.000"  # parsed in place of what is not a due instant


def _running_in(data: bytes | bytearray, begin: int, finish: int) -> list[int]:
    """Where each stored running clock in ``data[begin:finish]`` starts (its ``"state":"running"``)."""
    positions = []
    at = data.find(_RUNNING_STORED, begin, finish)
    while at >= 0:
        positions.append(at)
        at = data.find(_RUNNING_STORED, at + len(_RUNNING_STORED), finish)
    return positions


def _running_at_ends(
    data: bytes | bytearray, begin: int, finish: int, ends: Sequence[int]
) -> list[int] | None:
    """``_running_in`` reading only the ``sla`` members of the objects ending at ``ends``; None when an
    object does not end where noted, or holds no running clock there."""
    positions: list[int] = []
    position = begin
    for end in ends:
        close = begin + end - 1  # the object's closing brace
        if close >= finish or data[close] != _CLOSING_BRACE:
            return None
        member = data.rfind(SLA_MEMBER, position, close)
        if member < 0:
            return None
        at = data.find(_RUNNING_STORED, member, close)
        if at < 0:
            return None
        while at >= 0:
            positions.append(at)
            at = data.find(_RUNNING_STORED, at + len(_RUNNING_STORED), close)
        position = close
    return positions


def stored_running(json: bytes | memoryview) -> bool:
    """Whether a stored object's ``sla`` has a running clock (so is rewritten when served)."""
    data = bytes(json)
    at = data.rfind(SLA_MEMBER)
    return at >= 0 and data.find(_RUNNING_STORED, at) >= 0


with_value = stored_tickets.with_sla_value


_CLOSING_BRACE = ord("}")


_CLOCK_COLUMNS = """c."ticketId", c.kind, c."targetMinutes", c."startAt", c.state, c.minutes, c."runningSince",
    c."dueAt", c."warnAt", c."missedBefore", c."ticketCreatedAt" """
_OF_TICKETS = f"""SELECT {_CLOCK_COLUMNS} FROM "TicketSlaClock" c WHERE c."ticketId" = ANY($1::int[])"""


def clocks_by_ticket(rows: Iterable[asyncpg.Record]) -> dict[int, list[StoredClock]]:
    found: dict[int, list[StoredClock]] = {}
    for row in rows:
        found.setdefault(row["ticketId"], []).append(
            StoredClock(
                kind=TicketSpanKind(row["kind"]),
                target_minutes=row["targetMinutes"],
                start_at=row["startAt"],
                state=SlaState(row["state"]),
                minutes=row["minutes"],
                running_since=row["runningSince"],
                due_at=row["dueAt"],
                warn_at=row["warnAt"],
                missed_before=row["missedBefore"],
            )
        )
    return found


async def clocks_of(driver: asyncpg.Connection, ticket_ids: Sequence[int]) -> dict[int, list[StoredClock]]:
    """The tickets' clocks (a ticket without any is absent)."""
    if not ticket_ids:
        return {}
    return clocks_by_ticket(await driver.fetch(_OF_TICKETS, list(ticket_ids)))


async def database_now(driver: asyncpg.Connection) -> datetime:
    now = await driver.fetchval("SELECT now()")
    return now.astimezone(UTC)


async def rewrite_objects(
    driver: asyncpg.Connection,
    objects: Sequence[tuple[int, bytes]],
    calendar: SupportCalendar,
    now: datetime | None = None,
) -> list[bytes]:
    """Each (ticket id, stored object) as served: those with a running clock rewritten at ``now``
    (default: the database's), in the caller's snapshot."""
    running = [ticket_id for ticket_id, json in objects if stored_running(json)]
    if not running:
        return [json for _, json in objects]
    found = await clocks_of(driver, running)
    shown = SlaShown(now or await database_now(driver), calendar)
    wanted = set(running)
    return [
        with_value(json, shown.value(found.get(ticket_id, ()))) if ticket_id in wanted else json
        for ticket_id, json in objects
    ]
