"""Lost answers leave no duplicate in Slack: a post Slack made but answered with an error, a
database that drops out between a post and its record, and the two together in a burst."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

from nephthys.slack.client import POST_EVENT_TYPE
from tests.slack.conftest import ASKER, HEARTBEAT_CHANNEL, HELP_CHANNEL, TICKET_CHANNEL, eventually
from tests.slack.test_exactly_once import database_unreachable
from tests.support.slack import event_callback, new_event_id, question

# Each question carries a marker its backend message quotes, so Slack's messages can be counted
# per question whatever the code under test tags them with.
MARKER = re.compile(r"Q(\d{3})-")


def backend_messages_by_question(fake) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for message in fake.bot_messages(TICKET_CHANNEL):
        match = MARKER.search(message.get("text") or "")
        if match:
            found.setdefault(int(match.group(1)), []).append(message)
    return found


def thread_replies(fake, question_ts: str) -> list[dict]:
    return [m for m in fake.messages(HELP_CHANNEL, thread_ts=question_ts) if m.get("bot_id")]


async def test_posts_whose_answers_are_lost_are_in_slack_once(desk, team):
    async with desk() as d:
        # Slack posts the backend message and the thread reply, but both answers are a 500.
        lost = d.slack.fail("chat.postMessage", error="internal_error", status=500, applied=True, times=2)
        asked, ticket = await d.ask("Q001- my build fails")
        assert lost.fired == 2
        [backend] = d.slack.bot_messages(TICKET_CHANNEL)
        assert ticket["ticketTs"] == backend["ts"]
        assert len(thread_replies(d.slack, asked["ts"])) == 1
        assert len(await d.bot_messages(ticket["id"])) == 2
        # Each post carries what it is for: the ticket and its role, as Slack message metadata.
        assert backend["metadata"]["event_type"] == POST_EVENT_TYPE
        assert backend["metadata"]["event_payload"]["ticket_id"] == ticket["id"]
        assert backend["metadata"]["event_payload"]["role"] == "backend"
        [reply] = thread_replies(d.slack, asked["ts"])
        assert reply["metadata"]["event_payload"] == {
            **reply["metadata"]["event_payload"],
            "ticket_id": ticket["id"],
            "role": "thread_reply",
        }


async def test_the_repair_job_adopts_a_post_slack_made_instead_of_posting_again(desk, team):
    async with desk() as d:
        # The backend message is posted but its answer lost, and Slack cannot be read back either:
        # the worker gives up (and says so); the message is in Slack, recorded nowhere.
        d.slack.fail(
            "chat.postMessage",
            error="internal_error",
            status=500,
            applied=True,
            times=1,
            when=lambda a: a.get("channel") == TICKET_CHANNEL,
        )
        d.slack.fail("conversations.history", error="internal_error", status=500, times=None)
        asked, ticket = await d.ask("Q002- where is my backend message?")
        assert ticket["ticketTs"] is None
        [orphan] = d.slack.bot_messages(TICKET_CHANNEL)
        assert any(f"#{ticket['id']}" in c.args["text"] for c in d.posts(HEARTBEAT_CHANNEL))

        d.slack.clear_failures()
        report = await d.service.repair_now(grace=timedelta(0))
        assert report.finished == [ticket["id"]]
        assert [m["ts"] for m in d.slack.bot_messages(TICKET_CHANNEL)] == [orphan["ts"]]
        assert (await d.ticket(asked["ts"]))["ticketTs"] == orphan["ts"]
        assert len(thread_replies(d.slack, asked["ts"])) == 1
        # It looked before it posted: the tickets channel, with the metadata.
        [look] = d.slack.calls_to("conversations.history", ok=True, channel=TICKET_CHANNEL)
        assert look.args.get("include_all_metadata") in (True, "true", "1", 1)


async def test_a_database_dropping_out_between_a_post_and_its_record_does_not_post_twice(desk, team, db_url):
    async with desk() as d:
        # The post takes a while; the database goes away while it is in flight, and comes back.
        d.slack.delay("chat.postMessage", 1.5)
        asked = question(HELP_CHANNEL, ASKER, "Q003- asked as the database restarts")
        assert (await d.deliver.event(asked)).status_code == 200

        async def ticket_stored() -> bool:
            return await d.ticket(asked["ts"]) is not None

        await eventually(ticket_stored)
        async with database_unreachable(db_url):

            async def backend_posted() -> bool:
                return bool(d.slack.bot_messages(TICKET_CHANNEL))

            await eventually(backend_posted)
            await asyncio.sleep(1)  # the record is being tried against the unreachable database
        d.slack.delay("chat.postMessage", None)
        await d.settle()
        ticket = await d.ticket(asked["ts"])
        [backend] = d.slack.bot_messages(TICKET_CHANNEL)
        # Recorded once the database was back, by the same worker: no alert, nothing left to repair.
        assert ticket["ticketTs"] == backend["ts"]
        assert len(thread_replies(d.slack, asked["ts"])) == 1
        assert not any("not all posted" in c.args["text"] for c in d.posts(HEARTBEAT_CHANNEL))


QUESTIONS = 45  # CI size; bench/lost_answers.py runs the 200


async def test_lost_answers_and_a_database_restart_mid_burst_leave_no_duplicate_in_slack(desk, team, db_url):
    async with desk() as d:
        # One chat.postMessage in nine is carried out but answered 500.
        lost = d.slack.fail(
            "chat.postMessage", error="internal_error", status=500, applied=True, times=None, every=9
        )
        envelopes = [
            event_callback(question(HELP_CHANNEL, ASKER, f"Q{i:03d}- question {i}"), event_id=new_event_id())
            for i in range(QUESTIONS)
        ]
        refused: list[dict] = []

        async def deliver(batch: list[dict]) -> None:
            responses = await asyncio.gather(*(d.deliver.envelope(e) for e in batch))
            for envelope, response in zip(batch, responses, strict=True):
                assert response.status_code in (200, 503), response.text
                if response.status_code == 503:
                    refused.append(envelope)

        third = QUESTIONS // 3
        await deliver(envelopes[:third])
        async with database_unreachable(db_url):  # the database restarts mid-burst
            await deliver(envelopes[third : 2 * third])
            await asyncio.sleep(0.5)
        await deliver(envelopes[2 * third :])
        assert refused, "the outage refused no delivery"
        for envelope in refused:  # Slack redelivers what got a 503
            response = await d.deliver.envelope(envelope, retry_num=1, retry_reason="http_error")
            assert response.status_code == 200
        await d.settle()
        await d.service.repair_now(grace=timedelta(0))
        await d.settle()

        assert lost.fired >= QUESTIONS * 2 // 9 - 1
        tickets = {row["msgTs"]: row for row in await d.fetch('SELECT * FROM "Ticket"')}
        assert len(tickets) == QUESTIONS
        backends = backend_messages_by_question(d.slack)
        duplicates = {i: len(found) for i, found in backends.items() if len(found) != 1}
        assert duplicates == {}, f"questions with other than one backend message: {duplicates}"
        assert sorted(backends) == list(range(QUESTIONS))
        for envelope in envelopes:
            i = int(MARKER.search(envelope["event"]["text"]).group(1))
            ticket = tickets[envelope["event"]["ts"]]
            assert ticket["ticketTs"] == backends[i][0]["ts"]
            assert len(thread_replies(d.slack, envelope["event"]["ts"])) == 1, json.dumps(i)
