"""The running service schedules the jobs by itself: a summary due minutes ago is posted at start-up,
stale tickets are swept at start-up; a failed period is recorded and tried again later, not at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nephthys.tasks.runner import RunStatus, last_run, run_period
from tests.slack.conftest import ASKER, BTS_CHANNEL, HELP_CHANNEL, HELPER, eventually
from tests.support import postgres
from tests.tasks.data import add_events, add_ticket

# The service's clock in these tests: Saturday 28 November 2026, 00:30 in London (GMT), whatever
# the hour the suite runs at: the jobs work for this instant, never the machine's.
NOW = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)


async def test_the_service_posts_a_summary_due_minutes_ago_at_start_up(desk, team, db_url):
    due = NOW - timedelta(minutes=2)
    async with desk(
        run_jobs=True,
        clock=lambda: NOW,
        timezone="Europe/London",
        daily_summary=True,
        daily_summary_time=due.time(),
    ) as d:
        await eventually(lambda: _posted(d))
        covered = (due.date() - timedelta(days=1)).isoformat()
        [row] = await postgres.fetch(db_url, """SELECT * FROM "JobRun" WHERE job = 'daily-summary'""")
        assert (row["period"], row["outcome"]) == (covered, "done")
        assert f"Daily summary for {covered}" in d.posts(BTS_CHANNEL)[0].args["blocks"][0]["text"]["text"]


async def _posted(d) -> bool:
    """Posted with its chart, and the run recorded (which follows the upload)."""
    if len(d.posts(BTS_CHANNEL)) != 1 or not d.slack.calls_to("files.completeUploadExternal", ok=True):
        return False
    rows = await postgres.fetch(d.db_url, """SELECT outcome FROM "JobRun" WHERE job = 'daily-summary'""")
    return [row["outcome"] for row in rows] == ["done"]


async def test_the_service_sweeps_stale_tickets_at_start_up(desk, team, db_url):
    long_ago = NOW - timedelta(days=10)
    question = team.add_message(
        HELP_CHANNEL, user=ASKER, text="hello?", ts=f"{int(long_ago.timestamp())}.000100"
    )
    ticket = await add_ticket(db_url, asker=ASKER, created=long_ago, msg_ts=question["ts"])
    # A helper answered it (its timeline says so): it waits on the asker, whom nobody heard since.
    await add_events(
        db_url,
        ticket["id"],
        ("OPENED", long_ago, ASKER),
        ("HELPER_MESSAGE", long_ago + timedelta(minutes=5), HELPER),
    )
    async with desk(run_jobs=True, clock=lambda: NOW, stale_ticket_days=7) as d:

        async def closed() -> bool:
            return (await d.ticket(question["ts"]))["status"] == "CLOSED"

        await eventually(closed)
        assert d.slack.calls_to("conversations.replies", ok=True)


async def test_a_failed_period_is_recorded_and_not_retried_at_once(desk, team, db_url):
    async with desk() as d:
        sessions = d.service.ctx.sessions
        # The runner records its runs on the database's clock: the retry pace is measured from it.
        now = datetime.now(UTC)

        async def broken() -> str:
            raise RuntimeError("Slack said no")

        async def fine() -> str:
            return "worked"

        failed = await run_period(
            sessions, "test-job", "p1", broken, retry_failed_after=timedelta(minutes=15), now=now
        )
        assert failed.status is RunStatus.FAILED and "Slack said no" in failed.detail
        recorded = await last_run(sessions, "test-job")
        assert recorded is not None and recorded.outcome == "failed" and recorded.finished_at is not None
        # The scheduler's pace: not again within 15 minutes; after that, or by hand, yes.
        soon = await run_period(
            sessions, "test-job", "p1", fine, retry_failed_after=timedelta(minutes=15), now=now
        )
        assert soon.status is RunStatus.FAILED
        later = now + timedelta(minutes=16)
        assert (
            await run_period(
                sessions, "test-job", "p1", fine, retry_failed_after=timedelta(minutes=15), now=later
            )
        ).status is RunStatus.DONE
        assert (await last_run(sessions, "test-job")).outcome == "done"  # type: ignore[union-attr]
