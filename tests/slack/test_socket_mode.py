"""Socket Mode when SLACK_APP_TOKEN is set: only its construction can be checked without Slack."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler


async def test_an_app_token_starts_socket_mode_and_http_keeps_working(desk, team):
    async with desk(slack_app_token="xapp-1-A0FAKE0001-1-test") as d:
        handler = d.service._socket_mode
        assert isinstance(handler, AsyncSocketModeHandler)
        assert handler.app is d.service.bolt
        assert handler.client.app_token == "xapp-1-A0FAKE0001-1-test"
        # The fake has no apps.connections.open: the connection is retried in the background,
        # and nothing else waits for it.
        _, ticket = await d.ask("asked while Socket Mode is connecting")
        assert ticket["ticketTs"] is not None
        assert (await d.client.get("/health")).json()["slack"] is True
