"""Deliver requests to our app the way Slack does, and run a fake Slack for a test.

The builders, the signing and :class:`SlackDelivery` live in ``nephthys.testing.slack_requests``
(``nephthys demo`` uses them too); this module re-exports them for tests and adds fixtures::

    from tests.support.slack import SlackDelivery, question, fake_slack, slack_settings

    async def test_a_question_opens_a_ticket(fake_slack, serve):
        async with serve(**slack_settings(fake_slack)) as client:
            deliver = SlackDelivery(client, fake=fake_slack)
            await deliver.event(question(HELP_CHANNEL, "U0ALICE001", "how?"))
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from nephthys.testing.fake_slack import FakeSlack
from nephthys.testing.slack_requests import *  # noqa: F403  (this module is their public face for tests)
from nephthys.testing.slack_requests import SIGNING_SECRET

HELP_CHANNEL = "C0HELP0001"
TICKET_CHANNEL = "C0TICKETS1"
BTS_CHANNEL = "C0BTS00001"
HEARTBEAT_CHANNEL = "C0BEAT0001"
BOT_TOKEN = "xoxb-test-bot-token"
USER_TOKEN = "xoxp-test-user-token"


def slack_settings(fake: FakeSlack, **overrides: Any) -> dict[str, Any]:
    """Settings overrides that point the app at ``fake`` (for ``serve(**...)`` / ``make_settings``).

    Tokens, signing secret and channels are the test ones above; ``overrides`` win.
    """
    settings: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_user_token": USER_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_base_url": fake.base_url,
        "slack_workspace_url": f"https://{fake.team_domain}.slack.com",
        "slack_app_token": None,
        "slack_help_channel": HELP_CHANNEL,
        "slack_ticket_channel": TICKET_CHANNEL,
        "slack_bts_channel": BTS_CHANNEL,
    }
    settings.update(overrides)
    return settings


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack serving on a loopback port for one test.

    Use it from a test module or a conftest with ``from tests.support.slack import fake_slack``.
    """
    async with FakeSlack() as slack:
        yield slack
