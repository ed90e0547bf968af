"""Behaviours 5 (resolve: button, ?resolve, backend message) and 6 (reopen), and the macro rules."""

from __future__ import annotations

from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, TICKET_CHANNEL


def closing_messages(d, asked) -> list:
    return [c for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) if "resolved by" in c.args["text"]]


async def assert_closed_in_slack(d, asked, ticket) -> None:
    assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
    assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is None  # the backend message is gone
    assert await d.bot_messages(ticket["id"], TICKET_CHANNEL) == []
    assert len(closing_messages(d, asked)) == 1


async def test_a_helper_resolves_with_the_button(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.click_resolve(ticket["id"], HELPER, message=d.thread_reply_message(asked))

        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and row["closedAt"] is not None
        assert await d.slack_id(row["closedById"]) == HELPER
        await assert_closed_in_slack(d, asked, ticket)
        assert f"<@{HELPER}>" in closing_messages(d, asked)[0].args["text"]
        api = await d.api_ticket(ticket["id"])
        assert api["status"] == "closed" and api["closed_by"]["slack_id"] == HELPER


async def test_the_asker_resolving_an_assigned_ticket_credits_the_helper(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "here is how")
        await d.click_resolve(ticket["id"], ASKER, message=d.thread_reply_message(asked))
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        await assert_closed_in_slack(d, asked, ticket)


async def test_someone_else_cannot_resolve_and_is_told_privately(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        calls_before = len(d.slack.calls)
        await d.click_resolve(ticket["id"], STRANGER, message=d.thread_reply_message(asked))
        assert (await d.ticket(asked["ts"]))["status"] == "OPEN"
        [note] = d.slack.ephemerals
        assert note["user"] == STRANGER and "only the asker or a helper" in note["text"]
        assert [c.method for c in d.slack.calls[calls_before:]] == ["chat.postEphemeral"]


async def test_resolving_a_closed_ticket_changes_nothing_and_posts_nothing(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.click_resolve(ticket["id"], HELPER, message=d.thread_reply_message(asked))
        closed = await d.ticket(asked["ts"])
        calls_before = len(d.slack.calls)

        await d.click_resolve(ticket["id"], HELPER_2, message=d.thread_reply_message(asked))
        await d.click_resolve(ticket["id"], ASKER, message=d.thread_reply_message(asked))
        macro = await d.reply(asked, HELPER_2, "?resolve")

        assert await d.ticket(asked["ts"]) == closed
        # Nothing posted: the one call removes the helper's ?resolve message (a command, not a reply).
        assert [(c.method, c.args) for c in d.slack.calls[calls_before:]] == [
            ("chat.delete", {"channel": HELP_CHANNEL, "ts": macro["ts"]})
        ]


async def test_a_helper_resolves_with_the_macro_and_the_reply_is_not_an_answer(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?resolve")
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        assert row["assignedToId"] is None  # a macro is a command, not an answer
        await assert_closed_in_slack(d, asked, ticket)


async def test_resolve_from_the_backend_message(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        await d.click_resolve(ticket["id"], HELPER_2, channel=TICKET_CHANNEL, message=backend)
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER_2
        await assert_closed_in_slack(d, asked, ticket)


async def test_reopen_with_each_alias_posts_a_new_backend_message(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        backend_messages = [ticket["ticketTs"]]
        for number, (who, macro) in enumerate(
            [(HELPER, "?reopen"), (HELPER_2, "?unresolve"), (ASKER, "?open")], start=1
        ):
            await d.reply(asked, HELPER, "?resolve")
            closed = await d.ticket(asked["ts"])
            assert closed["status"] == "CLOSED"
            await d.reply(asked, who, macro)

            row = await d.ticket(asked["ts"])
            assert row["status"] == "OPEN", macro
            assert row["closedById"] is None and row["closedAt"] is None
            assert await d.slack_id(row["reopenedById"]) == who and row["reopenedAt"] is not None
            assert row["ticketTs"] is not None and row["ticketTs"] not in backend_messages
            backend_messages.append(row["ticketTs"])
            assert d.slack.message(TICKET_CHANNEL, row["ticketTs"]) is not None
            assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"thinking_face"}
            reopen_notes = [
                c for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) if "reopened" in c.args["text"]
            ]
            assert len(reopen_notes) == number
            assert [m["ts"] for m in await d.bot_messages(ticket["id"], TICKET_CHANNEL)] == [row["ticketTs"]]
            api = await d.api_ticket(ticket["id"])
            assert api["status"] == "open" and api["reopened_by"]["slack_id"] == who
        # The welcome reply with its Resolve button was posted once.
        welcomes = [
            c
            for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"])
            if "resolve_ticket" in str(c.args.get("blocks"))
        ]
        assert len(welcomes) == 1


async def test_reopening_an_open_ticket_changes_nothing(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        calls_before = len(d.slack.calls)
        macro = await d.reply(asked, HELPER, "?reopen")
        row = await d.ticket(asked["ts"])
        assert row["status"] == "OPEN" and row["reopenedById"] is None
        # Nothing posted: the one call removes the helper's ?reopen message (a command, not a reply).
        assert [(c.method, c.args) for c in d.slack.calls[calls_before:]] == [
            ("chat.delete", {"channel": HELP_CHANNEL, "ts": macro["ts"]})
        ]


async def test_macro_rules_unknown_helpers_only(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?frobnicate now")
        [unknown] = d.slack.ephemerals
        assert (
            unknown["user"] == HELPER and "?frobnicate" in unknown["text"] and "?resolve" in unknown["text"]
        )

        await d.reply(asked, STRANGER, "?resolve")
        assert (await d.ticket(asked["ts"]))["status"] == "OPEN"
        assert d.slack.ephemerals[-1]["user"] == STRANGER
        assert "only the asker or a helper can do that" in d.slack.ephemerals[-1]["text"]

        # Someone who is not a helper writing "?something" that is no macro is just replying.
        await d.reply(asked, STRANGER, "?? does anyone know")
        await d.reply(asked, STRANGER, "?hmm")
        assert (await d.ticket(asked["ts"]))["lastMsgBy"] == "OTHER"
        assert len(d.slack.ephemerals) == 2

        await d.reply(asked, ASKER, "?resolve")
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == ASKER
