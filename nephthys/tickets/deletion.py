"""The question deleted: the ticket goes, or stays when its thread holds someone's work."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.database.models import BotMessage, Ticket, UserType
from nephthys.tickets.core import (
    DeletedTicket,
    KeptTicket,
    PostedMessage,
    Sessions,
    _state,
    retried_on_conflict,
)


@retried_on_conflict
async def delete_ticket(sessions: Sessions, *, msg_ts: str) -> DeletedTicket | None:
    """The question was deleted: the ticket goes; returns the bot messages to remove from Slack."""
    async with sessions.begin() as session:
        ticket_id = await session.scalar(select(Ticket.id).where(Ticket.msg_ts == msg_ts).with_for_update())
        if ticket_id is None:
            return None
        return await _delete_locked_ticket(session, ticket_id)


async def _delete_locked_ticket(session: AsyncSession, ticket_id: int) -> DeletedTicket:
    """Delete a ticket whose row this transaction holds; returns the bot messages to remove from Slack."""
    rows = (
        await session.execute(
            select(BotMessage.channel_id, BotMessage.ts)
            .where(BotMessage.ticket_id == ticket_id)
            .order_by(BotMessage.id)
        )
    ).all()
    # BotMessage, tag and feedback rows cascade with the ticket.
    await session.execute(delete(Ticket).where(Ticket.id == ticket_id))
    return DeletedTicket(
        ticket_id=ticket_id, bot_messages=[PostedMessage(channel_id=r.channel_id, ts=r.ts) for r in rows]
    )


@retried_on_conflict
async def question_deleted(
    sessions: Sessions, *, msg_ts: str, others_wrote: bool
) -> DeletedTicket | KeptTicket | None:
    """The asker deleted the question: the ticket goes, unless its thread holds someone's work.

    Kept when ``others_wrote`` (someone besides the asker and the bot wrote in the thread,
    as Slack shows it), when a helper is assigned, or when the ticket's last message was
    someone else's: its status, assignee and credit stay, and ``questionDeletedAt`` is set
    once. Otherwise deleted as :func:`delete_ticket`. None when there is no such ticket.
    The row lock orders this against a reply being recorded: whichever commits first is
    seen by the other.
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(Ticket.id, Ticket.assigned_to_id, Ticket.last_msg_by, Ticket.question_deleted_at)
                .where(Ticket.msg_ts == msg_ts)
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        ticket_id, assigned_to_id, last_msg_by, deleted_at = row
        keep = others_wrote or assigned_to_id is not None or last_msg_by in (UserType.HELPER, UserType.OTHER)
        if keep:
            if deleted_at is None:
                await session.execute(
                    update(Ticket).where(Ticket.id == ticket_id).values(question_deleted_at=func.now())
                )
            return KeptTicket(
                ticket=await _state(session, Ticket.id == ticket_id), newly_marked=deleted_at is None
            )
        return await _delete_locked_ticket(session, ticket_id)
