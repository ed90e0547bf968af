"""Replies in a ticket's thread: who spoke last, and a helper's reply takes the ticket."""

from __future__ import annotations

from sqlalchemy import func, select, update

from nephthys.database.models import Ticket, TicketStatus, User, UserType
from nephthys.tickets.core import (
    _ASSIGNEE,
    ReplyRecorded,
    Sessions,
    _state,
    retried_on_conflict,
)


@retried_on_conflict
async def record_reply(sessions: Sessions, *, thread_ts: str, author_slack_id: str) -> ReplyRecorded | None:
    """A message in a ticket's thread: who spoke last, and a helper's reply takes the ticket.

    None when ``thread_ts`` is not a ticket's question.
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(Ticket.id, Ticket.status, Ticket.assigned_at, User.slack_id, _ASSIGNEE.c.slackId)
                .join(User, User.id == Ticket.opened_by_id)
                .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == Ticket.assigned_to_id)
                .where(Ticket.msg_ts == thread_ts)
                .with_for_update(of=Ticket)
            )
        ).one_or_none()
        if row is None:
            return None
        ticket_id, status, assigned_at, opener_slack_id, previous_assignee = row
        author = (
            await session.execute(select(User.id, User.helper).where(User.slack_id == author_slack_id))
        ).one_or_none()
        helper_id = author.id if author is not None and author.helper else None
        if author_slack_id == opener_slack_id:
            by = UserType.AUTHOR
        elif helper_id is not None:
            by = UserType.HELPER
        else:
            by = UserType.OTHER
        # The time the row lock was granted (not the transaction's start), so replies that
        # queued on the lock are stamped in the order they were applied.
        values: dict = {"last_msg_at": func.clock_timestamp(), "last_msg_by": by}
        assigned = False
        # The asker's own replies never assign, even when the asker is a helper.
        assigning_helper_id = helper_id if by is UserType.HELPER else None
        if assigning_helper_id is not None and status is not TicketStatus.CLOSED:
            values.update(assigned_to_id=assigning_helper_id, status=TicketStatus.IN_PROGRESS)
            if assigned_at is None:
                values["assigned_at"] = func.clock_timestamp()
            assigned = True
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))
        ticket = await _state(session, Ticket.id == ticket_id)
    moved_from = previous_assignee if assigned and previous_assignee != ticket.assigned_to_slack_id else None
    return ReplyRecorded(ticket=ticket, by=by, assigned=assigned, previous_assignee_slack_id=moved_from)
