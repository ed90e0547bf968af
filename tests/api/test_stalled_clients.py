"""Issue 18, part 1: clients that never read their answers cannot take the database from Slack or /health.

Stalled readers are raw sockets with a small receive buffer that send ``GET /api/tickets?since=…``
and never read, so the kernel's buffers fill and the server's send waits. Before the change
they held every pooled connection in an open transaction for as long as their sockets stayed
open, and a Slack question (and /health) waited for a connection, then got a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from nephthys.api.ticket_blocks import TICKETS_PER_BLOCK
from nephthys.database.engine import create_engine, session_factory
from nephthys.tasks.ticket_json import keep_blocks
from tests.slack.conftest import HELP_CHANNEL, TICKET_CHANNEL, Desk, eventually
from tests.support import postgres
from tests.support.slack import question

EXPORT = "/api/tickets?since=2000-01-01"
# Enough bytes that an export fills a small client receive buffer, the server's send buffer and
# uvicorn's own before it ends: ~3,000 tickets with a 3,000-character description each (~10 MB).
TICKETS = 3000
DESCRIPTION_CHARS = 3000
STALLED_READERS = 30
QUESTIONS = 20
HAMMERS = 3


async def add_many_tickets(db_url: str, count: int = TICKETS, *, age: timedelta = timedelta(hours=1)) -> None:
    """``count`` open tickets created ``age`` ago with long descriptions, in one statement."""
    [user] = await postgres.fetch(
        db_url, """INSERT INTO "User" ("slackId") VALUES ('U0BULK0001') RETURNING id"""
    )
    await postgres.execute(
        db_url,
        """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgAt", "lastMsgBy",
               "createdAt")
           SELECT 'Bulk question ' || n, repeat('A long description. ', $2 / 20), 'OPEN',
               '1500000000.' || lpad(n::text, 6, '0'), $1, now() - $4::interval,
               'AUTHOR', now() - $4::interval
           FROM generate_series(1, $3) n""",
        user["id"],
        DESCRIPTION_CHARS,
        count,
        age,
    )


def stalled_reader(base_url: str, path: str = EXPORT) -> socket.socket:
    """A client that sends its request and never reads the answer."""
    address = urlsplit(base_url)
    reader = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Small before connecting, so the advertised window stays small and the server's send waits soon.
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect((address.hostname, address.port))
    reader.sendall(f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n".encode())
    return reader


async def open_transactions(db_url: str) -> int:
    """Backends of the test database, other than this query's, inside a transaction."""
    rows = await postgres.fetch(
        db_url,
        """SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL""",
    )
    return rows[0]["n"]


async def idle_in_transaction(db_url: str, application_name: str | None = None) -> int:
    """Backends of the test database idle in a transaction (of one pool: ``application_name``)."""
    rows = await postgres.fetch(
        db_url,
        """SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND state LIKE 'idle in transaction%'
             AND ($1::text IS NULL OR application_name = $1)""",
        application_name,
    )
    return rows[0]["n"]


@contextlib.asynccontextmanager
async def repeatedly(
    base_url: str, path: str, tasks: int, record: Callable[[httpx.Response], None]
) -> AsyncIterator[None]:
    """``tasks`` clients asking ``path`` over and over (each as soon as its last answer came) until the block ends."""
    stop = asyncio.Event()

    async def loop() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            while not stop.is_set():
                record(await client.get(path))
                await asyncio.sleep(0.01)

    running = [asyncio.create_task(loop()) for _ in range(tasks)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*running)


async def tickets_complete(d: Desk, asked: list[dict]) -> bool:
    """Every question is a ticket with its backend message and its thread reply recorded."""
    for event in asked:
        ticket = await d.ticket(event["ts"])
        if ticket is None:
            return False
        channels = {m["channelId"] for m in await d.bot_messages(ticket["id"])}
        if not {TICKET_CHANNEL, HELP_CHANNEL} <= channels:
            return False
    return True


