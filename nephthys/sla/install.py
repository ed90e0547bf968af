"""The SLA policy in the database: installed at start-up, every ticket's clocks recomputed with it
in the background.

A ticket's stored clocks ("TicketSlaClock", nephthys/sla/clocks.py) depend on the default
targets and warning share (the SLA settings), on the calendar (due instants are found with
``nephthys_support_add``) and on its tags' own targets. The first two are the service's.

**At start-up** (:func:`install_policy`, under the calendar's install lock and after the calendar
itself, nephthys/tickets/support_minutes.py), a service whose policy or calendar differs from the
one the clocks follow ("SlaPolicyInUse".key) installs its calendar's ``nephthys_support_add``,
writes its default targets and asks for a recompute ("recomputeKey", cursors at 0), in one short
transaction, and answers at once. From that commit on, every change the lifecycle makes computes
the changed ticket's clocks with the new policy (the clocks' SQL reads it from the row). A database
with nothing to recompute (no ticket; or no target anywhere and no stored clock) is done there.

**In the background** (:func:`recompute`, the ``sla-recompute`` job, nephthys/tasks/sla_recompute.py):

- Active tickets first: the open and in-progress ones, in id order, then every ticket in id order
  (closed ones included: their met or breached states follow the new targets too). Only running
  clocks drive ``sla-watch``, and only active tickets have one.
- ``sla-watch`` acts on no clock until the active tickets are done ("recomputeActiveDoneAt"):
  until then a running clock may still follow the old policy (nephthys/sla/due.py). A ticket that
  turns active meanwhile is changed by the lifecycle, which computes its clocks with the new one.
- Short transactions: ``BATCH`` tickets each. A batch locks the policy row (so two instances, or a
  start-up asking for yet another policy, never work on one cursor at once), then its tickets'
  rows in id order (a lifecycle change of one of them waits for the batch, or the batch for it:
  either way the clocks stored last are computed from the ticket as it is), recomputes their
  clocks in place (upserted, never deleted first: no ticket is ever without its clocks) and moves
  the cursor, in the same commit.
- Resumable: the cursor is committed with each batch; a crash or a restart goes on from it.
- Exactly once across instances: the run holds an advisory lock (another instance skips), and the
  row lock above orders any two batches anyway.
- The key is written last, by the batch that finds nothing after the cursor.

Instances sharing a database must share the SLA settings, as they share a calendar; the last one
started wins, and its recompute restarts the cursors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nephthys.database.locks import held_session_lock
from nephthys.sla import clocks
from nephthys.sla.policy import SlaPolicy
from nephthys.support_calendar import SupportCalendar
from nephthys.tickets.core import retried_on_conflict

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]

# Bumped when the clocks' computation changes, so a new version recomputes every ticket.
CLOCKS_VERSION = 1
# Tickets a batch: each batch is one transaction holding its tickets' row locks (~0.1-0.2 s at 1M).
BATCH = 1000
# The recompute's advisory lock: one run at a time, across instances.
LOCK_KEY = 0x6E65_7068_0032
# A progress line in the log every this many tickets.
LOG_EVERY = 100_000


def policy_key(calendar: SupportCalendar, policy: SlaPolicy) -> str:
    return f"v{CLOCKS_VERSION}|{policy.key}|{calendar.key}"


_ANY_TAG_TARGET = """EXISTS (SELECT 1 FROM "Tag" WHERE "slaFirstResponseMinutes" IS NOT NULL
                      OR "slaNextResponseMinutes" IS NOT NULL OR "slaResolutionMinutes" IS NOT NULL)"""
_NOTHING_TO_RECOMPUTE = text(
    f"""SELECT NOT EXISTS (SELECT 1 FROM "Ticket")
               OR (NOT :targets AND NOT {_ANY_TAG_TARGET} AND NOT EXISTS (SELECT 1 FROM "TicketSlaClock"))"""
)
_WRITE_POLICY = text(
    """UPDATE "SlaPolicyInUse" SET "firstResponseMinutes" = :first, "nextResponseMinutes" = :next,
           "resolutionMinutes" = :resolution, "warnAt" = :warn,
           "recomputeKey" = :key, "recomputeStartedAt" = now(), "recomputeActiveAfter" = 0,
           "recomputeActiveDoneAt" = NULL, "recomputeAfter" = 0, "recomputedTickets" = 0
       WHERE id = 1"""
)
_INSTALLED = text(
    """UPDATE "SlaPolicyInUse" SET key = "recomputeKey", "recomputeKey" = NULL, "installedAt" = now()
       WHERE id = 1"""
)


async def install_policy(session, calendar: SupportCalendar, policy: SlaPolicy) -> bool:
    """Make ``policy`` (with ``calendar``) the database's; True when its clocks are to be recomputed
    (in the background: :func:`recompute`). Quick: one short transaction.

    Runs on the caller's session, holding the calendar's install lock; commits."""
    key = policy_key(calendar, policy)
    row = (
        await session.execute(
            text('SELECT key, "recomputeKey" FROM "SlaPolicyInUse" WHERE id = 1 FOR UPDATE')
        )
    ).one()
    if (row.recomputeKey is None and row.key == key) or row.recomputeKey == key:
        await session.commit()  # installed, or being recomputed for this very policy
        return False
    await session.execute(text(calendar.add_function_definition()))
    targets = policy.targets
    await session.execute(
        _WRITE_POLICY,
        {
            "first": targets.first_response,
            "next": targets.next_response,
            "resolution": targets.resolution,
            "warn": policy.warn_at,
            "key": key,
        },
    )
    if await session.scalar(_NOTHING_TO_RECOMPUTE, {"targets": targets.any}):
        await session.execute(_INSTALLED)
        await session.commit()
        log.info("SLA policy %r installed (was %r): no clock to recompute", key, row.key)
        return False
    await session.commit()
    log.info(
        "SLA policy %r installed (was %r): every ticket's clocks are recomputed in the background "
        "(sla-recompute), active tickets first; sla-watch waits for those",
        key,
        row.recomputeKey or row.key,
    )
    return True


# --- the recompute ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecomputeState:
    """Where a recompute stands ("SlaPolicyInUse")."""

    key: str  # the policy every stored clock follows once no recompute is pending
    pending: str | None  # the policy being brought in; None: none
    started_at: datetime | None
    active_after: int
    active_done_at: datetime | None
    after: int
    recomputed: int

    def describe(self) -> str:
        """One line for ``nephthys jobs list`` and the job's outcome."""
        if self.pending is None:
            return "no recompute pending"
        if self.active_done_at is None:
            where = f"active tickets up to #{self.active_after} (sla-watch waits for them)"
        else:
            where = f"active tickets done; every ticket up to #{self.after}"
        return f"recomputing for a new policy: {self.recomputed:,} tickets so far, {where}"


