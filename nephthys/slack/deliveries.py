"""Slack Events API deliveries taken, by ``event_id``, in PostgreSQL (the ``SlackEvent`` table).

Claiming is one fast insert made before Slack gets its acknowledgement, so a
redelivered event (``X-Slack-Retry-Num``) is dropped by whichever instance receives
it, and an unreachable database answers Slack with a non-2xx (it redelivers later).
A claim whose work never finished (the instance died mid-way) may be taken over by
a redelivery once it is older than the lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, text

from nephthys.database.models import SlackEvent
from nephthys.tickets.lifecycle import Sessions, autocommit

CLAIM_LEASE = timedelta(seconds=60)


_CLAIM = text(
    """INSERT INTO "SlackEvent" ("eventId") VALUES (:event_id)
       ON CONFLICT ("eventId") DO UPDATE SET "receivedAt" = now()
       WHERE "SlackEvent"."processedAt" IS NULL
         AND "SlackEvent"."receivedAt" < now() - make_interval(secs => :lease_seconds)
       RETURNING "eventId" """
)
_FINISH = text('UPDATE "SlackEvent" SET "processedAt" = now() WHERE "eventId" = :event_id')


async def claim_event(sessions: Sessions, event_id: str, *, lease: timedelta = CLAIM_LEASE) -> bool:
    """True when this delivery should be processed: first seen, or an unfinished claim past its lease.

    One statement in autocommit: it sits on the acknowledgement path.
    """
    async with autocommit(sessions) as connection:
        result = await connection.execute(
            _CLAIM, {"event_id": event_id, "lease_seconds": lease.total_seconds()}
        )
        return result.one_or_none() is not None


async def finish_event(sessions: Sessions, event_id: str) -> None:
    async with autocommit(sessions) as connection:
        await connection.execute(_FINISH, {"event_id": event_id})


async def prune_events(sessions: Sessions, *, older_than: datetime) -> int:
    """Forget deliveries older than Slack's redelivery window (it gives up after about an hour)."""
    async with sessions.begin() as session:
        result = await session.execute(delete(SlackEvent).where(SlackEvent.received_at < older_than))
    return result.rowcount or 0
