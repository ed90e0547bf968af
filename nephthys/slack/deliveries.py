"""Slack Events API deliveries taken, by ``event_id``, in PostgreSQL (the ``SlackEvent`` table).

Claiming is one fast insert made before Slack gets its acknowledgement, so a
redelivered event (``X-Slack-Retry-Num``) is dropped by whichever instance receives
it, and an unreachable database answers Slack with a non-2xx (it redelivers later).
A claim whose work never finished (the instance died mid-way) may be taken over by
a redelivery once it is older than the lease. The claim stores the event itself, so
when Slack does not redeliver (it got its acknowledgement), the replay job takes
over unfinished claims older than ``REPLAY_AFTER`` and does their work.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import delete, text

from nephthys.database import raw
from nephthys.database.models import SlackEvent
from nephthys.tickets.lifecycle import Sessions, autocommit

CLAIM_LEASE = timedelta(seconds=60)


_CLAIM = text(
    """INSERT INTO "SlackEvent" ("eventId", "payload") VALUES (:event_id, CAST(:payload AS jsonb))
       ON CONFLICT ("eventId") DO UPDATE SET "receivedAt" = now()
       WHERE "SlackEvent"."processedAt" IS NULL
         AND "SlackEvent"."receivedAt" < now() - make_interval(secs => :lease_seconds)
       RETURNING "eventId" """
)
_FINISH = text('UPDATE "SlackEvent" SET "processedAt" = now() WHERE "eventId" = :event_id')


async def claim_event(
    sessions: Sessions, event_id: str, event: dict | None = None, *, lease: timedelta = CLAIM_LEASE
) -> bool:
    """True when this delivery should be processed: first seen, or an unfinished claim past its lease.

    ``event`` is kept with the claim for the replay job. One statement in autocommit:
    it sits on the acknowledgement path.
    """
    payload = None if event is None else json.dumps(event)
    async with raw.autocommit(sessions) as connection:
        result = await connection.execute(
            _CLAIM, {"event_id": event_id, "payload": payload, "lease_seconds": lease.total_seconds()}
        )
        return result.one_or_none() is not None


# Longer than the claim's lease and than an event's own retries while the database is
# away (about a minute), so the replay never races the instance still working on it.
REPLAY_AFTER = timedelta(minutes=3)
REPLAY_BATCH = 100

_TAKE_UNFINISHED = text(
    """UPDATE "SlackEvent" SET "receivedAt" = now()
       WHERE "eventId" IN (
           SELECT "eventId" FROM "SlackEvent"
           WHERE "processedAt" IS NULL AND "payload" IS NOT NULL
             AND "receivedAt" < now() - make_interval(secs => :after_seconds)
           ORDER BY "receivedAt" LIMIT :batch
           FOR UPDATE SKIP LOCKED)
       RETURNING "eventId", "payload"::text AS payload"""
)


async def take_unfinished_events(
    sessions: Sessions, *, after: timedelta = REPLAY_AFTER, batch: int = REPLAY_BATCH
) -> list[tuple[str, dict]]:
    """Claim again, for this instance, deliveries left unfinished for longer than ``after``.

    Taking one renews its claim, so another instance (or a redelivery) leaves it alone.
    """
    async with autocommit(sessions) as connection:
        result = await connection.execute(
            _TAKE_UNFINISHED, {"after_seconds": after.total_seconds(), "batch": batch}
        )
        return [(row.eventId, json.loads(row.payload)) for row in result]


async def finish_event(sessions: Sessions, event_id: str) -> None:
    async with raw.autocommit(sessions) as connection:
        await connection.execute(_FINISH, {"event_id": event_id})


async def prune_events(sessions: Sessions, *, older_than: datetime) -> int:
    """Forget deliveries older than Slack's redelivery window (it gives up after about an hour)."""
    async with sessions.begin() as session:
        # The session's connection: its results are cursor results, which have a rowcount.
        connection = await session.connection()
        result = await connection.execute(delete(SlackEvent).where(SlackEvent.received_at < older_than))
    return result.rowcount or 0
