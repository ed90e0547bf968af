"""Races through real HTTP: each ends in one consistent state, with nothing posted twice."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, TICKET_CHANNEL, eventually
from tests.support import postgres
from tests.support.slack import block_actions, button, question, thread_reply

ROUNDS = 3


def reply_event(asked: dict, user: str, text: str) -> dict:
    return thread_reply(HELP_CHANNEL, user, text, thread_ts=asked["ts"], parent_user_id=asked["user"])


def resolve_click(d, ticket_id: int, user: str, message: dict) -> dict:
    return block_actions(
        user, button("resolve_ticket", value=str(ticket_id)), channel=HELP_CHANNEL, message=message
    )


def closing_posts(d, asked) -> list:
    return [c for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) if "resolved by" in c.args["text"]]


async def test_two_helpers_replying_at_once(desk, team):
    async with desk() as d:
        for _ in range(ROUNDS):
            asked, ticket = await d.ask()
            responses = await asyncio.gather(
                d.deliver.event(reply_event(asked, HELPER, "I'll take this")),
                d.deliver.event(reply_event(asked, HELPER_2, "No, me!")),
            )
            assert [r.status_code for r in responses] == [200, 200]
            await d.settle()
            row = await d.ticket(asked["ts"])
            assert row["status"] == "IN_PROGRESS" and row["lastMsgBy"] == "HELPER"
            assert await d.slack_id(row["assignedToId"]) in {HELPER, HELPER_2}
            assert row["assignedAt"] is not None and row["assignedAt"] <= row["lastMsgAt"]
            api = await d.api_ticket(ticket["id"])
            assert api["status"] == "in_progress" and api["assigned_to"]["id"] == row["assignedToId"]


async def test_a_resolve_while_a_reply_arrives(desk, team):
    async with desk() as d:
        for _ in range(ROUNDS):
            asked, ticket = await d.ask()
            message = d.thread_reply_message(asked)
            responses = await asyncio.gather(
                d.deliver.action(resolve_click(d, ticket["id"], HELPER, message)),
                d.deliver.event(reply_event(asked, HELPER_2, "here's the answer")),
            )
            assert [r.status_code for r in responses] == [200, 200]
            await d.settle()
            row = await d.ticket(asked["ts"])
            assert row["status"] == "CLOSED" and row["closedAt"] is not None
            # Either order is a real one. The click first: HELPER closes it and the reply changes
            # nothing. The reply first: it assigns HELPER_2, and the credit rule gives a colleague's
            # close of a thread just answered to its assignee.
            closer = await d.slack_id(row["closedById"])
            if closer == HELPER_2:
                assert await d.slack_id(row["assignedToId"]) == HELPER_2
            else:
                assert closer == HELPER
            assert len(closing_posts(d, asked)) == 1
            assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
            assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is None
            assert (await d.api_ticket(ticket["id"]))["closed_by"]["slack_id"] == closer


async def test_resolves_at_once_close_once(desk, team):
    async with desk() as d:
        for _ in range(ROUNDS):
            asked, ticket = await d.ask()
            message = d.thread_reply_message(asked)
            responses = await asyncio.gather(
                d.deliver.action(resolve_click(d, ticket["id"], HELPER, message)),
                d.deliver.action(resolve_click(d, ticket["id"], HELPER_2, message)),
                d.deliver.action(resolve_click(d, ticket["id"], ASKER, message)),
                d.deliver.event(reply_event(asked, HELPER, "?resolve")),
            )
            assert all(r.status_code == 200 for r in responses)
            await d.settle()
            row = await d.ticket(asked["ts"])
            assert row["status"] == "CLOSED"
            closer = await d.slack_id(row["closedById"])
            assert closer in {HELPER, HELPER_2, ASKER}
            # Nobody was assigned, so whoever won the race is credited and named in the one closing message.
            [closing] = closing_posts(d, asked)
            assert f"<@{closer}>" in closing.args["text"]
            assert (
                len(
                    d.slack.calls_to("reactions.add", ok=True, timestamp=asked["ts"], name="white_check_mark")
                )
                == 1
            )
            assert (
                len(d.slack.calls_to("chat.delete", ok=True, channel=TICKET_CHANNEL, ts=ticket["ticketTs"]))
                == 1
            )


async def test_a_reply_that_overtakes_its_question_still_counts(desk, team, db_url):
    """The question's ticket is held up in the database while a helper's reply arrives."""
    async with desk() as d:
        locker = await asyncpg.connect(db_url)
        transaction = locker.transaction()
        await transaction.start()
        try:
            await locker.execute('LOCK TABLE "Ticket" IN ACCESS EXCLUSIVE MODE')
            asked = question(HELP_CHANNEL, ASKER, "a question answered at once")
            assert (await d.deliver.event(asked)).status_code == 200
            reply = reply_event(asked, HELPER, "answered before the ticket was even stored")
            assert (await d.deliver.event(reply)).status_code == 200

            async def question_waits_on_the_lock() -> bool:
                rows = await postgres.fetch(
                    postgres.with_database(db_url, "postgres"),
                    "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                    postgres.database_name(db_url),
                )
                return bool(rows)

            await eventually(question_waits_on_the_lock)
        finally:
            await transaction.rollback()
            await locker.close()
        await d.settle()
        row = await d.ticket(asked["ts"])
        assert row["status"] == "IN_PROGRESS" and row["lastMsgBy"] == "HELPER"
        assert await d.slack_id(row["assignedToId"]) == HELPER


async def test_a_resolve_while_a_reopen_is_under_way_ends_closed_with_its_check_mark(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        message = d.thread_reply_message(asked)
        await d.reply(asked, HELPER, "?resolve")
        # The reopening note is rate limited once, so the reopen's Slack side is still under way...
        d.slack.fail(
            "chat.postMessage",
            error="ratelimited",
            retry_after=2,
            times=1,
            when=lambda a: a.get("channel") == HELP_CHANNEL and "reopened" in (a.get("text") or ""),
        )
        assert (await d.deliver.event(reply_event(asked, HELPER, "?reopen"))).status_code == 200

        async def reopened() -> bool:
            return (await d.ticket(asked["ts"]))["status"] == "OPEN"

        await eventually(reopened)
        # ...when another helper resolves the ticket again: its closing side comes last.
        response = await d.deliver.action(resolve_click(d, ticket["id"], HELPER_2, message))
        assert response.status_code == 200
        await d.settle()
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER_2
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
        assert await d.bot_messages(ticket["id"], TICKET_CHANNEL) == []
        assert row["ticketTs"] is None or d.slack.message(TICKET_CHANNEL, row["ticketTs"]) is None
        assert len(closing_posts(d, asked)) == 2
