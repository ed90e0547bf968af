"""``nephthys demo``'s story runs against the real service and the fake Slack, and never aims at Slack."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from nephthys.testing import demo
from nephthys.testing.fake_slack import FakeSlack
from nephthys.testing.slack_requests import SIGNING_SECRET, SlackDelivery
from tests.conftest import make_app, make_settings
from tests.support import postgres
from tests.support.server import running


def test_demo_settings_point_every_slack_value_at_the_fake() -> None:
    real = make_settings(
        slack_bot_token="xoxb-real-workspace",
        slack_user_token="xoxp-real-workspace",
        slack_signing_secret="real-secret",
        slack_app_token="xapp-real",
        slack_help_channel="C0REALHELP",
    )
    fake = FakeSlack(port=4999)
    configured = demo.demo_settings(real, fake, "postgresql://localhost/demo")
    assert configured.slack_api_base_url == "http://127.0.0.1:4999/api/"
    assert configured.slack_bot_token == demo.DEMO_BOT_TOKEN
    assert configured.slack_user_token == demo.DEMO_USER_TOKEN
    assert configured.slack_signing_secret == SIGNING_SECRET
    assert configured.slack_app_token is None
    assert configured.slack_help_channel == demo.HELP_CHANNEL


async def test_the_demo_story_takes_a_question_to_resolved(db_url: str) -> None:
    async with FakeSlack() as fake:
        demo.populate(fake)
        settings = demo.demo_settings(make_settings(), fake, db_url)
        app = make_app(settings)
        async with running(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            deliver = SlackDelivery(client, SIGNING_SECRET, fake=fake)
            told: list[str] = []
            assert await demo.walk_through(fake, deliver, report=told.append)

            [asked] = [m for m in fake.messages(demo.HELP_CHANNEL) if m.get("user") == demo.ASKER]
            assert fake.reactions(demo.HELP_CHANNEL, asked["ts"]) == {"white_check_mark"}
            assert any("reactions.add" in line and "white_check_mark" in line for line in told)
            rows = await postgres.fetch(db_url, 'SELECT status, "msgTs" FROM "Ticket"')
            assert [(r["status"], r["msgTs"]) for r in rows] == [("CLOSED", asked["ts"])]

            # /_demo/say posts a new question as the asker; the service opens a second ticket.
            fake.app.router.routes.append(Route("/_demo/say", demo._say_endpoint(deliver), methods=["POST"]))
            async with httpx.AsyncClient() as outside:
                said = await outside.post(
                    fake.base_url.removesuffix("api/") + "_demo/say", json={"text": "again?"}
                )
                state = await outside.get(fake.base_url.removesuffix("api/") + "_fake/state")
            assert said.status_code == 200 and said.json()["ok"] is True
            assert state.json()["channels"][demo.HELP_CHANNEL][0]["ts"] == asked["ts"]
            second = said.json()["ts"]
            assert await demo._wait_until(
                lambda: "thinking_face" in fake.reactions(demo.HELP_CHANNEL, second)
            )
            rows = await postgres.fetch(db_url, 'SELECT "msgTs" FROM "Ticket" ORDER BY id')
            assert [r["msgTs"] for r in rows] == [asked["ts"], second]
