"""Issue 9 end to end over signed HTTP and the fake Slack: the closing message's Re-open and
Give feedback buttons, the feedback modal, credit for a resolve, deletions that keep answered
tickets, ``?close``, and the backend message posted as the asker."""

from __future__ import annotations

import asyncio

from nephthys.slack import messages
from nephthys.tickets.lifecycle import closure_key
from tests.slack.conftest import ASKER, BTS_CHANNEL, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, TICKET_CHANNEL
from tests.support.slack import (
    block_actions,
    button,
    message_deleted,
    message_tombstoned,
    plain_text_value,
    radio_buttons_value,
    thread_reply,
    view_submission,
)


def closing_messages(d, asked) -> list[dict]:
    """The closing messages in the question's thread, as Slack holds them now."""
    return [
        m
        for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"])
        if m.get("bot_id") and "resolved by" in m.get("text", "")
    ]


def buttons_of(message: dict) -> dict[str, str]:
    """action_id -> value of a message's buttons."""
    return {
        element["action_id"]: element.get("value")
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    }


async def click(d, user: str, message: dict, action_id: str, *, value: str | None = None):
    value = buttons_of(message)[action_id] if value is None else value
    payload = block_actions(user, button(action_id, value=value), channel=HELP_CHANNEL, message=message)
    response = await d.deliver.action(payload)
    assert response.status_code == 200, response.text
    await d.settle()
    return payload


async def resolved_ticket(d, *, by: str = HELPER, text: str = "How do I ship my project?"):
    """A question a helper answered and ``by`` resolved; returns (event, ticket row, closing message)."""
    asked, ticket = await d.ask(text)
    await d.reply(asked, HELPER, "here is how")
    await d.reply(asked, by, "?resolve")
    [closing] = closing_messages(d, asked)[-1:]
    return asked, await d.ticket(asked["ts"]), closing


def ephemerals_to(d, user: str) -> list[str]:
    return [e["text"] for e in d.slack.ephemerals if e["user"] == user]


async def submit_feedback(d, user: str, ticket_id: int, *, rating: str | None, comment: str | None = None):
    opened = d.slack.views_opened[-1]["view"] if d.slack.views_opened else {}
    values = {
        messages.FEEDBACK_RATING_BLOCK: {messages.FEEDBACK_RATING_INPUT: radio_buttons_value(rating)},
        messages.FEEDBACK_COMMENT_BLOCK: {messages.FEEDBACK_COMMENT_INPUT: plain_text_value(comment)},
    }
    payload = view_submission(
        user,
        callback_id=messages.FEEDBACK_MODAL,
        private_metadata=str(ticket_id),
        values=values,
        view={k: opened[k] for k in ("id", "blocks", "title", "submit", "close") if k in opened},
    )
    response = await d.deliver.action(payload)
    assert response.status_code == 200, response.text
    await d.settle()
    return response.json() if response.content else None


async def feedback_rows(d) -> list:
    return await d.fetch('SELECT * FROM "Feedback" ORDER BY id')


# ---------------------------------------------------------------- 1. the closing message


async def test_every_resolve_posts_block_kit_with_reopen_and_feedback_bound_to_the_closure(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        value = f"{ticket['id']}:{closure_key(ticket['closedAt'])}"
        assert buttons_of(closing) == {messages.REOPEN_ACTION: value, messages.FEEDBACK_ACTION: value}
        assert closing["blocks"][0]["text"]["text"] == closing["text"]
        assert f"<@{HELPER}>" in closing["text"]
        [button_texts] = [[e["text"]["text"] for e in b["elements"]] for b in closing["blocks"][1:]]
        assert button_texts == ["Re-open", "Give feedback"]


async def test_the_resolve_button_and_close_alias_post_the_same_closing_message(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER_2, "?close")
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER_2
        [closing] = closing_messages(d, asked)
        assert set(buttons_of(closing)) == {messages.REOPEN_ACTION, messages.FEEDBACK_ACTION}

        other, other_ticket = await d.ask("another one")
        await d.click_resolve(other_ticket["id"], HELPER, message=d.thread_reply_message(other))
        [closing] = closing_messages(d, other)
        assert set(buttons_of(closing)) == {messages.REOPEN_ACTION, messages.FEEDBACK_ACTION}


async def test_with_feedback_off_the_closing_message_only_offers_reopen(desk, team):
    async with desk(feedback=False) as d:
        asked, ticket, closing = await resolved_ticket(d)
        assert set(buttons_of(closing)) == {messages.REOPEN_ACTION}


async def test_reopen_button_reopens_like_the_macro_and_retires_the_buttons(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        await click(d, ASKER, closing, messages.REOPEN_ACTION)

        row = await d.ticket(asked["ts"])
        assert row["status"] == "OPEN" and await d.slack_id(row["reopenedById"]) == ASKER
        assert row["closedById"] is None and row["ticketTs"] not in (None, ticket["ticketTs"])
        assert d.slack.message(TICKET_CHANNEL, row["ticketTs"]) is not None  # a new backend message
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"thinking_face"}
        assert any("reopened" in c.args["text"] for c in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]))
        # The old closing message keeps its text but no longer offers its buttons.
        [updated] = d.slack.calls_to("chat.update", ok=True, channel=HELP_CHANNEL, ts=closing["ts"])
        now = d.slack.message(HELP_CHANNEL, closing["ts"])
        assert buttons_of(now) == {} and now["text"] == closing["text"]
        assert d.slack.ephemerals == []


