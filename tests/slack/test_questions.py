"""Behaviour 1: a question in the help channel becomes a ticket with its Slack side, exactly once."""

from __future__ import annotations

from tests.slack.conftest import ASKER, HELP_CHANNEL, TICKET_CHANNEL
from tests.support.slack import question


async def test_a_question_opens_a_ticket_with_backend_message_thread_reply_and_reaction(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "How do I deploy my project to the web?")
        response = await d.deliver.event(asked)
        assert response.status_code == 200
        await d.settle()

        ticket = await d.ticket(asked["ts"])
        assert ticket["status"] == "OPEN"
        assert ticket["description"] == "How do I deploy my project to the web?"
        assert ticket["title"]
        asker = (await d.fetch('SELECT * FROM "User" WHERE id = $1', ticket["openedById"]))[0]
        assert asker["slackId"] == ASKER and asker["username"] == "Asker"

        [backend] = d.posts(TICKET_CHANNEL)
        assert ticket["ticketTs"] == backend.response["ts"]
        assert "How do I deploy" in backend.args["text"] and f"<@{ASKER}>" in backend.args["text"]
        [reply] = d.posts(HELP_CHANNEL, thread_ts=asked["ts"])
        assert any(
            element.get("action_id") == "resolve_ticket" and element.get("value") == str(ticket["id"])
            for block in reply.args["blocks"]
            for element in block.get("elements", [])
        )
        assert backend.response["ts"].replace(".", "") in str(reply.args["blocks"])
        assert "thinking_face" in d.slack.reactions(HELP_CHANNEL, asked["ts"])
        recorded = {(m["channelId"], m["ts"]) for m in await d.bot_messages(ticket["id"])}
        assert recorded == {(TICKET_CHANNEL, backend.response["ts"]), (HELP_CHANNEL, reply.response["ts"])}
