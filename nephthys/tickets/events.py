"""A ticket's timeline: the events the lifecycle writes beside each change (table "TicketEvent").

Every lifecycle function that changes a ticket writes its events here, in the same
transaction. An event's instant is the moment Slack says it happened (a message's
``ts``, a click's ``action_ts``), passed down by the Slack adapters as ``at``; only
work with no Slack instant (a scheduled job without its own clock) falls back to the
database's clock. An event that carries its Slack message (``msg_ts``) is written at
most once per ticket and kind (a partial unique index, migration 0018): a redelivered
or replayed message inserts nothing. Message texts are never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from nephthys.database.models import TicketEventKind

Executor = AsyncSession | AsyncConnection

# Shared with the statements that write an event beside their own change (opening.py).
ON_CONFLICT = 'ON CONFLICT ("ticketId", kind, "msgTs") WHERE "msgTs" IS NOT NULL DO NOTHING'

_RECORD = text(
    f"""INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
        SELECT :ticket_id, CAST(e.kind AS "TicketEventKind"),
               coalesce(CAST(:at AS timestamptz), clock_timestamp()), e.actor_id, e.msg_ts
        FROM unnest(CAST(:kinds AS text[]), CAST(:actors AS int[]), CAST(:msg_tss AS text[]))
             WITH ORDINALITY AS e(kind, actor_id, msg_ts, n)
        ORDER BY e.n
        {ON_CONFLICT}
        RETURNING kind"""
)


@dataclass(frozen=True)
class Event:
    """One event to write: what happened, who did it (a User id; None for the bot), its message."""

    kind: TicketEventKind
    actor_id: int | None
    msg_ts: str | None = None


async def record_events(
    executor: Executor, *, ticket_id: int, at: datetime | None, events: Sequence[Event]
) -> set[TicketEventKind]:
    """Write ``events`` of one ticket, all at ``at`` (None: the database's clock), in one statement.

    Returns the kinds written: an event whose message is already logged under its kind is not.
    """
    if not events:
        return set()
    result = await executor.execute(
        _RECORD,
        {
            "ticket_id": ticket_id,
            "at": at,
            "kinds": [event.kind.value for event in events],
            "actors": [event.actor_id for event in events],
            "msg_tss": [event.msg_ts for event in events],
        },
    )
    return {TicketEventKind(kind) for kind in result.scalars()}