async def test_a_helper_may_reopen_anyone_else_is_told_who_may(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        updates = d.slack.calls_to("chat.update")  # the backend message said whom it waited on
        await click(d, STRANGER, closing, messages.REOPEN_ACTION)
        assert (await d.ticket(asked["ts"]))["status"] == "CLOSED"
        assert ephemerals_to(d, STRANGER) == [f"Sorry <@{STRANGER}>, only the asker or a helper can do that."]
        assert d.slack.calls_to("chat.update") == updates  # the refused click updated nothing

        await click(d, HELPER_2, closing, messages.REOPEN_ACTION)
        row = await d.ticket(asked["ts"])
        assert row["status"] == "OPEN" and await d.slack_id(row["reopenedById"]) == HELPER_2


async def test_reopen_on_an_open_ticket_answers_privately_and_changes_nothing(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        await d.reply(asked, HELPER, "?reopen")
        reopened = await d.ticket(asked["ts"])
        calls_before = len(d.slack.calls)

        await click(d, ASKER, closing, messages.REOPEN_ACTION)
        assert await d.ticket(asked["ts"]) == reopened
        assert ephemerals_to(d, ASKER) == [f"<@{ASKER}>, this question is already open."]
        assert [c.method for c in d.slack.calls[calls_before:]] == ["chat.postEphemeral"]


async def test_a_button_from_an_earlier_closure_is_out_of_date(desk, team):
    async with desk() as d:
        asked, ticket, first_closing = await resolved_ticket(d)
        await d.reply(asked, ASKER, "?reopen")
        await d.reply(asked, HELPER, "?resolve")
        closed_again = await d.ticket(asked["ts"])
        assert closed_again["closedAt"] != ticket["closedAt"]

        # A click that was already under way on the first closing message (its buttons were
        # taken off by the reopen, but the click carries the value it had).
        await click(
            d,
            ASKER,
            first_closing,
            messages.REOPEN_ACTION,
            value=buttons_of(first_closing)[messages.REOPEN_ACTION],
        )
        assert await d.ticket(asked["ts"]) == closed_again
        assert ephemerals_to(d, ASKER)[-1] == (
            f"<@{ASKER}>, that button belongs to an earlier closing of this question and is out of date."
        )
        # The current closing message still works.
        [latest] = [m for m in closing_messages(d, asked) if buttons_of(m)]
        await click(d, ASKER, latest, messages.REOPEN_ACTION)
        assert (await d.ticket(asked["ts"]))["status"] == "OPEN"


async def test_forged_button_values_change_nothing(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        for forged in ("reopen-me", f"{ticket['id']}", "99999:1", f"{ticket['id']}:1", "1" * 40 + ":1"):
            for action in (messages.REOPEN_ACTION, messages.FEEDBACK_ACTION):
                await click(d, ASKER, closing, action, value=forged)
        assert await d.ticket(asked["ts"]) == ticket
        assert d.slack.views_opened == []
        out_of_date = (
            f"<@{ASKER}>, that button belongs to an earlier closing of this question and is out of date."
        )
        assert ephemerals_to(d, ASKER) == [out_of_date] * 10


# ---------------------------------------------------------------- 2. feedback


async def test_give_feedback_is_the_askers_alone(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        await click(d, HELPER, closing, messages.FEEDBACK_ACTION)
        await click(d, STRANGER, closing, messages.FEEDBACK_ACTION)
        assert d.slack.views_opened == []
        assert ephemerals_to(d, HELPER) == [
            f"Sorry <@{HELPER}>, only the person who asked can give feedback on this question."
        ]
        assert len(ephemerals_to(d, STRANGER)) == 1


async def test_the_asker_opens_the_modal_with_the_clicks_trigger(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        payload = await click(d, ASKER, closing, messages.FEEDBACK_ACTION)
        [opened] = d.slack.calls_to("views.open", ok=True)
        assert opened.args["trigger_id"] == payload["trigger_id"]
        view = d.slack.views_opened[0]["view"]
        assert view["callback_id"] == messages.FEEDBACK_MODAL and view["private_metadata"] == str(
            ticket["id"]
        )
        rating, comment = view["blocks"]
        assert rating["block_id"] == messages.FEEDBACK_RATING_BLOCK and not rating.get("optional")
        assert [o["value"] for o in rating["element"]["options"]] == ["NOT_GOOD", "OKAY", "GREAT"]
        assert [o["text"]["text"] for o in rating["element"]["options"]] == ["Not well", "Okay", "Great"]
        assert comment["optional"] is True and comment["element"]["max_length"] == 2000


async def test_an_invalid_submission_keeps_the_modal_open_and_stores_nothing(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        await click(d, ASKER, closing, messages.FEEDBACK_ACTION)

        no_rating = await submit_feedback(d, ASKER, ticket["id"], rating=None, comment="hm")
        assert no_rating == {
            "response_action": "errors",
            "errors": {messages.FEEDBACK_RATING_BLOCK: "Pick how it went."},
        }
        huge = await submit_feedback(d, ASKER, ticket["id"], rating="GREAT", comment="x" * 100_000)
        assert huge == {
            "response_action": "errors",
            "errors": {messages.FEEDBACK_COMMENT_BLOCK: "Keep it to 2000 characters."},
        }
        forged = await submit_feedback(d, ASKER, ticket["id"], rating="AMAZING")
        assert forged["response_action"] == "errors" and messages.FEEDBACK_RATING_BLOCK in forged["errors"]
        not_the_asker = await submit_feedback(d, STRANGER, ticket["id"], rating="NOT_GOOD")
        assert not_the_asker["response_action"] == "errors"
        assert await feedback_rows(d) == []
        assert d.posts(BTS_CHANNEL) == []


async def test_feedback_is_stored_once_per_asker_and_the_modal_thanks_them(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        await click(d, ASKER, closing, messages.FEEDBACK_ACTION)

        great = await submit_feedback(d, ASKER, ticket["id"], rating="GREAT")
        assert great["response_action"] == "update"
        assert (
            great["view"]["blocks"][0]["text"]["text"]
            == "Thank you! Your feedback helps the team answer better."
        )
        [row] = await feedback_rows(d)
        assert (row["rating"], row["text"], row["ticketId"]) == ("GREAT", None, ticket["id"])
        assert await d.slack_id(row["createdById"]) == ASKER
        assert d.posts(BTS_CHANNEL) == []  # a good rating without a comment is not news

        not_good = await submit_feedback(
            d, ASKER, ticket["id"], rating="NOT_GOOD", comment="  the link was broken <!channel>  "
        )
        assert "reopen the thread" in not_good["view"]["blocks"][0]["text"]["text"]
        [row] = await feedback_rows(d)  # replaced, not added
        assert (row["rating"], row["text"]) == ("NOT_GOOD", "the link was broken <!channel>")
        [note] = d.posts(BTS_CHANNEL)
        text = note.args["text"]
        assert f"<@{ASKER}>" in text and "*Not well*" in text and f"<@{HELPER}>" in text
        assert f"/archives/{HELP_CHANNEL}/p{asked['ts'].replace('.', '')}" in text
        assert "the link was broken" in text and "<!channel>" not in text


async def test_a_comment_with_a_good_rating_reaches_the_team(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        await click(d, ASKER, closing, messages.FEEDBACK_ACTION)
        await submit_feedback(d, ASKER, ticket["id"], rating="OKAY", comment="fine, a bit slow")
        [note] = d.posts(BTS_CHANNEL)
        assert "*Okay*" in note.args["text"] and ">fine, a bit slow" in note.args["text"]


async def test_feedback_for_a_ticket_that_no_longer_exists_is_refused_in_the_modal(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("only me here")
        await d.reply(asked, ASKER, "?resolve")
        [closing] = closing_messages(d, asked)
        await click(d, ASKER, closing, messages.FEEDBACK_ACTION)
        await d.deliver.event(message_deleted(asked))
        await d.settle()
        assert await d.ticket(asked["ts"]) is None

        answer = await submit_feedback(d, ASKER, ticket["id"], rating="GREAT")
        assert answer == {
            "response_action": "errors",
            "errors": {
                messages.FEEDBACK_RATING_BLOCK: "This question no longer exists, so there is nothing to rate."
            },
        }
        assert await feedback_rows(d) == []


# ---------------------------------------------------------------- 3. credit


async def test_a_colleague_resolving_an_active_thread_credits_its_assignee(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "I'm on it")
        await d.reply(asked, HELPER_2, "?resolve")

        row = await d.ticket(asked["ts"])
        assert await d.slack_id(row["closedById"]) == HELPER
        [closing] = closing_messages(d, asked)
        assert f"resolved by <@{HELPER_2}>" in closing["text"]  # the text names who resolved
        assert ephemerals_to(d, HELPER_2) == [
            f"<@{HELPER_2}>, you resolved this question; it is credited to <@{HELPER}>, who was working on it."
        ]
        api = await d.client.get("/api/stats_v2")
        assert api.json()["all_time"]["helpers_leaderboard"][0]["slack_id"] == HELPER


async def test_resolving_a_quiet_thread_credits_the_helper_who_resolves(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "try this")
        # The thread's last message is older than RESOLVE_CREDIT_HOURS (48 by default).
        await d.fetch(
            """UPDATE "Ticket" SET "lastMsgAt" = now() - interval '49 hours' WHERE id = $1 RETURNING id""",
            ticket["id"],
        )
        await d.reply(asked, HELPER_2, "?resolve")
        row = await d.ticket(asked["ts"])
        assert await d.slack_id(row["closedById"]) == HELPER_2
        assert ephemerals_to(d, HELPER_2) == []


async def test_the_credit_window_is_the_setting(desk, team):
    async with desk(resolve_credit_hours=0) as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "try this")
        await d.reply(asked, HELPER_2, "?resolve")
        assert await d.slack_id((await d.ticket(asked["ts"]))["closedById"]) == HELPER_2
        # The asker's own resolve still credits the assignee, whatever the window.
        other, _ = await d.ask("another")
        await d.reply(other, HELPER, "try this")
        await d.reply(other, ASKER, "?resolve")
        assert await d.slack_id((await d.ticket(other["ts"]))["closedById"]) == HELPER
        assert ephemerals_to(d, ASKER) == []


# ---------------------------------------------------------------- 4. deletions


async def test_a_tombstone_with_only_the_asker_and_the_bot_deletes_the_ticket(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("never mind")
        await d.reply(asked, ASKER, "actually I found it")
        assert (await d.deliver.event(message_tombstoned(asked))).status_code == 200
        await d.settle()
        assert await d.ticket(asked["ts"]) is None
        assert d.slack.message(TICKET_CHANNEL, ticket["ticketTs"]) is None
        assert d.slack.message(HELP_CHANNEL, asked["ts"])["subtype"] == "tombstone"


async def test_a_tombstone_on_an_answered_question_keeps_the_ticket(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("how do I?")
        await d.reply(asked, HELPER, "like this")
        before = await d.ticket(asked["ts"])
        assert (await d.deliver.event(message_tombstoned(asked))).status_code == 200
        await d.settle()

        row = await d.ticket(asked["ts"])
        assert row["status"] == "IN_PROGRESS" and row["assignedToId"] == before["assignedToId"]
        assert row["questionDeletedAt"] is not None
        backend = d.slack.message(TICKET_CHANNEL, row["ticketTs"])
        assert "deleted by its author" in str(backend["blocks"])
        assert await d.bot_messages(ticket["id"])  # nothing of the bot's was removed
        # Still workable from its thread: the helper resolves it, and the credit stays theirs.
        await d.reply(asked, HELPER, "?resolve")
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER


async def test_a_tombstone_after_someone_else_wrote_keeps_the_ticket_and_redelivery_changes_nothing(
    desk, team
):
    async with desk() as d:
        asked, ticket = await d.ask("how do I?")
        await d.reply(asked, STRANGER, "same question here")
        tombstone = message_tombstoned(asked)
        await d.deliver.event(tombstone, event_id="EvTOMB1")
        await d.settle()
        row = await d.ticket(asked["ts"])
        assert row is not None and row["status"] == "OPEN" and row["questionDeletedAt"] is not None
        updates = d.slack.calls_to("chat.update", channel=TICKET_CHANNEL)
        assert len(updates) == 1

        # Slack's redelivery (same event id) and the same news again (a new event id).
        await d.deliver.event(tombstone, event_id="EvTOMB1", retry_num=1)
        await d.deliver.event(message_tombstoned(asked), event_id="EvTOMB2")
        await d.settle()
        assert await d.ticket(asked["ts"]) == row
        assert len(d.slack.calls_to("chat.update", channel=TICKET_CHANNEL)) == 1


async def test_a_closed_answered_ticket_keeps_its_credit_when_its_question_is_deleted(desk, team):
    async with desk() as d:
        asked, ticket, closing = await resolved_ticket(d)
        await d.deliver.event(message_tombstoned(asked))
        await d.settle()
        row = await d.ticket(asked["ts"])
        assert row["status"] == "CLOSED" and await d.slack_id(row["closedById"]) == HELPER
        stats = (await d.client.get("/api/stats_v2")).json()["all_time"]
        assert stats["tickets_closed"] == 1


async def test_message_deleted_redelivered_deletes_once(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("oops")
        deleted = message_deleted(asked)
        await d.deliver.event(deleted, event_id="EvDEL1")
        await d.deliver.event(deleted, event_id="EvDEL1", retry_num=1)
        await d.deliver.event(message_deleted(asked), event_id="EvDEL2")
        await d.settle()
        assert await d.ticket(asked["ts"]) is None
        assert len(d.slack.calls_to("chat.delete", ok=True, channel=TICKET_CHANNEL)) == 1


async def test_a_deletion_arriving_while_a_helpers_reply_is_recorded_keeps_the_ticket(desk, team):
    async with desk() as d:
        for attempt in range(3):
            asked, ticket = await d.ask(f"race {attempt}")
            reply = thread_reply(HELP_CHANNEL, HELPER, "answer", thread_ts=asked["ts"], parent_user_id=ASKER)
            # The reply exists in Slack before the question is deleted (so Slack sends a
            # tombstone); its event and the deletion's are handled at the same time.
            d.slack.add_message(
                HELP_CHANNEL, user=HELPER, text="answer", ts=reply["ts"], thread_ts=asked["ts"]
            )
            responses = await asyncio.gather(
                d.deliver.event(reply), d.deliver.event(message_tombstoned(asked))
            )
            assert [r.status_code for r in responses] == [200, 200]
            await d.settle()
            row = await d.ticket(asked["ts"])
            assert row is not None and row["questionDeletedAt"] is not None
            assert await d.slack_id(row["assignedToId"]) == HELPER and row["status"] == "IN_PROGRESS"


# ---------------------------------------------------------------- 5. the backend message speaks as the asker


async def test_the_backend_message_is_posted_with_the_askers_name_and_avatar(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        assert backend["username"] == "Asker"
        assert backend["icons"] == {"image_48": f"https://avatars.fake-slack.invalid/{ASKER}_192.png"}
        # users.info once for both the name shown and the username remembered.
        assert len(d.slack.calls_to("users.info", user=ASKER)) == 1


async def test_without_chat_write_customize_the_bot_speaks_for_itself(desk, team):
    team.remove_scope("chat:write.customize")
    async with desk() as d:
        asked, ticket = await d.ask()
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        assert backend is not None and "username" not in backend
        refused, posted = d.slack.calls_to("chat.postMessage", channel=TICKET_CHANNEL)
        assert refused.error == "missing_scope" and posted.ok and "username" not in posted.args
        assert await d.bot_messages(ticket["id"], TICKET_CHANNEL)


async def test_an_unknown_asker_is_posted_as_the_bot(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask(user="U0NOBODY01")
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        assert backend is not None and "username" not in backend


async def test_a_scheduled_close_uses_the_same_after_resolve_with_its_own_text(desk, team):
    """The stale-ticket job's path: the lifecycle's resolve, then flows.after_resolve with its text key."""
    from nephthys.slack import flows
    from nephthys.tickets import lifecycle

    async with desk() as d:
        asked, ticket = await d.ask()
        ctx = d.service.ctx
        change = await lifecycle.resolve_ticket(
            ctx.sessions, ticket_id=ticket["id"], resolver_slack_id=HELPER
        )
        async with ctx.ticket_locks.hold(ticket["id"]):
            await flows.after_resolve(ctx, change.found_ticket, resolver=None, text_key="resolved_stale")
        await d.settle()

        [closing] = [
            m
            for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"])
            if messages.REOPEN_ACTION in buttons_of(m)
        ]
        assert closing["text"] == ctx.transcript.text("resolved_stale", user=f"<@{ASKER}>")
        assert d.slack.reactions(HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
        await click(d, ASKER, closing, messages.REOPEN_ACTION)
        assert (await d.ticket(asked["ts"]))["status"] == "OPEN"
        assert buttons_of(d.slack.message(HELP_CHANNEL, closing["ts"])) == {}
