"""Stale tickets over the fake Slack: quiet threads waiting on their asker closed kindly, a question
waiting on the helpers never closed however quiet, a thread Slack shows active left open, a vanished
thread closed without a post, pacing through 429s, a bound per run, idempotence."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

from nephthys.tasks.runner import RunStatus, run_period
from nephthys.tasks.stale import StaleTicketsJob
from tests.slack.conftest import ASKER, HEARTBEAT_CHANNEL, HELP_CHANNEL, HELPER, STRANGER, TICKET_CHANNEL

STALE_NOTE = "This question was closed because nobody wrote in it for a while."


def in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


async def run_once(job: StaleTicketsJob, period: str = "hour-1"):
    return await run_period(
        job.ctx.sessions, "stale-tickets", period, functools.partial(job.run, period, False)
    )


async def test_quiet_tickets_close_and_active_or_vanished_threads_are_handled(desk, team):
    async with desk(stale_ticket_days=3) as d:
        quiet, quiet_ticket = await d.ask("Where is my sticker?")
        await d.reply(quiet, HELPER, "?hii")  # a helper's macro answers it: waits on the asker, unassigned
        taken, taken_ticket = await d.ask("How do I deploy?")
        await d.reply(taken, HELPER, "Let me look")  # assigned to HELPER
        active, active_ticket = await d.ask("Is the shop open?")
        await d.reply(active, HELPER, "It should be")
        vanished, vanished_ticket = await d.ask("Question deleted while we were away")
        await d.reply(vanished, HELPER, "Which one?")
        # Nobody answered this one: it waits on the helpers, and no job closes it.
        unanswered, _ = await d.ask("Does anyone read this channel?")
        followed_up, _ = await d.ask("Still broken?")
        await d.reply(followed_up, HELPER, "Try again?")
        await d.reply(followed_up, ASKER, "Same error")  # the asker spoke last: waits on the helpers
        # A reply the service never heard of, two days from now; a question deleted unseen.
        late_ts = f"{int(time.time()) + 2 * 86400}.000100"
        d.slack.add_message(
            HELP_CHANNEL, user=STRANGER, text="still broken", ts=late_ts, thread_ts=active["ts"]
        )
        d.slack.remove_message(HELP_CHANNEL, vanished["ts"])

        job = StaleTicketsJob(d.service.ctx, clock=lambda: in_days(3.5), interval_seconds=0)
        result = await run_once(job)
        assert result.status is RunStatus.DONE, result
        await d.settle()

        closed = {
            row["msgTs"]: row for row in await d.fetch("SELECT * FROM \"Ticket\" WHERE status = 'CLOSED'")
        }
        assert set(closed) == {quiet["ts"], taken["ts"], vanished["ts"]}
        # Credited to the assignee, or to nobody.
        assert await d.slack_id(closed[taken["ts"]]["closedById"]) == HELPER
        assert closed[quiet["ts"]]["closedById"] is None
        # Confirmed with conversations.replies, one call per candidate: tickets waiting on the helpers
        # are none.
        assert len(d.slack.calls_to("conversations.replies")) == 4
        for waits_on_helpers in (unanswered, followed_up):
            row = await d.ticket(waits_on_helpers["ts"])
            assert (row["status"], row["waitingOn"]) in {("OPEN", "HELPERS"), ("IN_PROGRESS", "HELPERS")}
        # The active one stays open (in progress: a helper answered it), its unseen activity noted.
        still_open = await d.ticket(active["ts"])
        assert still_open["status"] == "IN_PROGRESS"
        assert still_open["lastMsgAt"] >= datetime.fromtimestamp(int(late_ts.split(".")[0]), UTC)

        for asked, ticket in ((quiet, quiet_ticket), (taken, taken_ticket)):
            notes = [
                m for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"]) if STALE_NOTE in m["text"]
            ]
            assert len(notes) == 1
            assert "white_check_mark" in d.slack.reactions(HELP_CHANNEL, asked["ts"])
            assert "thinking_face" not in d.slack.reactions(HELP_CHANNEL, asked["ts"])
            assert d.slack.was_deleted(TICKET_CHANNEL, ticket["ticketTs"])
        # The vanished thread: closed, nothing posted into it.
        assert not [
            m for m in d.slack.messages(HELP_CHANNEL, thread_ts=vanished["ts"]) if STALE_NOTE in m["text"]
        ]
        assert d.slack.was_deleted(TICKET_CHANNEL, vanished_ticket["ticketTs"])
        [line] = [c for c in d.posts(HEARTBEAT_CHANNEL) if "stale" in c.args["text"]]
        assert "Closed 3 stale tickets" in line.args["text"] and "3 days" in line.args["text"]

        # Running it again (the next hour, or the same hour forced) closes and posts nothing more.
        posted = len(d.slack.calls_to("chat.postMessage"))
        assert (await run_once(job, "hour-2")).status is RunStatus.DONE
        await d.settle()
        assert len(d.slack.calls_to("chat.postMessage")) == posted
        assert len(await d.fetch("SELECT * FROM \"Ticket\" WHERE status = 'CLOSED'")) == 3


async def test_the_dry_run_closes_nothing(desk, team):
    async with desk(stale_ticket_days=3) as d:
        asked, ticket = await d.ask("Anyone?")
        await d.reply(asked, HELPER, "Here is how")
        unanswered, unanswered_ticket = await d.ask("Hello?")
        job = StaleTicketsJob(d.service.ctx, clock=lambda: in_days(4), interval_seconds=0)
        printed = await job.run("hour-1", True)
        assert f"#{ticket['id']}" in printed and "would close 1" in printed
        assert f"#{unanswered_ticket['id']} " not in printed
        assert (await d.ticket(asked["ts"]))["status"] == "IN_PROGRESS"
        assert not [
            m for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"]) if STALE_NOTE in m["text"]
        ]


async def test_rate_limits_are_waited_out_and_a_run_stops_at_its_bound(desk, team):
    async with desk(stale_ticket_days=3) as d:
        asked = [(await d.ask(f"Question {n}"))[0] for n in range(3)]
        for question in asked:
            await d.reply(question, HELPER, "Answered")
        d.slack.fail("conversations.replies", error="ratelimited", retry_after=0, times=2)
        job = StaleTicketsJob(d.service.ctx, clock=lambda: in_days(4), interval_seconds=0, per_run=2)

        first = await run_once(job, "hour-1")
        assert first.status is RunStatus.DONE and "more wait for the next hour" in first.detail
        await d.settle()
        limited = d.slack.calls_to("conversations.replies", ok=False)
        assert [c.status for c in limited] == [429, 429]
        # slack_sdk's rate-limit handler retried: both candidates were confirmed and closed.
        assert len(d.slack.calls_to("conversations.replies", ok=True)) == 2
        closed = await d.fetch('SELECT "msgTs" FROM "Ticket" WHERE status = \'CLOSED\'')
        assert {row["msgTs"] for row in closed} == {asked[0]["ts"], asked[1]["ts"]}

        # The rest waits for the next hour.
        await run_once(job, "hour-2")
        await d.settle()
        assert len(await d.fetch("SELECT 1 FROM \"Ticket\" WHERE status = 'CLOSED'")) == 3
