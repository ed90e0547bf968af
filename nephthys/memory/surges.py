"""Surges: SURGE_MIN_TICKETS or more similar questions opened within SURGE_WINDOW_MINUTES.

When a ticket opens, the tickets opened in the window before it whose questions are similar to
its own (nephthys/memory/similar.py's score, at its threshold) are its kin. With enough of them it
belongs to a surge: the running one (last ticket within the window) that holds any of its kin, or
a new one made of them all. Deciding that is serialised across instances by one transaction-level
advisory lock, so two tickets opening at once never start two surges; the Slack side then posts
the surge's one message (claimed in "Surge"."postClaimedAt") or updates it.

Bounds: at most ``KIN_LIMIT`` kin are read per ticket; a surge keeps ``TICKET_IDS_LIMIT`` ids (its
count goes on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from nephthys.database import raw
from nephthys.memory import similar, terms
from nephthys.memory.similar import Sessions

KIN_LIMIT = 200
TICKET_IDS_LIMIT = 50
TITLE_LIMIT = 150
# pg_advisory_xact_lock's key for deciding surges (any constant no other lock uses).
SURGE_LOCK = 0x5E9E_0022


@dataclass(frozen=True)
class SurgeState:
    id: int
    title: str
    ticket_ids: list[int]
    tickets: int
    ts: str | None
    channel_id: str | None


_KIN = text(
    """SELECT s."ticketId" AS id, s."questionTerms" AS question_terms
       FROM "TicketSearch" s JOIN "Ticket" t ON t.id = s."ticketId"
       WHERE s.document @@ CAST(:query AS tsquery)
         AND s."ticketId" >= (SELECT coalesce(min(id), 0) FROM "Ticket" WHERE "createdAt" >= :since)
         AND t."createdAt" >= :since AND t."createdAt" <= :at AND s."ticketId" <> :own
       ORDER BY s."ticketId" DESC
       LIMIT :limit"""
)
# Under the lock, in one call (the function "surge_join", migration 0040): the lock, then, in a
# statement of its own that sees every surge decided before it, the running surge holding any of
# the kin grown by the ticket, or a new one made of them all; the surge as it is then.
_JOIN = text(
    """SELECT id, title, ticket_ids, tickets, ts, channel_id
       FROM "surge_join"(:key, :since, CAST(:kin AS int[]), :own, :at, :keep, CAST(:ids AS int[]), :count,
                         :title_limit)"""
)
_STATE = text(
    'SELECT id, title, "ticketIds" AS ticket_ids, tickets, ts, "channelId" AS channel_id FROM "Surge" WHERE id = :id'
)


async def kin(
    sessions: Sessions, *, ticket_id: int, question: str, at: datetime, window: timedelta
) -> list[int]:
    """The tickets opened in ``window`` before ``at`` whose questions are like ``question``, oldest first."""
    query_terms = terms.terms(question)
    query = terms.tsquery_two_of(query_terms)
    if query is None:
        return []
    async with raw.autocommit(sessions) as connection:
        rows = (
            await connection.execute(
                _KIN, {"query": query, "since": at - window, "at": at, "own": ticket_id, "limit": KIN_LIMIT}
            )
        ).all()
    return sorted(
        row.id for row in rows if similar.similarity(query_terms, row.question_terms) >= similar.MIN_SCORE
    )


async def join_surge(
    sessions: Sessions,
    *,
    ticket_id: int,
    question: str,
    at: datetime,
    window: timedelta,
    min_tickets: int,
) -> SurgeState | None:
    """The surge the new ticket belongs to (started or grown by it), or None when it is in none."""
    if min_tickets < 2:
        return None
    found = await kin(sessions, ticket_id=ticket_id, question=question, at=at, window=window)
    if len(found) + 1 < min_tickets:
        return None
    ids = (found + [ticket_id])[-TICKET_IDS_LIMIT:]
    # One statement in autocommit: the advisory lock is the function's, held until it returns.
    async with raw.autocommit(sessions) as connection:
        row = (
            await connection.execute(
                _JOIN,
                {
                    "key": SURGE_LOCK,
                    "since": at - window,
                    "kin": found + [ticket_id],
                    "own": ticket_id,
                    "at": at,
                    "keep": TICKET_IDS_LIMIT,
                    "ids": ids,
                    "count": len(found) + 1,
                    "title_limit": TITLE_LIMIT,
                },
            )
        ).one()
        return SurgeState(**row._mapping)


async def surge(sessions: Sessions, *, surge_id: int) -> SurgeState | None:
    async with raw.autocommit(sessions) as connection:
        row = (await connection.execute(_STATE, {"id": surge_id})).one_or_none()
    return None if row is None else SurgeState(**row._mapping)


_CLAIM_POST = text(
    """UPDATE "Surge" SET "postClaimedAt" = clock_timestamp()
       WHERE id = :id AND "postClaimedAt" IS NULL RETURNING 1"""
)
_RELEASE_POST = text('UPDATE "Surge" SET "postClaimedAt" = NULL WHERE id = :id AND ts IS NULL')
_POSTED = text('UPDATE "Surge" SET ts = :ts, "channelId" = :channel WHERE id = :id')


async def claim_post(sessions: Sessions, *, surge_id: int) -> bool:
    """Claim the surge's one message; False when another pass claimed it."""
    async with raw.autocommit(sessions) as session:
        return (await session.execute(_CLAIM_POST, {"id": surge_id})).first() is not None


async def release_post(sessions: Sessions, *, surge_id: int) -> None:
    async with raw.autocommit(sessions) as session:
        await session.execute(_RELEASE_POST, {"id": surge_id})


async def posted(sessions: Sessions, *, surge_id: int, channel_id: str, ts: str) -> None:
    async with sessions.begin() as session:
        await session.execute(_POSTED, {"id": surge_id, "channel": channel_id, "ts": ts})
