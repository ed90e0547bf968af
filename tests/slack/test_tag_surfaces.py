"""Team tags and question tags through Slack's surfaces, end to end: the App Home view, the create
modals, the backend message's selects and their options, and the question-tag stats route.
"""

from __future__ import annotations

import time

from nephthys.slack import messages, tag_blocks
from nephthys.transcripts import load_transcript
from tests.slack.conftest import HELPER, HELPER_2, STRANGER, TICKET_CHANNEL
from tests.support.slack import app_home_opened, block_actions, block_suggestion, button, view_submission

DEFAULT = load_transcript("default")


def option(tag_id: int, name: str) -> dict:
    return {"text": {"type": "plain_text", "text": name, "emoji": True}, "value": str(tag_id)}


def team_select(ticket_id: int, *selected: tuple[int, str]) -> dict:
    return {
        "type": "multi_external_select",
        "action_id": tag_blocks.TEAM_TAGS_SELECT,
        "block_id": tag_blocks.ticket_tags_block_id(ticket_id),
        "selected_options": [option(*pair) for pair in selected],
        "action_ts": f"{time.time():.6f}",
    }


def question_select(ticket_id: int, selected: tuple[int, str] | None) -> dict:
    action = {
        "type": "external_select",
        "action_id": tag_blocks.QUESTION_TAG_SELECT,
        "block_id": tag_blocks.ticket_tags_block_id(ticket_id),
        "action_ts": f"{time.time():.6f}",
    }
    if selected is not None:
        action["selected_option"] = option(*selected)
    return action


async def act(d, payload: dict):
    response = await d.deliver.action(payload)
    assert response.status_code == 200, response.text
    await d.settle()
    return response


async def on_backend(d, ticket, user: str, action: dict):
    backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
    return await act(d, block_actions(user, action, channel=TICKET_CHANNEL, message=backend))


async def submit_name(d, user: str, name: str, *, question_tag: bool = False):
    callback = tag_blocks.CREATE_QUESTION_TAG_MODAL if question_tag else tag_blocks.CREATE_TAG_MODAL
    values = {tag_blocks.NAME_BLOCK: {tag_blocks.NAME_INPUT: {"type": "plain_text_input", "value": name}}}
    response = await d.deliver.action(view_submission(user, callback_id=callback, values=values))
    assert response.status_code == 200, response.text
    await d.settle()
    return response.json() if response.content else None


def home_of(d, user: str) -> list[dict]:
    return d.slack.views_published[user]["blocks"]


def dms(d, user: str) -> list[str]:
    return [
        c.args["text"] for c in d.slack.calls_to("chat.postMessage", ok=True) if c.args["channel"] == user
    ]


async def open_team_tags(d, user: str) -> list[dict]:
    """Open the Home and click its "Team tags" header button; returns the published blocks."""
    assert (await d.deliver.event(app_home_opened(user))).status_code == 200
    await d.settle()
    header = next(b for b in home_of(d, user) if b.get("block_id") == "home_header")
    team_tags = next(e for e in header["elements"] if e["value"] == "team_tags")
    await act(d, block_actions(user, team_tags, view=d.slack.views_published[user]))
    return home_of(d, user)


