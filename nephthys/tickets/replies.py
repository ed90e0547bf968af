"""Replies in a ticket's thread: who spoke last, and a helper's reply takes the ticket."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text

from nephthys.database import raw
from nephthys.database.models import Ticket, TicketEventKind, TicketStatus, UserType, WaitingOn
from nephthys.memory import index as memory_index
from nephthys.sla import clocks as sla_clocks
from nephthys.tickets import events, timeline
from nephthys.tickets.core import (
    MacroRecorded,
    ReplyRecorded,
    Sessions,
    TicketState,
    retried_on_conflict,
    state_by_id,
)
from nephthys.tickets.events import Event
from nephthys.tickets.users import _upsert_user

_MESSAGE_KIND = {
    UserType.AUTHOR: TicketEventKind.ASKER_MESSAGE,
    UserType.HELPER: TicketEventKind.HELPER_MESSAGE,
    UserType.OTHER: TicketEventKind.OTHER_MESSAGE,
}


# The thread's ticket, locked, with what a reply reads of it, and the message's author (if a user).
_TICKET_AND_AUTHOR = text(
    """SELECT t.id, t.status, t."assignedAt" AS assigned_at, t."assignedToId" AS assigned_to_id,
              opener."slackId" AS opener_slack_id, assignee."slackId" AS assignee_slack_id,
              t."waitingOn" AS waiting_on, t."waitingSince" AS waiting_since, t.title, t.description,
              author.id AS author_id, coalesce(author.helper, false) AS author_helper
       FROM "Ticket" t
       JOIN "User" opener ON opener.id = t."openedById"
       LEFT JOIN "User" assignee ON assignee.id = t."assignedToId"
       LEFT JOIN "User" author ON author."slackId" = :author
       WHERE t."msgTs" = :thread_ts
       FOR UPDATE OF t"""
)
# A user Nephthys had not met (``_upsert_user`` with nothing but the Slack id): someone who
# inserted it meanwhile wins, and writes nothing more to "User".
_NEW_AUTHOR = text('INSERT INTO "User" ("slackId") VALUES (:author) ON CONFLICT ("slackId") DO NOTHING')
_NEW_AUTHOR_ID = text(
    """WITH inserted AS (
           INSERT INTO "User" ("slackId") VALUES (:author) ON CONFLICT ("slackId") DO NOTHING RETURNING id)
       SELECT id FROM inserted UNION ALL SELECT id FROM "User" WHERE "slackId" = :author LIMIT 1"""
)
_AUTHOR_ID = text('SELECT id FROM "User" WHERE "slackId" = :author')
_OTHER_SPOKE = text(
    """UPDATE "Ticket" SET "lastMsgAt" = clock_timestamp(), "lastMsgBy" = CAST(:by AS "UserType")
       WHERE id = :ticket_id"""
)


async def _found_state(connection: raw.RawConnection, ticket_id: int) -> TicketState:
    """The ticket, which the caller holds locked."""
    state = await state_by_id(connection, ticket_id)
    if state is None:
        raise LookupError("ticket not found")
    return state


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
    # On the pooled asyncpg connection itself (nephthys/database/raw.py): every reply pays this
    # transaction, and SQLAlchemy's work per statement cost more CPU than the statements.
    async with raw.transaction(sessions) as connection:
        row = (
            await connection.execute(_TICKET_AND_AUTHOR, {"thread_ts": thread_ts, "author": author_slack_id})
        ).one_or_none()
        if row is None:
            # Not a ticket's thread; its author is still a user, as for any thread message.
            await connection.execute(_NEW_AUTHOR, {"author": author_slack_id})
            return None
        ticket_id, assigned_at, assigned_to_id = row.id, row.assigned_at, row.assigned_to_id
        status = TicketStatus(row.status)
        opener_slack_id, previous_assignee = row.opener_slack_id, row.assignee_slack_id
        waited = (None if row.waiting_on is None else WaitingOn(row.waiting_on), row.waiting_since)
        # Everyone on the timeline is a user: the bot alone acts without one.
        author_id = row.author_id
        if author_id is None:
            author_id = (
                await connection.execute(_NEW_AUTHOR_ID, {"author": author_slack_id})
            ).scalar_one_or_none()
            if author_id is None:
                # Another transaction inserted the user while ours waited on it: DO NOTHING returned
                # no row, and the statement's snapshot predates that commit. A new statement sees it.
                author_id = (await connection.execute(_AUTHOR_ID, {"author": author_slack_id})).scalar_one()
        helper_id = author_id if row.author_helper else None
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
            connection,
            ticket_id=ticket_id,
            at=at,
            message=Event(_MESSAGE_KIND[by], author_id, ts),
            assignee_id=assigning_helper_id if assigned and assigned_to_id != assigning_helper_id else None,
            read_kinds=timeline.FOLDED_KINDS,
        )
        if not recorded.logged:  # this message was recorded before
            return ReplyRecorded(ticket=await _found_state(connection, ticket_id), by=by, assigned=False)
        waiting_changed = False
        if by is UserType.OTHER:  # others' messages change neither wait nor span
            # The time the row lock was granted (not the transaction's start), so replies that
            # queued on the lock are stamped in the order they were applied.
            await connection.execute(_OTHER_SPOKE, {"ticket_id": ticket_id, "by": by.value})
        else:
            folded = timeline.fold([timeline.LoggedEvent(*event) for event in recorded.events])
            reply = timeline.Reply(
                last_msg_by=by.value,
                assignee_id=assigning_helper_id if assigned else None,
                assigned_at=at if assigned and assigned_at is None else None,
            )
            await timeline.write(connection, {ticket_id: folded}, reply=reply)
            await sla_clocks.refresh(connection, [ticket_id])  # as timeline.refresh does
            waiting_changed = _wait_moved(waited, folded)
        if by is UserType.HELPER and status is not TicketStatus.CLOSED and text and text.strip():
            await memory_index.answered(
                connection,
                ticket_id=ticket_id,
                helper_id=author_id,
                answer=text,
                ts=ts,
                at=at,
                title=row.title,
                description=row.description,
            )
        ticket = await _found_state(connection, ticket_id)
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
