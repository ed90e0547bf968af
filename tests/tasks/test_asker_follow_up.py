"""The asker follow-up over signed Slack requests and the fake Slack, with the job's clock injected:
a nudge after ASKER_NUDGE_HOURS (never before), answered Yes (closed, credit, closing message),
answered "I still need help" (back to the helpers, the assignee told, never closed), or not
answered (closed ASKER_CLOSE_DAYS later, Re-open kept); tickets waiting on the helpers never
nudged nor closed; racing runs nudge once; only the asker may answer. `nephthys jobs run
asker-follow-up` is tested in tests/tasks/test_jobs_command.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from nephthys.slack import messages
from nephthys.tasks.asker_follow_up import AskerFollowUp
from nephthys.tickets import lifecycle
from nephthys.tickets.lifecycle import Outcome, closure_key
from tests.slack.conftest import ASKER, HEARTBEAT_CHANNEL, HELP_CHANNEL, HELPER, STRANGER, TICKET_CHANNEL
from tests.support.slack import block_actions, button

NUDGE = "Did this answer your question?"
NO_ANSWER = "We didn't hear back, so this question was closed."


def later(hours: float) -> datetime:
    """An instant ``hours`` after now (the job's clock; Slack's ts follow the real clock)."""
    return datetime.now(UTC) + timedelta(hours=hours)


def slack_ts(at: datetime) -> str:
    return f"{at.timestamp():.6f}"


def job(d, at: datetime) -> AskerFollowUp:
    return AskerFollowUp(d.service.ctx, clock=lambda: at, interval_seconds=0)


async def run(d, at: datetime) -> str:
    done = await job(d, at).run()
    await d.settle()
    return done


async def answered(d, text: str = "How do I deploy?") -> tuple[dict, dict]:
    """A question a helper answered: it waits on the asker (and is assigned to HELPER)."""
    asked, _ = await d.ask(text)
    await d.reply(asked, HELPER, "Run ./deploy and tell me")
    row = await d.ticket(asked["ts"])
    assert (row["waitingOn"], row["status"]) == ("ASKER", "IN_PROGRESS")
    return asked, row


def nudges(d, asked: dict) -> list[dict]:
    return [m for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"]) if NUDGE in m.get("text", "")]


def buttons_of(message: dict) -> dict[str, str]:
    return {
        element["action_id"]: element.get("value")
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    }


async def click(d, user: str, message: dict, action_id: str, *, at: datetime) -> None:
    """``user`` clicks a button of ``message`` (as Slack holds it now), Slack saying it happened ``at``."""
    action = button(action_id, value=buttons_of(message)[action_id])
    action["action_ts"] = slack_ts(at)
    response = await d.deliver.action(block_actions(user, action, channel=HELP_CHANNEL, message=message))
    assert response.status_code == 200, response.text
    await d.settle()


async def events_of(d, ticket_id: int, kind: str) -> list:
    return await d.fetch(
        """SELECT e.*, u."slackId" AS actor FROM "TicketEvent" e LEFT JOIN "User" u ON u.id = e."actorId"
           WHERE e."ticketId" = $1 AND e.kind = CAST($2 AS "TicketEventKind") ORDER BY e.at, e.id""",
        ticket_id,
        kind,
    )


def ephemerals_to(d, user: str) -> list[str]:
    return [e["text"] for e in d.slack.ephemerals if e["user"] == user]


def near(stored: datetime, instant: datetime) -> bool:
    """The database keeps milliseconds."""
    return abs(stored - instant) < timedelta(milliseconds=1)


async def test_a_nudge_answered_yes_closes_it_as_the_asker_would(desk, team):
    async with desk() as d:
        asked, ticket = await answered(d)
        # Not before ASKER_NUDGE_HOURS (48 by default).
        assert (await run(d, later(47))).startswith("nudged 0")
        assert nudges(d, asked) == [] and await events_of(d, ticket["id"], "NUDGED") == []

        nudged_at = later(49)
        assert (await run(d, nudged_at)).startswith("nudged 1")
        [nudge] = nudges(d, asked)
        assert f"<@{ASKER}>" in nudge["text"]
        wait = closure_key(ticket["waitingSince"])
        value = f"{ticket['id']}:{wait}"
        assert buttons_of(nudge) == {
            messages.FOLLOW_UP_YES_ACTION: value,
            messages.FOLLOW_UP_HELP_ACTION: value,
        }
        labels = [e["text"]["text"] for b in nudge["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert labels == ["Yes, close it", "I still need help"]
        [logged] = await events_of(d, ticket["id"], "NUDGED")
        assert near(logged["at"], nudged_at) and logged["actor"] is None and logged["msgTs"] == nudge["ts"]
        assert (await d.ticket(asked["ts"]))["nudgedAt"] == logged["at"]  # the wait's nudge, on the ticket

        # Only the asker answers it: a stranger and a helper are told so, privately; nothing changes.
        for someone in (STRANGER, HELPER):
            await click(d, someone, nudge, messages.FOLLOW_UP_YES_ACTION, at=later(49.5))
            assert ephemerals_to(d, someone) == [
                f"Sorry <@{someone}>, only the person who asked can answer this."
            ]
        assert (await d.ticket(asked["ts"]))["status"] == "IN_PROGRESS"
        assert buttons_of(d.slack.message(HELP_CHANNEL, nudge["ts"])) != {}

        clicked_at = later(50)
        await click(d, ASKER, nudge, messages.FOLLOW_UP_YES_ACTION, at=clicked_at)
        row = await d.ticket(asked["ts"])
        # The asker closed it: the credit rule gives it to the assignee; dated at the click.
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        assert near(row["closedAt"], clicked_at) and row["waitingOn"] is None
        [closed] = await events_of(d, ticket["id"], "CLOSED")
        assert closed["actor"] == ASKER and near(closed["at"], clicked_at)
        # The closing message follows exactly as when the asker presses Resolve.
        [closing] = [
            m
            for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"])
            if "resolved by" in m.get("text", "")
        ]
        assert f"<@{ASKER}>" in closing["text"]
        closure = f"{ticket['id']}:{closure_key(row['closedAt'])}"
        assert buttons_of(closing) == {messages.REOPEN_ACTION: closure, messages.FEEDBACK_ACTION: closure}
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
        assert d.slack.was_deleted(TICKET_CHANNEL, ticket["ticketTs"])
        # The nudge keeps its question and loses its buttons.
        answered_nudge = d.slack.message(HELP_CHANNEL, nudge["ts"])
        assert buttons_of(answered_nudge) == {} and answered_nudge["text"] == nudge["text"]
        assert ephemerals_to(d, ASKER) == []

        # A second click (Slack resent it, or a double click) and later runs change nothing.
        posted = len(d.slack.calls_to("chat.postMessage"))
        await click(d, ASKER, nudge, messages.FOLLOW_UP_YES_ACTION, at=later(50.1))
        await run(d, later(49 + 24 * 6))
        assert len(d.slack.calls_to("chat.postMessage")) == posted
        assert len(await events_of(d, ticket["id"], "CLOSED")) == 1


async def test_i_still_need_help_hands_it_back_to_the_helpers_and_tells_the_assignee(desk, team):
    async with desk() as d:
        asked, ticket = await answered(d)
        await run(d, later(49))
        [nudge] = nudges(d, asked)

        await click(d, STRANGER, nudge, messages.FOLLOW_UP_HELP_ACTION, at=later(49.5))
        assert ephemerals_to(d, STRANGER) == [
            f"Sorry <@{STRANGER}>, only the person who asked can answer this."
        ]
        assert (await d.ticket(asked["ts"]))["waitingOn"] == "ASKER"

        clicked_at = later(50)
        await click(d, ASKER, nudge, messages.FOLLOW_UP_HELP_ACTION, at=clicked_at)
        row = await d.ticket(asked["ts"])
        assert (row["status"], row["waitingOn"]) == ("IN_PROGRESS", "HELPERS")
        assert near(row["waitingSince"], clicked_at) and row["lastMsgBy"] == "AUTHOR"
        assert row["nudgedAt"] is None  # the nudged wait is over
        # On the timeline: the asker's message, at the click, without a Slack message.
        spoke = await events_of(d, ticket["id"], "ASKER_MESSAGE")
        assert [(e["actor"], e["msgTs"]) for e in spoke] == [(ASKER, None)] and near(
            spoke[0]["at"], clicked_at
        )
        # The assignee is told in the thread; the nudge loses its buttons.
        [told] = [
            m
            for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"])
            if "still needs help" in m["text"]
        ]
        assert told["text"] == f"<@{HELPER}>, <@{ASKER}> still needs help here."
        assert buttons_of(d.slack.message(HELP_CHANNEL, nudge["ts"])) == {}
        assert ephemerals_to(d, ASKER) == []

        # Pressed again (a double click): nothing more is logged or posted.
        posted = len(d.slack.calls_to("chat.postMessage"))
        await click(d, ASKER, nudge, messages.FOLLOW_UP_HELP_ACTION, at=later(50.2))
        assert len(await events_of(d, ticket["id"], "ASKER_MESSAGE")) == 1
        # Waiting on the helpers, it is neither nudged again nor closed, however long it waits.
        for hours in (49 + 48, 49 + 24 * 6, 49 + 24 * 8):
            await run(d, later(hours))
        assert len(d.slack.calls_to("chat.postMessage")) == posted
        assert (await d.ticket(asked["ts"]))["status"] == "IN_PROGRESS"

        # The helper answers again: a new wait on the asker, which may be nudged again, once.
        answer_at = later(51)
        await d.reply(asked, HELPER, "Try this instead", ts=slack_ts(answer_at))
        row = await d.ticket(asked["ts"])
        assert row["waitingOn"] == "ASKER" and near(row["waitingSince"], answer_at)
        assert "nudged 0" in await run(d, answer_at + timedelta(hours=47))
        assert "nudged 1" in await run(d, answer_at + timedelta(hours=49))
        assert "nudged 0" in await run(d, answer_at + timedelta(hours=50))
        assert len(nudges(d, asked)) == 2 and len(await events_of(d, ticket["id"], "NUDGED")) == 2


async def test_an_unanswered_nudge_closes_the_ticket_after_asker_close_days(desk, team):
    async with desk() as d:
        asked, ticket = await answered(d)
        nudged_at = later(49)
        await run(d, nudged_at)
        [nudge] = nudges(d, asked)

        assert "closed 0" in await run(d, nudged_at + timedelta(days=5, hours=-1))
        assert (await d.ticket(asked["ts"]))["status"] == "IN_PROGRESS"

        closed_at = nudged_at + timedelta(days=5, hours=1)
        assert "closed 1" in await run(d, closed_at)
        row = await d.ticket(asked["ts"])
        # Credited to its assignee, dated by the job's clock, closed by the bot.
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        assert near(row["closedAt"], closed_at)
        [closed] = await events_of(d, ticket["id"], "CLOSED")
        assert closed["actor"] is None and near(closed["at"], closed_at)
        # Confirmed quiet with Slack first.
        assert d.slack.calls_to("conversations.replies", ok=True, ts=asked["ts"])
        # The closing message keeps its Re-open button, bound to this closure.
        [closing] = [
            m for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"]) if NO_ANSWER in m["text"]
        ]
        closure = f"{ticket['id']}:{closure_key(row['closedAt'])}"
        assert buttons_of(closing)[messages.REOPEN_ACTION] == closure
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
        assert d.slack.was_deleted(TICKET_CHANNEL, ticket["ticketTs"])
        assert buttons_of(d.slack.message(HELP_CHANNEL, nudge["ts"])) == {}
        [line] = [c.args["text"] for c in d.posts(HEARTBEAT_CHANNEL) if "follow-up" in c.args["text"]]
        assert "Closed 1 tickets" in line and "5 days" in line

        # Its Re-open works as on any closing message; once reopened it waits on the helpers.
        await click(d, ASKER, closing, messages.REOPEN_ACTION, at=closed_at + timedelta(minutes=5))
        assert (await d.ticket(asked["ts"]))["waitingOn"] == "HELPERS"


async def test_a_message_after_the_nudge_puts_the_close_off(desk, team):
    async with desk() as d:
        asked, ticket = await answered(d)
        nudged_at = later(49)
        await run(d, nudged_at)
        # Someone else writes in the thread after the nudge (it still waits on the asker).
        await d.reply(asked, STRANGER, "same problem here", ts=slack_ts(nudged_at + timedelta(days=1)))
        # Five days after the nudge Slack's thread shows that message (a day after the nudge): not
        # closed, and the thread's last message is noted; the five days count from it.
        assert "closed 0" in await run(d, nudged_at + timedelta(days=5, hours=1))
        assert (await d.ticket(asked["ts"]))["status"] == "IN_PROGRESS"
        assert "closed 1" in await run(d, nudged_at + timedelta(days=6, hours=1))


async def test_tickets_waiting_on_the_helpers_are_never_nudged_nor_closed(desk, team):
    async with desk() as d:
        unanswered, unanswered_ticket = await d.ask("Is anyone there?")
        asker_last, asker_last_ticket = await answered(d, "Why does it fail?")
        await d.reply(asker_last, ASKER, "It still fails")
        for hours in (49, 49 + 24 * 6, 24 * 9):
            assert (await run(d, later(hours))).startswith("nudged 0")
        for asked in (unanswered, asker_last):
            assert nudges(d, asked) == []
            assert (await d.ticket(asked["ts"]))["waitingOn"] == "HELPERS"
        # Nor would the lifecycle close one for any job, however quiet.
        for ticket in (unanswered_ticket, asker_last_ticket):
            change = await lifecycle.close_quiet_ticket(
                d.service.ctx.sessions, ticket_id=ticket["id"], quiet_since=later(24 * 30), at=later(24 * 30)
            )
            assert change.outcome is Outcome.UNCHANGED
        assert await d.fetch("""SELECT 1 FROM "Ticket" WHERE status = 'CLOSED'""") == []


async def test_racing_runs_and_instances_nudge_once(desk, team):
    async with desk() as d:
        asked, ticket = await answered(d)
        other, _ = await answered(d, "Second question")
        at = later(49)
        # Two instances' runs at once (their shared state is the database alone), then reruns.
        await asyncio.gather(job(d, at).run(), job(d, at).run(), job(d, at + timedelta(minutes=1)).run())
        await asyncio.gather(job(d, at).run(), job(d, at + timedelta(minutes=5)).run())
        await d.settle()
        assert len(nudges(d, asked)) == len(nudges(d, other)) == 1
        assert len(await events_of(d, ticket["id"], "NUDGED")) == 1
        claims = await d.fetch("""SELECT period, outcome FROM "JobRun" WHERE job = 'asker-follow-up'""")
        assert len(claims) == 2 and {c["outcome"] for c in claims} == {"done"}
        assert f"ticket {ticket['id']} waiting since {closure_key(ticket['waitingSince'])}" in {
            c["period"] for c in claims
        }


async def test_the_dry_run_lists_what_it_would_do_and_does_nothing(desk, team):
    async with desk() as d:
        asked, ticket = await answered(d)
        printed = await job(d, later(49)).run(dry_run=True)
        assert printed.startswith(f"would nudge #{ticket['id']} (waiting on the asker since")
        assert nudges(d, asked) == [] and await events_of(d, ticket["id"], "NUDGED") == []


async def test_nudge_hours_and_close_days_are_settings(desk, team):
    async with desk(asker_nudge_hours=2, asker_close_days=0) as d:
        asked, ticket = await answered(d)
        assert "nudged 0" in await run(d, later(1.5))
        assert "nudged 1" in await run(d, later(2.5))
        # ASKER_CLOSE_DAYS=0: nudged, never closed.
        assert "closed 0" in await run(d, later(24 * 30))
        assert (await d.ticket(asked["ts"]))["status"] == "IN_PROGRESS"
    async with desk(asker_nudge_hours=0) as d:
        assert d.service.scheduler.jobs[-1].name == "asker-follow-up"
        assert d.service.scheduler.jobs[-1].off_reason == "ASKER_NUDGE_HOURS is 0"
