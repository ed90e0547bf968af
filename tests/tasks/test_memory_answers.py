"""The answers of tickets from before the memory, read back from Slack (``memory-answers``), over
signed Slack requests and the fake Slack: an adopted closed ticket gets the helper's answer that
closed it and is then offered as similar; a thread without one is read once; a 429 or Slack failing
leaves the ticket for a later run; racing runs read each thread once; a live answer wins; a run
that died is taken over after the lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from nephthys.memory import index as memory_index
from nephthys.memory import reindex
from nephthys.tasks.memory_answers import CLAIM_LEASE, MemoryAnswers
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, TICKET_CHANNEL, eventually
from tests.support import postgres

AT = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)  # the job's clock: only its claims' lease reads it


def job(d, at: datetime = AT, **kwargs) -> MemoryAnswers:
    return MemoryAnswers(d.service.ctx, clock=lambda: at, interval_seconds=0, **kwargs)


async def adopt(d) -> None:
    """The database as an upgrade from before the memory leaves it: no memory rows, then the ones
    the bulk reindex writes (the tickets' helpers' messages never stored)."""
    await postgres.execute(d.db_url, 'DELETE FROM "TicketSearch"')
    done = await reindex.reindex_missing(d.service.ctx.sessions)
    assert done.done


async def row(d, asked: dict):
    [found] = await d.fetch(
        """SELECT s.* FROM "TicketSearch" s JOIN "Ticket" t ON t.id = s."ticketId" WHERE t."msgTs" = $1""",
        asked["ts"],
    )
    return found


async def closed_with(d, text: str, *replies: tuple[str, str]) -> dict:
    """A question, its thread's replies, then a helper's ``?resolve``."""
    asked, _ = await d.ask(text)
    for user, reply in replies:
        await d.reply(asked, user, reply)
    await d.reply(asked, HELPER, "?resolve")
    assert (await d.ticket(asked["ts"]))["status"] == "CLOSED"
    return asked


def reads(d, asked: dict) -> int:
    return len(d.slack.calls_to("conversations.replies", channel=HELP_CHANNEL, ts=asked["ts"]))


def similar_posts(d, ticket: dict) -> list:
    return d.posts(TICKET_CHANNEL, thread_ts=ticket["ticketTs"])


async def test_an_adopted_ticket_gets_the_answer_that_closed_it_and_is_offered_as_similar(desk, team):
    async with desk() as d:
        original = await closed_with(
            d,
            "Is the deadline for the summer program extended?",
            (HELPER_2, "Let me check with the organisers"),
            (STRANGER, "I heard it was"),
            (HELPER, "Yes, to August 31st.\nDetails in the announcement."),
            (ASKER, "Thanks!"),
        )
        # After the close: a helper's thanks is not the answer that closed it.
        d.slack.add_message(HELP_CHANNEL, user=HELPER_2, text="Glad it's sorted", thread_ts=original["ts"])
        await adopt(d)
        before = await row(d, original)
        assert before["answer"] is None and before["answerFetch"] == "DUE"
        _, unhelped = await d.ask("was the dedline extnded??", user=STRANGER)
        assert similar_posts(d, unhelped) == []  # nothing to offer yet

        result = await job(d).run()
        assert result.startswith("recorded 1 answers, 0 threads without one"), result
        after = await row(d, original)
        assert after["answer"] == "Yes, to August 31st.\nDetails in the announcement."
        assert await d.slack_id(after["answeredById"]) == HELPER
        assert after["resolvedAt"] == (await d.ticket(original["ts"]))["closedAt"]
        assert after["answerFetch"] is None and after["answerTs"] is not None
        [helper_answer] = [
            m for m in d.slack.messages(HELP_CHANNEL, thread_ts=original["ts"]) if m["text"].startswith("Yes")
        ]
        assert after["answerTs"] == helper_answer["ts"] and after["answeredAt"] is not None

        # A new question, rephrased: the old ticket is posted as similar, with the answer's first line.
        _, ticket = await d.ask("has the summer deadline been extended", user=STRANGER)
        [post] = similar_posts(d, ticket)
        text = post.args["text"]
        assert original["ts"].replace(".", "") in text
        assert "Yes, to August 31st." in text and "Details" not in text and "Let me check" not in text

        # Done: the next run reads nothing (one look at the empty index).
        assert await job(d).run() == "recorded 0 answers, 0 threads without one"
        assert reads(d, original) == 1


async def test_a_thread_without_a_helpers_answer_is_marked_and_not_read_again(desk, team):
    async with desk() as d:
        unanswered = await closed_with(d, "Where is the venue?", (STRANGER, "No idea either"))
        opened, _ = await d.ask("Still open: how do I ship?")
        await adopt(d)
        assert "0 answers, 1 threads without one" in await job(d).run()
        assert "0 answers, 0 threads without one" in await job(d).run()
        assert reads(d, unanswered) == 1 and reads(d, opened) == 0  # an open ticket waits for its close
        marked = await row(d, unanswered)
        assert marked["answer"] is None and marked["resolvedAt"] is None and marked["answerFetch"] is None
        # Not closed: waiting; its close makes it due (and a reopen would make it wait again).
        assert (await row(d, opened))["answerFetch"] == "WAITING"
        # A thread that is gone (Slack: thread_not_found) is done too.
        await d.reply(opened, HELPER, "?resolve")
        assert (await row(d, opened))["answerFetch"] == "DUE"
        d.slack.remove_message(HELP_CHANNEL, opened["ts"])
        assert "0 answers, 1 threads without one" in await job(d).run()
        assert (
            d.slack.calls_to("conversations.replies", ts=opened["ts"])[0].response["error"]
            == "thread_not_found"
        )
        assert (await row(d, opened))["answerFetch"] is None


async def test_a_429_or_slack_failing_leaves_the_ticket_for_a_later_run(desk, team):
    async with desk() as d:
        asked = [
            await closed_with(d, f"Question number {n} about payouts", (HELPER, f"Answer {n}"))
            for n in range(3)
        ]
        await adopt(d)
        # Slack keeps answering 429: slack_sdk's handler waits each one out, then gives up.
        d.slack.fail("conversations.replies", error="ratelimited", retry_after=0, times=None)
        result = await job(d).run()
        assert "recorded 0 answers" in result and "HTTP 429 'ratelimited'" in result, result
        assert {call.status for call in d.slack.calls_to("conversations.replies")} == {429}
        newest = await row(d, asked[-1])
        assert newest["answerFetch"] == "DUE" and newest["answerFetchClaimedAt"] is None  # released
        d.slack.clear_failures()
        # Slack failing (500s past the retries) the same way.
        d.slack.fail("conversations.replies", error="internal_error", status=500, times=None)
        assert "HTTP 500 'internal_error'" in await job(d).run()
        d.slack.clear_failures()

        assert (await job(d).run()).startswith("recorded 3 answers")
        assert [(await row(d, a))["answer"] for a in asked] == ["Answer 0", "Answer 1", "Answer 2"]
        # Newest first, each read once when it succeeded.
        ok = d.slack.calls_to("conversations.replies", ok=True)
        assert [call.args["ts"] for call in ok] == [a["ts"] for a in reversed(asked)]


async def test_racing_runs_read_each_thread_once_and_a_bound_per_run(desk, team):
    async with desk() as d:
        asked = [await closed_with(d, f"Racing question {n}", (HELPER, f"Answer {n}")) for n in range(4)]
        await adopt(d)
        d.slack.delay("conversations.replies", 0.2)  # both runs in flight at once
        first, second = await asyncio.gather(job(d, per_run=3).run(), job(d, per_run=3).run())
        d.slack.delay("conversations.replies", None)
        assert [reads(d, a) for a in asked] == [1, 1, 1, 1], (first, second)
        assert [(await row(d, a))["answer"] for a in asked] == [f"Answer {n}" for n in range(4)]
        # A bound per run: 2 a run, the rest for the next.
        more = [await closed_with(d, f"Later question {n}", (HELPER, f"Later {n}")) for n in range(3)]
        await postgres.execute(
            d.db_url,
            "UPDATE \"TicketSearch\" SET answer = NULL, \"answerFetch\" = 'DUE' WHERE answer LIKE 'Later%'",
        )
        assert (
            await job(d, per_run=2).run()
        ) == "recorded 2 answers, 0 threads without one (more wait for the next run)"
        assert (await job(d, per_run=2).run()).startswith("recorded 1 answers")
        assert [reads(d, a) for a in more] == [1, 1, 1]


async def test_a_live_answer_meanwhile_wins(desk, team, monkeypatch):
    async with desk() as d:
        asked = await closed_with(d, "How do I link Hackatime?", (HELPER, "Old answer from before"))
        await adopt(d)
        # The job reads the thread (from the fake Slack) only once the live changes below are made.
        client, gate = d.service.ctx.client, asyncio.Event()
        read_thread = client.thread_messages

        async def held(channel: str, thread_ts: str) -> list[dict]:
            if asyncio.current_task() is running:
                await gate.wait()
            return await read_thread(channel, thread_ts)

        monkeypatch.setattr(client, "thread_messages", held)
        running = asyncio.create_task(job(d).run())

        async def claimed() -> bool:
            return (await row(d, asked))["answerFetchClaimedAt"] is not None

        await eventually(claimed)
        # While the thread is read: reopened, answered live by a helper, closed again.
        await d.reply(asked, HELPER, "?reopen")
        await d.reply(asked, HELPER_2, "New answer, live")
        await d.reply(asked, HELPER_2, "?resolve")
        gate.set()
        result = await running
        assert result == "recorded 0 answers, 0 threads without one, 1 answered live meanwhile"
        after = await row(d, asked)
        assert after["answer"] == "New answer, live" and await d.slack_id(after["answeredById"]) == HELPER_2
        assert after["resolvedAt"] is not None and after["answerFetch"] is None


async def test_a_run_that_died_is_taken_over_after_the_lease_and_a_dry_run_reads_nothing(desk, team):
    async with desk() as d:
        asked = await closed_with(d, "Why was my project rejected?", (HELPER, "It had no README."))
        await adopt(d)
        assert (
            await job(d).run(dry_run=True)
            == f"would read the threads of #{(await d.ticket(asked['ts']))['id']}"
        )
        assert reads(d, asked) == 0
        # A run claims it and dies before reading.
        sessions = d.service.ctx.sessions
        assert await memory_index.claim_past_answer(sessions, now=AT, stale_before=AT - CLAIM_LEASE)
        assert await job(d, AT + timedelta(minutes=5)).run() == "recorded 0 answers, 0 threads without one"
        assert (
            await job(d, AT + CLAIM_LEASE + timedelta(seconds=1)).run()
            == "recorded 1 answers, 0 threads without one"
        )
        assert (await row(d, asked))["answer"] == "It had no README."
