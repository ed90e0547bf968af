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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import asyncpg
import numpy as np

from nephthys.api import stored_tickets, ticket_json
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
# (template); the same written at once (SlaShown.values), from one literal so the two never differ.
_RUNNING_CLOCK_LEFT_OPEN = b'{"target_minutes":%d,"state":"%%s","due_at":"%s","minutes_left":%%.2f}'
_RUNNING_CLOCK = _RUNNING_CLOCK_LEFT_OPEN.replace(b"%%", b"%")
_SLA_OBJECT = b"".join(opening + b"%s" for _, opening in _OPENINGS) + b"}"
_SLOT = {kind.value: i for i, (kind, _) in enumerate(_OPENINGS)}


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

    def values(self, rows: Iterable[Sequence]) -> dict[int, bytes]:
        """The ``sla`` values of the tickets whose clocks ``rows`` are (``_SHOWN``'s columns, any order),
        by ticket id: byte for byte ``value`` of each ticket's clocks, made for an export's tens of
        thousands of tickets without a template per ticket (a clock not running is the same bytes
        for every ticket with its state and target, made once)."""
        at, reading, seconds_at = self._at, self._reading, self.meter.seconds_at
        fixed: dict[tuple, bytes] = {}
        slots: dict[int, list[bytes]] = {}
        for ticket_id, kind, target_minutes, state, minutes, due_at, due_text, _ in rows:
            if state == SlaState.RUNNING and due_at is not None:
                due = due_at.timestamp()
                clock = _RUNNING_CLOCK % (
                    target_minutes,
                    _BREACHED if at >= due else _RUNNING,
                    due_text.encode(),
                    (seconds_at(due) - reading) / 60,
                )
            else:
                key = (state, target_minutes, minutes if state == SlaState.PAUSED else None)
                if (found := fixed.get(key)) is None:
                    found = fixed[key] = _fixed_clock_of(state, target_minutes, minutes)
                clock = found
            ticket = slots.get(ticket_id)
            if ticket is None:
                ticket = slots[ticket_id] = [b"null", b"null", b"null"]
            ticket[_SLOT[kind]] = clock
        return {ticket_id: _SLA_OBJECT % tuple(ticket) for ticket_id, ticket in slots.items()}


def stored_running(json: bytes | memoryview) -> bool:
    """Whether a stored object's ``sla`` has a running clock (so is rewritten when served)."""
    data = bytes(json)
    at = data.rfind(SLA_MEMBER)
    return at >= 0 and data.find(_RUNNING_STORED, at) >= 0


with_value = stored_tickets.with_sla_value


def rewrite_joined(
    data: bytes | bytearray, values: dict[int, bytes], begin: int = 0, finish: int | None = None
) -> list[bytes | memoryview]:
    """Objects each preceded by a comma (an export block, a batch of rows: ``data[begin:finish]``)
    with the ``sla`` of the tickets in ``values`` rewritten; as pieces to send one after another
    (views of ``data``, the rest not copied).

    ``values`` is in the objects' order (creation order, as a block holds them): each is looked
    for after the previous one, so a block is scanned once whatever the number rewritten. An
    object starts at ``,{"id":N,"title":`` (a user object starts ``{"id":`` after a colon, never
    after a comma; a string's quotes are escaped), and its ``sla`` member is its last.
    """
    finish = len(data) if finish is None else finish
    view = memoryview(data)
    pieces: list[bytes | memoryview] = []
    position = begin  # copied up to here
    searched = begin  # the next object is looked for from here
    for ticket_id, value in values.items():
        start = data.find(b',{"id":%d,"title":' % ticket_id, searched, finish)
        if start < 0:
            start = data.find(b',{"id":%d,"title":' % ticket_id, begin, searched)  # out of order: look back
            if start < position:
                continue
        end = data.find(b',{"id":', start + 1, finish)
        end = finish if end < 0 else end
        member = data.rfind(SLA_MEMBER, start, end)
        if member < 0:
            continue
        pieces.append(view[position : member + len(SLA_MEMBER)])
        pieces.append(value)
        position, searched = end - 1, end  # the value runs to the object's closing brace
    pieces.append(view[position:finish])
    return pieces


def rewrite_at_ends(
    data: bytes | bytearray, values: Iterable[bytes], ends: Sequence[int], begin: int, finish: int
) -> list[bytes | memoryview] | None:
    """``rewrite_joined`` where the objects to rewrite are known to end at ``ends`` (octets from
    ``begin``, past each closing brace; an export block keeps them, migration 0031): each
    ``sla`` member is found back from its object's end, nothing else is read. None when an object
    does not end where it should (the caller scans for them instead)."""
    view = memoryview(data)
    pieces: list[bytes | memoryview] = []
    position = begin
    for value, end in zip(values, ends, strict=True):
        close = begin + end - 1  # the object's closing brace
        if close >= finish or data[close] != _CLOSING_BRACE:
            return None
        member = data.rfind(SLA_MEMBER, position, close)
        if member < 0:
            return None
        pieces.append(view[position : member + len(SLA_MEMBER)])
        pieces.append(value)
        position = close
    pieces.append(view[position:finish])
    return pieces


_CLOSING_BRACE = ord("}")


_CLOCK_COLUMNS = """c."ticketId", c.kind, c."targetMinutes", c."startAt", c.state, c.minutes, c."runningSince",
    c."dueAt", c."warnAt", c."missedBefore", c."ticketCreatedAt" """
_OF_TICKETS = f"""SELECT {_CLOCK_COLUMNS} FROM "TicketSlaClock" c WHERE c."ticketId" = ANY($1::int[])"""
# The clocks of every ticket with a running clock created in [$1, $2] (either may be null): the
# running ones by their partial index, then each such ticket's by the primary key.
# The running tickets' ids as one array probed on the primary key: as ``IN (subquery)`` the planner
# hashed them and scanned every clock (2M at 1,000,000 tickets: ~500 ms against ~280 ms).
_OF_RUNNING_IN_RANGE = """ WHERE c."ticketId" = ANY(ARRAY(
        SELECT r."ticketId" FROM "TicketSlaClock" r
        WHERE r.state = 'RUNNING'
          AND r."ticketCreatedAt" >= coalesce($1::timestamptz, '-infinity')
          AND r."ticketCreatedAt" <= coalesce($2::timestamptz, 'infinity')))"""


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


# What a ticket's sla value shows of each of its clocks (SlaShown.values), and the ticket's creation.
# The due instant also as text, as the stored member writes it (ticket_json._CLOCK_OBJECT), the same
# as clocks._instant_text: made by PostgreSQL while it sends the rows, not by the service per clock.
_SHOWN = f"""SELECT c."ticketId", c.kind::text, c."targetMinutes", c.state::text, c.minutes, c."dueAt",
    {ticket_json._iso('c."dueAt"')}, c."ticketCreatedAt" FROM "TicketSlaClock" c"""
_SHOWN_RUNNING_IN_RANGE = _SHOWN + _OF_RUNNING_IN_RANGE


async def running_values_in_range(
    driver: asyncpg.Connection, since: datetime | None, until: datetime | None, shown: SlaShown
) -> tuple[dict[int, bytes], list[tuple[datetime, int]]]:
    """The ``sla`` values at ``shown``'s instant of the tickets created in [since, until] with a
    running clock, and those tickets' keys (createdAt, id) in order."""
    rows = await driver.fetch(_SHOWN_RUNNING_IN_RANGE, since, until)
    keys = sorted({(row[7], row[0]) for row in rows})
    return shown.values(rows), keys


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
