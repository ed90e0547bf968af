"""Tag workflows against a real PostgreSQL and the fake Slack: DMs counted exactly."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from nephthys.database.engine import create_engine, session_factory
from nephthys.tags import flows, service
from nephthys.testing.fake_slack import FakeSlack
from nephthys.transcripts import load_transcript
from tests.conftest import make_settings
from tests.tags.helpers import add_ticket, add_user

HELP = "C0HELP0001"


class WebPoster:
    """The one call the flows make, through the real slack_sdk client."""

    def __init__(self, base_url: str) -> None:
        self.web = AsyncWebClient(token="xoxb-test", base_url=base_url)

    async def post_message(self, *, channel: str, text: str, **kwargs) -> str:
        return (await self.web.chat_postMessage(channel=channel, text=text, **kwargs))["ts"]


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url, pool_size=4)
    yield session_factory(engine)
    await engine.dispose()


def dms(slack: FakeSlack, user: str) -> list[str]:
    return [call.args["text"] for call in slack.calls_to("chat.postMessage") if call.args["channel"] == user]


async def test_subscribers_get_one_dm_each_and_a_repeat_sends_none(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    alice = await add_user(db_url, "UALICE")
    bob = await add_user(db_url, "UBOB")
    await add_user(db_url, "UCAROL")
    ticket = await add_ticket(db_url, opened_by=asker, msg_ts="1700000000.000100", title="Login loop")
    async with sessions.begin() as session:
        auth = await service.create_tag(session, name="Auth")
        billing = await service.create_tag(session, name="Billing")
        await service.subscribe(session, user_id=alice, tag_id=auth.id)
        await service.subscribe(session, user_id=bob, tag_id=auth.id)
        await service.subscribe(session, user_id=alice, tag_id=billing.id)
    settings = make_settings(slack_help_channel=HELP, slack_workspace_url="https://acme.slack.com")
    transcript = load_transcript("default")

    async with FakeSlack() as slack:
        poster = WebPoster(slack.base_url)
        changed = await flows.add_tags(
            sessions,
            poster,
            transcript,
            settings,
            ticket_id=ticket,
            tag_ids=[auth.id, billing.id],
            by_slack_id="UBOB",
        )
        assert len(changed.added) == 2
        assert len(slack.calls_to("chat.postMessage")) == 2
        alice_dms = dms(slack, "UALICE")
        assert len(alice_dms) == 2 and dms(slack, "UBOB") == [] and dms(slack, "UCAROL") == []
        link = f"https://acme.slack.com/archives/{HELP}/p1700000000000100"
        assert any("*Auth*" in text and link in text and "<@UASKER>" in text for text in alice_dms)
        assert any("*Billing*" in text and "<@UBOB>" in text for text in alice_dms)

        await flows.add_tags(
            sessions, poster, transcript, settings, ticket_id=ticket, tag_ids=[auth.id], by_slack_id="UCAROL"
        )
        await flows.set_tags(
            sessions,
            poster,
            transcript,
            settings,
            ticket_id=ticket,
            tag_ids=[auth.id, billing.id],
            by_slack_id="UCAROL",
        )
        assert len(slack.calls_to("chat.postMessage")) == 2


async def test_without_subscribers_no_dm_and_a_failed_dm_does_not_stop_the_others(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    alice = await add_user(db_url, "UALICE")
    bob = await add_user(db_url, "UBOB")
    ticket = await add_ticket(db_url, opened_by=asker, msg_ts="1700000000.000100")
    async with sessions.begin() as session:
        lonely = await service.create_tag(session, name="Lonely")
        auth = await service.create_tag(session, name="Auth")
        await service.subscribe(session, user_id=alice, tag_id=auth.id)
        await service.subscribe(session, user_id=bob, tag_id=auth.id)
    settings = make_settings(slack_help_channel=HELP)
    transcript = load_transcript("flavortown")
    async with FakeSlack() as slack:
        poster = WebPoster(slack.base_url)
        await flows.add_tags(
            sessions,
            poster,
            transcript,
            settings,
            ticket_id=ticket,
            tag_ids=[lonely.id],
            by_slack_id="UHELPER",
        )
        assert slack.calls_to("chat.postMessage") == []
        slack.fail(
            "chat.postMessage", error="channel_not_found", when=lambda args: args.get("channel") == "UALICE"
        )
        changed = await flows.add_tags(
            sessions, poster, transcript, settings, ticket_id=ticket, tag_ids=[auth.id], by_slack_id="UHELPER"
        )
        assert [tag.name for tag in changed.added] == ["Auth"]
        delivered = slack.calls_to("chat.postMessage", ok=True)
        assert [call.args["channel"] for call in delivered] == ["UBOB"]
        assert "station *Auth*" in delivered[0].args["text"]
