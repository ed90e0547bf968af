"""The queue of unanswered questions: the list behind ``oldest_unanswered_ticket``.

Definition (the same as ``overview``'s oldest unanswered ticket, of which this
is the whole list): OPEN tickets whose last message was not a helper's, the
longest-waiting first by ``lastMsgAt`` (ties by id; tickets without
``lastMsgAt`` come last). ``waiting_minutes`` runs from ``lastMsgAt`` (the
asker's or someone else's last word) to ``now``; it is ``None`` without
``lastMsgAt``. The partial index ``Ticket_unanswered_lastMsgAt_idx`` (migration
0002) serves both the order and the count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from nephthys.stats.overview import Executor, MessageLinks, iso

UNANSWERED = """t.status = 'OPEN' AND t."lastMsgBy" IS DISTINCT FROM 'HELPER'"""

_QUEUE = text(
    f"""SELECT t.id, t.title, t."titleFromAi" AS title_from_ai, t.description, t."createdAt" AS created_at,
               t."lastMsgAt" AS last_message_at, t."msgTs" AS msg_ts
        FROM "Ticket" t WHERE {UNANSWERED}
        ORDER BY t."lastMsgAt" NULLS LAST, t.id
        LIMIT :limit"""
)
_COUNT = text(f'SELECT count(*) FROM "Ticket" t WHERE {UNANSWERED}')


async def unanswered_queue(
    executor: Executor, now: datetime, links: MessageLinks, *, limit: int, with_descriptions: bool
) -> dict:
    """``{"total", "tickets"}``: how many wait, and the first ``limit`` of them, longest-waiting first.

    Without descriptions a title made of the question's own words is null (an AI-written one stays).
    """
    total = (await executor.execute(_COUNT)).scalar_one()
    rows = (await executor.execute(_QUEUE, {"limit": limit})).all()
    tickets = []
    for row in rows:
        ticket: dict = {"id": row.id, "title": row.title if with_descriptions or row.title_from_ai else None}
        if with_descriptions:
            ticket["description"] = row.description
        ticket.update(
            created_at=iso(row.created_at),
            last_message_at=iso(row.last_message_at) if row.last_message_at is not None else None,
            waiting_minutes=(now - row.last_message_at).total_seconds() / 60
            if row.last_message_at is not None
            else None,
            link=links.question(row.msg_ts),
        )
        tickets.append(ticket)
    return {"total": total, "tickets": tickets}
