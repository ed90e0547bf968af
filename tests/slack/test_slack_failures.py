"""Web API failures: 429 honoured, transient errors retried, and a ticket left unfinished by a failure
is finished by the repair job, logged and reported in the heartbeat channel."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from nephthys.testing.fake_slack import FakeSlack
from tests.conftest import make_app, make_settings
from tests.slack.conftest import ASKER, BTS_CHANNEL, HEARTBEAT_CHANNEL, HELP_CHANNEL, HELPER, TICKET_CHANNEL
from tests.support.postgres import fetch
from tests.support.server import free_port, running
from tests.support.slack import question, slack_settings

NOW = timedelta(0)


async def test_a_429_is_retried_after_its_retry_after(desk, team):
    async with desk() as d:
        d.slack.fail("chat.postMessage", error="ratelimited", retry_after=1, times=1)
        asked, ticket = await d.ask()
        limited, posted = d.slack.calls_to("chat.postMessage", channel=TICKET_CHANNEL)
        assert (limited.status, limited.error) == (429, "ratelimited")
        assert posted.ok and (posted.at - limited.at).total_seconds() >= 1
        assert ticket["ticketTs"] == posted.response["ts"]
        assert len(d.posts(TICKET_CHANNEL)) == 1 and len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1


async def test_server_errors_are_retried(desk, team):
    async with desk() as d:
        d.slack.fail("reactions.add", error="internal_error", status=503, times=2)
        d.slack.fail("chat.postMessage", error="internal_error", status=500, times=1)
        asked, ticket = await d.ask()
        assert ticket["ticketTs"] is not None
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"thinking_face"}
        assert len(d.posts(TICKET_CHANNEL)) == 1 and len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1


async def test_a_backend_message_that_could_not_be_posted_is_repaired(desk, team):
    async with desk() as d:
        rule = d.slack.fail(
            "chat.postMessage",
            error="internal_error",
            times=None,
            when=lambda a: a.get("channel") == TICKET_CHANNEL,
        )
        asked, ticket = await d.ask()
        # The ticket is stored (helpers will see it), its Slack side is unfinished, and a human is told.
        assert ticket["status"] == "OPEN" and ticket["ticketTs"] is None
        assert d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) == []
        [alert] = [c for c in d.posts(HEARTBEAT_CHANNEL) if f"#{ticket['id']}" in c.args["text"]]
        assert "repair" in alert.args["text"]
        # A redelivery within the claim's lease is dropped; the repair job finishes the ticket.
        assert (await d.deliver.redeliver(retry_num=1)).status_code == 200
        await d.settle()
        report = await d.service.repair_now(grace=NOW)
        assert report.failed == [ticket["id"]]

        d.slack.clear_failures()
        assert rule.fired >= 2
        report = await d.service.repair_now(grace=NOW)
        assert report.finished == [ticket["id"]]
        repaired = await d.ticket(asked["ts"])
        [backend] = d.posts(TICKET_CHANNEL)
        assert repaired["ticketTs"] == backend.response["ts"]
        assert len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"thinking_face"}
        # Nothing is left to repair, and repairing again posts nothing.
        calls_before = len(d.slack.calls)
        report = await d.service.repair_now(grace=NOW)
        assert report.finished == [] and report.failed == []
        assert d.slack.calls[calls_before:] == []


async def test_a_missing_thread_reply_and_reaction_are_repaired_without_a_second_backend_message(desk, team):
    async with desk() as d:
        d.slack.fail("reactions.add", error="ratelimited", retry_after=0, times=None)
        asked, ticket = await d.ask()
        assert ticket["ticketTs"] is not None
        assert d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) == []  # stopped before the thread reply
        d.slack.clear_failures()
        report = await d.service.repair_now(grace=NOW)
        assert report.finished == [ticket["id"]]
        assert len(d.posts(TICKET_CHANNEL)) == 1
        assert len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"thinking_face"}


async def test_repair_leaves_young_tickets_to_their_worker(desk, team):
    async with desk() as d:
        d.slack.fail(
            "chat.postMessage",
            error="internal_error",
            times=None,
            when=lambda a: a.get("channel") == TICKET_CHANNEL,
        )
        await d.ask()
        d.slack.clear_failures()
        report = await d.service.repair_now()  # the default grace: the ticket is seconds old
        assert report.finished == [] and report.failed == []
        assert d.posts(TICKET_CHANNEL) == []


async def test_a_backend_message_left_on_a_closed_ticket_is_removed_by_the_repair(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        d.slack.fail("chat.delete", error="internal_error", times=None)
        await d.reply(asked, HELPER, "?resolve")
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED"
        assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is not None
        assert any("resolved, but" in c.args["text"] for c in d.posts(HEARTBEAT_CHANNEL))
        d.slack.clear_failures()
        report = await d.service.repair_now(grace=NOW)
        assert report.backend_removed == [ticket["id"]]
        assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is None
        assert await d.bot_messages(ticket["id"], TICKET_CHANNEL) == []


async def test_already_reacted_no_reaction_and_message_not_found_count_as_done(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "already reacted?")
        d.slack.fail("reactions.add", error="already_reacted", times=1)
        await d.deliver.event(asked)
        await d.settle()
        ticket = await d.ticket(asked["ts"])
        assert len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1
        d.slack.fail("reactions.remove", error="no_reaction", times=1)
        d.slack.fail("chat.delete", error="message_not_found", times=1)
        await d.reply(asked, HELPER, "?resolve")
        assert (await d.ticket(asked["ts"]))["status"] == "CLOSED"
        assert await d.bot_messages(ticket["id"], TICKET_CHANNEL) == []
        assert not any("resolved, but" in c.args["text"] for c in d.posts(HEARTBEAT_CHANNEL))


async def test_slack_unreachable_at_start_up_does_not_block_it(db_url, fake, team):
    port = free_port()
    overrides = slack_settings(
        fake, slack_api_base_url=f"http://127.0.0.1:{port}/api/", slack_heartbeat_channel=HEARTBEAT_CHANNEL
    )
    app = make_app(make_settings(database_url=db_url, **overrides))
    async with running(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["slack"] is False
        assert (await client.get("/api/ticket", params={"id": 1})).status_code == 404
        # Slack comes up at the configured address; the start-up work is retried until it succeeds.
        late = FakeSlack(port=port)
        late.set_members(BTS_CHANNEL, [HELPER, late.bot_user_id])
        async with late:
            await asyncio.wait_for(app.state.slack.started(), 30)
            [started] = late.calls_to("chat.postMessage", ok=True, channel=HEARTBEAT_CHANNEL)
            assert "started" in started.args["text"]
            assert (await client.get("/health")).json()["slack"] is True
            helpers = await fetch(db_url, 'SELECT "slackId" FROM "User" WHERE helper')
            assert [row["slackId"] for row in helpers] == [HELPER]


async def test_a_reopening_note_that_cannot_be_posted_still_gives_the_ticket_back_its_slack_side(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?resolve")
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
        d.slack.fail(
            "chat.postMessage",
            error="internal_error",
            times=None,
            when=lambda a: a.get("channel") == HELP_CHANNEL and "reopened" in (a.get("text") or ""),
        )
        await d.reply(asked, HELPER, "?reopen")

        row = await d.ticket(asked["ts"])
        assert row["status"] == "OPEN"
        # The other steps went ahead: a new backend message, and 🤔 instead of ✅ (which the repair
        # job would never take away).
        assert row["ticketTs"] is not None and row["ticketTs"] != ticket["ticketTs"]
        assert d.slack.message(TICKET_CHANNEL, row["ticketTs"]) is not None
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"thinking_face"}
        [alert] = [c for c in d.posts(HEARTBEAT_CHANNEL) if f"#{ticket['id']} was reopened" in c.args["text"]]
        assert "reopening message not posted" in alert.args["text"]
