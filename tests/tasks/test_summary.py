"""The daily summary over the fake Slack: its figures (checked against an independent count on
hand-built data across a daylight-saving change), its links, its chart, one post per period
whatever the number of instances, catching up after a restart, the dry run."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.stats import MessageLinks
from nephthys.stats.summary import DayCounts, daily_summary
from nephthys.support_calendar import SupportCalendar, parse_support_hours
from nephthys.tasks import chart
from nephthys.tasks.runner import RunStatus, run_period
from nephthys.tasks.scheduler import Scheduler
from nephthys.tasks.summary import DailySummaryJob, summary_blocks
from nephthys.tickets import lifecycle
from tests.slack.conftest import ASKER, BTS_CHANNEL, HEARTBEAT_CHANNEL, HELP_CHANNEL, HELPER, HELPER_2
from tests.support import postgres
from tests.support.response_times import expected_response_times
from tests.tasks.data import add_ticket, user_id

LONDON = ZoneInfo("Europe/London")
# Sunday 25 October 2026: the clocks go back at 02:00 BST, so the local day lasts 25 hours,
# from 2026-10-24T23:00Z to 2026-10-26T00:00Z.
DAY = date(2026, 10, 25)
NOW = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def build_tickets(db_url: str) -> list[dict]:
    """Tickets around the DST change; returns their rows."""
    tickets = [
        # The covered day. 23:30Z on the 24th is 00:30 BST on the 25th: in the day, though not in its UTC date.
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-24T23:30"), status="CLOSED",
                         assigned_to=HELPER, assigned_at=at("2026-10-25T00:00"),
                         closed_by=HELPER, closed_at=at("2026-10-25T01:30")),
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-25T12:00"), status="IN_PROGRESS",
                         assigned_to=HELPER_2, assigned_at=at("2026-10-25T12:45"), last_msg_by="HELPER"),
        # 23:30Z on the 25th is 23:30 GMT: still the 25th locally.
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-25T23:30"), status="OPEN"),
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-25T10:00"), status="CLOSED",
                         assigned_to=HELPER_2, assigned_at=at("2026-10-25T10:10"),
                         closed_by=HELPER_2, closed_at=at("2026-10-25T11:00")),
        # Closed by its asker: counts as closed, not on the helpers' board.
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-25T09:00"), status="CLOSED",
                         closed_by=ASKER, closed_at=at("2026-10-25T09:30")),
        # The day before (23:30 BST on the 24th), closed in the covered day.
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-24T22:30"), status="CLOSED",
                         assigned_to=HELPER, assigned_at=at("2026-10-24T22:50"),
                         closed_by=HELPER, closed_at=at("2026-10-25T00:30")),
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-24T08:00"), status="OPEN",
                         last_msg_at=at("2026-10-24T08:00")),
        # The next local day.
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-26T00:10"), status="OPEN"),
        # Answered by a helper last: not worth a look, however old.
        await add_ticket(db_url, asker=ASKER, created=at("2026-10-01T10:00"), status="OPEN",
                         last_msg_at=at("2026-10-02T10:00"), last_msg_by="HELPER"),
    ]  # fmt: skip
    # Seven open tickets waiting for a helper for more than five days; the first quotes a ping.
    for index in range(7):
        created = at("2026-10-10T10:00") + timedelta(hours=index)
        tickets.append(
            await add_ticket(
                db_url,
                asker=ASKER,
                created=created,
                status="OPEN",
                title="<!channel> my order never came" if index == 0 else None,
                last_msg_at=created + timedelta(days=1),
            )
        )
    return tickets


def independent_figures(tickets: list[dict], day: date, tz: ZoneInfo, closers: dict[int, str]) -> dict:
    """The day's figures counted one ticket at a time in Python, from each instant's local date."""

    def local_date(instant: datetime | None) -> date | None:
        return None if instant is None else instant.astimezone(tz).date()

    new = [t for t in tickets if local_date(t["createdAt"]) == day]
    hangs = [(t["assignedAt"] - t["createdAt"]).total_seconds() / 60 for t in new if t["assignedAt"]]
    resolutions = [(t["closedAt"] - t["createdAt"]).total_seconds() / 60 for t in new if t["closedAt"]]
    closed_in_day = [t for t in tickets if t["status"] == "CLOSED" and local_date(t["closedAt"]) == day]
    board: dict[int, int] = {}
    for t in closed_in_day:
        if t["closedById"] in closers:
            board[t["closedById"]] = board.get(t["closedById"], 0) + 1
    return {
        "new_tickets_total": len(new),
        "new_tickets_now_closed": sum(t["status"] == "CLOSED" for t in new),
        "new_tickets_in_progress": sum(t["status"] == "IN_PROGRESS" for t in new),
        "new_tickets_still_open": sum(t["status"] == "OPEN" for t in new),
        "closed_today": len(closed_in_day),
        "assigned_today_in_progress": sum(
            t["status"] == "IN_PROGRESS" and local_date(t["assignedAt"]) == day for t in tickets
        ),
        "mean_hang_time_minutes_all": sum(hangs) / len(hangs) if hangs else None,
        "mean_resolution_time_minutes": sum(resolutions) / len(resolutions) if resolutions else None,
        "top": [
            (closers[user], count)
            for user, count in sorted(board.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        ],
    }


def independent_series(tickets: list[dict], last_day: date, tz: ZoneInfo) -> list[tuple[date, int, int, int]]:
    series = []
    for back in range(13, -1, -1):
        day = last_day - timedelta(days=back)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        series.append(
            (
                day,
                sum(t["createdAt"].astimezone(tz).date() == day for t in tickets),
                sum(
                    t["closedAt"] is not None and t["closedAt"].astimezone(tz).date() == day for t in tickets
                ),
                sum(
                    t["createdAt"] < end and (t["closedAt"] is None or t["closedAt"] >= end) for t in tickets
                ),
            )
        )
    return series


async def test_the_figures_match_an_independent_count_across_a_dst_change(desk, team, db_url):
    async with desk(timezone="Europe/London") as d:
        tickets = await build_tickets(db_url)
        helpers = {await user_id(db_url, HELPER): HELPER, await user_id(db_url, HELPER_2): HELPER_2}
        async with d.service.ctx.sessions() as session:
            summary = await daily_summary(session, day=DAY, tz=LONDON, now=NOW, waiting_days=5)
            previous = await daily_summary(
                session, day=DAY - timedelta(days=1), tz=LONDON, now=NOW, waiting_days=5
            )

    expected = independent_figures(tickets, DAY, LONDON, helpers)
    assert (
        expected["new_tickets_total"] == 5 and expected["closed_today"] == 4
    )  # the data says what it should
    for key, value in expected.items():
        if key == "top":
            assert [(h["slack_id"], h["count"]) for h in summary.top_helpers] == value
        elif isinstance(value, float):
            assert summary.figures[key] == pytest.approx(value)
        else:
            assert summary.figures[key] == value, key
    # "The day before" is computed the same way.
    expected_previous = independent_figures(tickets, DAY - timedelta(days=1), LONDON, helpers)
    assert summary.previous["new_tickets_total"] == expected_previous["new_tickets_total"] == 2
    assert previous.figures["new_tickets_total"] == summary.previous["new_tickets_total"]
    assert [(s.day, s.new, s.closed, s.open_at_end) for s in summary.series] == independent_series(
        tickets, DAY, LONDON
    )
    # Worth a look: the seven waiting tickets, oldest first, five shown.
    waiting_ids = [t["id"] for t in tickets[-7:]]
    assert [w.id for w in summary.waiting] == waiting_ids[:5]
    assert summary.waiting_total == 7


async def test_the_summary_is_posted_once_with_links_and_its_chart(desk, team, db_url):
    async with desk(timezone="Europe/London", daily_summary=True) as d:
        tickets = await build_tickets(db_url)
        await postgres.execute(db_url, """INSERT INTO "Tag" (name) VALUES ('billing')""")
        await postgres.execute(
            db_url,
            """INSERT INTO tags_on_tickets ("ticketId", "tagId") SELECT $1, id FROM "Tag" WHERE name = 'billing'""",
            tickets[-7]["id"],
        )
        job = DailySummaryJob(d.service.ctx, clock=lambda: NOW)
        result = await run_period(
            d.service.ctx.sessions,
            "daily-summary",
            DAY.isoformat(),
            functools.partial(job.run, DAY.isoformat(), False),
        )
        assert result.status is RunStatus.DONE, result

        [post] = d.posts(BTS_CHANNEL)
        text = "\n".join(
            block["text"]["text"] for block in post.args["blocks"] if block["type"] in {"section", "header"}
        )
        assert "Daily summary for 2026-10-25" in text
        assert "*5* new tickets (+3): 3 now closed, 1 in progress, 1 still open" in text
        assert "*4* tickets closed" in text
        assert f"Top helpers: <@{HELPER}> (2), <@{HELPER_2}> (1)" in text
        # Links to the waiting tickets' threads, oldest first, their tags, Slack's date formatting.
        for ticket in tickets[-7:-2]:
            assert (
                f"https://fake-workspace.slack.com/archives/{HELP_CHANNEL}/p{ticket['msgTs'].replace('.', '')}"
                in text
            )
        assert text.index(tickets[-7]["msgTs"].replace(".", "")) < text.index(
            tickets[-6]["msgTs"].replace(".", "")
        )
        assert "`billing`" in text
        assert f"<!date^{int(tickets[-7]['createdAt'].timestamp())}^{{date_short}}|2026-10-10>" in text
        assert "…and 2 more." in text
        # A quoted title never pings the channel.
        assert "<!channel>" not in text and "my order never came" in text

        # The chart, uploaded into the summary's thread by the external upload flow.
        assert d.slack.calls_to("files.getUploadURLExternal", ok=True)
        [complete] = d.slack.calls_to("files.completeUploadExternal", ok=True)
        assert (
            complete.args["channel_id"] == BTS_CHANNEL and complete.args["thread_ts"] == post.response["ts"]
        )
        [chart] = d.slack.files.values()
        assert chart["shared"] and chart["content"].startswith(b"\x89PNG\r\n\x1a\n")
        assert any(m.get("files") for m in d.slack.messages(BTS_CHANNEL, thread_ts=post.response["ts"]))

        # The same period again: nothing more (and --force would do it again).
        again = await run_period(
            d.service.ctx.sessions,
            "daily-summary",
            DAY.isoformat(),
            functools.partial(job.run, DAY.isoformat(), False),
        )
        assert again.status is RunStatus.ALREADY_DONE
        assert len(d.posts(BTS_CHANNEL)) == 1
        [row] = await postgres.fetch(db_url, """SELECT * FROM "JobRun" WHERE period = '2026-10-25'""")
        assert (row["job"], row["period"], row["outcome"]) == ("daily-summary", "2026-10-25", "done")
        assert row["finishedAt"] >= row["startedAt"]


async def test_two_instances_racing_for_one_period_post_once(desk, team, db_url):
    async with desk(timezone="Europe/London", daily_summary=True) as d:
        await build_tickets(db_url)
        other_engine = create_engine(db_url)
        try:
            first = DailySummaryJob(d.service.ctx, clock=lambda: NOW)
            second = DailySummaryJob(
                dataclasses.replace(d.service.ctx, sessions=session_factory(other_engine)), clock=lambda: NOW
            )
            d.slack.delay("chat.postMessage", 0.3)  # the first is still posting when the second arrives
            results = await asyncio.gather(
                *(
                    run_period(
                        job.ctx.sessions,
                        "daily-summary",
                        "2026-10-25",
                        functools.partial(job.run, "2026-10-25", False),
                    )
                    for job in (first, second)
                )
            )
        finally:
            d.slack.delay("chat.postMessage", None)
            await other_engine.dispose()
        assert sorted(r.status for r in results) == sorted([RunStatus.DONE, RunStatus.BUSY]) or sorted(
            r.status for r in results
        ) == sorted([RunStatus.DONE, RunStatus.ALREADY_DONE])
        assert len(d.posts(BTS_CHANNEL)) == 1


async def test_a_missed_run_is_caught_up_after_a_restart_and_an_old_one_skipped(desk, team, db_url):
    async with desk(timezone="Europe/London", daily_summary=True) as d:
        await build_tickets(db_url)
        ctx = d.service.ctx

        def scheduler_at(instant: datetime) -> Scheduler:
            """A freshly started instance whose clock reads ``instant``."""
            job = DailySummaryJob(ctx, clock=lambda: instant).job()
            return Scheduler(ctx.sessions, [], periodic=[job], catch_up=timedelta(hours=6),
                             notify=ctx.heartbeat.post if ctx.heartbeat else None, clock=lambda: instant)  # fmt: skip

        # Down at 00:00 London (the 26th is GMT: 00:00Z), back at 02:30Z: 2.5 h late, caught up.
        assert await scheduler_at(at("2026-10-26T02:30")).run_due() == [
            ("daily-summary", "2026-10-25", RunStatus.DONE)
        ]
        assert len(d.posts(BTS_CHANNEL)) == 1
        # Another restart the same day finds it done.
        assert await scheduler_at(at("2026-10-26T03:00")).run_due() == [
            ("daily-summary", "2026-10-25", RunStatus.ALREADY_DONE)
        ]
        assert len(d.posts(BTS_CHANNEL)) == 1

        # The next day's run is missed for 7 hours: skipped, said once in the heartbeat channel.
        for _ in range(2):
            assert await scheduler_at(at("2026-10-27T07:00")).run_due() == [
                ("daily-summary", "2026-10-26", RunStatus.SKIPPED)
            ]
        assert len(d.posts(BTS_CHANNEL)) == 1
        # (The live service, started today, skipped its own yesterday too: a line of its own.)
        skipped = [c for c in d.posts(HEARTBEAT_CHANNEL) if "skipped 2026-10-26" in c.args["text"]]
        assert len(skipped) == 1 and "daily-summary" in skipped[0].args["text"]
        assert "JOB_CATCH_UP_HOURS" in skipped[0].args["text"]
        # `jobs run --date` can still do a skipped day.
        job = DailySummaryJob(ctx, clock=lambda: at("2026-10-27T07:00"))
        done = await run_period(
            ctx.sessions, "daily-summary", "2026-10-26", functools.partial(job.run, "2026-10-26", False)
        )
        assert done.status is RunStatus.DONE and len(d.posts(BTS_CHANNEL)) == 2


async def test_a_run_that_died_halfway_is_taken_again(desk, team, db_url):
    async with desk(timezone="Europe/London", daily_summary=True) as d:
        await build_tickets(db_url)
        # An instance claimed the period and died before recording an outcome.
        await postgres.execute(
            db_url,
            """INSERT INTO "JobRun" (job, period, "startedAt") VALUES ('daily-summary', '2026-10-25', $1)""",
            at("2026-10-26T00:00"),
        )
        job = DailySummaryJob(d.service.ctx, clock=lambda: NOW)
        result = await run_period(
            d.service.ctx.sessions,
            "daily-summary",
            "2026-10-25",
            functools.partial(job.run, "2026-10-25", False),
        )
        assert result.status is RunStatus.DONE
        assert len(d.posts(BTS_CHANNEL)) == 1


async def test_the_dry_run_posts_nothing(desk, team, db_url):
    async with desk(timezone="Europe/London", daily_summary=True) as d:
        await build_tickets(db_url)
        job = DailySummaryJob(d.service.ctx, clock=lambda: NOW)
        printed = await job.run("2026-10-25", True)
        assert "*5* new tickets" in printed and "PNG chart" in printed
        assert d.posts(BTS_CHANNEL) == [] and d.slack.calls_to("files.getUploadURLExternal") == []
        assert await postgres.fetch(db_url, """SELECT * FROM "JobRun" WHERE period = '2026-10-25'""") == []


async def test_a_failed_chart_upload_leaves_the_text_and_says_why_once(desk, team, db_url):
    async with desk(timezone="Europe/London", daily_summary=True) as d:
        await build_tickets(db_url)
        d.slack.fail("files.completeUploadExternal", error="not_in_channel", times=None)
        job = DailySummaryJob(d.service.ctx, clock=lambda: NOW)
        result = await run_period(
            d.service.ctx.sessions,
            "daily-summary",
            "2026-10-25",
            functools.partial(job.run, "2026-10-25", False),
        )
        assert result.status is RunStatus.DONE and "chart not uploaded" in result.detail
        assert len(d.posts(BTS_CHANNEL)) == 1
        [alert] = [c for c in d.posts(HEARTBEAT_CHANNEL) if "chart" in c.args["text"]]
        assert "not_in_channel" in alert.args["text"]


async def test_the_days_median_first_response_is_in_support_minutes(desk, team, db_url):
    hours = parse_support_hours("daily 09:00-17:00")
    calendar = SupportCalendar(LONDON, hours)
    async with desk(timezone="Europe/London", support_hours=hours) as d:
        sessions = d.service.ctx.sessions
        await lifecycle.set_helper(sessions, slack_id=HELPER, helper=True)

        async def answered(number: int, asked: str, answer: str | None) -> None:
            msg_ts = f"{int(at(asked).timestamp())}.{number:06d}"
            await lifecycle.open_ticket(
                sessions, msg_ts=msg_ts, asker_slack_id=ASKER, description="?", title="?", at=at(asked)
            )
            if answer is not None:
                await lifecycle.record_reply(
                    sessions, thread_ts=msg_ts, author_slack_id=HELPER, ts=f"{msg_ts}1", at=at(answer)
                )

        # The covered day, Sunday 2026-10-25 in London (the clocks go back at 02:00 BST):
        await answered(1, "2026-10-24T23:30", "2026-10-25T09:20")  # 00:30 BST: 20 support minutes
        await answered(2, "2026-10-25T08:00", "2026-10-25T09:30")  # before opening: 30
        await answered(3, "2026-10-25T10:00", "2026-10-25T10:05")  # 5
        await answered(4, "2026-10-25T16:30", "2026-10-26T09:10")  # 30 before closing, 10 the next day
        await answered(5, "2026-10-25T12:00", None)  # not answered: no first response yet
        # The day before (12:00 BST): 45; the day after: not counted.
        await answered(6, "2026-10-24T11:00", "2026-10-24T11:45")
        await answered(7, "2026-10-26T10:00", "2026-10-26T10:01")
        async with sessions() as session:
            summary = await daily_summary(session, day=DAY, tz=LONDON, now=NOW, waiting_days=5)
        day_start, day_end = at("2026-10-24T23:00"), at("2026-10-26T00:00")
        expected = await expected_response_times(db_url, calendar, since=day_start, until=day_end)
        assert summary.first_response_p50 == pytest.approx(expected["first_response"]["p50"]) == 25.0
        assert summary.previous_first_response_p50 == pytest.approx(45.0)
        text, _ = summary_blocks(
            summary,
            d.service.ctx.transcript,
            MessageLinks("https://x.slack.com", HELP_CHANNEL),
            waiting_days=5,
        )
        assert "Median first response of the new tickets, in support hours: *25m* (−20m)" in text


async def test_the_chart_is_drawn_by_a_child_process_and_its_failure_is_an_error(monkeypatch):
    series = [DayCounts(date(2026, 3, day), new=day, closed=day - 1, open_at_end=2) for day in range(1, 15)]
    labels = {"title": "Last 14 days", "new": "new", "closed": "closed", "open_at_end": "open"}
    png = await chart.draw_chart_apart(series, **labels)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # A child that ends badly (here: not Python at all) draws nothing: an error, not an empty chart.
    monkeypatch.setattr(chart.sys, "executable", "false")
    with pytest.raises(chart.ChartError):
        await chart.draw_chart_apart(series, **labels)
