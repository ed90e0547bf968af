"""The queue of questions waiting for a helper: the dashboard's "Waiting for a helper".

Definition: tickets waiting on the helpers ("Ticket"."waitingOn" = HELPERS, kept by the ticket's
timeline, nephthys/tickets/timeline.py: open or in progress, and nobody has answered since it was
asked or reopened, or the asker spoke after the helpers; other people's messages change nothing),
the longest wait first by ``waitingSince`` (ties by id). ``waiting_minutes`` runs from
``waitingSince`` to ``now``; ``waiting_since`` is that instant; ``last_message_at`` is the
thread's last message as before (``lastMsgAt``, which may be someone else's).

This is not ``overview``'s oldest unanswered ticket, whose definition /api/stats_v2 keeps (OPEN
tickets whose last message was not a helper's, by ``lastMsgAt``): that one leaves out a
ticket in progress whose asker spoke last, and keeps one a helper answered with a macro.
The index ``Ticket_waitingOn_waitingSince_idx`` (migration 0019) serves both the order and the count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from nephthys.stats.overview import Executor, MessageLinks, iso

WAITING_ON_HELPERS = """t."waitingOn" = 'HELPERS'"""

_QUEUE = text(
    f"""SELECT t.id, t.title, t."titleFromAi" AS title_from_ai, t.description, t."createdAt" AS created_at,
               t."lastMsgAt" AS last_message_at, t."waitingSince" AS waiting_since, t."msgTs" AS msg_ts
        FROM "Ticket" t WHERE {WAITING_ON_HELPERS}
        ORDER BY t."waitingSince", t.id
        LIMIT :limit"""
)
_COUNT = text(f'SELECT count(*) FROM "Ticket" t WHERE {WAITING_ON_HELPERS}')


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
            # Set with waitingOn by the timeline; a row written by hand may lack it.
            waiting_minutes=(now - row.waiting_since).total_seconds() / 60 if row.waiting_since else None,
            link=links.question(row.msg_ts),
            waiting_since=iso(row.waiting_since) if row.waiting_since else None,
        )
        tickets.append(ticket)
    return {"total": total, "tickets": tickets}
