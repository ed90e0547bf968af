"""The SLA watcher's changes: a clock's warning or breach logged on the ticket's timeline, once.

``record_sla_events`` is sla-watch's claim (nephthys/tasks/sla_watch.py): in one transaction it
takes the tickets' row locks, logs SLA_WARNED or SLA_BREACHED for each clock (its kind and start)
that still runs and is due it, and recomputes those tickets' clocks (the watcher's next work on them
moves on). A partial unique index on the event's clock makes the insert the claim: two instances,
two runs or a retried run log it once, and only the run that logged it posts. The posts' ts are
noted on the events afterwards (``note_sla_messages``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from nephthys.database.models import TicketEventKind, TicketSpanKind
from nephthys.sla import clocks as sla_clocks
from nephthys.tickets.core import Sessions, retried_on_conflict

SLA_EVENT_KINDS = (TicketEventKind.SLA_WARNED, TicketEventKind.SLA_BREACHED)

# Locks the tickets (in id order, so two claimers never wait on each other in a cycle).
_LOCK = text("""SELECT id FROM "Ticket" WHERE id = ANY(CAST(:ticket_ids AS int[])) ORDER BY id FOR UPDATE""")
# Logs each asked event whose clock still runs, with the same start, and is due it at :at; the
# partial unique index on the clock skips one logged before. Returns what it logged.
_LOG = text(
    """INSERT INTO "TicketEvent" ("ticketId", kind, at, "slaClock", "clockStartAt")
       SELECT x.ticket_id, CAST(x.kind AS "TicketEventKind"), :at, c.kind, c."startAt"
       FROM unnest(CAST(:ticket_ids AS int[]), CAST(:clocks AS text[]), CAST(:starts AS timestamptz[]),
                   CAST(:kinds AS text[])) WITH ORDINALITY AS x(ticket_id, clock, start_at, kind, n)
       JOIN "TicketSlaClock" c ON c."ticketId" = x.ticket_id AND c.kind = CAST(x.clock AS "TicketSpanKind")
       WHERE c.state = 'RUNNING' AND c."startAt" = x.start_at
         AND (CASE WHEN x.kind = 'SLA_BREACHED' THEN c."dueAt" ELSE c."warnAt" END) <= CAST(:at AS timestamptz)
       ORDER BY x.n
       ON CONFLICT ("ticketId", kind, "slaClock", "clockStartAt") WHERE "slaClock" IS NOT NULL DO NOTHING
       RETURNING id, "ticketId", "slaClock" """
)
# One message may carry several events (sla-watch coalesces, and one warning may go to several
# people): each event takes the first message that carried it, and of a ticket's events of one kind
# only one takes a given message (a ticket logs one event per kind and message: migration 0018).
_NOTE = text(
    """WITH firsts AS (
           SELECT DISTINCT ON (x.id) x.id, x.ts, x.n
           FROM unnest(CAST(:event_ids AS int[]), CAST(:msg_tss AS text[])) WITH ORDINALITY AS x(id, ts, n)
           ORDER BY x.id, x.n),
       chosen AS (
           SELECT DISTINCT ON (e."ticketId", e.kind, f.ts) e.id, f.ts
           FROM firsts f JOIN "TicketEvent" e ON e.id = f.id
           ORDER BY e."ticketId", e.kind, f.ts, f.n)
       UPDATE "TicketEvent" e SET "msgTs" = chosen.ts FROM chosen
       WHERE e.id = chosen.id AND e."msgTs" IS NULL"""
)


@dataclass(frozen=True)
class SlaClaim:
    """A clock's warning or breach to log: the ticket, the clock (kind and start), the event's kind."""

    ticket_id: int
    clock: TicketSpanKind
    clock_start: datetime
    kind: TicketEventKind


@retried_on_conflict
async def record_sla_events(
    sessions: Sessions, *, claims: Sequence[SlaClaim], at: datetime
) -> dict[tuple[int, TicketSpanKind], int]:
    """Log each claim's event (SLA_WARNED or SLA_BREACHED) at ``at``, in one transaction holding the
    tickets' row locks; the logged ones by (ticket id, clock), with their event ids. A claim is not
    logged when its clock stopped or restarted, is not due it at ``at``, or was logged before."""
    for claim in claims:
        if claim.kind not in SLA_EVENT_KINDS:
            raise ValueError(f"not an SLA event: {claim.kind}")
    if not claims:
        return {}
    async with sessions.begin() as session:
        await session.execute(_LOCK, {"ticket_ids": sorted({claim.ticket_id for claim in claims})})
        rows = await session.execute(
            _LOG,
            {
                "ticket_ids": [claim.ticket_id for claim in claims],
                "clocks": [claim.clock.value for claim in claims],
                "starts": [claim.clock_start for claim in claims],
                "kinds": [claim.kind.value for claim in claims],
                "at": at,
            },
        )
        logged = {(row.ticketId, TicketSpanKind(row.slaClock)): row.id for row in rows}
        if logged:
            # The watcher's next work on those clocks moves on (a warning's clock now waits for its breach).
            await sla_clocks.refresh(session, sorted({ticket_id for ticket_id, _ in logged}))
        return logged


async def record_sla_event(
    sessions: Sessions,
    *,
    ticket_id: int,
    clock: TicketSpanKind,
    clock_start: datetime,
    kind: TicketEventKind,
    at: datetime,
) -> int | None:
    """One claim (``record_sla_events``): its event's id, or None when it is not this call's to log."""
    logged = await record_sla_events(sessions, claims=[SlaClaim(ticket_id, clock, clock_start, kind)], at=at)
    return logged.get((ticket_id, clock))


async def note_sla_messages(sessions: Sessions, *, notes: Sequence[tuple[int, str]]) -> None:
    """The Slack messages that carried the warnings and breaches, on their events: (event id, ts)
    pairs in the order they were posted, written in one statement."""
    if not notes:
        return
    async with sessions.begin() as session:
        await session.execute(
            _NOTE, {"event_ids": [event_id for event_id, _ in notes], "msg_tss": [ts for _, ts in notes]}
        )
