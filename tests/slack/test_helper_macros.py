"""Helper macros end to end: signed events, the fake Slack, real PostgreSQL.

Each macro on an open and a closed ticket, unknown and non-helper macros, ?tag with and
without subscribers (DMs counted exactly), redirect macros per program, and the removal
of the macro message (or the heartbeat note when it cannot be removed).
"""

from __future__ import annotations

from nephthys.slack.macros.removal import NO_TOKEN_NOTE
from nephthys.slack.messages import WAITING_BLOCK
from nephthys.transcripts import load_transcript
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, TICKET_CHANNEL
from tests.support.slack import HEARTBEAT_CHANNEL, USER_TOKEN

DEFAULT = load_transcript("default")


def thread_posts(d, asked) -> list[str]:
    return [c.args["text"] for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"])]


def closing_messages(d, asked) -> list[str]:
    return [text for text in thread_posts(d, asked) if "resolved by" in text]


def removed_by_user_token(d) -> list[str]:
    return [c.args["ts"] for c in d.slack.calls_to("chat.delete", ok=True) if c.token == USER_TOKEN]


def dms(d, user: str) -> list[str]:
    return [
        c.args["text"] for c in d.slack.calls_to("chat.postMessage", ok=True) if c.args["channel"] == user
    ]


async def close(d, asked) -> None:
    await d.reply(asked, HELPER_2, "?resolve")
    assert (await d.ticket(asked["ts"]))["status"] == "CLOSED"


async def make_tag(d, name: str, *subscribers: str) -> int:
    [row] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', name)
    for slack_id in subscribers:
        await d.fetch(
            'INSERT INTO user_tag_subscriptions ("userId", "tagId") '
            'SELECT id, $2 FROM "User" WHERE "slackId" = $1',
            slack_id,
            row["id"],
        )
    return row["id"]


async def test_faq_answers_with_the_link_and_resolves_without_a_second_message(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        macro = await d.reply(asked, HELPER, "?faq")

        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        assert thread_posts(d, asked).count(DEFAULT.text("faq_macro", user=f"<@{ASKER}>")) == 1
        assert closing_messages(d, asked) == []
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
        assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is None
        assert removed_by_user_token(d) == [macro["ts"]]
        assert d.slack.message(HELP_CHANNEL, macro["ts"]) is None
        assert (await d.api_ticket(ticket["id"]))["status"] == "closed"


async def test_macros_that_cannot_run_on_a_closed_ticket_say_so_and_change_nothing(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await close(d, asked)
        closed = await d.ticket(asked["ts"])
        for name in ["faq", "hii"]:
            posts_before = len(d.slack.calls_to("chat.postMessage"))
            macro = await d.reply(asked, HELPER, f"?{name}")
            assert d.slack.ephemerals[-1]["user"] == HELPER
            assert d.slack.ephemerals[-1]["text"] == DEFAULT.text("macro_closed_ticket", macro=name)
            assert len(d.slack.calls_to("chat.postMessage")) == posts_before
            assert macro["ts"] in removed_by_user_token(d)
        assert await d.ticket(asked["ts"]) == closed


async def test_thread_removes_the_bots_messages_and_reactions_and_closes_quietly(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        posted = {(m["channelId"], m["ts"]) for m in await d.bot_messages(ticket["id"])}
        assert len(posted) == 2  # the thread reply and the backend message
        macro = await d.reply(asked, HELPER, "?thread")

        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        for channel, ts in posted:
            assert d.slack.message(channel, ts) is None
        assert await d.bot_messages(ticket["id"]) == []
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == set()
        assert closing_messages(d, asked) == []
        assert d.slack.message(HELP_CHANNEL, macro["ts"]) is None
        assert d.slack.message(HELP_CHANNEL, asked["ts"]) is not None  # the question itself stays


async def test_thread_on_a_closed_ticket_cleans_up_after_it(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await close(d, asked)
        assert len(closing_messages(d, asked)) == 1
        closed = await d.ticket(asked["ts"])
        await d.reply(asked, HELPER, "?thread")

        assert await d.ticket(asked["ts"]) == closed  # closed as it was, by whoever closed it
        assert await d.bot_messages(ticket["id"]) == []
        bot_replies = [m for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"]) if m.get("bot_id")]
        assert bot_replies == []
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == set()
        assert not any("cannot be run" in e["text"] for e in d.slack.ephemerals)


async def test_hii_says_hello_without_taking_the_ticket(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?hii")
        hello = DEFAULT.text("hii_macro", user=f"<@{ASKER}>", helper=f"<@{HELPER}>")
        assert hello in thread_posts(d, asked)
        row = await d.ticket(asked["ts"])
        assert row["status"] == "OPEN" and row["assignedToId"] is None
        assert len(await d.bot_messages(ticket["id"], HELP_CHANNEL)) == 2  # welcome + hello


async def test_tag_notifies_each_subscriber_once_and_never_the_tagger(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        auth = await make_tag(d, "Auth", HELPER, HELPER_2)
        await make_tag(d, "Billing", HELPER_2)
        await make_tag(d, "Nobody listens")

        await d.reply(asked, HELPER, "?tag auth billing")
        assert dms(d, HELPER) == []
        helper_2_dms = dms(d, HELPER_2)
        assert len(helper_2_dms) == 2
        assert any("*Auth*" in text for text in helper_2_dms) and any(
            "*Billing*" in text for text in helper_2_dms
        )
        link = f"/archives/{HELP_CHANNEL}/p{asked['ts'].replace('.', '')}"
        assert all(link in text and f"<@{HELPER}>" in text for text in helper_2_dms)
        [added] = [e for e in d.slack.ephemerals if e["user"] == HELPER]
        assert added["text"] == DEFAULT.text("tag_macro_added", tags="*Auth*, *Billing*")

        # Again, and a tag nobody subscribes to: no DM at all.
        await d.reply(asked, HELPER_2, "?tag Auth")
        await d.reply(asked, HELPER_2, "?tag Nobody listens")
        assert len(dms(d, HELPER_2)) == 2 and dms(d, HELPER) == []
        assert len(d.slack.calls_to("chat.postMessage", channel=HELPER_2)) == 2

        rows = await d.fetch('SELECT "tagId" FROM tags_on_tickets WHERE "ticketId" = $1', ticket["id"])
        assert len(rows) == 3 and auth in {r["tagId"] for r in rows}
        # The backend message now shows the ticket's tags.
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        shown = [
            b for b in backend["blocks"] if b["type"] == "context" and b.get("block_id") != WAITING_BLOCK
        ]
        assert shown and "*Auth*" in shown[0]["elements"][0]["text"]
        api = await d.api_ticket(ticket["id"])
        assert sorted(api["tags"]) == ["Auth", "Billing", "Nobody listens"]


async def test_tag_minus_takes_tags_off_and_notifies_no_one(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await make_tag(d, "Auth team", HELPER_2)
        await make_tag(d, "Billing", HELPER_2)
        await d.reply(asked, HELPER, "?tag Auth team, Billing")
        assert len(dms(d, HELPER_2)) == 2
        await d.reply(asked, HELPER, "?tag -auth TEAM")
        assert d.slack.ephemerals[-1]["text"] == DEFAULT.text("tag_macro_removed", tags="*Auth team*")
        api = await d.api_ticket(ticket["id"])
        assert api["tags"] == ["Billing"]
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        [shown] = [
            b for b in backend["blocks"] if b["type"] == "context" and b.get("block_id") != WAITING_BLOCK
        ]
        assert shown["elements"][0]["text"] == "Team tags: *Billing*"
        # Put back and taken off in one go; unknown names are reported, known ones still applied.
        await d.reply(asked, HELPER, "?tag Auth team, -Billing, -Nope")
        assert (await d.api_ticket(ticket["id"]))["tags"] == ["Auth team"]
        assert d.slack.ephemerals[-1]["text"] == DEFAULT.text(
            "tag_macro_unknown", tags="*-Nope*", available="*Auth team*, *Billing*"
        )
        assert len(dms(d, HELPER_2)) == 3  # Auth team was added again: a new tagging


async def test_tag_with_unknown_names_or_none(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await make_tag(d, "Auth", HELPER_2)
        await d.reply(asked, HELPER, "?tag")
        assert d.slack.ephemerals[-1]["text"] == DEFAULT.text("tag_macro_usage", available="*Auth*")
        await d.reply(asked, HELPER, "?tag Nope")
        assert d.slack.ephemerals[-1]["text"] == DEFAULT.text(
            "tag_macro_unknown", tags="*Nope*", available="*Auth*"
        )
        assert await d.fetch("SELECT * FROM tags_on_tickets") == []
        assert dms(d, HELPER_2) == []


async def test_tagging_a_closed_ticket_notifies_no_one(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await make_tag(d, "Auth", HELPER_2)
        await close(d, asked)
        await d.reply(asked, HELPER, "?tag Auth")
        assert len(await d.fetch('SELECT * FROM tags_on_tickets WHERE "ticketId" = $1', ticket["id"])) == 1
        assert dms(d, HELPER_2) == []


async def test_unknown_macros_list_the_macros_and_suggest_the_nearest(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        typo = await d.reply(asked, HELPER, "?reslove")
        note = d.slack.ephemerals[-1]
        assert note["user"] == HELPER
        assert "`?resolve`" in note["text"] and "Did you mean `?resolve`?" in note["text"]
        for name in ["faq", "thread", "tag", "hii", "reopen"]:
            assert f"`?{name}`" in note["text"]
        assert typo["ts"] in removed_by_user_token(d)

        await d.reply(asked, HELPER, "?xqzwv")
        assert d.slack.ephemerals[-1]["text"].startswith("There is no macro `?xqzwv`. Available:")
        assert (await d.ticket(asked["ts"]))["status"] == "OPEN"


async def test_non_helpers_cannot_run_helper_macros_and_their_messages_stay(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await make_tag(d, "Auth", HELPER)
        before = await d.ticket(asked["ts"])
        for text in ["?faq", "?thread", "?tag Auth", "?hii"]:
            message = await d.reply(asked, STRANGER, text)
            assert d.slack.ephemerals[-1]["user"] == STRANGER
            assert d.slack.ephemerals[-1]["text"] == DEFAULT.text("helpers_only", user=f"<@{STRANGER}>")
            assert d.slack.message(HELP_CHANNEL, message["ts"]) is not None
        after = await d.ticket(asked["ts"])
        assert after["status"] == before["status"] == "OPEN"
        assert await d.fetch("SELECT * FROM tags_on_tickets") == []
        assert removed_by_user_token(d) == [] and dms(d, HELPER) == []
        # The asker is no helper either: ?faq is not theirs to run.
        await d.reply(asked, ASKER, "?faq")
        assert (await d.ticket(asked["ts"]))["status"] == "OPEN"


async def test_without_a_user_token_macros_work_and_the_heartbeat_hears_once(desk, team):
    async with desk(slack_user_token=None) as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?hii")
        await d.reply(asked, HELPER, "?faq")
        assert (await d.ticket(asked["ts"]))["status"] == "CLOSED"
        notes = [c for c in d.posts(HEARTBEAT_CHANNEL) if c.args["text"] == NO_TOKEN_NOTE]
        assert len(notes) == 1
        assert d.slack.calls_to("chat.delete", ok=True, channel=HELP_CHANNEL) == []


async def test_redirect_macros_come_from_the_program(desk, team):
    flavortown = load_transcript("flavortown")
    async with desk(program="flavortown") as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?ship")  # an alias of ?shipping, which resolves
        shipping = flavortown.redirect_macro("shipping")
        assert flavortown.redirect_text(shipping, user=f"<@{ASKER}>") in thread_posts(d, asked)
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        assert not any("served this one" in text for text in thread_posts(d, asked))  # no closing message

        await d.reply(asked, HELPER, "?shop")
        assert d.slack.ephemerals[-1]["text"] == flavortown.text("macro_closed_ticket", macro="shop")

        other, _ = await d.ask("a second question")
        await d.reply(other, HELPER, "?verify")  # identity's macro: unknown here
        listed = d.slack.ephemerals[-1]["text"].split("The macros:")[1]
        assert "`?shipping`" in listed and "`?shop`" in listed and "`?verify`" not in listed
        assert (await d.ticket(other["ts"]))["status"] == "OPEN"


async def test_a_redirect_macro_that_does_not_resolve_leaves_the_ticket_open(desk, team):
    identity = load_transcript("identity")
    async with desk(program="identity") as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?email")
        assert identity.redirect_text(identity.redirect_macro("email"), user=f"<@{ASKER}>") in thread_posts(
            d, asked
        )
        assert (await d.ticket(asked["ts"]))["status"] == "OPEN"
