"""Every event at the time it happened (issue 20, section 1), over signed Slack requests and the fake Slack.

A question, a reply, a click or a macro is dated by Slack (a message's ts, a click's action_ts),
not by when we handled it: each test sends events whose ts lies minutes in the past, as after an
outage, and reads the ticket's columns, its events and /api/ticket/timeline.
"""

from __future__ import annotations

from datetime import datetime

from nephthys.slack import messages, tag_blocks
from nephthys.slack.instants import slack_instant
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, TICKET_CHANNEL
from tests.support.slack import block_actions, button, next_ts, question

EVENTS_SQL = """SELECT e.kind::text AS kind, e.at, u."slackId" AS actor, e."msgTs"
                FROM "TicketEvent" e LEFT JOIN "User" u ON u.id = e."actorId"
                WHERE e."ticketId" = $1 ORDER BY e.at, e.id"""


def minutes_ago(minutes: int) -> str:
    """A Slack ts ``minutes`` before now, on a whole millisecond (timestamptz(3) keeps it exactly)."""
    return f"{int(next_ts().partition('.')[0]) - minutes * 60}.250000"


def instant(ts: str) -> datetime:
    at = slack_instant(ts)
    assert at is not None
    return at


async def events_of(d, ticket_id: int) -> list[tuple]:
    return [tuple(row.values()) for row in await d.fetch(EVENTS_SQL, ticket_id)]


async def ask_at(d, ts: str, user: str = ASKER):
    asked = question(HELP_CHANNEL, user, "How do I ship my project?", ts=ts)
    assert (await d.deliver.event(asked)).status_code == 200
    await d.settle()
    return asked, await d.ticket(ts)


async def click(
    d, user: str, message: dict, action_id: str, value: str, *, action_ts: str, channel=HELP_CHANNEL
):
    action = button(action_id, value=value)
    action["action_ts"] = action_ts
    response = await d.deliver.action(block_actions(user, action, channel=channel, message=message))
    assert response.status_code == 200, response.text
    await d.settle()


async def test_a_late_question_is_opened_at_its_ts_and_a_helper_reply_assigns_at_its_ts(desk, team):
    async with desk() as d:
        asked_ts = minutes_ago(10)
        asked, ticket = await ask_at(d, asked_ts)
        # Handled now, dated by Slack: createdAt is the question's ts, well before it was stored.
        assert ticket["createdAt"] == instant(asked_ts)
        assert ticket["lastMsgAt"] > instant(asked_ts)  # lastMsgAt: when we handled it
        assert (await d.api_ticket(ticket["id"]))["created_at"] == instant(asked_ts).isoformat(
            timespec="milliseconds"
        )

        other_ts, helper_ts, asker_ts = minutes_ago(9), minutes_ago(8), minutes_ago(7)
        await d.reply(asked, STRANGER, "me too", ts=other_ts)
        await d.reply(asked, HELPER, "here is how", ts=helper_ts)
        await d.reply(asked, ASKER, "thanks, one more thing", ts=asker_ts)
        ticket = await d.ticket(asked_ts)
        assert ticket["assignedAt"] == instant(helper_ts)
        assert await events_of(d, ticket["id"]) == [
            ("OPENED", instant(asked_ts), ASKER, asked_ts),
            ("OTHER_MESSAGE", instant(other_ts), STRANGER, other_ts),
            ("HELPER_MESSAGE", instant(helper_ts), HELPER, helper_ts),
            ("ASSIGNED", instant(helper_ts), HELPER, helper_ts),
            ("ASKER_MESSAGE", instant(asker_ts), ASKER, asker_ts),
        ]

        # Another helper's reply moves the ticket: ASSIGNED again; assignedAt stays the first.
        second_ts = minutes_ago(6)
        await d.reply(asked, HELPER_2, "let me take this", ts=second_ts)
        assert (await d.ticket(asked_ts))["assignedAt"] == instant(helper_ts)
        assert (await events_of(d, ticket["id"]))[-2:] == [
            ("HELPER_MESSAGE", instant(second_ts), HELPER_2, second_ts),
            ("ASSIGNED", instant(second_ts), HELPER_2, second_ts),
        ]
        # The same helper again: a message, not a new assignment.
        again_ts = minutes_ago(5)
        await d.reply(asked, HELPER_2, "try this", ts=again_ts)
        assert (await events_of(d, ticket["id"]))[-1] == (
            "HELPER_MESSAGE",
            instant(again_ts),
            HELPER_2,
            again_ts,
        )


