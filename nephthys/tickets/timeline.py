"""What a ticket's timeline says now: whom it waits on, and the spans its response times are made of.

The lifecycle logs events (nephthys/tickets/events.py); after it does, :func:`refresh` folds the
ticket's whole log, in the order the events happened, into "Ticket"."waitingOn"/"waitingSince"
(and "nudgedAt") and its "TicketSpan" rows, in the same transaction. Folding the whole log (a handful of rows)
rather than applying the newest event means a late delivery lands in its place: a message
delivered after a later one changes the state as if it had come in order.

The rules (issue 20, sections 2 and 3):

- An open ticket waits on the helpers from its opening (or reopening) and after an asker's
  message; on the asker after a helper's message (a macro a helper ran counts). Other people's
  messages change nothing; a closed ticket waits on nobody and its messages change nothing.
  ``waiting_since`` is when the current wait began (more asker messages do not move it).
- ``nudged_at``: the first NUDGED (the asker follow-up) of the current wait on the asker; any
  change of wait, or a closure, clears it.
- FIRST_RESPONSE: the question to the first helper message (running until then, also while closed).
- NEXT_RESPONSE: an asker message (or a reopen) that makes the ticket wait on the helpers again,
  after a helper has spoken, to the next helper message; dropped if the ticket closes first.
- RESOLUTION: the parts of the ticket's life spent open and waiting on the helpers, each closed
  by the helper message or closure that ended it; the resolution is their sum, known once the
  ticket is closed, and every part is credited to the ticket's closer ("closedById", who the
  credit rule chose) when it is written.
- On a timeline backfilled from a ticket's columns (migration 0018: no messages logged),
  ASSIGNED stands for the first helper message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import text

from nephthys.database import raw
from nephthys.database.models import TicketEventKind, TicketSpanKind, WaitingOn
from nephthys.sla import clocks as sla_clocks
from nephthys.support_calendar import SUPPORT_SECONDS_FUNCTION

Executor = raw.Executor

# The kinds the fold reads; the others (tags, SLA notes) change neither wait nor span.
FOLDED_KINDS = (
    TicketEventKind.OPENED,
    TicketEventKind.ASKER_MESSAGE,
    TicketEventKind.HELPER_MESSAGE,
    TicketEventKind.ASSIGNED,
    TicketEventKind.CLOSED,
    TicketEventKind.REOPENED,
    TicketEventKind.NUDGED,
)


@dataclass(frozen=True)
class LoggedEvent:
    kind: TicketEventKind
    at: datetime
    actor_id: int | None


@dataclass(frozen=True)
class Span:
    kind: TicketSpanKind
    start: datetime
    end: datetime | None  # None: still running
    actor_id: int | None  # the responder; None for RESOLUTION (written with the ticket's closer)


@dataclass(frozen=True)
class Timeline:
    waiting_on: WaitingOn | None
    waiting_since: datetime | None
    closed: bool
    spans: list[Span] = field(default_factory=list)
    nudged_at: datetime | None = None  # the current wait on the asker's nudge


def fold(events: Sequence[LoggedEvent]) -> Timeline:
    """The state ``events`` (in the order they happened) leave a ticket in; see the module docstring."""
    # A backfilled timeline has no messages: its ASSIGNED is the first helper message.
    assigned_speaks = not any(e.kind is TicketEventKind.HELPER_MESSAGE for e in events)
    helper_kinds = {TicketEventKind.HELPER_MESSAGE} | (
        {TicketEventKind.ASSIGNED} if assigned_speaks else set()
    )
    is_open = False
    waiting: WaitingOn | None = None
    since: datetime | None = None
    nudged: datetime | None = None
    opened_at: datetime | None = None
    first_response: Span | None = None
    next_from: datetime | None = None  # a running next-response clock
    part_from: datetime | None = None  # a running resolution part
    spans: list[Span] = []
    parts: list[Span] = []

    def wait_on_helpers(at: datetime) -> None:
        nonlocal waiting, since, nudged, next_from, part_from
        if waiting is WaitingOn.HELPERS:
            return
        waiting, since, nudged, part_from = WaitingOn.HELPERS, at, None, at
        if first_response is not None and first_response.end is not None:
            next_from = at

    for event in events:
        kind, at = event.kind, event.at
        if kind is TicketEventKind.OPENED:
            if opened_at is None:
                opened_at = at
                first_response = Span(TicketSpanKind.FIRST_RESPONSE, at, None, None)
            is_open = True
            wait_on_helpers(at)
        elif kind is TicketEventKind.REOPENED:
            if not is_open:
                is_open = True
                wait_on_helpers(at)
        elif not is_open:
            continue  # a closed ticket's messages change nothing
        elif kind is TicketEventKind.ASKER_MESSAGE:
            wait_on_helpers(at)
        elif kind is TicketEventKind.NUDGED:
            if waiting is WaitingOn.ASKER and nudged is None:
                nudged = at
        elif kind in helper_kinds:
            if first_response is not None and first_response.end is None:
                first_response = replace(first_response, end=at, actor_id=event.actor_id)
            elif next_from is not None:
                spans.append(Span(TicketSpanKind.NEXT_RESPONSE, next_from, at, event.actor_id))
            next_from = None
            if part_from is not None:
                parts.append(Span(TicketSpanKind.RESOLUTION, part_from, at, None))
                part_from = None
            if waiting is not WaitingOn.ASKER:
                waiting, since, nudged = WaitingOn.ASKER, at, None
        elif kind is TicketEventKind.CLOSED:
            if part_from is not None:
                parts.append(Span(TicketSpanKind.RESOLUTION, part_from, at, None))
            is_open, waiting, since, nudged, next_from, part_from = False, None, None, None, None, None
    if part_from is not None:
        parts.append(Span(TicketSpanKind.RESOLUTION, part_from, None, None))
    if next_from is not None:
        spans.append(Span(TicketSpanKind.NEXT_RESPONSE, next_from, None, None))
    closed = opened_at is not None and not is_open
    head = [first_response] if first_response is not None else []
    return Timeline(waiting, since, closed, head + spans + parts, nudged)


_READ = text(
    """SELECT kind, at, "actorId" FROM "TicketEvent"
        WHERE "ticketId" = :ticket_id AND kind = ANY(CAST(:kinds AS "TicketEventKind"[]))
        ORDER BY at, id"""
)

# Replaces the ticket's spans and writes its wait and totals in one statement. Minutes are counted
# by the installed calendar's function; the ticket's resolution is known only once it is closed.
# {reply} is empty, or a thread message's own columns (_REPLY_COLUMNS), so the reply changes the
# row once: one row version, one round of the "Ticket" triggers.
_WRITE_SQL = f"""WITH gone AS (DELETE FROM "TicketSpan" WHERE "ticketId" = ANY(CAST(:ticket_ids AS int[]))),
        written AS (
            INSERT INTO "TicketSpan" ("ticketId", kind, "startAt", "endAt", "actorId", "ticketCreatedAt", minutes)
            SELECT s.ticket_id, CAST(s.kind AS "TicketSpanKind"), s.start_at, s.end_at,
                   CASE WHEN s.kind = 'RESOLUTION' THEN t."closedById" ELSE s.actor_id END, t."createdAt",
                   -- a running span has no minutes yet (the "always" function would count 0)
                   CASE WHEN s.end_at IS NOT NULL
                        THEN CAST({SUPPORT_SECONDS_FUNCTION}(s.start_at, s.end_at) AS float8) / 60 END
            FROM unnest(CAST(:span_tickets AS int[]), CAST(:kinds AS text[]), CAST(:starts AS timestamptz[]),
                        CAST(:ends AS timestamptz[]), CAST(:actors AS int[]))
                 AS s(ticket_id, kind, start_at, end_at, actor_id)
            JOIN "Ticket" t ON t.id = s.ticket_id
            RETURNING "ticketId", kind, minutes),
        totals AS (
            SELECT "ticketId",
                   sum(minutes) FILTER (WHERE kind = 'FIRST_RESPONSE') AS first_response,
                   sum(minutes) FILTER (WHERE kind = 'RESOLUTION') AS resolution
            FROM written GROUP BY "ticketId")
        UPDATE "Ticket" t SET
            "waitingOn" = CAST(w.waiting_on AS "WaitingOn"),
            "waitingSince" = w.since,
            "nudgedAt" = w.nudged,
            "firstResponseMinutes" = totals.first_response,
            "resolutionMinutes" = CASE WHEN w.closed THEN totals.resolution END{{reply}}
        FROM unnest(CAST(:ticket_ids AS int[]), CAST(:waitings AS text[]), CAST(:sinces AS timestamptz[]),
                    CAST(:nudgeds AS timestamptz[]), CAST(:closeds AS boolean[]))
             AS w(id, waiting_on, since, nudged, closed)
             LEFT JOIN totals ON totals."ticketId" = w.id
        WHERE t.id = w.id"""
# Who spoke last (stamped when the row lock was granted: replies queued on it are stamped in the
# order they were applied) and, for a helper's reply to a ticket not closed, its assignment
# (assignedAt kept from the first reply).
_REPLY_COLUMNS = """,
            "lastMsgAt" = clock_timestamp(),
            "lastMsgBy" = CAST(:last_msg_by AS "UserType"),
            "assignedToId" = coalesce(CAST(:assignee_id AS int), t."assignedToId"),
            status = CASE WHEN CAST(:assignee_id AS int) IS NOT NULL THEN 'IN_PROGRESS' ELSE t.status END,
            "assignedAt" = CASE WHEN CAST(:assignee_id AS int) IS NOT NULL
                                THEN coalesce(t."assignedAt", CAST(:assigned_at AS timestamptz), clock_timestamp())
                                ELSE t."assignedAt" END"""
_WRITE = text(_WRITE_SQL.replace("{reply}", ""))
_WRITE_WITH_REPLY = text(_WRITE_SQL.replace("{reply}", _REPLY_COLUMNS))


@dataclass(frozen=True)
class Reply:
    """A thread message's own columns, written with the fold (see ``write``)."""

    last_msg_by: str  # UserType's value
    assignee_id: int | None = None  # a helper's reply taking a ticket not closed
    assigned_at: datetime | None = None  # the first reply's instant (None: the database's clock)


