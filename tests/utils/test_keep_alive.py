"""An idle keep-alive connection is given up by the client before the server closes it.

When both sides waited 5 s (uvicorn's and httpx's defaults), a request sent 5 s after the last
one on the same connection raced uvicorn closing it: the request was never read and the client
got a reset (``httpx.ReadError``). This happened in the Slack tests whenever a test waited for
a debounced App Home refresh (5 s) between two requests. The check here is on the deadlines
both sides set for the connection, so it needs no waiting and is the same on every run.
"""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from nephthys.utils.keep_alive import KEEP_ALIVE_SECONDS
from tests.support.server import serving

# What the clients in front of us keep idle connections for: httpx (the tests, scripts),
# aiohttp (slack_sdk), and nginx's upstream keep-alive / AWS load balancers (a proxy).
CLIENT_IDLE_SECONDS = {"httpx": 5.0, "aiohttp": 15.0, "proxy": 60.0}


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_the_service_keeps_idle_connections_longer_than_its_clients():
    assert KEEP_ALIVE_SECONDS > max(CLIENT_IDLE_SECONDS.values())


async def test_a_pooled_connection_expires_in_the_client_before_the_server_closes_it():
    app = Starlette(routes=[Route("/", ok)])
    async with serving(app) as (server, base_url), httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/")
        assert response.status_code == 200

        # uvicorn armed its idle timer when it finished the response; httpx its expiry when it read it.
        [protocol] = server.server_state.connections
        server_closes_at = protocol.timeout_keep_alive_task.when()
        [pooled] = client._transport._pool.connections
        client_gives_up_at = pooled._connection._expire_at
        assert client_gives_up_at is not None
        assert client_gives_up_at < server_closes_at
