"""A running Nephthys (real HTTP, real PostgreSQL) wired to a fake Slack, for the Slack tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from nephthys.slack.app import SlackService
from nephthys.testing.fake_slack import FakeSlack
from nephthys.utils.clock import Clock, utc_now
from tests.conftest import make_app, make_settings
from tests.support import postgres
from tests.support.server import running
from tests.support.slack import (
    BTS_CHANNEL,
    HEARTBEAT_CHANNEL,
    HELP_CHANNEL,
    TICKET_CHANNEL,
    SlackDelivery,
    block_actions,
    button,
    question,
    slack_settings,
    thread_reply,
)

ASKER = "U0ASKER001"
HELPER = "U0HELPER01"
HELPER_2 = "U0HELPER02"
STRANGER = "U0STRANG01"
SETTLE_SECONDS = 20


@dataclass
class Desk:
    """Nephthys serving over HTTP with its Slack side pointed at ``slack``."""

    client: httpx.AsyncClient
    slack: FakeSlack
    service: SlackService
    deliver: SlackDelivery
    db_url: str

    async def settle(self) -> None:
        """Wait until the work started by the requests so far has finished."""
        assert await self.service.drain(SETTLE_SECONDS), "background work did not finish"

    async def fetch(self, sql: str, *args):
        return await postgres.fetch(self.db_url, sql, *args)

    async def ticket(self, msg_ts: str):
        rows = await self.fetch('SELECT * FROM "Ticket" WHERE "msgTs" = $1', msg_ts)
        return rows[0] if rows else None

    async def slack_id(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        return (await self.fetch('SELECT "slackId" FROM "User" WHERE id = $1', user_id))[0]["slackId"]

    async def bot_messages(self, ticket_id: int, channel: str | None = None) -> list:
        rows = await self.fetch('SELECT * FROM "BotMessage" WHERE "ticketId" = $1 ORDER BY id', ticket_id)
        return [row for row in rows if channel is None or row["channelId"] == channel]

    def posts(self, channel: str, **args) -> list:
        return self.slack.calls_to("chat.postMessage", ok=True, channel=channel, **args)

    async def api_ticket(self, ticket_id: int) -> dict:
        response = await self.client.get("/api/ticket", params={"id": ticket_id})
        assert response.status_code == 200, response.text
        return response.json()

    async def ask(self, text: str = "How do I ship my project?", user: str = ASKER) -> tuple[dict, dict]:
        """Deliver a question, let its work finish; returns (the event, its ticket row)."""
        asked = question(HELP_CHANNEL, user, text)
        response = await self.deliver.event(asked)
        assert response.status_code == 200, response.text
        await self.settle()
        ticket = await self.ticket(asked["ts"])
        assert ticket is not None
        return asked, ticket

    async def reply(self, asked: dict, user: str, text: str, **kwargs) -> dict:
        """Deliver a reply in the question's thread and let its work finish; returns the event."""
        event = thread_reply(
            HELP_CHANNEL, user, text, thread_ts=asked["ts"], parent_user_id=asked["user"], **kwargs
        )
        response = await self.deliver.event(event)
        assert response.status_code == 200, response.text
        await self.settle()
        return event

    async def click_resolve(self, ticket_id: int, user: str, *, channel: str = HELP_CHANNEL, message: dict):
        payload = block_actions(
            user,
            button("resolve_ticket", value=str(ticket_id), text="Resolve"),
            channel=channel,
            message=message,
        )
        response = await self.deliver.action(payload)
        assert response.status_code == 200, response.text
        await self.settle()
        return response

    def thread_reply_message(self, asked: dict) -> dict:
        """The bot's first reply in the question's thread (with the Resolve button), as Slack holds it."""
        return next(m for m in self.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"]) if m.get("bot_id"))


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float = SETTLE_SECONDS) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack on a loopback port for one test."""
    async with FakeSlack() as slack:
        yield slack


@pytest.fixture
def desk(db_url: str, fake: FakeSlack):
    """``async with desk(**settings) as d`` runs the app against ``fake`` and waits until it is ready."""

    @contextlib.asynccontextmanager
    async def factory(
        *,
        wait_ready: bool = True,
        clock: Clock = utc_now,
        run_jobs: bool = False,
        home_live_every: float = 0.0,
        **overrides,
    ):
        """``run_jobs``: start the schedulers, with ``clock`` as their "now" (off otherwise).

        ``home_live_every``: the App Home's live-refresh debounce. Off unless a test is about it:
        each ``settle`` would otherwise wait out the service's 5 s after every assigned ticket's change.
        """
        overrides.setdefault("slack_heartbeat_channel", HEARTBEAT_CHANNEL)
        settings = make_settings(database_url=db_url, **slack_settings(fake, **overrides))
        app = make_app(settings, clock=clock, run_jobs=run_jobs)
        async with running(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            service: SlackService = app.state.slack
            assert service.ctx.home is not None
            service.ctx.home.live_every = home_live_every
            if wait_ready:
                await asyncio.wait_for(service.started(), SETTLE_SECONDS)
            yield Desk(
                client=client,
                slack=fake,
                service=service,
                deliver=SlackDelivery(client, fake=fake),
                db_url=db_url,
            )
            await service.drain(SETTLE_SECONDS)

    return factory


@pytest.fixture
def team(fake: FakeSlack) -> FakeSlack:
    """The workspace's people: an asker, two helpers (the team channel, with the bot) and a stranger."""
    fake.add_user(ASKER, name="asker", display_name="Asker")
    fake.add_user(HELPER, name="helper.one")
    fake.add_user(HELPER_2, name="helper.two")
    fake.add_user(STRANGER, name="stranger")
    fake.set_members(BTS_CHANNEL, [HELPER, HELPER_2, fake.bot_user_id])
    return fake


__all__ = [
    "ASKER",
    "HEARTBEAT_CHANNEL",
    "BTS_CHANNEL",
    "HELPER",
    "HELPER_2",
    "HELP_CHANNEL",
    "STRANGER",
    "TICKET_CHANNEL",
    "Desk",
    "eventually",
]
