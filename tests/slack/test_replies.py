"""Behaviours 3 (replies), 4 (helpers follow the team channel) and 8 (broadcast replies)."""

from __future__ import annotations

from tests.slack.conftest import ASKER, BTS_CHANNEL, HELP_CHANNEL, HELPER, HELPER_2, STRANGER
from tests.support.slack import member_joined_channel, member_left_channel, thread_broadcast


async def test_replies_record_who_spoke_last_and_a_helper_reply_assigns(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask()
        assert ticket["lastMsgBy"] == "AUTHOR"

        await d.reply(asked, STRANGER, "I have the same problem")
        row = await d.ticket(asked["ts"])
        assert row["lastMsgBy"] == "OTHER" and row["status"] == "OPEN" and row["assignedToId"] is None
        assert row["lastMsgAt"] >= ticket["lastMsgAt"]

        await d.reply(asked, HELPER, "Try running the deploy script again")
        row = await d.ticket(asked["ts"])
        assert row["lastMsgBy"] == "HELPER" and row["status"] == "IN_PROGRESS"
        assert await d.slack_id(row["assignedToId"]) == HELPER
        first_assigned_at = row["assignedAt"]
        assert first_assigned_at is not None

        await d.reply(asked, ASKER, "it worked, thanks")
        await d.reply(asked, HELPER_2, "glad to hear it")
        row = await d.ticket(asked["ts"])
        assert row["lastMsgBy"] == "HELPER"
        assert await d.slack_id(row["assignedToId"]) == HELPER_2
        assert row["assignedAt"] == first_assigned_at  # set on the first assignment only

        api = await d.api_ticket(ticket["id"])
        assert api["status"] == "in_progress" and api["assigned_to"]["slack_id"] == HELPER_2
        # Replies post nothing.
        assert len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1


async def test_helpers_are_synced_at_start_and_follow_joins_and_leaves(desk, team, fake):
    members = [f"U0MEMBER{n:02d}" for n in range(250)]
    fake.set_members(BTS_CHANNEL, [*members, fake.bot_user_id])
    async with desk() as d:
        pages = d.slack.calls_to("conversations.members", ok=True, channel=BTS_CHANNEL)
        assert len(pages) >= 1
        helpers = {r["slackId"] for r in await d.fetch('SELECT "slackId" FROM "User" WHERE helper')}
        assert helpers == set(members)  # the bot is not a helper

        assert (await d.deliver.event(member_joined_channel(HELPER, BTS_CHANNEL))).status_code == 200
        assert (await d.deliver.event(member_left_channel(members[0], BTS_CHANNEL))).status_code == 200
        assert (await d.deliver.event(member_joined_channel(STRANGER, "C0ELSEWHERE"))).status_code == 200
        await d.settle()
        rows = {r["slackId"]: r["helper"] for r in await d.fetch('SELECT "slackId", helper FROM "User"')}
        assert rows[HELPER] is True and rows[members[0]] is False and STRANGER not in rows

        # A helper who left no longer takes tickets.
        asked, _ = await d.ask()
        await d.reply(asked, members[0], "an answer from someone who left the team")
        row = await d.ticket(asked["ts"])
        assert row["lastMsgBy"] == "OTHER" and row["assignedToId"] is None


async def test_helper_sync_reads_every_page(desk, team, fake):
    members = [f"U0PAGE{n:04d}" for n in range(2500)]
    fake.set_members(BTS_CHANNEL, members)
    async with desk() as d:
        assert len(d.slack.calls_to("conversations.members", ok=True, channel=BTS_CHANNEL)) == 3
        count = (await d.fetch('SELECT count(*) AS n FROM "User" WHERE helper'))[0]["n"]
        assert count == 2500


async def test_a_non_helper_broadcast_reply_is_removed_and_its_sender_told(desk, team):
    async with desk() as d:
        asked, _ = await d.ask()
        broadcast = thread_broadcast(
            HELP_CHANNEL, STRANGER, "me too!", thread_ts=asked["ts"], parent_user_id=ASKER
        )
        assert (await d.deliver.event(broadcast)).status_code == 200
        await d.settle()
        [deleted] = d.slack.calls_to("chat.delete", ok=True)
        assert deleted.args == {"channel": HELP_CHANNEL, "ts": broadcast["ts"]}
        assert deleted.token.startswith("xoxp-")
        assert d.slack.message(HELP_CHANNEL, broadcast["ts"]) is None
        [note] = [e for e in d.slack.ephemerals if e["user"] == STRANGER]
        assert "removed" in note["text"]
        assert (await d.ticket(asked["ts"]))["lastMsgBy"] == "OTHER"

        helper_broadcast = thread_broadcast(
            HELP_CHANNEL, HELPER, "announcement for all", thread_ts=asked["ts"], parent_user_id=ASKER
        )
        assert (await d.deliver.event(helper_broadcast)).status_code == 200
        await d.settle()
        assert len(d.slack.calls_to("chat.delete")) == 1  # a helper's broadcast stays
        assert (await d.ticket(asked["ts"]))["status"] == "IN_PROGRESS"
