"""The SLA watcher's changes: a clock's warning or breach logged on the ticket's timeline, once.

``record_sla_event`` is sla-watch's claim (nephthys/tasks/sla_watch.py): it logs SLA_WARNED or
SLA_BREACHED for one clock (its kind and start) in the transaction that re-checks, under the
ticket's row lock, that the clock still runs and is due it, and recomputes the ticket's clocks
(the watcher's next work on it moves on). A partial unique index on the event's clock makes the
insert the claim: two instances, two runs or a retried run log it once, and only the run that
logged it posts. The post's ts is noted on the event afterwards (``note_sla_message``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text

from nephthys.database.models import SlaState, Ticket, TicketEventKind, TicketSpanKind
from nephthys.sla import clocks as sla_clocks
from nephthys.tickets.core import Sessions, retried_on_conflict

SLA_EVENT_KINDS = (TicketEventKind.SLA_WARNED, TicketEventKind.SLA_BREACHED)

_CLOCK = text(
    """SELECT state, "startAt", "dueAt", "warnAt" FROM "TicketSlaClock"
       WHERE "ticketId" = :ticket_id AND kind = CAST(:clock AS "TicketSpanKind")"""
)
_LOG = text(
    """INSERT INTO "TicketEvent" ("ticketId", kind, at, "slaClock", "clockStartAt")
       VALUES (:ticket_id, CAST(:kind AS "TicketEventKind"), :at, CAST(:clock AS "TicketSpanKind"), :clock_start)
       ON CONFLICT ("ticketId", kind, "slaClock", "clockStartAt") WHERE "slaClock" IS NOT NULL DO NOTHING
       RETURNING id"""
)
# One message may carry several events (sla-watch coalesces): the ts goes on the first event of each
# ticket only, as a ticket logs one event per kind and message (the index of migration 0018).
_NOTE = text(
    """UPDATE "TicketEvent" e SET "msgTs" = :msg_ts
       WHERE e.id IN (SELECT DISTINCT ON ("ticketId", kind) id FROM "TicketEvent"
                      WHERE id = ANY(CAST(:event_ids AS int[])) ORDER BY "ticketId", kind, id)
         AND e."msgTs" IS NULL"""
)


@retried_on_conflict
async def record_sla_event(
    sessions: Sessions,
    *,
    ticket_id: int,
    clock: TicketSpanKind,
    clock_start: datetime,
    kind: TicketEventKind,
    at: datetime,
) -> int | None:
    """Log ``kind`` (SLA_WARNED or SLA_BREACHED) at ``at`` for the ticket's ``clock`` that started at
    ``clock_start``; the event's id, or None when it is not this call's to log: the clock stopped
    or restarted, is not due it at ``at``, or it was logged before."""
    if kind not in SLA_EVENT_KINDS:
        raise ValueError(f"not an SLA event: {kind}")
    async with sessions.begin() as session:
        locked = await session.scalar(select(Ticket.id).where(Ticket.id == ticket_id).with_for_update())
        if locked is None:
            return None
        row = (await session.execute(_CLOCK, {"ticket_id": ticket_id, "clock": clock.value})).one_or_none()
        if row is None or row.state != SlaState.RUNNING.value or row.startAt != clock_start:
            return None
        due = row.dueAt if kind is TicketEventKind.SLA_BREACHED else row.warnAt
        if due is None or at < due:
            return None
        event_id = await session.scalar(
            _LOG,
            {
                "ticket_id": ticket_id,
                "kind": kind.value,
                "at": at,
                "clock": clock.value,
                "clock_start": clock_start,
            },
        )
        if event_id is None:
            return None
        await sla_clocks.refresh(session, [ticket_id])
        return event_id


async def note_sla_message(sessions: Sessions, *, event_ids: list[int], msg_ts: str) -> None:
    """The Slack message that carried these warnings or breaches, on their events (the first message,
    when one went to several people)."""
    async with sessions.begin() as session:
        await session.execute(_NOTE, {"event_ids": event_ids, "msg_ts": msg_ts})
