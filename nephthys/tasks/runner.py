"""The one runner of periodic jobs: claim ``(job, period)``, do the work, record how it ended.

A job is a name, a schedule and one function of its period (``run(period, dry_run)``
returning a one-line account of what it did). The runner serves the scheduler and
``nephthys jobs run`` alike:

1. It takes a PostgreSQL advisory lock on ``(job, period)`` on one connection, so
   two instances never work on one period at once (the loser hears ``BUSY``).
   PostgreSQL releases the lock itself when an instance dies.
2. Under the lock it reads the period's JobRun row: ``done`` means the work is
   done (``ALREADY_DONE``, unless forced). Anything else (no row, ``failed``,
   ``skipped``, or no outcome at all: a run that died halfway) is taken.
3. It commits the claim (``startedAt`` now, no outcome) before the job posts
   anything, runs the job, and commits ``done`` or ``failed`` with a detail line.

Each statement runs in autocommit on the locked connection, so the claim is
visible before the work starts and the lock outlives the commits.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from nephthys.tickets.lifecycle import Sessions, autocommit

log = logging.getLogger(__name__)

# The first key of the periods' advisory locks ("Nf"); interval jobs use 0x4E65 (scheduler.py).
PERIOD_LOCK_NAMESPACE = 0x4E66


class RunStatus(enum.StrEnum):
    DONE = "done"
    ALREADY_DONE = "already done"
    BUSY = "busy"  # another instance holds the period right now
    FAILED = "failed"
    SKIPPED = "skipped"
    DRY_RUN = "dry run"


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    detail: str = ""


@dataclass(frozen=True)
class Occurrence:
    """A period of a job and the instant its work became due."""

    period: str
    due: datetime


@dataclass(frozen=True)
class PeriodicJob:
    """A job run once per period.

    ``occurrences(now)``: the most recent period(s) due at or before ``now``;
    ``next_due(now)``: when the next one is due; ``periods_for(day, now)``: the
    periods ``jobs run`` does (``day`` from ``--date``, None for "now");
    ``run(period, dry_run)``: the work, returning what it did (a dry run returns what it would post).
    ``off_reason``: why the job is off (None: on).
    """

    name: str
    schedule: str
    occurrences: Callable[[datetime], Awaitable[list[Occurrence]]]
    next_due: Callable[[datetime], Awaitable[datetime | None]]
    periods_for: Callable[[date | None, datetime], Awaitable[list[str]]]
    run: Callable[[str, bool], Awaitable[str]]
    off_reason: str | None = None
    # A failed period is tried again by the scheduler after this long (never spinning on it).
    retry_failed_after: timedelta = field(default=timedelta(minutes=15))

    @property
    def enabled(self) -> bool:
        return self.off_reason is None


@dataclass(frozen=True)
class LastRun:
    period: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    detail: str | None


_LOCK = text("SELECT pg_try_advisory_lock(:namespace, hashtext(:key))")
_UNLOCK = text("SELECT pg_advisory_unlock(:namespace, hashtext(:key))")
_READ = text("""SELECT outcome, "finishedAt" FROM "JobRun" WHERE job = :job AND period = :period""")
_CLAIM = text(
    """INSERT INTO "JobRun" (job, period, "startedAt") VALUES (:job, :period, clock_timestamp())
       ON CONFLICT (job, period) DO UPDATE
       SET "startedAt" = clock_timestamp(), "finishedAt" = NULL, outcome = NULL, detail = NULL"""
)
_FINISH = text(
    """UPDATE "JobRun" SET "finishedAt" = clock_timestamp(), outcome = :outcome, detail = :detail
       WHERE job = :job AND period = :period"""
)
_SKIP = text(
    """INSERT INTO "JobRun" (job, period, "startedAt", "finishedAt", outcome, detail)
       VALUES (:job, :period, clock_timestamp(), clock_timestamp(), 'skipped', :detail)
       ON CONFLICT (job, period) DO NOTHING
       RETURNING id"""
)
_LAST = text(
    """SELECT period, "startedAt", "finishedAt", outcome, detail FROM "JobRun"
       WHERE job = :job ORDER BY "startedAt" DESC, id DESC LIMIT 1"""
)


def _key(job: str, period: str) -> str:
    return f"{job}/{period}"


async def _locked(connection: AsyncConnection, job: str, period: str) -> bool:
    params = {"namespace": PERIOD_LOCK_NAMESPACE, "key": _key(job, period)}
    return bool(await connection.scalar(_LOCK, params))


async def _unlock(connection: AsyncConnection, job: str, period: str) -> None:
    await connection.execute(_UNLOCK, {"namespace": PERIOD_LOCK_NAMESPACE, "key": _key(job, period)})


async def run_period(
    sessions: Sessions,
    job: str,
    period: str,
    work: Callable[[], Awaitable[str]],
    *,
    force: bool = False,
    retry_failed_after: timedelta | None = None,
    now: datetime | None = None,
) -> RunResult:
    """Do ``work`` for ``(job, period)`` unless it is done, or being done elsewhere (module docstring).

    ``retry_failed_after``: leave a period that failed less than this long ago alone
    (the scheduler's pace; ``jobs run`` tries at once).
    """
    async with autocommit(sessions) as connection:
        if not await _locked(connection, job, period):
            return RunResult(RunStatus.BUSY, "another instance is running it")
        try:
            row = (await connection.execute(_READ, {"job": job, "period": period})).one_or_none()
            if row is not None and row.outcome == "done" and not force:
                return RunResult(RunStatus.ALREADY_DONE)
            if (
                row is not None
                and row.outcome == "failed"
                and not force
                and retry_failed_after is not None
                and now is not None
                and row.finishedAt is not None
                and now - row.finishedAt < retry_failed_after
            ):
                return RunResult(RunStatus.FAILED, "failed recently; tried again later")
            if row is not None and row.outcome is None:
                log.warning(
                    "job %s: period %s was left unfinished by a run that died; taking it again", job, period
                )
            await connection.execute(_CLAIM, {"job": job, "period": period})
            try:
                detail = await work()
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"[:500]
                await connection.execute(
                    _FINISH, {"job": job, "period": period, "outcome": "failed", "detail": reason}
                )
                log.exception("job %s, period %s failed", job, period)
                return RunResult(RunStatus.FAILED, reason)
            await connection.execute(
                _FINISH, {"job": job, "period": period, "outcome": "done", "detail": detail[:500]}
            )
            return RunResult(RunStatus.DONE, detail)
        finally:
            await _unlock(connection, job, period)


async def skip_period(sessions: Sessions, job: str, period: str, *, reason: str) -> bool:
    """Record that a period is skipped (too late to catch up); False if it already has a record."""
    async with autocommit(sessions) as connection:
        if not await _locked(connection, job, period):
            return False
        try:
            inserted = await connection.execute(_SKIP, {"job": job, "period": period, "detail": reason})
            return inserted.one_or_none() is not None
        finally:
            await _unlock(connection, job, period)


async def period_outcome(sessions: Sessions, job: str, period: str) -> str | None:
    """The recorded outcome of a period (None: no record, or unfinished)."""
    async with autocommit(sessions) as connection:
        row = (await connection.execute(_READ, {"job": job, "period": period})).one_or_none()
    return None if row is None else row.outcome


async def last_run(sessions: Sessions, job: str) -> LastRun | None:
    async with autocommit(sessions) as connection:
        row = (await connection.execute(_LAST, {"job": job})).one_or_none()
    if row is None:
        return None
    return LastRun(
        period=row.period,
        started_at=row.startedAt,
        finished_at=row.finishedAt,
        outcome=row.outcome,
        detail=row.detail,
    )
