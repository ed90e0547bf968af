"""What sla-watch has to do now: the clocks whose next work (a warning, then a breach) is due.

One range of "TicketSlaClock_actionAt_idx" (partial: only clocks with work pending), the
earliest due first: with nothing due it is empty, whatever the number of tickets.

While a new SLA policy's recompute has not yet done the active tickets (nephthys/sla/install.py),
nothing is due: a running clock may still follow the old targets, and a warning or a breach from
it could be one the new policy never makes. The check is a constant of the one-row policy table,
so the index range is not even read then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from nephthys.database.models import TicketSpanKind
from nephthys.tickets.core import Sessions, autocommit


@dataclass(frozen=True)
class DueClock:
    ticket_id: int
    clock: TicketSpanKind
    start_at: datetime
    target_minutes: int
    due_at: datetime
    warn_at: datetime | None
    msg_ts: str
    title: str
    assignee_slack_id: str | None
    subscriber_slack_ids: list[str]

    def breached_at(self, now: datetime) -> bool:
        return now >= self.due_at


_DUE = text(
    """SELECT c."ticketId", c.kind, c."startAt", c."targetMinutes", c."dueAt", c."warnAt",
              t."msgTs", t.title, a."slackId" AS assignee,
              (SELECT coalesce(array_agg(DISTINCT s."slackId" ORDER BY s."slackId"), '{}')
               FROM tags_on_tickets tt
               JOIN user_tag_subscriptions us ON us."tagId" = tt."tagId"
               JOIN "User" s ON s.id = us."userId"
               WHERE tt."ticketId" = t.id) AS subscribers
       FROM (SELECT * FROM "TicketSlaClock"
             WHERE "actionAt" <= :now
               AND (SELECT "recomputeKey" IS NULL OR "recomputeActiveDoneAt" IS NOT NULL
                    FROM "SlaPolicyInUse" WHERE id = 1)
             ORDER BY "actionAt" LIMIT :limit) c
       JOIN "Ticket" t ON t.id = c."ticketId"
       LEFT JOIN "User" a ON a.id = t."assignedToId"
       ORDER BY c."actionAt", c."ticketId", c.kind"""
)


async def clocks_due(sessions: Sessions, *, now: datetime, limit: int) -> list[DueClock]:
    """Running clocks due a warning or a breach at ``now``, the longest due first (at most ``limit``)."""
    # One statement in autocommit: no BEGIN and ROLLBACK around it (the run with nothing due is this).
    async with autocommit(sessions) as connection:
        rows = (await connection.execute(_DUE, {"now": now, "limit": limit})).all()
    return [
        DueClock(
            ticket_id=r.ticketId,
            clock=TicketSpanKind(r.kind),
            start_at=r.startAt,
            target_minutes=r.targetMinutes,
            due_at=r.dueAt,
            warn_at=r.warnAt,
            msg_ts=r.msgTs,
            title=r.title,
            assignee_slack_id=r.assignee,
            subscriber_slack_ids=list(r.subscribers),
        )
        for r in rows
    ]