async def test_stalled_readers_leave_slack_and_health_their_connections(desk, team, db_url):
    """30 stalled exports, stats_v2 hammered: every question acknowledged and a ticket, /health 200 throughout."""
    await add_many_tickets(db_url)
    # The stall bound far beyond the test, so the streams let go of nothing while questions arrive.
    settings = dict(
        client_stall_seconds=600,
        api_database_connections=8,
        api_max_streams=5,
        api_max_streams_per_client=5,
    )
    async with desk(**settings) as d:
        base_url = str(d.client.base_url)
        health: list[int] = []
        stats: list[int] = []
        readers: list[socket.socket] = []
        async with repeatedly(base_url, "/health", 1, lambda r: health.append(r.status_code)):
            try:
                readers = [stalled_reader(base_url) for _ in range(STALLED_READERS)]
                # Every stream slot taken by a reader that reads nothing, each holding its transaction
                # (before the change: every pooled connection).
                await eventually(lambda: _at_least(idle_in_transaction(db_url), 5))

                beyond_cap = await d.client.get(EXPORT)
                assert beyond_cap.status_code == 429
                assert beyond_cap.headers["Retry-After"] == "5"
                assert beyond_cap.json()["error"] == "too_many_streams"
                assert beyond_cap.json()["retry_after_seconds"] == 5

                async with repeatedly(
                    base_url, "/api/stats_v2", HAMMERS, lambda r: stats.append(r.status_code)
                ):
                    asked = [
                        question(HELP_CHANNEL, f"U0ASK{n:05d}", f"Question {n}: how?")
                        for n in range(QUESTIONS)
                    ]
                    answers = await asyncio.gather(*(d.deliver.event(event) for event in asked))
                    assert [answer.status_code for answer in answers] == [200] * QUESTIONS
                    await eventually(lambda: tickets_complete(d, asked))
                # The streams still hold their transactions: the questions got through beside them.
                assert await idle_in_transaction(db_url, "nephthys-api") >= 5
                # A page is answered beside the streams (it holds no connection while it is sent).
                assert (
                    await d.client.get("/api/tickets", params={"since": "2000-01-01", "limit": 5})
                ).status_code == 200
            finally:
                for reader in readers:
                    reader.close()
        assert health and set(health) == {200}
        assert stats and set(stats) == {200}


@pytest.mark.parametrize("read_from", ["rows", "blocks"])
async def test_a_stalled_stream_is_dropped_and_its_transaction_ended(serve, db_url, read_from):
    """A reader that takes nothing for CLIENT_STALL_SECONDS loses its answer; its transaction ends.

    Both ways an export reads: rows through a cursor (the last day's tickets), and export blocks
    through a binary COPY (older tickets, once the upkeep has built their blocks).
    """
    if read_from == "rows":
        await add_many_tickets(db_url)
    else:
        await add_many_tickets(db_url, age=timedelta(days=30))
        engine = create_engine(db_url)
        try:
            assert (await keep_blocks(session_factory(engine))).built >= TICKETS // TICKETS_PER_BLOCK
        finally:
            await engine.dispose()
    async with serve(client_stall_seconds=1, api_max_streams=4, api_max_streams_per_client=4) as client:
        base_url = str(client.base_url)
        readers = [stalled_reader(base_url) for _ in range(4)]
        try:
            await eventually(lambda: _at_least(idle_in_transaction(db_url), 4))
            # After the bound every stream has given back its connection and its slot.
            await eventually(lambda: _no_transactions(db_url))
            for _ in range(4):  # the slots are free again: four exports are served in a row
                async with client.stream("GET", EXPORT) as response:
                    assert response.status_code == 200
                    body = b"".join([chunk async for chunk in response.aiter_bytes()])
                assert body.count(b'"message_ts"') == TICKETS
        finally:
            for reader in readers:
                reader.close()


async def _at_least(count, wanted: int) -> bool:
    return await count >= wanted


async def _no_transactions(db_url: str) -> bool:
    """No backend of the service idle in a transaction, nor in one at all."""
    return await idle_in_transaction(db_url) == 0 and await open_transactions(db_url) == 0
