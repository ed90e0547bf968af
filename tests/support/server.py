"""Run an ASGI app under a real uvicorn on a loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn

from nephthys.utils.connections import ConnectionLimits, server_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(
    app, *, port: int | None = None, limits: ConnectionLimits | None = None
) -> AsyncIterator[tuple[uvicorn.Server, str]]:
    """Serve ``app`` over HTTP until the block ends; yields the server and its base URL.

    The service's own configuration (nephthys/utils/connections.py: keep-alive, header deadline,
    connection bounds); ``limits`` makes its bounds small for a test.
    """
    sockets: list[socket.socket] | None = None
    if port is None:
        # Bound here and handed to uvicorn: a port probed free and bound later can be taken in
        # between (another worker's server, any outgoing connection's ephemeral port).
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port, sockets = listener.getsockname()[1], [listener]
    config = server_config(app, host="127.0.0.1", port=port, log_level="warning", limits=limits)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        for listener in sockets or []:
            listener.close()


@contextlib.asynccontextmanager
async def running(app, *, port: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` over HTTP until the block ends; yields its base URL."""
    async with serving(app, port=port) as (_, base_url):
        yield base_url