async def test_app_home_create_tags_in_a_modal_with_clashes_shown_in_it(desk, team):
    # Creating team tags is for admins (the maintainer is always one).
    async with desk(slack_maintainer_id=HELPER) as d:
        blocks = await open_team_tags(d, HELPER)
        assert blocks[0]["text"]["text"] == "Nephthys"  # APP_TITLE
        assert any(b.get("text", {}).get("text") == DEFAULT.text("app_home_team_tags_title") for b in blocks)
        assert blocks[-1]["text"]["text"] == DEFAULT.text("app_home_no_team_tags")
        create = next(b for b in blocks if b.get("block_id") == "team_tags_create")

        await act(d, block_actions(HELPER, create["elements"][0], view=d.slack.views_published[HELPER]))
        [opened] = d.slack.views_opened
        assert opened["view"]["callback_id"] == tag_blocks.CREATE_TAG_MODAL

        assert await submit_name(d, HELPER, "  Auth  ") is None
        assert [r["name"] for r in await d.fetch('SELECT name FROM "Tag"')] == ["Auth"]
        republished = [b.get("text", {}).get("text", "") for b in home_of(d, HELPER)]
        assert any(text.startswith("*Auth*") for text in republished)

        clash = await submit_name(d, HELPER, "AUTH")
        assert clash == {
            "response_action": "errors",
            "errors": {"name": DEFAULT.text("tag_name_taken", name="Auth")},
        }
        empty = await submit_name(d, HELPER, "   ")
        assert empty["errors"]["name"] == DEFAULT.text("tag_name_empty")
        long = await submit_name(d, HELPER, "x" * 76)
        assert long["errors"]["name"] == DEFAULT.text("tag_name_too_long", max_length="75")
        # A helper who is not an admin, and someone who is not even a helper, are refused.
        not_admin = await submit_name(d, HELPER_2, "Billing")
        assert not_admin["errors"]["name"] == DEFAULT.text("app_home_admins_only")
        stranger = await submit_name(d, STRANGER, "Billing")
        assert stranger["errors"]["name"] == DEFAULT.text("app_home_admins_only")
        assert [r["name"] for r in await d.fetch('SELECT name FROM "Tag"')] == ["Auth"]

        # Someone who is not an admin sees no create button, and cannot open the modal.
        helper_2 = await open_team_tags(d, HELPER_2)
        assert not any(b.get("block_id") == "team_tags_create" for b in helper_2)
        await act(d, block_actions(HELPER_2, button(tag_blocks.CREATE_TAG_BUTTON), view={"id": "V1"}))
        await act(d, block_actions(STRANGER, button(tag_blocks.CREATE_TAG_BUTTON), view={"id": "V1"}))
        assert len(d.slack.views_opened) == 1


async def test_subscribe_and_unsubscribe_from_the_app_home(desk, team):
    async with desk() as d:
        [tag] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Auth")
        await open_team_tags(d, HELPER)
        row = next(b for b in home_of(d, HELPER) if b.get("block_id") == f"team_tag:{tag['id']}")
        assert row["accessory"]["action_id"] == tag_blocks.SUBSCRIBE_BUTTON

        await act(d, block_actions(HELPER, row["accessory"], view=d.slack.views_published[HELPER]))
        subscriptions = await d.fetch('SELECT "tagId" FROM user_tag_subscriptions')
        assert [s["tagId"] for s in subscriptions] == [tag["id"]]
        row = next(b for b in home_of(d, HELPER) if b.get("block_id") == f"team_tag:{tag['id']}")
        assert row["accessory"]["action_id"] == tag_blocks.UNSUBSCRIBE_BUTTON
        assert row["accessory"]["text"]["text"] == DEFAULT.text("app_home_unsubscribe_button")

        await act(d, block_actions(HELPER, row["accessory"], view=d.slack.views_published[HELPER]))
        assert await d.fetch("SELECT * FROM user_tag_subscriptions") == []


