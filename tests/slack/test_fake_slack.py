"""The fake Slack answers slack_sdk like Slack does, and the delivery helpers speak Slack's protocol.

Everything goes through real HTTP: slack_sdk's AsyncWebClient (aiohttp) against the fake under
uvicorn, and signed requests into a real Bolt app.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from nephthys.testing.fake_slack import FakeSlack, ts_key
from tests.support import slack as sl
from tests.support.server import running

HELP = "C0HELP0001"
TICKETS = "C0TICKETS1"
BTS = "C0BTS00001"
BOT_TOKEN = "xoxb-test-bot-token"
USER_TOKEN = "xoxp-test-user-token"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("U0ALICE001", name="alice", real_name="Alice Liddell", display_name="ali")
        fake.add_user("U0HELPER01", name="helen")
        yield fake


@pytest.fixture
def bot(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)


@pytest.fixture
def user_client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=USER_TOKEN, base_url=slack.base_url)


async def slack_error(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value


# ------------------------------------------------------------------ auth


async def test_auth_test_names_the_bot_and_the_workspace(slack: FakeSlack, bot: AsyncWebClient) -> None:
    answer = (await bot.auth_test()).data
    assert answer == {
        "ok": True,
        "url": "https://fake-workspace.slack.com/",
        "team": "Fake Workspace",
        "user": "nephthys",
        "team_id": slack.team_id,
        "user_id": slack.bot_user_id,
        "bot_id": slack.bot_id,
        "is_enterprise_install": False,
    }


async def test_auth_test_with_a_user_token_has_no_bot_id(
    slack: FakeSlack, user_client: AsyncWebClient
) -> None:
    answer = (await user_client.auth_test()).data
    assert answer["user_id"] == slack.user_token_owner
    assert "bot_id" not in answer


async def test_missing_unknown_and_revoked_tokens_are_refused(slack: FakeSlack) -> None:
    missing = await slack_error(AsyncWebClient(base_url=slack.base_url).auth_test())
    assert missing.response.status_code == 200
    assert missing.response.data == {"ok": False, "error": "not_authed"}

    unknown = await slack_error(AsyncWebClient(token="not-a-token", base_url=slack.base_url).auth_test())
    assert unknown.response["error"] == "invalid_auth"

    slack.revoke_token(BOT_TOKEN)
    revoked = await slack_error(AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url).auth_test())
    assert revoked.response["error"] == "token_revoked"
    assert [c.error for c in slack.calls_to("auth.test")] == ["not_authed", "invalid_auth", "token_revoked"]


async def test_accept_token_narrows_the_accepted_tokens(slack: FakeSlack) -> None:
    slack.accept_token("xoxb-the-only-one")
    assert (await AsyncWebClient(token="xoxb-the-only-one", base_url=slack.base_url).auth_test())["ok"]
    other = await slack_error(AsyncWebClient(token="xoxb-another", base_url=slack.base_url).auth_test())
    assert other.response["error"] == "invalid_auth"


async def test_token_and_arguments_also_arrive_in_a_form_body(slack: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    async with httpx.AsyncClient() as http:
        response = await http.post(
            slack.base_url + "chat.postMessage",
            data={"token": BOT_TOKEN, "channel": HELP, "text": "hi", "blocks": json.dumps(blocks)},
        )
    assert response.status_code == 200
    assert response.json()["ok"] is True
    posted = slack.message(HELP, response.json()["ts"])
    assert posted["blocks"] == blocks
    assert "token" not in slack.calls[-1].args


async def test_unknown_methods_answer_unknown_method(slack: FakeSlack, bot: AsyncWebClient) -> None:
    error = await slack_error(bot.api_call("chat.doSomethingNew", json={"channel": HELP}))
    assert error.response.data == {
        "ok": False,
        "error": "unknown_method",
        "req_method": "chat.doSomethingNew",
    }


# -------------------------------------------------------------- messages


async def test_post_message_answers_with_the_message_and_a_fresh_ts(
    slack: FakeSlack, bot: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "A *question*"}}]
    first = (await bot.chat_postMessage(channel=TICKETS, text="A question", blocks=blocks)).data
    second = (await bot.chat_postMessage(channel=TICKETS, text="Another")).data

    assert first["ok"] is True and first["channel"] == TICKETS
    assert first["message"]["ts"] == first["ts"]
    assert first["message"]["text"] == "A question"
    assert first["message"]["blocks"] == blocks
    assert first["message"]["user"] == slack.bot_user_id
    assert first["message"]["bot_id"] == slack.bot_id
    assert first["message"]["type"] == "message"
    seconds, _, sequence = first["ts"].partition(".")
    assert len(seconds) == 10 and len(sequence) == 6 and (seconds + sequence).isdigit()
    assert ts_key(second["ts"]) > ts_key(first["ts"])
    assert [m["ts"] for m in slack.messages(TICKETS)] == [first["ts"], second["ts"]]


async def test_thread_replies_carry_thread_ts_and_count_on_the_parent(
    slack: FakeSlack, bot: AsyncWebClient
) -> None:
    asked = slack.add_message(HELP, user="U0ALICE001", text="how do I deploy?")
    reply = (await bot.chat_postMessage(channel=HELP, thread_ts=asked["ts"], text="we are on it")).data

    assert reply["message"]["thread_ts"] == asked["ts"]
    assert reply["message"]["parent_user_id"] == "U0ALICE001"
    assert [m["text"] for m in slack.messages(HELP, thread_ts=asked["ts"])] == ["we are on it"]
    assert slack.message(HELP, asked["ts"])["reply_count"] == 1


async def test_reply_broadcast_is_a_thread_broadcast(slack: FakeSlack, bot: AsyncWebClient) -> None:
    asked = slack.add_message(HELP, user="U0ALICE001", text="q")
    reply = await bot.chat_postMessage(channel=HELP, thread_ts=asked["ts"], text="all", reply_broadcast=True)
    assert slack.message(HELP, reply["ts"])["subtype"] == "thread_broadcast"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
async def test_post_message_without_content_is_no_text(slack: FakeSlack, bot: AsyncWebClient) -> None:
    error = await slack_error(bot.chat_postMessage(channel=HELP))
    assert error.response["error"] == "no_text"
    assert slack.messages(HELP) == []


async def test_strict_channels_refuse_unknown_channels() -> None:
    async with FakeSlack(strict_channels=True) as slack:
        slack.add_channel(HELP, name="help")
        bot = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)
        assert (await bot.chat_postMessage(channel=HELP, text="fine"))["ok"]
        error = await slack_error(bot.chat_postMessage(channel="C0NOWHERE1", text="lost"))
        assert error.response["error"] == "channel_not_found"


async def test_update_changes_the_bots_message(slack: FakeSlack, bot: AsyncWebClient) -> None:
    posted = await bot.chat_postMessage(channel=TICKETS, text="open")
    updated = (await bot.chat_update(channel=TICKETS, ts=posted["ts"], text="closed", blocks=[])).data
    assert updated["ts"] == posted["ts"] and updated["text"] == "closed"
    assert slack.message(TICKETS, posted["ts"])["text"] == "closed"
    assert "edited" in slack.message(TICKETS, posted["ts"])


async def test_update_of_a_missing_or_foreign_message_fails(slack: FakeSlack, bot: AsyncWebClient) -> None:
    missing = await slack_error(bot.chat_update(channel=TICKETS, ts="1700000000.000100", text="x"))
    assert missing.response["error"] == "message_not_found"
    theirs = slack.add_message(HELP, user="U0ALICE001", text="mine")
    foreign = await slack_error(bot.chat_update(channel=HELP, ts=theirs["ts"], text="edited by bot"))
    assert foreign.response["error"] == "cant_update_message"
    assert slack.message(HELP, theirs["ts"])["text"] == "mine"


async def test_delete_removes_the_bots_message_then_it_is_not_found(
    slack: FakeSlack, bot: AsyncWebClient
) -> None:
    posted = await bot.chat_postMessage(channel=TICKETS, text="open ticket")
    deleted = (await bot.chat_delete(channel=TICKETS, ts=posted["ts"])).data
    assert deleted == {"ok": True, "channel": TICKETS, "ts": posted["ts"]}
    assert slack.message(TICKETS, posted["ts"]) is None
    assert [m["ts"] for m in slack.deleted_messages] == [posted["ts"]]
    again = await slack_error(bot.chat_delete(channel=TICKETS, ts=posted["ts"]))
    assert again.response["error"] == "message_not_found"


async def test_a_bot_cannot_delete_a_persons_message_but_a_user_token_can(
    slack: FakeSlack, bot: AsyncWebClient, user_client: AsyncWebClient
) -> None:
    broadcast = slack.add_message(HELP, user="U0ALICE001", text="me too", subtype="thread_broadcast")
    refused = await slack_error(bot.chat_delete(channel=HELP, ts=broadcast["ts"]))
    assert refused.response["error"] == "cant_delete_message"
    assert slack.message(HELP, broadcast["ts"]) is not None

    assert (await user_client.chat_delete(channel=HELP, ts=broadcast["ts"]))["ok"]
    assert slack.message(HELP, broadcast["ts"]) is None


async def test_ephemeral_messages_are_recorded_not_posted(slack: FakeSlack, bot: AsyncWebClient) -> None:
    answer = (await bot.chat_postEphemeral(channel=HELP, user="U0ALICE001", text="only you")).data
    assert answer["ok"] is True and answer["message_ts"]
    assert slack.ephemerals == [
        {
            "channel": HELP,
            "user": "U0ALICE001",
            "text": "only you",
            "blocks": None,
            "thread_ts": None,
            "message_ts": answer["message_ts"],
        }
    ]
    assert slack.messages(HELP) == []


async def test_ephemeral_to_someone_outside_a_known_channel_fails(
    slack: FakeSlack, bot: AsyncWebClient
) -> None:
    slack.set_members(BTS, ["U0HELPER01"])
    error = await slack_error(bot.chat_postEphemeral(channel=BTS, user="U0ALICE001", text="psst"))
    assert error.response["error"] == "user_not_in_channel"


async def test_permalinks_point_at_the_message_and_its_thread(slack: FakeSlack, bot: AsyncWebClient) -> None:
    asked = slack.add_message(HELP, user="U0ALICE001", text="q", ts="1700000000.000100")
    reply = slack.add_message(
        HELP, user="U0HELPER01", text="a", ts="1700000001.000200", thread_ts=asked["ts"]
    )

    top = (await bot.chat_getPermalink(channel=HELP, message_ts=asked["ts"])).data
    assert top == {
        "ok": True,
        "channel": HELP,
        "permalink": f"https://fake-workspace.slack.com/archives/{HELP}/p1700000000000100",
    }
    in_thread = await bot.chat_getPermalink(channel=HELP, message_ts=reply["ts"])
    assert in_thread["permalink"] == (
        f"https://fake-workspace.slack.com/archives/{HELP}/p1700000001000200"
        f"?thread_ts=1700000000.000100&cid={HELP}"
    )
    missing = await slack_error(bot.chat_getPermalink(channel=HELP, message_ts="1600000000.000001"))
    assert missing.response["error"] == "message_not_found"


# ------------------------------------------------------------- reactions


async def test_reactions_follow_slacks_rules(slack: FakeSlack, bot: AsyncWebClient) -> None:
    asked = slack.add_message(HELP, user="U0ALICE001", text="q")
    await bot.reactions_add(channel=HELP, timestamp=asked["ts"], name="thinking_face")
    assert slack.reactions(HELP, asked["ts"]) == {"thinking_face"}

    twice = await slack_error(bot.reactions_add(channel=HELP, timestamp=asked["ts"], name="thinking_face"))
    assert twice.response["error"] == "already_reacted"

    await bot.reactions_remove(channel=HELP, timestamp=asked["ts"], name="thinking_face")
    await bot.reactions_add(channel=HELP, timestamp=asked["ts"], name="white_check_mark")
    assert slack.reactions(HELP, asked["ts"]) == {"white_check_mark"}

    absent = await slack_error(
        bot.reactions_remove(channel=HELP, timestamp=asked["ts"], name="thinking_face")
    )
    assert absent.response["error"] == "no_reaction"
    nowhere = await slack_error(bot.reactions_add(channel=HELP, timestamp="1600000000.000001", name="eyes"))
    assert nowhere.response["error"] == "message_not_found"
    colons = await slack_error(bot.reactions_add(channel=HELP, timestamp=asked["ts"], name=":eyes:"))
    assert colons.response["error"] == "invalid_name"


async def test_reactions_are_per_user(
    slack: FakeSlack, bot: AsyncWebClient, user_client: AsyncWebClient
) -> None:
    asked = slack.add_message(HELP, user="U0ALICE001", text="q")
    await user_client.reactions_add(channel=HELP, timestamp=asked["ts"], name="eyes")
    await bot.reactions_add(channel=HELP, timestamp=asked["ts"], name="eyes")
    assert slack.reactors(HELP, asked["ts"], "eyes") == [slack.user_token_owner, slack.bot_user_id]
    got = (await bot.reactions_get(channel=HELP, timestamp=asked["ts"])).data
    assert got["message"]["reactions"] == [
        {"name": "eyes", "users": [slack.user_token_owner, slack.bot_user_id], "count": 2}
    ]


# ---------------------------------------------------------- people, views


async def test_users_info_has_slacks_user_shape(slack: FakeSlack, bot: AsyncWebClient) -> None:
    user = (await bot.users_info(user="U0ALICE001"))["user"]
    assert user["id"] == "U0ALICE001"
    assert user["name"] == "alice"
    assert user["real_name"] == "Alice Liddell"
    assert user["profile"]["display_name"] == "ali"
    assert user["profile"]["real_name"] == "Alice Liddell"
    assert user["is_bot"] is False and user["deleted"] is False
    assert user["team_id"] == slack.team_id

    me = (await bot.users_info(user=slack.bot_user_id))["user"]
    assert me["is_bot"] is True and me["profile"]["bot_id"] == slack.bot_id

    missing = await slack_error(bot.users_info(user="U0NOBODY01"))
    assert missing.response["error"] == "user_not_found"


async def test_conversations_members_pages_with_a_cursor(slack: FakeSlack, bot: AsyncWebClient) -> None:
    everyone = [f"U{n:09d}" for n in range(250)]
    slack.set_members(BTS, everyone)

    pages = []
    async for page in await bot.conversations_members(channel=BTS, limit=100):
        pages.append(page.data)
    assert [len(p["members"]) for p in pages] == [100, 100, 50]
    assert [m for p in pages for m in p["members"]] == everyone
    assert pages[0]["response_metadata"]["next_cursor"] != ""
    assert pages[-1]["response_metadata"]["next_cursor"] == ""
    assert len(slack.calls_to("conversations.members")) == 3

    bad = await slack_error(bot.conversations_members(channel=BTS, cursor="bm90IGEgY3Vyc29y"))
    assert bad.response["error"] == "invalid_cursor"


async def test_views_publish_records_the_home_tab_per_user(slack: FakeSlack, bot: AsyncWebClient) -> None:
    view = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}
    first = (await bot.views_publish(user_id="U0ALICE001", view=view)).data
    assert first["view"]["type"] == "home" and first["view"]["id"].startswith("V")
    assert slack.views_published["U0ALICE001"]["blocks"] == view["blocks"]

    second = (await bot.views_publish(user_id="U0ALICE001", view={**view, "blocks": []})).data
    assert second["view"]["id"] == first["view"]["id"]
    assert slack.views_published["U0ALICE001"]["blocks"] == []
    stale = await slack_error(bot.views_publish(user_id="U0ALICE001", view=view, hash=first["view"]["hash"]))
    assert stale.response["error"] == "hash_conflict"


async def test_views_open_needs_a_trigger(slack: FakeSlack, bot: AsyncWebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "tag",
        "title": {"type": "plain_text", "text": "Tag"},
        "blocks": [],
    }
    opened = (await bot.views_open(trigger_id="123.456.abc", view=modal)).data
    assert opened["view"]["callback_id"] == "tag"
    assert slack.views_opened[0]["trigger_id"] == "123.456.abc"
    missing = await slack_error(bot.views_open(trigger_id="", view=modal))
    assert missing.response["error"] == "invalid_arguments"


async def test_a_trigger_opens_one_view_within_three_seconds(slack: FakeSlack, bot: AsyncWebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "feedback",
        "title": {"type": "plain_text", "text": "F"},
        "blocks": [],
    }
    slack.issue_trigger("111.222.fresh")
    await bot.views_open(trigger_id="111.222.fresh", view=modal)
    again = await slack_error(bot.views_open(trigger_id="111.222.fresh", view=modal))
    assert again.response["error"] == "exchanged_trigger_id"
    slack.issue_trigger("111.222.stale", seconds_ago=3.5)
    stale = await slack_error(bot.views_open(trigger_id="111.222.stale", view=modal))
    assert stale.response["error"] == "expired_trigger_id"
    assert [v["trigger_id"] for v in slack.views_opened] == ["111.222.fresh"]


async def test_a_custom_username_needs_chat_write_customize(slack: FakeSlack, bot: AsyncWebClient) -> None:
    posted = await bot.chat_postMessage(
        channel=TICKETS, text="as alice", username="ali", icon_url="https://img.invalid/a.png"
    )
    message = slack.message(TICKETS, posted["ts"])
    assert message["username"] == "ali" and message["icons"] == {"image_48": "https://img.invalid/a.png"}
    slack.remove_scope("chat:write.customize")
    refused = await slack_error(bot.chat_postMessage(channel=TICKETS, text="as alice", username="ali"))
    assert refused.response["error"] == "missing_scope"
    assert refused.response["needed"] == "chat:write.customize"
    plain = await bot.chat_postMessage(channel=TICKETS, text="as the bot")
    assert "username" not in slack.message(TICKETS, plain["ts"])


async def test_a_parent_with_replies_becomes_a_tombstone(slack: FakeSlack, bot: AsyncWebClient) -> None:
    asked = slack.add_message(HELP, user="U0ALICE001", text="question")
    await bot.chat_postMessage(channel=HELP, text="welcome", thread_ts=asked["ts"])
    tombstone = slack.tombstone_message(HELP, asked["ts"])
    assert tombstone is not None and tombstone["subtype"] == "tombstone"
    assert tombstone["text"] == "This message was deleted." and tombstone["reply_count"] == 1
    thread = (await bot.conversations_replies(channel=HELP, ts=asked["ts"])).data["messages"]
    assert [m.get("subtype") for m in thread] == ["tombstone", None]


async def test_conversations_open_gives_a_stable_dm_channel(slack: FakeSlack, bot: AsyncWebClient) -> None:
    first = (await bot.conversations_open(users="U0ALICE001")).data
    again = (await bot.conversations_open(users=["U0ALICE001"])).data
    assert first["channel"]["id"].startswith("D")
    assert first["channel"]["id"] == again["channel"]["id"] == slack.dm_channel("U0ALICE001")
    assert first["already_open"] is False and again["already_open"] is True
    nobody = await slack_error(bot.conversations_open(users="U0NOBODY01"))
    assert nobody.response["error"] == "user_not_found"


async def test_usergroup_members(slack: FakeSlack, bot: AsyncWebClient) -> None:
    slack.set_usergroup("S0HELPERS1", ["U0HELPER01"])
    assert (await bot.usergroups_users_list(usergroup="S0HELPERS1"))["users"] == ["U0HELPER01"]
    error = await slack_error(bot.usergroups_users_list(usergroup="S0NOSUCH01"))
    assert error.response["error"] == "no_such_subteam"


# ------------------------------------------------------ failure injection


async def test_ratelimited_is_429_with_retry_after(slack: FakeSlack, bot: AsyncWebClient) -> None:
    slack.fail("chat.postMessage", error="ratelimited", retry_after=7)
    error = await slack_error(bot.chat_postMessage(channel=HELP, text="hi"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert slack.messages(HELP) == []
    # one call only: the next one goes through
    assert (await bot.chat_postMessage(channel=HELP, text="hi"))["ok"]


async def test_slack_sdks_rate_limit_handler_retries_through_the_fake(slack: FakeSlack) -> None:
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=slack.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    slack.fail("chat.postMessage", error="ratelimited", times=1, retry_after=0)
    posted = await client.chat_postMessage(channel=HELP, text="eventually")
    assert posted["ok"]
    assert [(c.status, c.ok) for c in slack.calls_to("chat.postMessage")] == [(429, False), (200, True)]
    assert [m["text"] for m in slack.messages(HELP)] == ["eventually"]


async def test_server_errors_can_be_injected_and_retried(slack: FakeSlack) -> None:
    slack.fail("reactions.add", error="internal_error", status=500)
    asked = slack.add_message(HELP, user="U0ALICE001", text="q")
    plain = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)
    error = await slack_error(plain.reactions_add(channel=HELP, timestamp=asked["ts"], name="eyes"))
    assert error.response.status_code == 500 and error.response["error"] == "internal_error"

    slack.fail("reactions.add", error="internal_error", status=503)
    retrying = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=slack.base_url,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=1)],
    )
    assert (await retrying.reactions_add(channel=HELP, timestamp=asked["ts"], name="eyes"))["ok"]
    assert [c.status for c in slack.calls_to("reactions.add")] == [500, 503, 200]


async def test_failures_every_nth_call_and_only_matching_calls(slack: FakeSlack, bot: AsyncWebClient) -> None:
    slack.fail("chat.postMessage", error="ratelimited", times=None, every=3)
    slack.fail("chat.update", error="internal_error", when=lambda args: args.get("channel") == TICKETS)
    outcomes = []
    for n in range(7):
        try:
            await bot.chat_postMessage(channel=HELP, text=str(n))
            outcomes.append("ok")
        except SlackApiError as error:
            outcomes.append(error.response["error"])
    assert outcomes == ["ok", "ok", "ratelimited", "ok", "ok", "ratelimited", "ok"]

    help_message = slack.messages(HELP)[0]
    assert (await bot.chat_update(channel=HELP, ts=help_message["ts"], text="fine"))["ok"]
    ticket = await bot.chat_postMessage(channel=TICKETS, text="t")
    error = await slack_error(bot.chat_update(channel=TICKETS, ts=ticket["ts"], text="no"))
    assert error.response["error"] == "internal_error"


async def test_an_applied_failure_does_the_work_but_loses_the_answer(
    slack: FakeSlack, bot: AsyncWebClient
) -> None:
    slack.fail("chat.postMessage", error="internal_error", status=500, applied=True)
    error = await slack_error(bot.chat_postMessage(channel=HELP, text="posted anyway"))
    assert error.response.status_code == 500
    assert [m["text"] for m in slack.messages(HELP)] == ["posted anyway"]


async def test_failures_apply_to_any_method_with_a_star(slack: FakeSlack, bot: AsyncWebClient) -> None:
    rule = slack.fail("*", error="fatal_error", times=2)
    assert (await slack_error(bot.auth_test())).response["error"] == "fatal_error"
    assert (await slack_error(bot.users_info(user="U0ALICE001"))).response["error"] == "fatal_error"
    assert (await bot.auth_test())["ok"]
    assert rule.fired == 2 and rule.exhausted
    slack.fail("*", error="fatal_error", times=None)
    slack.clear_failures()
    assert (await bot.auth_test())["ok"]


async def test_a_delayed_method_answers_after_undelayed_ones(slack: FakeSlack, bot: AsyncWebClient) -> None:
    slack.delay("chat.postMessage", 0.3)
    slow = asyncio.create_task(bot.chat_postMessage(channel=HELP, text="slow"))
    await asyncio.sleep(0.05)  # let the slow request reach the fake first
    assert (await bot.auth_test())["ok"]
    assert (await slow)["ok"]
    assert [c.method for c in slack.calls] == ["auth.test", "chat.postMessage"]
    slack.delay("chat.postMessage", None)


# --------------------------------------------------------------- recording


async def test_calls_are_recorded_with_arguments_and_answers(slack: FakeSlack, bot: AsyncWebClient) -> None:
    posted = await bot.chat_postMessage(channel=HELP, text="one")
    await bot.chat_postMessage(channel=TICKETS, text="two")
    with pytest.raises(SlackApiError):
        await bot.users_info(user="U0NOBODY01")

    call = slack.calls_to("chat.postMessage", channel=HELP)[0]
    assert call.args == {"channel": HELP, "text": "one"}
    assert call.ok and call.status == 200 and call.token == BOT_TOKEN
    assert call.response == posted.data
    assert call.at.tzinfo is not None
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert [c.error for c in slack.calls_to("users.info", ok=False)] == ["user_not_found"]

    slack.reset_calls()
    assert slack.calls == []
    assert len(slack.messages(HELP)) == 1  # the workspace stays


async def test_concurrent_posts_get_distinct_ts_and_all_land(slack: FakeSlack, bot: AsyncWebClient) -> None:
    answers = await asyncio.gather(*(bot.chat_postMessage(channel=HELP, text=str(n)) for n in range(60)))
    stamps = [a["ts"] for a in answers]
    assert len(set(stamps)) == 60
    assert sorted(m["text"] for m in slack.messages(HELP)) == sorted(str(n) for n in range(60))
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 60


# ------------------------------------------------------------------ signing


def test_signed_headers_verify_with_slack_sdk() -> None:
    body = json.dumps(sl.event_callback(sl.question(HELP, "U0ALICE001", "hi")))
    headers = sl.signed_headers(body, sl.SIGNING_SECRET)
    verifier = SignatureVerifier(sl.SIGNING_SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not verifier.is_valid(
        body + " ", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("another secret").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_stale_signatures_fail_slack_sdks_check() -> None:
    body = "payload=%7B%7D"
    stale = int(time.time()) - 6 * 60
    headers = sl.signed_headers(body, sl.SIGNING_SECRET, timestamp=stale)
    assert not SignatureVerifier(sl.SIGNING_SECRET).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_signature_matches_slacks_documented_example() -> None:
    # The example from Slack's "Verifying requests from Slack" guide.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert (
        sl.signature(body, "8f742231b10e8888abcd99yyyzzz85a5", 1531420618)
        == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_redelivery_headers() -> None:
    headers = sl.signed_headers(b"{}", sl.SIGNING_SECRET, retry_num=2, retry_reason="http_error")
    assert headers["X-Slack-Retry-Num"] == "2"
    assert headers["X-Slack-Retry-Reason"] == "http_error"


# --------------------------------------------------------- payload shapes


def test_event_callback_envelope_has_slacks_fields() -> None:
    envelope = sl.event_callback(sl.question(HELP, "U0ALICE001", "hi"), event_id="Ev0TEST0001")
    assert set(envelope) >= {
        "token",
        "team_id",
        "api_app_id",
        "event",
        "type",
        "event_id",
        "event_time",
        "authorizations",
        "is_ext_shared_channel",
        "event_context",
    }
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev0TEST0001"
    assert envelope["authorizations"][0]["user_id"] == sl.BOT_USER_ID


def test_message_subtype_builders() -> None:
    asked = sl.question(HELP, "U0ALICE001", "how?")
    assert "subtype" not in asked and asked["event_ts"] == asked["ts"] and asked["channel_type"] == "channel"

    reply = sl.thread_reply(
        HELP, "U0HELPER01", "like this", thread_ts=asked["ts"], parent_user_id="U0ALICE001"
    )
    assert reply["thread_ts"] == asked["ts"] and reply["parent_user_id"] == "U0ALICE001"

    shared = sl.file_share(HELP, "U0ALICE001", "see screenshot")
    assert shared["subtype"] == "file_share" and shared["files"][0]["url_private"].startswith("https://")

    broadcast = sl.thread_broadcast(
        HELP, "U0ALICE001", "me too", thread_ts=asked["ts"], parent_user_id="U0ALICE001"
    )
    assert broadcast["subtype"] == "thread_broadcast" and broadcast["root"]["ts"] == asked["ts"]

    assert sl.me_message(HELP, "U0ALICE001", "waves")["subtype"] == "me_message"
    from_bot = sl.bot_message(HELP, "deploy finished")
    assert from_bot["subtype"] == "bot_message" and from_bot["bot_id"] and "user" not in from_bot

    changed = sl.message_changed(asked, "how, exactly?")
    assert changed["subtype"] == "message_changed" and changed["hidden"] is True
    assert changed["message"]["ts"] == asked["ts"] and changed["message"]["text"] == "how, exactly?"
    assert changed["message"]["edited"]["ts"] == changed["ts"]
    assert changed["previous_message"]["text"] == "how?"

    deleted = sl.message_deleted(asked)
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == asked["ts"]
    assert deleted["previous_message"]["text"] == "how?" and deleted["ts"] != asked["ts"]


def test_block_actions_payload_shape() -> None:
    payload = sl.block_actions(
        "U0ALICE001",
        sl.button("resolve", value="42", block_id="ticket"),
        channel=HELP,
        message={"ts": "1700000000.000200", "thread_ts": "1700000000.000100", "text": "reply"},
    )
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U0ALICE001",
        "username": "u0alice001",
        "name": "u0alice001",
        "team_id": sl.TEAM_ID,
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000200",
        "channel_id": HELP,
        "is_ephemeral": False,
        "thread_ts": "1700000000.000100",
    }
    assert payload["channel"]["id"] == HELP and payload["message"]["ts"] == "1700000000.000200"
    assert payload["trigger_id"] and payload["response_url"].startswith("https://hooks.slack.com/actions/")
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "resolve",
        "ticket",
        "42",
        "button",
    )
    body = sl.form_body(payload).decode()
    assert body.startswith("payload=")
    from urllib.parse import parse_qs

    assert json.loads(parse_qs(body)["payload"][0]) == payload


# ------------------------------------------------- delivery into a Bolt app


class BoltProbe:
    """A real Bolt app wired to the fake Slack that records what its listeners saw."""

    def __init__(self, slack: FakeSlack) -> None:
        self.seen: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.app = AsyncApp(
            client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url),
            signing_secret=sl.SIGNING_SECRET,
        )
        self.handler = AsyncSlackRequestHandler(self.app)

        @self.app.event("message")
        async def on_message(event: dict) -> None:
            await self.seen.put(("message", event.get("subtype")))

        @self.app.event("member_joined_channel")
        async def on_join(event: dict) -> None:
            await self.seen.put(("member_joined_channel", event["user"]))

        @self.app.event("app_home_opened")
        async def on_home(event: dict) -> None:
            await self.seen.put(("app_home_opened", event["user"]))

        @self.app.action("resolve")
        async def on_resolve(ack, body: dict, action: dict) -> None:
            await ack()
            await self.seen.put(
                ("resolve", (body["user"]["id"], action["value"], body["container"]["channel_id"]))
            )

        @self.app.view("tag_ticket")
        async def on_submit(ack, view: dict) -> None:
            await ack()
            await self.seen.put(("tag_ticket", view["state"]["values"]))

        @self.app.options("tag_select")
        async def on_options(ack, body: dict) -> None:
            await ack(
                options=[{"text": {"type": "plain_text", "text": body["value"]}, "value": body["value"]}]
            )

    async def endpoint(self, request: Request):
        return await self.handler.handle(request)

    async def next_seen(self) -> tuple[str, Any]:
        return await asyncio.wait_for(self.seen.get(), timeout=10)


@pytest.fixture
async def bolt(slack: FakeSlack) -> AsyncIterator[tuple[BoltProbe, sl.SlackDelivery]]:
    probe = BoltProbe(slack)
    app = Starlette(routes=[Route(sl.EVENTS_PATH, probe.endpoint, methods=["POST"])])
    async with running(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield probe, sl.SlackDelivery(client, sl.SIGNING_SECRET, fake=slack)


async def test_bolt_accepts_delivered_events_of_every_builder(bolt, slack: FakeSlack) -> None:
    probe, deliver = bolt
    asked = sl.question(HELP, "U0ALICE001", "how?")
    events = [
        (asked, ("message", None)),
        (sl.file_share(HELP, "U0ALICE001", "pic"), ("message", "file_share")),
        (
            sl.thread_broadcast(
                HELP, "U0ALICE001", "me too", thread_ts=asked["ts"], parent_user_id="U0ALICE001"
            ),
            ("message", "thread_broadcast"),
        ),
        (sl.me_message(HELP, "U0ALICE001", "waves"), ("message", "me_message")),
        (sl.bot_message(HELP, "beep"), ("message", "bot_message")),
        (sl.message_changed(asked, "how, exactly?"), ("message", "message_changed")),
        (sl.member_joined_channel("U0HELPER01", BTS), ("member_joined_channel", "U0HELPER01")),
        (sl.app_home_opened("U0ALICE001"), ("app_home_opened", "U0ALICE001")),
        (sl.message_deleted(asked), ("message", "message_deleted")),
    ]
    for event, expected in events:
        response = await deliver.event(event)
        assert response.status_code == 200
        assert await probe.next_seen() == expected


async def test_bolt_ignores_the_bots_own_messages(bolt, slack: FakeSlack) -> None:
    probe, deliver = bolt
    own = sl.bot_message(
        HELP, "ticket opened", bot_id=slack.bot_id, user=slack.bot_user_id, app_id=slack.app_id
    )
    assert (await deliver.event(own)).status_code == 200
    assert (await deliver.event(sl.question(HELP, "U0ALICE001", "after"))).status_code == 200
    assert await probe.next_seen() == ("message", None)  # the bot's own message never reached a listener


async def test_bolt_refuses_forged_and_stale_requests(bolt) -> None:
    probe, deliver = bolt
    body = json.dumps(sl.event_callback(sl.question(HELP, "U0ALICE001", "hi"))).encode()
    wrong_secret = await deliver.post(body, content_type="application/json", secret="not-our-secret")
    stale = await deliver.post(body, content_type="application/json", timestamp=int(time.time()) - 6 * 60)
    forged = await deliver.post(body, content_type="application/json", signature_override="v0=" + "0" * 64)
    assert [r.status_code for r in (wrong_secret, stale, forged)] == [401, 401, 401]
    assert probe.seen.empty()


async def test_bolt_answers_url_verification(bolt) -> None:
    _, deliver = bolt
    response = await deliver.url_verification("the-challenge")
    assert response.status_code == 200
    assert response.json() == {"challenge": "the-challenge"}


async def test_bolt_routes_delivered_interactions(bolt, slack: FakeSlack) -> None:
    probe, deliver = bolt
    reply = slack.add_message(HELP, user=slack.bot_user_id, text="Resolve?")
    clicked = sl.block_actions(
        "U0ALICE001", sl.button("resolve", value="42"), channel=HELP, message=slack.message(HELP, reply["ts"])
    )
    assert (await deliver.action(clicked)).status_code == 200
    assert await probe.next_seen() == ("resolve", ("U0ALICE001", "42", HELP))

    values = {"tags": {"tag_select": {"type": "external_select", "selected_option": {"value": "python"}}}}
    submitted = sl.view_submission("U0HELPER01", callback_id="tag_ticket", values=values)
    assert (await deliver.action(submitted)).status_code == 200
    assert await probe.next_seen() == ("tag_ticket", values)

    options = await deliver.action(sl.block_suggestion("U0HELPER01", action_id="tag_select", value="pyt"))
    assert options.status_code == 200
    assert options.json()["options"][0]["value"] == "pyt"


async def test_delivered_messages_happen_in_the_fake_workspace_once(bolt, slack: FakeSlack) -> None:
    probe, deliver = bolt
    bot = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)
    asked = sl.question(HELP, "U0ALICE001", "how?")
    await deliver.event(asked, event_id="Ev0ASKED001")
    await deliver.redeliver(retry_num=1)
    assert [m["ts"] for m in slack.messages(HELP)] == [asked["ts"]]
    assert slack.message(HELP, asked["ts"])["user"] == "U0ALICE001"
    assert (await bot.reactions_add(channel=HELP, timestamp=asked["ts"], name="thinking_face"))["ok"]

    await deliver.event(sl.message_changed(asked, "how, exactly?"))
    assert slack.message(HELP, asked["ts"])["text"] == "how, exactly?"
    await deliver.event(sl.message_deleted(asked))
    assert slack.message(HELP, asked["ts"]) is None
    slack.reset_calls()
    await deliver.event(asked, event_id="Ev0ASKED001", retry_num=2)  # a late redelivery does not resurrect it
    assert slack.message(HELP, asked["ts"]) is None
    for _ in range(5):
        await probe.next_seen()


# ------------------------------------------------- another process, remote set-up


async def test_a_fake_in_another_process_is_set_up_over_http(slack: FakeSlack, bot: AsyncWebClient) -> None:
    control = slack.base_url.removesuffix("api/") + "_fake/control"
    async with httpx.AsyncClient() as http:
        added = await http.post(
            control, json={"call": "add_user", "kwargs": {"user_id": "U0REMOTE01", "name": "remo"}}
        )
        failing = await http.post(
            control, json={"call": "fail", "kwargs": {"method": "chat.postMessage", "error": "ratelimited"}}
        )
        refused = await http.post(control, json={"call": "_chat_delete", "kwargs": {}})
        wrong = await http.post(control, json={"call": "add_user", "kwargs": {"no_such_argument": 1}})
    assert added.status_code == 200 and added.json()["result"]["name"] == "remo"
    assert failing.status_code == 200
    assert refused.status_code == 400 and wrong.status_code == 400
    assert (await bot.users_info(user="U0REMOTE01"))["user"]["name"] == "remo"
    assert (await slack_error(bot.chat_postMessage(channel=HELP, text="x"))).response.status_code == 429


async def test_python_dash_m_serves_a_fake_until_interrupted() -> None:
    import signal
    import sys

    from tests.support.server import free_port

    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nephthys.testing.fake_slack",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        first_line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert f"http://127.0.0.1:{port}/api/" in first_line
        client = AsyncWebClient(token=BOT_TOKEN, base_url=f"http://127.0.0.1:{port}/api/")
        assert (await client.auth_test())["ok"]
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_message_metadata_is_stored_and_shown_only_with_include_all_metadata(
    slack: FakeSlack, bot: AsyncWebClient
) -> None:
    metadata = {"event_type": "ticket_posted", "event_payload": {"ticket_id": 7, "role": "backend"}}
    posted = await bot.chat_postMessage(channel=TICKETS, text="tagged", metadata=metadata)
    reply = await bot.chat_postMessage(
        channel=TICKETS, text="in thread", thread_ts=posted["ts"], metadata=metadata
    )
    plain = await bot.conversations_history(channel=TICKETS)
    assert [m.get("metadata") for m in plain["messages"]] == [None]
    shown = await bot.conversations_history(channel=TICKETS, include_all_metadata=True)
    assert [m["metadata"] for m in shown["messages"]] == [metadata]
    thread = await bot.conversations_replies(channel=TICKETS, ts=posted["ts"], include_all_metadata=True)
    assert [(m["ts"], m["metadata"]) for m in thread["messages"]] == [
        (posted["ts"], metadata),
        (reply["ts"], metadata),
    ]
    thread = await bot.conversations_replies(channel=TICKETS, ts=posted["ts"])
    assert all("metadata" not in m for m in thread["messages"])


@pytest.mark.parametrize(
    "metadata",
    [{"event_type": "x"}, {"event_payload": {}}, {"event_type": "", "event_payload": {}}, ["x"], "not json"],
)
async def test_malformed_metadata_is_refused_like_slack(
    slack: FakeSlack, bot: AsyncWebClient, metadata
) -> None:
    error = await slack_error(
        bot.api_call("chat.postMessage", json={"channel": HELP, "text": "x", "metadata": metadata})
    )
    assert error.response["error"] == "invalid_metadata_format"
    assert slack.messages(HELP) == []


async def test_history_honours_oldest_and_latest(slack: FakeSlack, bot: AsyncWebClient) -> None:
    first, second, third = [(await bot.chat_postMessage(channel=HELP, text=t))["ts"] for t in "abc"]
    after_first = await bot.conversations_history(channel=HELP, oldest=first)
    assert [m["ts"] for m in after_first["messages"]] == [third, second]
    inclusive = await bot.conversations_history(channel=HELP, oldest=first, latest=second, inclusive=True)
    assert [m["ts"] for m in inclusive["messages"]] == [second, first]
