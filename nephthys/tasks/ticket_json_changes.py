"""Forgetting old notes of changed ticket objects (migration 0014), once a period across instances.

A service's copy of the active tickets (nephthys/api/active_tickets.py) reads
the notes written since its snapshot. Notes are kept at least one period: each
prune forgets the notes of transactions that had ended when the previous prune
ran (``pruneNextBelow``), raises ``prunedBelow`` to that in the same statement,
so a copy older than it is read whole instead, and records a new
``pruneNextBelow``. The horizon row's lock and ``prunedAt`` make a second
instance's run in the same period do nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from nephthys.tasks.scheduler import Job
from nephthys.tickets.lifecycle import Sessions, autocommit

log = logging.getLogger(__name__)

NAME = "ticket-json-prune-changes"
EVERY_SECONDS = 600.0

PRUNE = text(
    """WITH due AS (
        SELECT "pruneNextBelow" AS below FROM "TicketJsonChangeHorizon"
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


async def prune_ticket_json_changes(sessions: Sessions, period_seconds: float = EVERY_SECONDS) -> int | None:
    """Forget the notes older than the last prune, if a period has passed since; the count, or None if not due."""
    async with autocommit(sessions) as connection:
        row = (await connection.execute(PRUNE, {"period": period_seconds})).one()
    if not row.ran:
        return None
    log.info("forgot %d notes of changed ticket objects", row.forgotten)
    return int(row.forgotten)


def job(sessions: Sessions) -> Job:
    """The prune as an interval job: every instance tries each period; one does it."""
    return Job(NAME, EVERY_SECONDS, lambda: prune_ticket_json_changes(sessions))
