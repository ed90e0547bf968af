"""Periodic jobs, safe when several instances run: each run holds a PostgreSQL advisory lock.

A job that finds its lock taken skips that run (another instance is doing it).
Session-level ``pg_try_advisory_lock`` on one pooled connection, released after the
run (and by PostgreSQL itself if the instance dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

# The first key of every Nephthys advisory lock ("Ne"), so they never meet another app's.
LOCK_NAMESPACE = 0x4E65


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]
    first_after_seconds: float | None = None  # default: one interval after start

    @property
    def lock_key(self) -> int:
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF


async def run_exclusively(sessions: async_sessionmaker[AsyncSession], job: Job) -> bool:
    """Run ``job`` once if no other instance is running it; False when it was skipped."""
    async with sessions() as session:
        locked = await session.scalar(
            text("SELECT pg_try_advisory_lock(:namespace, :key)"),
            {"namespace": LOCK_NAMESPACE, "key": job.lock_key},
        )
        if not locked:
            return False
        try:
            await job.run()
        finally:
            await session.execute(
                text("SELECT pg_advisory_unlock(:namespace, :key)"),
                {"namespace": LOCK_NAMESPACE, "key": job.lock_key},
            )
            await session.commit()
    return True


class Scheduler:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], jobs: list[Job]) -> None:
        self.sessions = sessions
        self.jobs = jobs
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        for job in self.jobs:
            self._tasks.append(
                asyncio.get_running_loop().create_task(self._loop(job), name=f"job {job.name}")
            )

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

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
