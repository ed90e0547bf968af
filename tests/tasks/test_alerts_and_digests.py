"""Unanswered alerts (support hours, once per opening, two instances) and tag digests, over the fake Slack."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime

from nephthys.database.engine import create_engine, session_factory
from nephthys.support_calendar import parse_support_hours
from nephthys.tasks.cli import set_tag_digest
from nephthys.tasks.digests import TagDigestsJob
from nephthys.tasks.runner import RunStatus
from nephthys.tasks.scheduler import Scheduler
from nephthys.tasks.unanswered import UnansweredAlerts
from tests.slack.conftest import ASKER, BTS_CHANNEL, HELP_CHANNEL, HELPER, HELPER_2
from tests.support import postgres
from tests.tasks.data import add_ticket, user_id


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def tag(db_url: str, name: str, *, subscribers: list[str], tickets: list[dict]) -> None:
    [row] = await postgres.fetch(db_url, 'INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', name)
    for slack_id in subscribers:
        await postgres.execute(
            db_url,
            'INSERT INTO user_tag_subscriptions ("userId", "tagId") VALUES ($1, $2)',
            await user_id(db_url, slack_id),
            row["id"],
        )
    for ticket in tickets:
        await postgres.execute(
            db_url,
            'INSERT INTO tags_on_tickets ("ticketId", "tagId") VALUES ($1, $2)',
            ticket["id"],
            row["id"],
        )


def link(ticket: dict) -> str:
    return f"https://fake-workspace.slack.com/archives/{HELP_CHANNEL}/p{ticket['msgTs'].replace('.', '')}"


async def test_unanswered_alerts_count_support_hours_and_fire_once_per_opening(desk, team, db_url):
    hours = parse_support_hours("Mon-Fri 09:00-18:00")
    async with desk(timezone="Europe/London", unanswered_alert_minutes=30, support_hours=hours) as d:
        await d.service.scheduler.stop()  # this test drives the clock itself
        # London is on GMT in November: local time is UTC.
        friday = await add_ticket(
            db_url, asker=ASKER, created=at("2026-11-20T17:50"), title="<!here> refund?"
        )
        monday = await add_ticket(db_url, asker=ASKER, created=at("2026-11-23T09:10"))
        await add_ticket(
            db_url, asker=ASKER, created=at("2026-11-23T08:00"), status="IN_PROGRESS",
            assigned_to=HELPER, assigned_at=at("2026-11-23T09:01"), last_msg_by="HELPER",
        )  # fmt: skip
        await tag(db_url, "billing", subscribers=[HELPER_2], tickets=[friday])

        def alerts_at(instant: str) -> UnansweredAlerts:
            return UnansweredAlerts(d.service.ctx, clock=lambda: at(instant))

        # Monday 09:15: Friday's question has waited 10 + 15 support minutes, though 2.6 days on the clock.
        assert await alerts_at("2026-11-23T09:15").run() == "posted 0 alerts"
        # 09:25: 35 support minutes. Monday's (15 minutes) waits.
        assert await alerts_at("2026-11-23T09:25").run() == "posted 1 alerts"
        [alert] = d.posts(BTS_CHANNEL)
        assert link(friday) in alert.args["text"] and f"<@{HELPER_2}>" in alert.args["text"]
        assert f"<@{ASKER}>" in alert.args["text"] and "<!here>" not in alert.args["text"]
        # 09:45: Monday's question is due; Friday's is not alerted again.
        assert await alerts_at("2026-11-23T09:45").run() == "posted 1 alerts"
        assert link(monday) in d.posts(BTS_CHANNEL)[1].args["text"]
        assert await alerts_at("2026-11-23T10:00").run() == "posted 0 alerts"

        # Reopened at 10:00 with nobody answering: a new opening, which may alert again.
        await postgres.execute(
            db_url,
            """UPDATE "Ticket" SET "reopenedAt" = $2 WHERE id = $1""",
            friday["id"],
            at("2026-11-23T10:00"),
        )
        assert await alerts_at("2026-11-23T10:31").run() == "posted 1 alerts"
        assert link(friday) in d.posts(BTS_CHANNEL)[2].args["text"]

        # The dry run shows what it would post, and posts nothing.
        await postgres.execute(
            db_url,
            """UPDATE "Ticket" SET "reopenedAt" = $2 WHERE id = $1""",
            monday["id"],
            at("2026-11-23T11:00"),
        )
        printed = await alerts_at("2026-11-23T11:40").run(dry_run=True)
        assert link(monday) in printed and len(d.posts(BTS_CHANNEL)) == 3


async def test_unanswered_alerts_skip_support_holidays(desk, team, db_url):
    hours = parse_support_hours("Mon-Fri 09:00-18:00")
    holiday_monday = frozenset({date(2026, 12, 28)})
    settings = dict(timezone="Europe/London", unanswered_alert_minutes=30, support_hours=hours)
    async with desk(**settings, support_holidays=holiday_monday) as d:
        await d.service.scheduler.stop()
        # Asked on Friday 25 December at 17:50 GMT (a Friday, not listed as a holiday): 10 minutes then.
        await add_ticket(db_url, asker=ASKER, created=at("2026-12-25T17:50"))

        def alerts_at(instant: str) -> UnansweredAlerts:
            return UnansweredAlerts(d.service.ctx, clock=lambda: at(instant))

        # Monday 28th is a holiday: its whole day does not count.
        assert await alerts_at("2026-12-28T17:00").run() == "posted 0 alerts"
        assert await alerts_at("2026-12-29T09:15").run() == "posted 0 alerts"
        # Tuesday 09:20: 10 + 20 support minutes.
        assert await alerts_at("2026-12-29T09:20").run() == "posted 1 alerts"


async def test_two_instances_alert_a_ticket_once(desk, team, db_url):
    async with desk(unanswered_alert_minutes=30) as d:
        await d.service.scheduler.stop()
        waiting = [await add_ticket(db_url, asker=ASKER, created=at("2026-11-23T09:00")) for _ in range(3)]
        other_engine = create_engine(db_url)
        try:
            other_ctx = dataclasses.replace(d.service.ctx, sessions=session_factory(other_engine))
            d.slack.delay("chat.postMessage", 0.1)
            clock = lambda: at("2026-11-23T10:00")  # noqa: E731
            await asyncio.gather(
                UnansweredAlerts(d.service.ctx, clock=clock).run(),
                UnansweredAlerts(other_ctx, clock=clock).run(),
            )
        finally:
            d.slack.delay("chat.postMessage", None)
            await other_engine.dispose()
        texts = [call.args["text"] for call in d.posts(BTS_CHANNEL)]
        assert sorted(next(i for i, t in enumerate(waiting) if link(t) in text) for text in texts) == [
            0,
            1,
            2,
        ]


async def test_tag_digests_dm_each_subscriber_once_at_the_tags_time(desk, team, db_url):
    async with desk(timezone="Europe/London") as d:
        await d.service.scheduler.stop()
        older = await add_ticket(db_url, asker=ASKER, created=at("2026-11-20T10:00"), title="Card declined")
        newer = await add_ticket(db_url, asker=ASKER, created=at("2026-11-24T10:00"), status="IN_PROGRESS",
                                 assigned_to=HELPER, assigned_at=at("2026-11-24T10:30"))  # fmt: skip
        done = await add_ticket(db_url, asker=ASKER, created=at("2026-11-19T10:00"), status="CLOSED",
                                closed_by=HELPER, closed_at=at("2026-11-19T11:00"))  # fmt: skip
        await tag(db_url, "billing", subscribers=[HELPER, HELPER_2], tickets=[newer, older, done])
        await tag(db_url, "quiet", subscribers=[HELPER], tickets=[])

        assert await set_tag_digest(db_url, name="billing", at="14:00", days="mon-fri", off=False) == (
            0, "billing: digest mon-fri at 14:00",
        )  # fmt: skip
        assert (await set_tag_digest(db_url, name="quiet", at="14:00", days="daily", off=False))[0] == 0
        assert (await set_tag_digest(db_url, name="nope", at="14:00", days="daily", off=False))[0] == 1
        assert (await set_tag_digest(db_url, name="billing", at="25:00", days="daily", off=False))[0] == 2
        [row] = await postgres.fetch(db_url, """SELECT * FROM "Tag" WHERE name = 'billing'""")
        assert (row["digestTime"], row["digestDays"]) == ("14:00", "mon-fri")

        ctx = d.service.ctx

        def scheduler_at(instant: str) -> Scheduler:
            job = TagDigestsJob(ctx, clock=lambda: at(instant)).job()
            return Scheduler(ctx.sessions, [], periodic=[job], clock=lambda: at(instant))

        # Wednesday 13:59: not yet. 14:01: one DM per subscriber, oldest ticket first, linked.
        # (Tuesday's 14:00 is long past: skipped, not caught up.)
        assert {status for *_, status in await scheduler_at("2026-11-25T13:59").run_due()} == {
            RunStatus.SKIPPED
        }
        happened = await scheduler_at("2026-11-25T14:01").run_due()
        assert sorted((job, period) for job, period, _ in happened) == [
            ("tag-digests", "2026-11-25/billing"),
            ("tag-digests", "2026-11-25/quiet"),
        ]
        for person in (HELPER, HELPER_2):
            [dm] = [c for c in d.slack.calls_to("chat.postMessage", ok=True) if c.args["channel"] == person]
            assert dm.args["text"].index(link(older)) < dm.args["text"].index(link(newer))
            assert link(done) not in dm.args["text"]

        # "quiet" has no open tickets: no DM about it. A later tick, or another instance: nothing more.
        def dms() -> list:
            return [
                c for c in d.slack.calls_to("chat.postMessage") if c.args["channel"] in {HELPER, HELPER_2}
            ]

        assert len(dms()) == 2
        await scheduler_at("2026-11-25T14:05").run_due()
        assert len(dms()) == 2

        # --off: no digest any more.
        assert (await set_tag_digest(db_url, name="billing", off=True, at=None, days=None))[0] == 0
        assert await scheduler_at("2026-11-26T14:01").run_due() == [
            ("tag-digests", "2026-11-26/quiet", RunStatus.DONE)
        ]
