"""Upkeep of the stored tickets' change notes and export blocks (migration 0014), as one API job.

Every ``EVERY_SECONDS``, on one instance at a time (an advisory lock):

1. Blocks no longer usable (a ticket in their range changed since they were
   read) are dropped, and the holes they leave, and the tickets settled since
   the last run, are built into blocks (nephthys/api/ticket_blocks.py). Until
   then the export reads those tickets row by row: slower, never stale.
2. Once a prune period (``PRUNE_EVERY_SECONDS``), old notes are forgotten. A
   service's copy of the active tickets (nephthys/api/active_tickets.py) and the
   blocks read the notes written since their snapshot, so notes are kept at
   least one period: each prune forgets the notes of transactions that had ended
   when the previous prune ran (``pruneNextBelow``) and raises ``prunedBelow``
   to that in the same statement, so a copy older than it is read whole
   instead. First, in the same transaction, every usable block takes the
   current snapshot (nothing in its range changed in between), so no block
   needs a forgotten note. ``prunedAt`` under the horizon row's lock makes a
   second instance's prune in the same period do nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from nephthys.api import ticket_blocks
from nephthys.api.ticket_blocks import BEFORE_IDS, Key
from nephthys.tasks.scheduler import Job
from nephthys.tickets.lifecycle import Sessions, autocommit

log = logging.getLogger(__name__)

NAME = "ticket-json-upkeep"
EVERY_SECONDS = 60.0
PRUNE_EVERY_SECONDS = 600.0

PRUNE_DUE = text(
    """SELECT "prunedAt" <= now() - make_interval(secs => :period) AS due
    FROM "TicketJsonChangeHorizon" WHERE id = 1"""
)
PRUNE = text(
    """WITH due AS (
        SELECT LEAST("pruneNextBelow", (SELECT min("snapshotXmin") FROM "TicketJsonBlock")) AS below
        FROM "TicketJsonChangeHorizon"
        WHERE id = 1 AND "prunedAt" <= now() - make_interval(secs => :period) FOR UPDATE),
    gone AS (DELETE FROM "TicketJsonChange" WHERE xid < (SELECT below FROM due) RETURNING 1),
    moved AS (
        UPDATE "TicketJsonChangeHorizon" h SET
            "prunedBelow" = GREATEST(h."prunedBelow", due.below),
            "pruneNextBelow" = pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
            "prunedAt" = now()
        FROM due WHERE h.id = 1 RETURNING 1)
    SELECT (SELECT count(*) FROM gone) AS forgotten, EXISTS (SELECT 1 FROM moved) AS ran"""
)

# The first ticket of each block-to-be in [lo, hi) (NULL lo: from the first ticket), and how many there are.
BLOCK_STARTS = text(
    f"""SELECT "createdAt", "ticketId", total FROM (
        SELECT "createdAt", "ticketId", row_number() OVER w AS n, count(*) OVER () AS total
        FROM ({ticket_blocks.EVERY_KEY}) k
        WHERE (CAST(:lo_at AS timestamptz) IS NULL
               OR ("createdAt", "ticketId") >= (CAST(:lo_at AS timestamptz), CAST(:lo_id AS integer)))
          AND ("createdAt", "ticketId") < (CAST(:hi_at AS timestamptz), CAST(:hi_id AS integer))
          -- Implied by the bounds above; it lets the planner see how narrow the range is.
          AND (CAST(:lo_at AS timestamptz) IS NULL OR "createdAt" >= CAST(:lo_at AS timestamptz))
          AND "createdAt" <= CAST(:hi_at AS timestamptz)
        WINDOW w AS (ORDER BY "createdAt", "ticketId")) numbered
    WHERE (n - 1) % :per_block = 0 ORDER BY n"""
)


async def prune_ticket_json_changes(
    sessions: Sessions, period_seconds: float = PRUNE_EVERY_SECONDS
) -> int | None:
    """Forget the notes older than the last prune, if a period has passed since; the count, or None if not due."""
    async with sessions() as session:
        if not (await session.execute(PRUNE_DUE, {"period": period_seconds})).scalar_one():
            return None
        await session.execute(text(ticket_blocks.RESTAMP))
        row = (await session.execute(PRUNE, {"period": period_seconds})).one()
        await session.commit()
    if not row.ran:
        return None
    log.info("forgot %d notes of changed ticket objects", row.forgotten)
    return int(row.forgotten)


@dataclass(frozen=True)
class BlocksKept:
    dropped: int
    built: int


async def keep_blocks(
    sessions: Sessions,
    *,
    per_block: int = ticket_blocks.TICKETS_PER_BLOCK,
    settled_after: timedelta = ticket_blocks.SETTLED_AFTER,
) -> BlocksKept:
    """Drop the blocks that are no longer usable; build blocks over the holes and the newly settled tickets."""
    async with autocommit(sessions) as connection:
        dropped = (await connection.execute(text(ticket_blocks.DROP_UNUSABLE))).rowcount
        settled: Key = (
            (await connection.execute(text("SELECT now()"))).scalar_one() - settled_after,
            BEFORE_IDS,
        )
        ranges = [
            ((r[0], r[1]), (r[2], r[3])) for r in await connection.execute(text(ticket_blocks.BLOCK_RANGES))
        ]
        holes: list[tuple[Key | None, Key, bool]] = []  # (from, to, whole: build a partial last block too)
        previous_end: Key | None = None
        for start, end in ranges:
            if previous_end is None or previous_end < start:
                holes.append((previous_end, start, True))
            previous_end = end
        if previous_end is None or previous_end < settled:
            holes.append((previous_end, settled, False))
        built = 0
        for low, high, whole in holes:
            built += await _build_hole(connection, low, high, whole, per_block)
    if dropped or built:
        log.info("ticket JSON blocks: %d dropped, %d built", dropped, built)
    return BlocksKept(dropped, built)


async def _build_hole(connection, low: Key | None, high: Key, whole: bool, per_block: int) -> int:
    found = (
        await connection.execute(
            BLOCK_STARTS,
            {
                "lo_at": low[0] if low else None,
                "lo_id": low[1] if low else None,
                "hi_at": high[0],
                "hi_id": high[1],
                "per_block": per_block,
            },
        )
    ).all()
    starts: list[Key] = [(row[0], row[1]) for row in found]
    if not starts:
        return 0
    end = high
    if not whole and found[0].total % per_block:
        # The last, partial block waits for more settled tickets: it would be rebuilt at every run.
        end = starts.pop()
        if not starts:
            return 0
    if low is not None:
        starts[0] = low  # tile from the previous block's end: no gap between blocks
    ends = [*starts[1:], end]
    driver = (await connection.get_raw_connection()).driver_connection
    for start, stop in zip(starts, ends, strict=True):
        await driver.execute(ticket_blocks.BUILD_BLOCK, start[0], start[1], stop[0], stop[1])
    return len(starts)


async def upkeep(sessions: Sessions) -> None:
    await keep_blocks(sessions)
    await prune_ticket_json_changes(sessions)


def job(sessions: Sessions) -> Job:
    """The upkeep as an interval job: every instance tries each run; one does it."""
    return Job(NAME, EVERY_SECONDS, lambda: upkeep(sessions), first_after_seconds=5.0)
