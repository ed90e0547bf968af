"""Slack Events API deliveries taken, by ``event_id``, in PostgreSQL (the ``SlackEvent`` table).

Claiming is one fast insert made before Slack gets its acknowledgement, so a
redelivered event (``X-Slack-Retry-Num``) is dropped by whichever instance receives
it, and an unreachable database answers Slack with a non-2xx (it redelivers later).
A claim whose work never finished (the instance died mid-way) may be taken over by
a redelivery once it is older than the lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert

from nephthys.database.models import SlackEvent
from nephthys.tickets.lifecycle import Sessions

CLAIM_LEASE = timedelta(seconds=60)


async def claim_event(sessions: Sessions, event_id: str, *, lease: timedelta = CLAIM_LEASE) -> bool:
    """True when this delivery should be processed: first seen, or an unfinished claim past its lease."""
    statement = insert(SlackEvent).values(event_id=event_id)
    statement = statement.on_conflict_do_update(
        index_elements=[SlackEvent.event_id],
        set_={SlackEvent.__table__.c.receivedAt: func.now()},
        where=(SlackEvent.processed_at.is_(None)) & (SlackEvent.received_at < func.now() - lease),
    ).returning(SlackEvent.event_id)
    async with sessions.begin() as session:
        return (await session.scalar(statement)) is not None


async def finish_event(sessions: Sessions, event_id: str) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(SlackEvent).where(SlackEvent.event_id == event_id).values(processed_at=func.now())
        )


async def prune_events(sessions: Sessions, *, older_than: datetime) -> int:
    """Forget deliveries older than Slack's redelivery window (it gives up after about an hour)."""
    async with sessions.begin() as session:
        result = await session.execute(delete(SlackEvent).where(SlackEvent.received_at < older_than))
    return result.rowcount or 0
