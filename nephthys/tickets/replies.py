"""Replies in a ticket's thread: who spoke last, and a helper's reply takes the ticket."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from nephthys.database.models import Ticket, TicketEventKind, TicketStatus, User, UserType
from nephthys.memory import index as memory_index
from nephthys.sla import clocks as sla_clocks
from nephthys.tickets import events, timeline
from nephthys.tickets.core import (
    _ASSIGNEE,
    MacroRecorded,
    ReplyRecorded,
    Sessions,
    _state,
    retried_on_conflict,
)
from nephthys.tickets.events import Event
from nephthys.tickets.users import _upsert_user

_MESSAGE_KIND = {
    UserType.AUTHOR: TicketEventKind.ASKER_MESSAGE,
    UserType.HELPER: TicketEventKind.HELPER_MESSAGE,
    UserType.OTHER: TicketEventKind.OTHER_MESSAGE,
}


@retried_on_conflict
async def record_reply(
    sessions: Sessions,
    *,
    thread_ts: str,
    author_slack_id: str,
    ts: str | None = None,
    at: datetime | None = None,
    text: str | None = None,
) -> ReplyRecorded | None:
    """A message in a ticket's thread: who spoke last, and a helper's reply takes the ticket.

    ``ts``/``at``: the message's ts and the instant it names. The timeline gets the message
    (ASKER_, HELPER_ or OTHER_MESSAGE) and, when the reply moves the ticket to a new helper,
    ASSIGNED, both at ``at``; ``assignedAt`` is the first helper reply's ``at``. A message
    already logged (a redelivery, replayed work) changes nothing: its first recording stands.
    ``text``: the message; a helper's, while the ticket is not closed, becomes the ticket's answer
    in the team's memory (nephthys/memory/index.py). None when ``thread_ts`` is not a ticket's question.
    """
    async with sessions.begin() as session:
        author = (
            await session.execute(select(User.id, User.helper).where(User.slack_id == author_slack_id))
        ).one_or_none()
        # Everyone on the timeline is a user: the bot alone acts without one.
        author_id = author.id if author is not None else await _upsert_user(session, slack_id=author_slack_id)
        row = (
            await session.execute(
                select(
                    Ticket.id,
                    Ticket.status,
                    Ticket.assigned_at,
                    Ticket.assigned_to_id,
                    User.slack_id,
                    _ASSIGNEE.c.slackId,
                    Ticket.waiting_on,
                    Ticket.waiting_since,
                )
                .join(User, User.id == Ticket.opened_by_id)
                .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == Ticket.assigned_to_id)
                .where(Ticket.msg_ts == thread_ts)
                .with_for_update(of=Ticket)
            )
        ).one_or_none()
        if row is None:
            return None
        ticket_id, status, assigned_at, assigned_to_id, opener_slack_id, previous_assignee, *waited = row
        helper_id = author_id if author is not None and author.helper else None
        if author_slack_id == opener_slack_id:
            by = UserType.AUTHOR
        elif helper_id is not None:
            by = UserType.HELPER
        else:
            by = UserType.OTHER
        # The asker's own replies never assign, even when the asker is a helper.
        assigning_helper_id = helper_id if by is UserType.HELPER else None
        assigned = assigning_helper_id is not None and status is not TicketStatus.CLOSED
        # One statement logs the message (and its ASSIGNED when it moves the ticket to a new
        # helper) and reads back what the fold needs; one more writes the fold with the reply's own
        # columns: a reply's handling pays as few round trips and "Ticket" updates as it can.
        recorded = await events.record_message(
            session,
            ticket_id=ticket_id,
            at=at,
            message=Event(_MESSAGE_KIND[by], author_id, ts),
            assignee_id=assigning_helper_id if assigned and assigned_to_id != assigning_helper_id else None,
            read_kinds=timeline.FOLDED_KINDS,
        )
        if not recorded.logged:  # this message was recorded before
            return ReplyRecorded(ticket=await _state(session, Ticket.id == ticket_id), by=by, assigned=False)
        waiting_changed = False
        if by is UserType.OTHER:  # others' messages change neither wait nor span
            # The time the row lock was granted (not the transaction's start), so replies that
            # queued on the lock are stamped in the order they were applied.
            await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(last_msg_at=func.clock_timestamp(), last_msg_by=by)
            )
        else:
            folded = timeline.fold([timeline.LoggedEvent(*event) for event in recorded.events])
            reply = timeline.Reply(
                last_msg_by=by.value,
                assignee_id=assigning_helper_id if assigned else None,
                assigned_at=at if assigned and assigned_at is None else None,
            )
            await timeline.write(session, {ticket_id: folded}, reply=reply)
            await sla_clocks.refresh(session, [ticket_id])  # as timeline.refresh does
            waiting_changed = _wait_moved(waited, folded)
        if by is UserType.HELPER and status is not TicketStatus.CLOSED and text and text.strip():
            question = (
                await session.execute(select(Ticket.title, Ticket.description).where(Ticket.id == ticket_id))
            ).one()
            await memory_index.answered(
                session,
                ticket_id=ticket_id,
                helper_id=author_id,
                answer=text,
                ts=ts,
                at=at,
                title=question.title,
                description=question.description,
            )
        ticket = await _state(session, Ticket.id == ticket_id)
    moved_from = previous_assignee if assigned and previous_assignee != ticket.assigned_to_slack_id else None
    return ReplyRecorded(
        ticket=ticket,
        by=by,
        assigned=assigned,
        previous_assignee_slack_id=moved_from,
        waiting_changed=waiting_changed,
    )


def _wait_moved(before: Sequence, after: timeline.Timeline) -> bool:
    """Whether the fold changed whom the ticket waits on, or since when (``before``: the row's
    "waitingOn", "waitingSince" as read under its lock)."""
    return tuple(before) != (after.waiting_on, after.waiting_since)


@retried_on_conflict
async def record_helper_macro(
    sessions: Sessions, *, ticket_id: int, helper_slack_id: str, ts: str, at: datetime | None
) -> MacroRecorded:
    """A macro a helper ran that answers the asker in the thread (``?hii``, ``?faq``, a redirect).

    On the timeline it is the helper's message: HELPER_MESSAGE at the macro's ts, once however
    often the macro is handled. The ticket's own columns are left as they were (a macro never
    assigned nor counted as the last message). Not ``logged`` when the ticket is gone or it was.
    """
    async with sessions.begin() as session:
        waited = (
            await session.execute(
                select(Ticket.waiting_on, Ticket.waiting_since)
                .where(Ticket.id == ticket_id)
                .with_for_update()
            )
        ).one_or_none()
        if waited is None:
            return MacroRecorded(logged=False)
        helper_id = await _upsert_user(session, slack_id=helper_slack_id)
        logged = await events.record_events(
            session,
            ticket_id=ticket_id,
            at=at,
            events=[Event(TicketEventKind.HELPER_MESSAGE, helper_id, ts)],
        )
        if not logged:
            return MacroRecorded(logged=False)
        moved = _wait_moved(waited, await timeline.refresh(session, ticket_id))
    return MacroRecorded(logged=True, waiting_changed=moved)
