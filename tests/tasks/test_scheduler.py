"""Scheduled jobs run in one instance at a time: a PostgreSQL advisory lock, held for the run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.slack import deliveries
from nephthys.tasks.scheduler import Job, Scheduler, run_exclusively
from tests.support.postgres import execute, fetch


@pytest.fixture
async def two_instances(db_url):
    """Two session factories on separate engines, as two service instances would have."""
    engines = [create_engine(db_url), create_engine(db_url)]
    yield [session_factory(engine) for engine in engines]
    for engine in engines:
        await engine.dispose()


async def test_a_job_running_in_one_instance_is_skipped_in_another(two_instances):
    first, second = two_instances
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def slow_run() -> None:
        runs.append("first")
        started.set()
        await release.wait()

    async def quick_run() -> None:
        runs.append("second")

    running = asyncio.create_task(run_exclusively(first, Job("repair", 60, slow_run)))
    await started.wait()
    assert await run_exclusively(second, Job("repair", 60, quick_run)) is False
    # A different job is not blocked by it.
    assert await run_exclusively(second, Job("prune", 60, quick_run)) is True
    release.set()
    assert await running is True
    # Once the first run is over, the lock is free again.
    assert await run_exclusively(second, Job("repair", 60, quick_run)) is True
    assert runs == ["first", "second", "second"]


async def test_a_failing_run_releases_the_lock(two_instances):
    first, second = two_instances

    async def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await run_exclusively(first, Job("repair", 60, broken))
    ran = []

    async def fine() -> None:
        ran.append(True)

    assert await run_exclusively(second, Job("repair", 60, fine)) is True
    assert ran == [True]


async def test_the_scheduler_runs_jobs_and_survives_failures(two_instances):
    sessions = two_instances[0]
    done = asyncio.Event()
    calls = []

    async def flaky() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("first run fails")
        done.set()

    scheduler = Scheduler(sessions, [Job("flaky", 0.01, flaky, first_after_seconds=0)])
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await scheduler.stop()
    assert len(calls) >= 2


async def test_old_deliveries_are_pruned_and_recent_ones_kept(two_instances, db_url):
    sessions = two_instances[0]
    assert await deliveries.claim_event(sessions, "Ev0OLD00001")
    assert await deliveries.claim_event(sessions, "Ev0NEW00001")
    await execute(
        db_url,
        """UPDATE "SlackEvent" SET "receivedAt" = now() - interval '3 days' WHERE "eventId" = 'Ev0OLD00001'""",
    )
    removed = await deliveries.prune_events(sessions, older_than=datetime.now(UTC) - timedelta(days=2))
    assert removed == 1
    assert [row["eventId"] for row in await fetch(db_url, 'SELECT "eventId" FROM "SlackEvent"')] == [
        "Ev0NEW00001"
    ]


async def test_an_unfinished_claim_can_be_taken_over_after_its_lease(two_instances, db_url):
    sessions = two_instances[0]
    assert await deliveries.claim_event(sessions, "Ev0LEASE001")
    assert not await deliveries.claim_event(sessions, "Ev0LEASE001")
    await execute(db_url, """UPDATE "SlackEvent" SET "receivedAt" = now() - interval '2 minutes'""")
    assert await deliveries.claim_event(sessions, "Ev0LEASE001")  # the worker died mid-way
    await deliveries.finish_event(sessions, "Ev0LEASE001")
    await execute(db_url, """UPDATE "SlackEvent" SET "receivedAt" = now() - interval '2 minutes'""")
    assert not await deliveries.claim_event(sessions, "Ev0LEASE001")  # finished work is never redone


async def test_a_job_that_swallows_its_cancellation_does_not_hold_the_stop_forever(two_instances, caplog):
    sessions = two_instances[0]
    running, release = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        running.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await release.wait()  # a run that ignores the stop it was asked to do

    scheduler = Scheduler(sessions, [Job("stubborn", 3600, stubborn, first_after_seconds=0)])
    scheduler.start()
    await asyncio.wait_for(running.wait(), 10)
    assert await scheduler.stop(within=0.2) == ["job stubborn"]
    assert "job stubborn did not stop within" in caplog.text and "stubborn" in caplog.text
    release.set()


async def test_a_run_cancelled_while_holding_its_lock_leaves_no_pooled_connection_holding_it(two_instances):
    first, second = two_instances
    started = asyncio.Event()

    async def long_run() -> None:
        started.set()
        await asyncio.sleep(3600)

    running = asyncio.create_task(run_exclusively(first, Job("repair", 60, long_run)))
    await started.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    ran: list[str] = []

    async def quick() -> None:
        ran.append("ran")

    # Neither the other instance nor this one (on whatever pooled connection it gets) is locked out.
    assert await run_exclusively(second, Job("repair", 60, quick)) is True
    assert await run_exclusively(first, Job("repair", 60, quick)) is True
    assert ran == ["ran", "ran"]