async def test_a_redelivered_question_or_reply_writes_no_second_event(desk, team):
    async with desk() as d:
        asked_ts, reply_ts = minutes_ago(10), minutes_ago(9)
        asked, ticket = await ask_at(d, asked_ts)
        reply = await d.reply(asked, HELPER, "here is how", ts=reply_ts)
        before = await events_of(d, ticket["id"])
        # Replayed work: the same messages under new event ids (the de-duplication by event id
        # does not catch these), then a retry of the last delivery with its own event id.
        for event in (asked, reply):
            assert (await d.deliver.event(event)).status_code == 200
        await d.settle()
        assert (await d.deliver.redeliver()).status_code == 200
        await d.settle()
        assert await events_of(d, ticket["id"]) == before
        assert [kind for kind, *_ in before] == ["OPENED", "HELPER_MESSAGE", "ASSIGNED"]
        assert (await d.ticket(asked_ts))["assignedAt"] == instant(reply_ts)


async def test_close_by_button_is_at_its_action_ts_and_reopen_by_button_at_its_own(desk, team):
    async with desk() as d:
        asked_ts, reply_ts = minutes_ago(30), minutes_ago(29)
        asked, ticket = await ask_at(d, asked_ts)
        await d.reply(asked, HELPER, "here is how", ts=reply_ts)
        close_ts = minutes_ago(20)
        await click(
            d,
            HELPER,
            d.thread_reply_message(asked),
            messages.RESOLVE_ACTION,
            str(ticket["id"]),
            action_ts=close_ts,
        )
        closed = await d.ticket(asked_ts)
        assert closed["status"] == "CLOSED" and closed["closedAt"] == instant(close_ts)
        assert (await d.api_ticket(ticket["id"]))["closed_at"] == instant(close_ts).isoformat(
            timespec="milliseconds"
        )

        closing = next(
            m
            for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked_ts)
            if m.get("bot_id") and "resolved by" in m.get("text", "")
        )
        reopen_value = next(
            element["value"]
            for block in closing["blocks"]
            if block.get("type") == "actions"
            for element in block["elements"]
            if element["action_id"] == messages.REOPEN_ACTION
        )
        reopen_ts = minutes_ago(15)
        await click(d, ASKER, closing, messages.REOPEN_ACTION, reopen_value, action_ts=reopen_ts)
        reopened = await d.ticket(asked_ts)
        assert reopened["status"] == "OPEN" and reopened["reopenedAt"] == instant(reopen_ts)
        assert (await events_of(d, ticket["id"]))[-2:] == [
            ("CLOSED", instant(close_ts), HELPER, None),
            ("REOPENED", instant(reopen_ts), ASKER, None),
        ]


async def test_close_and_reopen_by_macro_are_at_the_macro_messages_ts(desk, team):
    async with desk() as d:
        asked_ts, reply_ts, resolve_ts, reopen_ts = (
            minutes_ago(40),
            minutes_ago(39),
            minutes_ago(30),
            minutes_ago(20),
        )
        asked, ticket = await ask_at(d, asked_ts)
        await d.reply(asked, HELPER, "here is how", ts=reply_ts)
        await d.reply(asked, ASKER, "?resolve", ts=resolve_ts)
        assert (await d.ticket(asked_ts))["closedAt"] == instant(resolve_ts)
        await d.reply(asked, HELPER, "?reopen", ts=reopen_ts)
        assert (await d.ticket(asked_ts))["reopenedAt"] == instant(reopen_ts)
        # A macro is not a message to the asker: ?resolve and ?reopen log what they did, no message.
        assert (await events_of(d, ticket["id"]))[-2:] == [
            ("CLOSED", instant(resolve_ts), ASKER, resolve_ts),
            ("REOPENED", instant(reopen_ts), HELPER, reopen_ts),
        ]


