"""Filling the memory rows ("TicketSearch") of tickets opened before migration 0024: without one a
ticket is never found by ``?search``, the App Home's search or ``/api/tickets/search``.

Their question is indexed as opening would have (nephthys/memory/index.py). Their helpers'
answers were never stored: each row is marked to be read ("answerFetch"), and the ``memory-answers``
job (nephthys/tasks/memory_answers.py) reads the thread of each closed one from Slack and records
the answer that closed it, so it can be offered as a similar past ticket.

- Bounded: ``BATCH`` tickets a transaction, in id order; each transaction reads its batch, makes
  the terms (in Python, as opening does) and inserts, so none is held for long, and a pause
  between batches leaves the database to the service.
- Resumable: every batch commits; a run that stops (a crash, a restart, ``max_batches``) leaves
  what it did, and the next run starts over the few tickets still missing (an index-only
  anti-join on the two primary keys skips the rest).
- Exactly once: a row is inserted only where none exists (``ON CONFLICT DO NOTHING``: a ticket
  edited or answered meanwhile keeps the row the lifecycle wrote), and one run at a time (a
  PostgreSQL advisory lock, held by an idle connection, not a transaction): a second instance or
  a concurrent ``nephthys db upgrade`` skips.

Run by ``nephthys db upgrade`` (and ``nephthys db reindex-memory``) and, in the service, by the
``memory-reindex`` job (nephthys/tasks/memory_reindex.py), which stops looking once none is missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nephthys.database.locks import held_session_lock
from nephthys.memory import index as memory_index

Sessions = async_sessionmaker[AsyncSession]

BATCH = 500
LOCK_KEY = 7315062224  # the reindex's advisory lock (one run at a time)

# "s.ticketId > :after" too: the planner's merge anti-join then starts both primary keys at the
# cursor; without it, it walked every row filled so far on each batch (at 1M tickets a batch's
# read grew from ~50 ms to ~800 ms by ticket 170,000).
_MISSING = text(
    """SELECT t.id, t.title, t.description
       FROM "Ticket" t
       WHERE t.id > :after
         AND NOT EXISTS (SELECT 1 FROM "TicketSearch" s WHERE s."ticketId" = t.id AND s."ticketId" > :after)
       ORDER BY t.id
       LIMIT :batch"""
)
# One statement a batch: the rows as three parallel arrays (each ticket's terms as an array literal).
_INSERT = text(
    f"""INSERT INTO "TicketSearch" ("ticketId", document, "questionTerms", "answerFetch")
       SELECT x.id, CAST(x.document AS tsvector), CAST(x.terms AS text[]),
              {memory_index.ANSWER_FETCH_FOR_STATUS}
       FROM unnest(CAST(:ids AS int[]), CAST(:documents AS text[]), CAST(:terms AS text[]))
            AS x(id, document, terms)
       JOIN "Ticket" t ON t.id = x.id
       ON CONFLICT ("ticketId") DO NOTHING
       RETURNING 1"""
)


def array_literal(values: list[str]) -> str:
    """A PostgreSQL text[] literal of ``values``, every element quoted."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"


_ANY_MISSING = text(
    """SELECT EXISTS (SELECT 1 FROM "Ticket" t
                      WHERE NOT EXISTS (SELECT 1 FROM "TicketSearch" s WHERE s."ticketId" = t.id))"""
)


@dataclass
class Reindexed:
    """What a run did: rows ``filled``, in ``batches``; ``done``: no ticket is missing one now
    (False when it stopped at ``max_batches`` or another run held the lock); ``after``: the last
    ticket id it looked at (where a bounded run goes on)."""

    filled: int = 0
    batches: int = 0
    done: bool = False
    skipped: bool = False
    after: int = 0


async def any_missing(sessions: Sessions) -> bool:
    async with sessions() as session:
        return bool(await session.scalar(_ANY_MISSING))


async def reindex_batch(sessions: Sessions, *, after: int, batch: int = BATCH) -> tuple[int, int, int]:
    """Fill the rows of the next ``batch`` tickets after id ``after`` that lack one, in one
    transaction; returns (tickets looked at, rows inserted, the last id looked at)."""
    async with sessions.begin() as session:
        rows = (await session.execute(_MISSING, {"after": after, "batch": batch})).all()
        if not rows:
            return 0, 0, after
        ids, documents, terms = [], [], []
        for row in rows:
            document, question_terms = memory_index.question_document(row.title, row.description)
            ids.append(row.id)
            documents.append(document)
            terms.append(array_literal(question_terms))
        inserted = len(
            (await session.execute(_INSERT, {"ids": ids, "documents": documents, "terms": terms})).all()
        )
        return len(rows), inserted, rows[-1].id


async def reindex_missing(
    sessions: Sessions,
    *,
    batch: int = BATCH,
    max_batches: int | None = None,
    pause_seconds: float = 0.0,
    after: int = 0,
    progress: Callable[[Reindexed], None] | None = None,
) -> Reindexed:
    """Fill every missing memory row (see the module's docstring), at most ``max_batches`` batches,
    starting after ticket id ``after``; ``progress`` hears of each batch."""
    done = Reindexed(after=after)
    async with held_session_lock(sessions.kw["bind"], LOCK_KEY) as locked:
        if not locked:
            done.skipped = True
            return done
        while max_batches is None or done.batches < max_batches:
            looked, inserted, done.after = await reindex_batch(sessions, after=done.after, batch=batch)
            if not looked:
                done.done = True
                break
            done.batches += 1
            done.filled += inserted
            if progress is not None:
                progress(done)
            if pause_seconds:
                await asyncio.sleep(pause_seconds)
    return done


def rate(done: Reindexed, started: float) -> str:
    seconds = max(time.perf_counter() - started, 1e-9)
    return f"{done.filled:,} rows in {seconds:.1f} s ({done.filled / seconds:,.0f}/s)"
