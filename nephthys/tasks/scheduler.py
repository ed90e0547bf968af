"""Scheduled jobs, safe when several instances run.

Interval jobs (``Job``: repair, replay, prune, helper sync, unanswered alerts) run
every so many seconds; each run holds a PostgreSQL advisory lock, and a job that
finds its lock taken skips that run (another instance is doing it). Session-level
``pg_try_advisory_lock`` on one pooled connection, released after the run (and by
PostgreSQL itself if the instance dies).

Periodic jobs (``PeriodicJob``: the daily summary, stale tickets, tag digests) are
done once per period through ``runner.run_period``. Every ``PERIODIC_TICK_SECONDS``
(and at start-up) the scheduler asks each job for its latest due period: one less
than JOB_CATCH_UP_HOURS late is run (a run missed while the service was down is
caught up), an older one is recorded as skipped with one heartbeat line.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nephthys.tasks.runner import PeriodicJob, RunStatus, run_period, skip_period
from nephthys.utils.clock import Clock, utc_now

log = logging.getLogger(__name__)

# The first key of every Nephthys advisory lock ("Ne"), so they never meet another app's.
LOCK_NAMESPACE = 0x4E65
PERIODIC_TICK_SECONDS = 30.0
# How long a stop waits for a cancelled job to end before leaving it behind (logged).
STOP_WITHIN_SECONDS = 10.0


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]
    first_after_seconds: float | None = None  # default: one interval after start
    # For `nephthys jobs list` / `jobs run`: why it is off (None: on), a longer schedule, a dry run.
    off_reason: str | None = None
    schedule: str | None = None
    dry_run: Callable[[], Awaitable[str]] | None = None
    # For `nephthys jobs list`: where a job's long work stands now (None: nothing to say).
    progress: Callable[[], Awaitable[str]] | None = None

    @property
    def lock_key(self) -> int:
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF


_TRY_LOCK = text("SELECT pg_try_advisory_lock(:namespace, :key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:namespace, :key)")


async def run_exclusively(sessions: async_sessionmaker[AsyncSession], job: Job) -> bool:
    """Run ``job`` once if no other instance is running it; False when it was skipped."""
    lock = {"namespace": LOCK_NAMESPACE, "key": job.lock_key}
    async with sessions() as session:
        # A session-level lock needs no transaction: autocommit makes taking and releasing it one
        # round trip each (no BEGIN and COMMIT around them), which is most of a run with nothing to do.
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        known_free = False  # this connection surely holds no lock: it may go back to the pool
        try:
            locked = (await connection.execute(_TRY_LOCK, lock)).scalar()
            known_free = not locked
            if not locked:
                return False
            try:
                await job.run()
            finally:
                await connection.execute(_UNLOCK, lock)
                known_free = True
        finally:
            if not known_free:
                # Cancelled or failed while it may hold the job's lock: a pooled connection must
                # never keep it (every instance would skip the job), so it is closed, which frees it.
                await connection.invalidate()
    return True


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        jobs: list[Job],
        *,
        periodic: list[PeriodicJob] | None = None,
        catch_up: timedelta = timedelta(hours=6),
        notify: Callable[[str], Awaitable[object]] | None = None,
        tick_seconds: float = PERIODIC_TICK_SECONDS,
        clock: Clock = utc_now,
    ) -> None:
        self.sessions = sessions
        self.jobs = jobs
        self.periodic = list(periodic or [])
        self.catch_up = catch_up
        self.notify = notify  # the heartbeat: one line per skipped period
        self.tick_seconds = tick_seconds
        self.clock = clock
        self._settled: set[tuple[str, str]] = set()  # (job, period) known done or skipped here
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        for job in self.jobs:
            if job.off_reason is not None:
                continue
            self._tasks.append(
                asyncio.get_running_loop().create_task(self._loop(job), name=f"job {job.name}")
            )
        if self.periodic:
            self._tasks.append(
                asyncio.get_running_loop().create_task(self._periodic_loop(), name="periodic jobs")
            )

    async def _periodic_loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away, say: the next tick tries again
                log.exception("periodic jobs: tick failed")
            await asyncio.sleep(self.tick_seconds)

    async def run_due(self) -> list[tuple[str, str, RunStatus]]:
        """Run (or skip, when too late) every period due now; returns what happened to each."""
        now = self.clock()
        happened: list[tuple[str, str, RunStatus]] = []
        for job in self.periodic:
            if not job.enabled:
                continue
            for occurrence in await job.occurrences(now):
                key = (job.name, occurrence.period)
                if key in self._settled:
                    continue
                late = now - occurrence.due
                if late > self.catch_up:
                    reason = f"{late.total_seconds() / 3600:.1f} h late, over JOB_CATCH_UP_HOURS"
                    if await skip_period(self.sessions, job.name, occurrence.period, reason=reason):
                        line = f":double_vertical_bar: Job {job.name} skipped {occurrence.period}: {reason}."
                        log.warning(line)
                        if self.notify is not None:
                            await self.notify(line)
                    self._settled.add(key)
                    happened.append((job.name, occurrence.period, RunStatus.SKIPPED))
                    continue
                result = await run_period(
                    self.sessions,
                    job.name,
                    occurrence.period,
                    functools.partial(job.run, occurrence.period, False),
                    retry_failed_after=job.retry_failed_after,
                    now=now,
                )
                if result.status in {RunStatus.DONE, RunStatus.ALREADY_DONE}:
                    self._settled.add(key)
                if result.status is RunStatus.DONE:
                    log.info("job %s, period %s: %s", job.name, occurrence.period, result.detail)
                happened.append((job.name, occurrence.period, result.status))
        return happened

    async def _loop(self, job: Job) -> None:
        delay = job.every_seconds if job.first_after_seconds is None else job.first_after_seconds
        while True:
            await asyncio.sleep(delay)
            delay = job.every_seconds
            try:
                await run_exclusively(self.sessions, job)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed run is logged; the next one comes anyway
                log.exception("scheduled job %s failed", job.name)

    async def stop(self, within: float = STOP_WITHIN_SECONDS) -> list[str]:
        """Cancel every job's task and wait up to ``within`` seconds for them to end; returns the
        names of those that did not (a run that swallowed its cancellation), each logged with
        where it is stuck, so a shutdown never waits forever on one job."""
        for task in self._tasks:
            task.cancel()
        stuck: list[str] = []
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=within)
            for task in pending:
                where = io.StringIO()
                task.print_stack(file=where)
                log.error(
                    "%s did not stop within %.0f s; left behind:\n%s",
                    task.get_name(),
                    within,
                    where.getvalue(),
                )
                stuck.append(task.get_name())
        self._tasks.clear()
        return stuck