_STATE = text(
    """SELECT key, "recomputeKey", "recomputeStartedAt", "recomputeActiveAfter", "recomputeActiveDoneAt",
              "recomputeAfter", "recomputedTickets"
       FROM "SlaPolicyInUse" WHERE id = 1"""
)


def _state(row) -> RecomputeState:
    return RecomputeState(
        key=row.key,
        pending=row.recomputeKey,
        started_at=row.recomputeStartedAt,
        active_after=row.recomputeActiveAfter,
        active_done_at=row.recomputeActiveDoneAt,
        after=row.recomputeAfter,
        recomputed=row.recomputedTickets,
    )


async def recompute_state(sessions: Sessions) -> RecomputeState:
    async with sessions() as session:
        return _state((await session.execute(_STATE)).one())


_ACTIVE_AFTER = text(
    """SELECT id FROM "Ticket" WHERE status <> 'CLOSED' AND id > :after ORDER BY id LIMIT :limit"""
)
_TICKETS_AFTER = text('SELECT id FROM "Ticket" WHERE id > :after ORDER BY id LIMIT :limit')
# FOR NO KEY UPDATE: conflicts with the lifecycle's FOR UPDATE, not with the key-share locks that
# inserting a ticket's events takes.
_LOCK_TICKETS = text(
    """SELECT id FROM "Ticket" WHERE id = ANY(CAST(:ids AS int[])) ORDER BY id FOR NO KEY UPDATE"""
)