async def read_events(executor: Executor, ticket_id: int) -> list[LoggedEvent]:
    rows = await executor.execute(_READ, {"ticket_id": ticket_id, "kinds": [k.value for k in FOLDED_KINDS]})
    return [LoggedEvent(TicketEventKind(kind), at, actor_id) for kind, at, actor_id in rows]


async def refresh(executor: Executor, ticket_id: int) -> Timeline:
    """Fold ticket ``ticket_id``'s logged events into its wait and spans, and its SLA clocks from them
    (call after logging events, in the same transaction, holding the ticket's row lock)."""
    timeline = fold(await read_events(executor, ticket_id))
    await write(executor, {ticket_id: timeline})
    await sla_clocks.refresh(executor, [ticket_id])
    return timeline


async def write(executor: Executor, timelines: Mapping[int, Timeline], *, reply: Reply | None = None) -> None:
    """Replace the tickets' spans and write their waits and totals, in one statement; with ``reply``
    (one ticket), also the thread message's own columns."""
    spans = [(ticket_id, span) for ticket_id, timeline in timelines.items() for span in timeline.spans]
    extra = (
        {}
        if reply is None
        else {
            "last_msg_by": reply.last_msg_by,
            "assignee_id": reply.assignee_id,
            "assigned_at": reply.assigned_at,
        }
    )
    await executor.execute(
        _WRITE if reply is None else _WRITE_WITH_REPLY,
        {
            **extra,
            "span_tickets": [ticket_id for ticket_id, _ in spans],
            "kinds": [span.kind.value for _, span in spans],
            "starts": [span.start for _, span in spans],
            "ends": [span.end for _, span in spans],
            "actors": [span.actor_id for _, span in spans],
            "ticket_ids": list(timelines),
            "waitings": [t.waiting_on.value if t.waiting_on else None for t in timelines.values()],
            "sinces": [t.waiting_since for t in timelines.values()],
            "nudgeds": [t.nudged_at for t in timelines.values()],
            "closeds": [t.closed for t in timelines.values()],
        },
    )