async def test_a_macro_that_answers_the_asker_is_the_helpers_message(desk, team):
    async with desk() as d:
        asked_ts, faq_ts = minutes_ago(10), minutes_ago(5)
        asked, ticket = await ask_at(d, asked_ts)
        await d.reply(asked, HELPER, "?faq", ts=faq_ts)
        closed = await d.ticket(asked_ts)
        assert closed["status"] == "CLOSED" and closed["closedAt"] == instant(faq_ts)
        assert await events_of(d, ticket["id"]) == [
            ("OPENED", instant(asked_ts), ASKER, asked_ts),
            ("HELPER_MESSAGE", instant(faq_ts), HELPER, faq_ts),
            ("CLOSED", instant(faq_ts), HELPER, faq_ts),
        ]


async def test_tags_added_and_removed_are_on_the_timeline_with_who_and_when(desk, team):
    async with desk() as d:
        asked_ts, tag_ts = minutes_ago(10), minutes_ago(8)
        asked, ticket = await ask_at(d, asked_ts)
        [auth] = await d.fetch("""INSERT INTO "Tag" (name) VALUES ('Auth') RETURNING id""")
        [billing] = await d.fetch("""INSERT INTO "Tag" (name) VALUES ('Billing') RETURNING id""")
        await d.reply(asked, HELPER, "?tag Auth, Billing", ts=tag_ts)
        # The backend message's select: Billing taken off by the other helper, at the click's action_ts.
        select_ts = minutes_ago(6)
        ticket = await d.ticket(asked_ts)
        action = {
            "type": "multi_external_select",
            "action_id": tag_blocks.TEAM_TAGS_SELECT,
            "block_id": tag_blocks.ticket_tags_block_id(ticket["id"]),
            "selected_options": [
                {"text": {"type": "plain_text", "text": "Auth"}, "value": str(auth["id"])},
            ],
            "action_ts": select_ts,
        }
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        response = await d.deliver.action(
            block_actions(HELPER_2, action, channel=TICKET_CHANNEL, message=backend)
        )
        assert response.status_code == 200
        await d.settle()
        assert [row["tagId"] for row in await d.fetch('SELECT "tagId" FROM tags_on_tickets')] == [auth["id"]]
        assert (await events_of(d, ticket["id"]))[1:] == [
            ("TAG_ADDED", instant(tag_ts), HELPER, None),
            ("TAG_ADDED", instant(tag_ts), HELPER, None),
            ("TAG_REMOVED", instant(select_ts), HELPER_2, None),
        ]
        assert billing["id"] != auth["id"]


async def test_the_timeline_route_serves_the_events_in_order_with_their_people(desk, team):
    async with desk() as d:
        asked_ts, reply_ts, resolve_ts = minutes_ago(10), minutes_ago(9), minutes_ago(8)
        asked, ticket = await ask_at(d, asked_ts)
        await d.reply(asked, HELPER, "here is how", ts=reply_ts)
        await d.reply(asked, HELPER, "?resolve", ts=resolve_ts)
        users = {
            row["slackId"]: {"id": row["id"], "slack_id": row["slackId"], "username": row["username"]}
            for row in await d.fetch('SELECT id, "slackId", username FROM "User"')
        }
        response = await d.client.get("/api/ticket/timeline", params={"id": ticket["id"]})
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")

        def at(ts: str) -> str:
            return instant(ts).isoformat(timespec="milliseconds")

        assert response.json() == [
            {"kind": "OPENED", "at": at(asked_ts), "by": users[ASKER]},
            {"kind": "HELPER_MESSAGE", "at": at(reply_ts), "by": users[HELPER]},
            {"kind": "ASSIGNED", "at": at(reply_ts), "by": users[HELPER]},
            {"kind": "CLOSED", "at": at(resolve_ts), "by": users[HELPER]},
        ]
        # The people are the ticket object's own user objects.
        assert (await d.api_ticket(ticket["id"]))["opened_by"] == users[ASKER]
