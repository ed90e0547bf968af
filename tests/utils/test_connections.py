"""The server's connection bounds (nephthys/utils/connections.py), at a size CI affords.

Slow-header clients are raw sockets that send part of a request line and headers, then
nothing. The bounds are made small for each test; the waits are bounded and generous, and
nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from nephthys.utils.connections import ConnectionLimits
from tests.support.server import serving

SLOW_HEADERS = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # never finished
GENEROUS = 60.0  # seconds: an upper bound on a wait that the bound under test ends much sooner


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


APP = Starlette(routes=[Route("/", ok)])

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_slow(base_url: str, count: int) -> list[Connection]:
    port = int(base_url.rsplit(":", 1)[1])
    opened = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(SLOW_HEADERS)
        await writer.drain()
        opened.append((reader, writer))
    return opened


async def closed_by_server(connection: Connection, within: float = GENEROUS) -> bool:
    """True once the server closes the connection (EOF or reset); False if it stays open ``within``."""
    reader, _ = connection
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_slow_header_connections_are_closed_after_the_bound_and_a_normal_client_is_answered():
    limits = ConnectionLimits(header_timeout=2)
    async with serving(APP, limits=limits) as (server, base_url):
        slow = await open_slow(base_url, 200)
        try:
            async with httpx.AsyncClient(base_url=base_url) as client:
                assert (await client.get("/")).text == "ok"
            closed = await asyncio.gather(*(closed_by_server(c) for c in slow))
            assert all(closed), f"{closed.count(False)} of 200 slow-header connections left open"
        finally:
            await close_all(slow)


async def test_a_kept_alive_connection_has_the_same_deadline_for_its_next_request_headers():
    limits = ConnectionLimits(header_timeout=2)
    async with serving(APP, limits=limits) as (_, base_url):
        port = int(base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
            writer.write(SLOW_HEADERS)  # the next request, never finished
            assert await closed_by_server((reader, writer))
        finally:
            await close_all([(reader, writer)])


async def test_open_connections_are_bounded_by_closing_the_oldest_waiting_for_headers():
    # A header deadline far beyond the test: only the connection bound closes anything here.
    limits = ConnectionLimits(header_timeout=600, max_connections=50)
    async with serving(APP, limits=limits) as (server, base_url):
        slow = await open_slow(base_url, 200)
        try:
            # The oldest 150 make room for the newest 50.
            closed = await asyncio.gather(*(closed_by_server(c) for c in slow[:150]))
            assert all(closed), f"{closed.count(False)} of the 150 oldest were left open"
            assert len(server.server_state.connections) <= 50
            async with httpx.AsyncClient(base_url=base_url) as client:
                assert (await client.get("/")).text == "ok"  # evicts one more slow one
        finally:
            await close_all(slow)


async def test_idle_keep_alive_connections_are_bounded_in_number_oldest_closed_first():
    limits = ConnectionLimits(max_idle=5)
    async with serving(APP, limits=limits) as (server, base_url):
        port = int(base_url.rsplit(":", 1)[1])
        kept: list[Connection] = []
        try:
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
                kept.append((reader, writer))
            closed = await asyncio.gather(*(closed_by_server(c) for c in kept[:15]))
            assert all(closed), f"{closed.count(False)} of the 15 oldest idle connections left open"
            assert len(server.server_state.connections) == 5
            # The newest five are still usable.
            for reader, writer in kept[15:]:
                writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
        finally:
            await close_all(kept)


def test_the_service_bounds_connections_below_its_open_files_limit():
    from nephthys.utils import connections

    limits = ConnectionLimits()
    assert limits.max_connections + connections.RESERVED_FILE_DESCRIPTORS <= max(
        connections.open_files_limit(), 64 + connections.RESERVED_FILE_DESCRIPTORS
    )
    assert limits.header_timeout == connections.HEADER_TIMEOUT_SECONDS
    assert limits.graceful_shutdown == connections.GRACEFUL_SHUTDOWN_SECONDS


async def test_when_every_connection_is_busy_with_a_request_a_new_one_is_closed_and_the_busy_ones_finish():
    release = asyncio.Event()
    both_in_the_app = asyncio.Event()
    arrived = 0

    async def busy(request: Request) -> PlainTextResponse:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_in_the_app.set()
        await release.wait()
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/busy", busy)])
    async with serving(app, limits=ConnectionLimits(max_connections=2)) as (server, base_url):
        port = int(base_url.rsplit(":", 1)[1])
        busy_ones: list[Connection] = []
        try:
            for _ in range(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /busy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                await writer.drain()
                busy_ones.append((reader, writer))
            async with asyncio.timeout(GENEROUS):
                await both_in_the_app.wait()
            third = await asyncio.open_connection("127.0.0.1", port)
            assert await closed_by_server(third)
            await close_all([third])
            release.set()
            for reader, _ in busy_ones:
                assert (await reader.readuntil(b"done")).startswith(b"HTTP/1.1 200")
        finally:
            release.set()
            await close_all(busy_ones)
