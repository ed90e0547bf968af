"""Behaviour 1 (a question becomes a ticket) and 7 (a deleted question takes its ticket along)."""

from __future__ import annotations

import pytest

from tests.slack.conftest import ASKER, HEARTBEAT_CHANNEL, HELP_CHANNEL, TICKET_CHANNEL
from tests.support import postgres
from tests.support.slack import (
    bot_message,
    file_share,
    me_message,
    message,
    message_changed,
    message_deleted,
    question,
)


def resolve_button_values(blocks: list[dict]) -> list[str]:
    return [
        element["value"]
        for block in blocks
        for element in block.get("elements", [])
        if element.get("action_id") == "resolve_ticket"
    ]


async def test_a_question_opens_a_ticket_with_backend_message_thread_reply_and_reaction(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "How do I deploy my project to the web?")
        response = await d.deliver.event(asked)
        assert response.status_code == 200
        await d.settle()

        ticket = await d.ticket(asked["ts"])
        assert ticket["status"] == "OPEN"
        assert ticket["description"] == "How do I deploy my project to the web?"
        assert ticket["title"] == "How do I deploy my project to the…"  # the first words
        asker = (await d.fetch('SELECT * FROM "User" WHERE id = $1', ticket["openedById"]))[0]
        assert asker["slackId"] == ASKER and asker["username"] == "Asker"

        [backend] = d.posts(TICKET_CHANNEL)
        assert ticket["ticketTs"] == backend.response["ts"]
        assert "How do I deploy" in backend.args["text"] and f"<@{ASKER}>" in backend.args["text"]
        assert "0 earlier tickets" in backend.args["text"]
        assert asked["ts"].replace(".", "") in backend.args["text"]  # the link to the thread
        [reply] = d.posts(HELP_CHANNEL, thread_ts=asked["ts"])
        assert resolve_button_values(reply.args["blocks"]) == [str(ticket["id"])]
        assert "This is your first question here" in reply.args["text"]
        assert backend.response["ts"].replace(".", "") in str(reply.args["blocks"])  # the backend link
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"thinking_face"}
        recorded = {(m["channelId"], m["ts"]) for m in await d.bot_messages(ticket["id"])}
        assert recorded == {(TICKET_CHANNEL, backend.response["ts"]), (HELP_CHANNEL, reply.response["ts"])}

        api = await d.api_ticket(ticket["id"])
        assert api["status"] == "open" and api["message_ts"] == asked["ts"]
        assert api["opened_by"] == {"id": ticket["openedById"], "slack_id": ASKER, "username": "Asker"}
        assert api["closed_by"] is None and api["assigned_to"] is None


async def test_a_returning_asker_gets_the_returning_text_and_their_count(desk, team):
    async with desk() as d:
        await d.ask("first question")
        asked, _ = await d.ask("second question")
        [reply] = d.posts(HELP_CHANNEL, thread_ts=asked["ts"])
        assert "welcome back" in reply.args["text"]
        assert "1 earlier tickets" in d.posts(TICKET_CHANNEL)[-1].args["text"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: file_share(HELP_CHANNEL, ASKER, "my build fails, log attached"),
        lambda: file_share(HELP_CHANNEL, ASKER, ""),
        lambda: me_message(HELP_CHANNEL, ASKER, "is confused about shipping"),
    ],
    ids=["file_share", "file_share_without_text", "me_message"],
)
async def test_questions_with_files_or_me_messages_open_tickets(desk, team, build):
    async with desk() as d:
        asked = build()
        assert (await d.deliver.event(asked)).status_code == 200
        await d.settle()
        ticket = await d.ticket(asked["ts"])
        assert ticket is not None and ticket["ticketTs"] is not None and ticket["title"]
        assert len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1


async def test_bots_the_app_itself_other_channels_and_other_subtypes_open_nothing(desk, team):
    async with desk() as d:
        events = [
            bot_message(HELP_CHANNEL, "deploy finished"),
            message(HELP_CHANNEL, d.slack.bot_user_id, "our own post", bot_id=d.slack.bot_id),
            question("C0ELSEWHERE", ASKER, "a question elsewhere"),
            question(TICKET_CHANNEL, ASKER, "a message in the tickets channel"),
            message(HELP_CHANNEL, ASKER, "joined", subtype="channel_join"),
        ]
        for event in events:
            assert (await d.deliver.event(event)).status_code == 200
        await d.settle()
        assert await d.fetch('SELECT * FROM "Ticket"') == []
        assert d.posts(HELP_CHANNEL) == [] and d.posts(TICKET_CHANNEL) == []
        assert d.slack.calls_to("reactions.add") == []


async def test_an_edited_question_updates_the_ticket_and_its_backend_message(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("how do I ship")
        assert (await d.deliver.event(message_changed(asked, "how do I ship to itch.io?"))).status_code == 200
        await d.settle()
        assert (await d.ticket(asked["ts"]))["description"] == "how do I ship to itch.io?"
        [update] = d.slack.calls_to("chat.update", ok=True)
        assert update.args["ts"] == ticket["ticketTs"] and "itch.io" in update.args["text"]


async def test_a_deleted_question_takes_its_ticket_thread_reply_and_backend_message(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("a question I regret")
        [reply] = d.posts(HELP_CHANNEL, thread_ts=asked["ts"])
        response = await d.deliver.event(message_deleted(asked))
        assert response.status_code == 200
        await d.settle()

        assert await d.ticket(asked["ts"]) is None
        assert await d.fetch('SELECT * FROM "BotMessage"') == []
        deleted = {(c.args["channel"], c.args["ts"]) for c in d.slack.calls_to("chat.delete", ok=True)}
        assert deleted == {(TICKET_CHANNEL, ticket["ticketTs"]), (HELP_CHANNEL, reply.response["ts"])}
        assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is None
        assert (await d.client.get("/api/ticket", params={"id": ticket["id"]})).status_code == 404


async def test_a_question_deleted_with_replies_becomes_a_tombstone_and_its_ticket_goes(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("a question with replies")
        tombstone = message_changed(asked, "This message was deleted.")
        tombstone["message"]["subtype"] = "tombstone"
        assert (await d.deliver.event(tombstone)).status_code == 200
        await d.settle()
        assert await d.ticket(asked["ts"]) is None
        assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is None


async def test_a_question_whose_ticket_is_deleted_before_it_is_read_back_gets_no_slack_side(desk, team):
    # As if another worker's ticket made this insert do nothing and the question (its ticket
    # with it) was deleted before this worker read it back: a trigger drops the insert.
    async with desk() as d:
        await postgres.execute(
            d.db_url,
            """CREATE FUNCTION test_ticket_taken_and_deleted() RETURNS trigger LANGUAGE plpgsql
                   AS $$ BEGIN RETURN NULL; END $$;
               CREATE TRIGGER test_ticket_taken_and_deleted BEFORE INSERT ON "Ticket"
                   FOR EACH ROW EXECUTE FUNCTION test_ticket_taken_and_deleted();""",
        )
        try:
            asked = question(HELP_CHANNEL, ASKER, "How do I deploy my project to the web?")
            assert (await d.deliver.event(asked)).status_code == 200
            await d.settle()
        finally:
            await postgres.execute(
                d.db_url,
                """DROP TRIGGER test_ticket_taken_and_deleted ON "Ticket";
                   DROP FUNCTION test_ticket_taken_and_deleted();""",
            )
        assert await d.ticket(asked["ts"]) is None
        assert d.posts(TICKET_CHANNEL) == []
        assert d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) == []
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == set()
        assert not [c for c in d.posts(HEARTBEAT_CHANNEL) if ":warning:" in c.args["text"]]