async def test_backend_select_sets_the_tickets_tags_and_dms_subscribers_once(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        [auth] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Auth")
        [billing] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Billing")
        for slack_id, tag in [(HELPER, auth), (HELPER_2, auth), (HELPER_2, billing)]:
            await d.fetch(
                'INSERT INTO user_tag_subscriptions ("userId", "tagId") SELECT id, $2 FROM "User" WHERE "slackId" = $1',
                slack_id,
                tag["id"],
            )
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        actions = next(
            b for b in backend["blocks"] if b.get("block_id") == tag_blocks.ticket_tags_block_id(ticket["id"])
        )
        assert [e["type"] for e in actions["elements"]] == ["multi_external_select", "external_select"]

        # The options endpoint filters by what the helper types.
        suggestion = block_suggestion(
            HELPER,
            action_id=tag_blocks.TEAM_TAGS_SELECT,
            value="AU",
            channel=TICKET_CHANNEL,
            message_ts=ticket["ticketTs"],
        )
        response = await d.deliver.action(suggestion)
        assert response.status_code == 200 and response.json() == {"options": [option(auth["id"], "Auth")]}

        await on_backend(
            d, ticket, HELPER, team_select(ticket["id"], (auth["id"], "Auth"), (billing["id"], "Billing"))
        )
        tagged = await d.fetch(
            'SELECT "tagId" FROM tags_on_tickets WHERE "ticketId" = $1 ORDER BY "tagId"', ticket["id"]
        )
        assert [r["tagId"] for r in tagged] == [auth["id"], billing["id"]]
        assert dms(d, HELPER) == [] and len(dms(d, HELPER_2)) == 2
        shown = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])["blocks"]
        # The tags' line, beside the one saying whom the ticket waits on.
        context = next(
            b for b in shown if b["type"] == "context" and b.get("block_id") != messages.WAITING_BLOCK
        )
        assert context["elements"][0]["text"] == "Team tags: *Auth*, *Billing*"

        # Deselecting Auth removes it; the selection again adds nothing and notifies no one.
        await on_backend(d, ticket, HELPER_2, team_select(ticket["id"], (billing["id"], "Billing")))
        await on_backend(d, ticket, HELPER_2, team_select(ticket["id"], (billing["id"], "Billing")))
        tagged = await d.fetch('SELECT "tagId" FROM tags_on_tickets WHERE "ticketId" = $1', ticket["id"])
        assert [r["tagId"] for r in tagged] == [billing["id"]]
        assert len(dms(d, HELPER_2)) == 2 and dms(d, HELPER) == []
        assert (await d.api_ticket(ticket["id"]))["tags"] == ["Billing"]

        # Someone who is not a helper changes nothing and is told why.
        await on_backend(d, ticket, STRANGER, team_select(ticket["id"]))
        assert d.slack.ephemerals[-1]["user"] == STRANGER
        assert d.slack.ephemerals[-1]["text"] == DEFAULT.text("helpers_only", user=f"<@{STRANGER}>")
        assert len(await d.fetch('SELECT * FROM tags_on_tickets WHERE "ticketId" = $1', ticket["id"])) == 1


async def test_question_tags_created_selected_and_counted(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        assert await submit_name(d, HELPER, "What's the payout range?", question_tag=True) is None
        clash = await submit_name(d, HELPER, "what's the PAYOUT range?", question_tag=True)
        assert clash["errors"]["name"] == DEFAULT.text("tag_name_taken", name="What's the payout range?")
        assert await submit_name(d, HELPER, "When does my order ship?", question_tag=True) is None
        rows = await d.fetch('SELECT id, label FROM "QuestionTag" ORDER BY id')
        payout, shipping = rows[0]["id"], rows[1]["id"]

        suggestion = block_suggestion(
            HELPER,
            action_id=tag_blocks.QUESTION_TAG_SELECT,
            value="ship",
            channel=TICKET_CHANNEL,
            message_ts=ticket["ticketTs"],
        )
        response = await d.deliver.action(suggestion)
        assert response.json() == {"options": [option(shipping, "When does my order ship?")]}

        await on_backend(
            d, ticket, HELPER, question_select(ticket["id"], (payout, "What's the payout range?"))
        )
        await on_backend(
            d, ticket, HELPER, question_select(ticket["id"], (shipping, "When does my order ship?"))
        )
        assert (await d.ticket(asked["ts"]))["questionTagId"] == shipping  # at most one per ticket
        shown = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])["blocks"]
        select = next(b for b in shown if b.get("block_id") == tag_blocks.ticket_tags_block_id(ticket["id"]))
        assert select["elements"][1]["initial_option"]["value"] == str(shipping)

        await on_backend(d, ticket, STRANGER, question_select(ticket["id"], None))
        assert (await d.ticket(asked["ts"]))["questionTagId"] == shipping

        stats = await d.client.get("/api/stats/question_tags")
        assert stats.status_code == 200
        assert [(row["label"], row["count"]) for row in stats.json()] == [
            ("When does my order ship?", 1),
            ("What's the payout range?", 0),
        ]
