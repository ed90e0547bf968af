"""What the bot repeats pings no one: broadcast and user-group mentions in someone's words are
inert wherever the bot quotes them (backend message, its edits, tag names, tag DMs, macro replies)."""

from __future__ import annotations

from nephthys.tags import service
from tests.slack.conftest import HELP_CHANNEL, HELPER, HELPER_2, TICKET_CHANNEL
from tests.support.slack import message_changed

PINGS = ("<!channel>", "<!here", "<!everyone", "<!subteam^")
LOUD_QUESTION = "<!channel> <!here> <!everyone> <!subteam^S0123ABCD|@support-team> my deploy is broken"


def pings_in(*texts: str) -> list[str]:
    return [ping for ping in PINGS if any(ping in text for text in texts)]


def mrkdwn_texts(blocks: object) -> list[str]:
    """Every text Slack renders as mrkdwn in ``blocks`` (plain_text, e.g. a select's option, pings no one)."""
    if isinstance(blocks, dict):
        found = (
            [blocks["text"]] if blocks.get("type") == "mrkdwn" and isinstance(blocks.get("text"), str) else []
        )
        return found + [text for value in blocks.values() for text in mrkdwn_texts(value)]
    if isinstance(blocks, list):
        return [text for item in blocks for text in mrkdwn_texts(item)]
    return []


def assert_pings_no_one(call) -> None:
    texts = [call.args.get("text") or "", *mrkdwn_texts(call.args.get("blocks"))]
    assert pings_in(*texts) == [], call.args


async def test_a_question_full_of_mentions_gives_a_backend_message_that_pings_no_one(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask(LOUD_QUESTION)
        [backend] = d.posts(TICKET_CHANNEL)
        assert_pings_no_one(backend)
        # Still readable: the words are there, as plain text.
        for word in ("channel", "here", "everyone", "support-team", "my deploy is broken"):
            assert word in backend.args["text"]
        for call in d.posts(HELP_CHANNEL):
            assert_pings_no_one(call)

        # The asker edits the question: the re-rendered backend message pings no one either.
        edited = message_changed(asked, "<!here> still broken <!subteam^S0123ABCD>")
        assert (await d.deliver.event(edited)).status_code == 200
        await d.settle()
        [update] = d.slack.calls_to("chat.update", ok=True, channel=TICKET_CHANNEL)
        assert_pings_no_one(update)
        assert "still broken" in update.args["text"]
        assert ticket["ticketTs"] == update.args["ts"]


async def test_tag_names_and_titles_are_quoted_without_pinging(desk, team):
    async with desk() as d:
        loud_tag = "<!subteam^S0OPS0001|@ops> Auth"
        async with d.service.ctx.sessions.begin() as session:
            tag = await service.create_tag(session, name=loud_tag)
        [row] = await d.fetch('SELECT id FROM "User" WHERE "slackId" = $1', HELPER_2)
        async with d.service.ctx.sessions.begin() as session:
            await service.subscribe(session, user_id=row["id"], tag_id=tag.id)

        asked, ticket = await d.ask(LOUD_QUESTION)
        await d.reply(asked, HELPER, f"?tag {loud_tag}, <!everyone>")

        [dm] = [c for c in d.slack.calls_to("chat.postMessage", ok=True) if c.args["channel"] == HELPER_2]
        assert_pings_no_one(dm)
        assert "Auth" in dm.args["text"]
        told = [e["text"] for e in d.slack.ephemerals if e["user"] == HELPER]
        assert told and pings_in(*told) == []
        updates = d.slack.calls_to("chat.update", ok=True, channel=TICKET_CHANNEL)
        assert updates
        for update in updates:
            assert_pings_no_one(update)
        # The tag is shown on the backend message, readable.
        assert any("Auth" in text for text in mrkdwn_texts(updates[-1].args["blocks"]))
