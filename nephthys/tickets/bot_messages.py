"""The messages the bot posted for a ticket (backend message, thread replies), so they can be
updated or removed."""

from __future__ import annotations

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from nephthys.database import raw
from nephthys.database.models import BotMessage
from nephthys.tickets.core import (
    PostedMessage,
    Sessions,
    retried_on_conflict,
)

_CLAIM_BACKEND_MESSAGE = text(
    """WITH claimed AS (
           UPDATE "Ticket" SET "ticketTs" = :ts
           WHERE id = :ticket_id AND ("ticketTs" IS NULL OR "ticketTs" = :ts) AND status <> 'CLOSED'
           RETURNING id)
       INSERT INTO "BotMessage" (ts, "channelId", "ticketId")
       SELECT :ts, :channel_id, id FROM claimed
       ON CONFLICT (ts, "channelId") DO UPDATE SET ts = EXCLUDED.ts
       RETURNING "ticketId" """
)
_RECORD_BOT_MESSAGE = text(
    """INSERT INTO "BotMessage" (ts, "channelId", "ticketId")
       SELECT :ts, :channel_id, id FROM "Ticket" WHERE id = :ticket_id
       ON CONFLICT (ts, "channelId") DO UPDATE SET ts = EXCLUDED.ts
       RETURNING "ticketId" """
)


@retried_on_conflict
async def record_backend_message(sessions: Sessions, *, ticket_id: int, channel_id: str, ts: str) -> bool:
    """Make ``ts`` the ticket's backend message, unless it already has one or is closed or gone.

    False means the caller's message is surplus (posted twice by racing workers,
    or for a ticket that closed or vanished meanwhile) and should be deleted.
    One statement: the ticket's ``ticketTs`` and its BotMessage row, together. Recording the
    same ``ts`` again is True: a retry whose first attempt committed but lost its answer (the
    database dropped the connection) must not take its own message for a surplus one.
    """
    async with raw.autocommit(sessions) as connection:
        result = await connection.execute(
            _CLAIM_BACKEND_MESSAGE, {"ts": ts, "ticket_id": ticket_id, "channel_id": channel_id}
        )
        return result.one_or_none() is not None


@retried_on_conflict
async def record_bot_message(sessions: Sessions, *, ticket_id: int, channel_id: str, ts: str) -> bool:
    """Remember a message the bot posted for a ticket; False if the ticket is gone."""
    try:
        async with raw.autocommit(sessions) as connection:
            result = await connection.execute(
                _RECORD_BOT_MESSAGE, {"ts": ts, "ticket_id": ticket_id, "channel_id": channel_id}
            )
            return result.one_or_none() is not None
    except IntegrityError:  # the ticket was deleted between the read and the insert (foreign key)
        return False


@retried_on_conflict
async def forget_bot_message(sessions: Sessions, *, channel_id: str, ts: str) -> None:
    async with sessions.begin() as session:
        await session.execute(
            delete(BotMessage).where(BotMessage.channel_id == channel_id, BotMessage.ts == ts)
        )


async def bot_messages(
    sessions: Sessions, *, ticket_id: int, channel_id: str | None = None
) -> list[PostedMessage]:
    """The messages the bot posted for a ticket (in one channel when given), oldest first."""
    statement = select(BotMessage.channel_id, BotMessage.ts).where(BotMessage.ticket_id == ticket_id)
    if channel_id is not None:
        statement = statement.where(BotMessage.channel_id == channel_id)
    async with sessions() as session:
        rows = (await session.execute(statement.order_by(BotMessage.id))).all()
    return [PostedMessage(channel_id=row.channel_id, ts=row.ts) for row in rows]
