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

from nephthys.database import raw
from nephthys.database.models import TicketEventKind

Executor = raw.Executor

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


# A thread message and, when it takes the ticket, its ASSIGNED (written only with the message: a
# redelivered message adds neither), then the ticket's events of ``read_kinds`` (the new ones from
# RETURNING: a statement does not see its own inserts), in the order they happened: one round trip.
_RECORD_MESSAGE = text(
    f"""WITH message AS (
            INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
            VALUES (:ticket_id, CAST(:kind AS "TicketEventKind"), coalesce(CAST(:at AS timestamptz), clock_timestamp()),
                    :actor_id, :msg_ts)
            {ON_CONFLICT}
            RETURNING id, kind, at, "actorId"),
        assigned AS (
            INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
            SELECT :ticket_id, 'ASSIGNED', m.at, CAST(:assignee_id AS int), :msg_ts
            FROM message m WHERE CAST(:assignee_id AS int) IS NOT NULL
            {ON_CONFLICT}
            RETURNING id, kind, at, "actorId")
        SELECT true AS new, id, kind, at, "actorId" FROM message
        UNION ALL
        SELECT true, id, kind, at, "actorId" FROM assigned
        UNION ALL
        SELECT false, id, kind, at, "actorId" FROM "TicketEvent"
        WHERE "ticketId" = :ticket_id AND kind = ANY(CAST(:read_kinds AS "TicketEventKind"[]))
        ORDER BY at, id"""
)


@dataclass(frozen=True)
class RecordedMessage:
    logged: bool  # False: this message was logged before (a redelivery); nothing was written
    events: list[
        tuple[TicketEventKind, datetime, int | None]
    ]  # the ticket's events of the kinds read, in order


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


async def record_message(
    executor: Executor,
    *,
    ticket_id: int,
    at: datetime | None,
    message: Event,
    assignee_id: int | None,
    read_kinds: Sequence[TicketEventKind],
) -> RecordedMessage:
    """Write a thread message (and ASSIGNED to ``assignee_id``, when it takes the ticket) and read back
    the ticket's events of ``read_kinds``, in one statement (each statement of a reply is a round
    trip the message's handling pays). Nothing is written when the message was logged before."""
    rows = (
        await executor.execute(
            _RECORD_MESSAGE,
            {
                "ticket_id": ticket_id,
                "kind": message.kind.value,
                "at": at,
                "actor_id": message.actor_id,
                "msg_ts": message.msg_ts,
                "assignee_id": assignee_id,
                "read_kinds": [kind.value for kind in read_kinds],
            },
        )
    ).all()
    logged = any(row.new and row.kind == message.kind.value for row in rows)
    wanted = {kind.value for kind in read_kinds}
    return RecordedMessage(
        logged, [(TicketEventKind(row.kind), row.at, row.actorId) for row in rows if row.kind in wanted]
    )
