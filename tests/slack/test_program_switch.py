"""Switching PROGRAM switches every text people see: one story told under two programs.

The same questions, clicks and macros run under ``default`` and ``flavortown``; each text
Slack received is the program's own (checked exactly against its transcript) and no text
is the same in both.
"""

from __future__ import annotations

from nephthys.slack.messages import permalink
from nephthys.transcripts import Transcript, load_transcript
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, TICKET_CHANNEL
from tests.support import postgres
from tests.support.slack import app_home_opened, block_actions, thread_broadcast


def last_ephemeral(d, user: str) -> str:
    return [e for e in d.slack.ephemerals if e["user"] == user][-1]["text"]


def bot_thread_texts(d, asked) -> list[str]:
    return [c.args["text"] for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"])]


async def story(d, transcript: Transcript) -> dict[str, str]:
    """Walk through what people see; returns the text seen for each transcript key."""
    seen: dict[str, str] = {}
    workspace = d.slack.team_domain
    asker, helper, stranger = f"<@{ASKER}>", f"<@{HELPER}>", f"<@{STRANGER}>"

    asked, ticket = await d.ask("My project will not deploy")
    [welcome] = [c for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) if c.args.get("blocks")]
    seen["first_ticket_created"] = welcome.args["text"]
    button = next(e for b in welcome.args["blocks"] if b["type"] == "actions" for e in b["elements"])
    seen["resolve_button"] = button["text"]["text"]
    [backend] = d.posts(TICKET_CHANNEL)
    seen["backend_message"] = backend.args["text"]
    thread_link = permalink(f"https://{workspace}.slack.com", HELP_CHANNEL, asked["ts"])
    assert seen["backend_message"] == transcript.text(
        "backend_message",
        user=asker,
        title="My project will not deploy",
        question="My project will not deploy",
        previous_tickets="0",
        thread_link=thread_link,
    )
    assert seen["first_ticket_created"] == transcript.text("first_ticket_created", user=asker)
    assert seen["resolve_button"] == transcript.text("resolve_button")

    again, _ = await d.ask("And another thing")
    [returning] = [c for c in d.posts(HELP_CHANNEL, thread_ts=again["ts"]) if c.args.get("blocks")]
    seen["ticket_created"] = returning.args["text"]
    assert seen["ticket_created"] == transcript.text("ticket_created", user=asker)

    await d.click_resolve(ticket["id"], STRANGER, message=d.thread_reply_message(asked))
    seen["not_allowed_to_resolve"] = last_ephemeral(d, STRANGER)
    assert seen["not_allowed_to_resolve"] == transcript.text("not_allowed_to_resolve", user=stranger)

    await d.reply(asked, STRANGER, "?faq")
    seen["helpers_only"] = last_ephemeral(d, STRANGER)
    assert seen["helpers_only"] == transcript.text("helpers_only", user=stranger)

    await d.reply(asked, HELPER, "?hii")
    seen["hii_macro"] = bot_thread_texts(d, asked)[-1]
    assert seen["hii_macro"] == transcript.text("hii_macro", user=asker, helper=helper)

    await d.reply(asked, HELPER, "?faqq")
    seen["unknown_macro_suggestion"] = last_ephemeral(d, HELPER)
    assert "`?faq`" in seen["unknown_macro_suggestion"]

    [tag] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Deploys")
    await d.fetch(
        'INSERT INTO user_tag_subscriptions ("userId", "tagId") SELECT id, $2 FROM "User" WHERE "slackId" = $1',
        HELPER_2,
        tag["id"],
    )
    await d.reply(asked, HELPER, "?tag Deploys")
    seen["tag_macro_added"] = last_ephemeral(d, HELPER)
    [dm] = d.slack.calls_to("chat.postMessage", ok=True, channel=HELPER_2)
    seen["tag_notification"] = dm.args["text"]
    assert seen["tag_notification"] == transcript.text(
        "tag_notification",
        tag="Deploys",
        question_link=thread_link,
        title="My project will not deploy",
        user=asker,
        tagger=helper,
    )

    broadcast = thread_broadcast(
        HELP_CHANNEL, STRANGER, "me too", thread_ts=asked["ts"], parent_user_id=ASKER
    )
    assert (await d.deliver.event(broadcast)).status_code == 200
    await d.settle()
    seen["broadcast_removed"] = last_ephemeral(d, STRANGER)
    assert seen["broadcast_removed"] == transcript.text("broadcast_removed", user=stranger)

    await d.reply(asked, HELPER, "?faq")
    seen["faq_macro"] = bot_thread_texts(d, asked)[-1]
    assert seen["faq_macro"] == transcript.text("faq_macro", user=asker)
    assert transcript.faq_link in seen["faq_macro"]

    await d.reply(asked, HELPER, "?hii")
    seen["macro_closed_ticket"] = last_ephemeral(d, HELPER)
    assert seen["macro_closed_ticket"] == transcript.text("macro_closed_ticket", macro="hii")

    await d.reply(asked, HELPER, "?reopen")
    seen["reopened"] = bot_thread_texts(d, asked)[-1]
    assert seen["reopened"] == transcript.text("reopened", user=asker, reopener=helper)

    await d.reply(asked, HELPER, "?resolve")
    seen["resolved"] = bot_thread_texts(d, asked)[-1]
    assert seen["resolved"] == transcript.text("resolved", user=asker, closer=helper)

    await d.deliver.event(app_home_opened(HELPER))
    await d.settle()
    home = d.slack.views_published[HELPER]["blocks"]
    header = next(b for b in home if b.get("block_id") == "home_header")
    seen["app_home_view_dashboard"] = header["elements"][0]["text"]["text"]
    assert seen["app_home_view_dashboard"] == transcript.text("app_home_view_dashboard")
    team_tags = next(e for e in header["elements"] if e["value"] == "team_tags")
    assert (await d.deliver.action(block_actions(HELPER, team_tags, view={"id": "V1"}))).status_code == 200
    await d.settle()
    home = d.slack.views_published[HELPER]["blocks"]
    seen["app_home_team_tags_title"] = next(b for b in home if b["type"] == "header" and b is not home[0])[
        "text"
    ]["text"]
    assert seen["app_home_team_tags_title"] == transcript.text("app_home_team_tags_title")
    return seen


async def test_a_program_switch_changes_every_text(desk, team, fake, db_url):
    seen: dict[str, dict[str, str]] = {}
    for program in ["default", "flavortown"]:
        async with desk(program=program) as d:
            seen[program] = await story(d, load_transcript(program))
        await postgres.truncate_all(db_url)
        fake.reset_calls()
        fake.views_published.clear()
    assert seen["default"].keys() == seen["flavortown"].keys()
    same = [key for key in seen["default"] if seen["default"][key] == seen["flavortown"][key]]
    assert same == []