@dataclass(frozen=True)
class Batch:
    """What one batch did: the policy, the phase ("active" or "all"), the tickets recomputed, and
    whether it finished its phase (the active tickets; or everything, the key written)."""

    key: str
    phase: str
    ticket_ids: tuple[int, ...]
    phase_done: bool


@retried_on_conflict  # a deadlock with a change of many tickets' clocks (a tag's targets): the batch again
async def recompute_batch(sessions: Sessions, *, batch: int = BATCH) -> Batch | None:
    """Recompute the next ``batch`` tickets' clocks, in one transaction (module docstring); None
    when no recompute is pending."""
    async with sessions.begin() as session:
        row = (await session.execute(text(_STATE.text + " FOR UPDATE"))).one()
        state = _state(row)
        if state.pending is None:
            return None
        active = state.active_done_at is None
        cursor = state.active_after if active else state.after
        ids = list(
            (
                await session.execute(
                    _ACTIVE_AFTER if active else _TICKETS_AFTER, {"after": cursor, "limit": batch}
                )
            ).scalars()
        )
        phase = "active" if active else "all"
        if not ids:
            if active:
                await session.execute(
                    text('UPDATE "SlaPolicyInUse" SET "recomputeActiveDoneAt" = now() WHERE id = 1')
                )
            else:
                await session.execute(_INSTALLED)  # the key, last
            return Batch(state.pending, phase, (), True)
        await session.execute(_LOCK_TICKETS, {"ids": ids})
        await clocks.refresh(session, ids)
        column = "recomputeActiveAfter" if active else "recomputeAfter"
        await session.execute(
            text(
                f"""UPDATE "SlaPolicyInUse" SET "{column}" = :after,
                        "recomputedTickets" = "recomputedTickets" + :count WHERE id = 1"""
            ),
            {"after": ids[-1], "count": len(ids)},
        )
        return Batch(state.pending, phase, tuple(ids), False)


@dataclass
class Recomputed:
    """What a run did: tickets recomputed, in batches; ``done``: no recompute is pending now;
    ``skipped``: another run held the lock."""

    tickets: int = 0
    batches: int = 0
    done: bool = False
    skipped: bool = False


async def recompute(
    sessions: Sessions,
    *,
    batch: int = BATCH,
    max_batches: int | None = None,
    between_batches: Callable[[Batch], Awaitable[None]] | None = None,
) -> Recomputed:
    """Bring every ticket's clocks to the pending policy (module docstring), at most ``max_batches``
    batches; ``between_batches`` is awaited after each committed batch (a test pauses or stops a
    run there)."""
    done = Recomputed()
    async with held_session_lock(sessions.kw["bind"], LOCK_KEY) as locked:
        if not locked:
            done.skipped = True
            return done
        started = time.monotonic()
        logged_at = 0
        while max_batches is None or done.batches < max_batches:
            step = await recompute_batch(sessions, batch=batch)
            if step is None:
                done.done = True
                break
            done.batches += 1
            done.tickets += len(step.ticket_ids)
            if step.phase_done:
                state = await recompute_state(sessions)
                log.info(
                    "SLA recompute for %r: %s done (%d tickets in %.1f s this run)",
                    step.key,
                    "the active tickets" if step.phase == "active" else "every ticket, policy installed",
                    done.tickets,
                    time.monotonic() - started,
                )
                if step.phase == "all" and state.pending is None:
                    done.done = True
                    if between_batches is not None:
                        await between_batches(step)
                    break
            elif done.tickets - logged_at >= LOG_EVERY:
                logged_at = done.tickets
                log.info(
                    "SLA recompute for %r: %d tickets in %.1f s (%s, up to #%d)",
                    step.key,
                    done.tickets,
                    time.monotonic() - started,
                    "active tickets" if step.phase == "active" else "every ticket",
                    step.ticket_ids[-1],
                )
            if between_batches is not None:
                await between_batches(step)
    return done
