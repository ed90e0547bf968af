"""Lost answers and a database restart mid-burst: how many duplicates are left in Slack (issue 8).

    python bench/lost_answers.py                      # 200 questions, one post in nine lost
    python bench/lost_answers.py --questions 400 --every 9 --outage-seconds 3

One process: the real app (Starlette under uvicorn, real PostgreSQL, real signed Events API
requests) against the fake Slack, which carries out one ``chat.postMessage`` in ``--every`` but
answers it 500 (the answer is lost, the message is posted). The questions are delivered in
three parts; during the second the database "restarts": new connections are refused and the open
ones cut for ``--outage-seconds`` (what a restart looks like to a client), so deliveries get
503 and are redelivered as Slack would, and work already acknowledged meets the outage between
a post and its record. Then the repair job runs once, and Slack is counted: every question
should have exactly one backend message and one thread reply, and its ticket should point at
that backend message.

The database is ``--database-url`` (a server; a scratch database is created on it and dropped)
or an embedded PostgreSQL in ./.nephthys/bench-pgdata. Exit status 0 when no duplicate and
nothing missing is found.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nephthys.config import Settings  # noqa: E402
from nephthys.database import embedded, migrate  # noqa: E402
from nephthys.testing.fake_slack import FakeSlack  # noqa: E402
from nephthys.testing.slack_requests import (  # noqa: E402
    SIGNING_SECRET,
    SlackDelivery,
    event_callback,
    new_event_id,
    question,
)
from nephthys.utils.starlette import create_app  # noqa: E402

HELP, TICKETS, BTS, HEARTBEAT = "C0HELP0001", "C0TICKETS1", "C0BTS00001", "C0BEAT0001"
ASKER = "U0ASKER001"
MARKER = re.compile(r"Q(\d{5})-")


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _execute(url: str, sql: str, *args) -> None:
    connection = await asyncpg.connect(_dsn(url))
    try:
        await connection.execute(sql, *args)
    finally:
        await connection.close()


async def restart_like(server_url: str, name: str, seconds: float) -> None:
    """Refuse new connections to ``name`` and cut the open ones for ``seconds``."""
    await _execute(server_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    await _execute(
        server_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        name,
    )
    try:
        await asyncio.sleep(seconds)
    finally:
        await _execute(server_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


async def run(args: argparse.Namespace, server_url: str) -> int:
    name = f"nephthys_bench_lost_{uuid.uuid4().hex[:8]}"
    await _execute(server_url, f'CREATE DATABASE "{name}"')
    db_url = _with_database(server_url, name)
    try:
        await migrate.upgrade(db_url)
        return await burst(args, server_url, name, db_url)
    finally:
        await _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def burst(args: argparse.Namespace, server_url: str, name: str, db_url: str) -> int:
    async with FakeSlack() as fake:
        fake.add_user(ASKER, name="asker")
        fake.set_members(BTS, [fake.bot_user_id])
        settings = dataclasses.replace(
            Settings.from_env({}, dotenv_path=None),
            database_url=db_url,
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=fake.base_url,
            slack_workspace_url=f"https://{fake.team_domain}.slack.com",
            slack_help_channel=HELP,
            slack_ticket_channel=TICKETS,
            slack_bts_channel=BTS,
            slack_heartbeat_channel=HEARTBEAT,
        )
        app = create_app(settings, database_url=db_url)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()  # raises the start-up error
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                await asyncio.wait_for(app.state.slack.started(), 30)
                return await deliver_and_count(args, fake, app, client, server_url, name, db_url)
        finally:
            server.should_exit = True
            await serving


async def deliver_and_count(args, fake, app, client, server_url, name, db_url) -> int:
    deliver = SlackDelivery(client, fake=fake)
    lost = fake.fail(
        "chat.postMessage", error="internal_error", status=500, applied=True, times=None, every=args.every
    )
    envelopes = [
        event_callback(question(HELP, ASKER, f"Q{i:05d}- question {i}"), event_id=new_event_id())
        for i in range(args.questions)
    ]
    refused: list[dict] = []

    async def send(batch: list[dict]) -> None:
        for start in range(0, len(batch), 10):  # ten at a time, like a busy channel
            chunk = batch[start : start + 10]
            responses = await asyncio.gather(*(deliver.envelope(e) for e in chunk))
            refused.extend(e for e, r in zip(chunk, responses, strict=True) if r.status_code >= 500)

    started = time.perf_counter()
    third = args.questions // 3
    await send(envelopes[:third])
    outage = asyncio.create_task(restart_like(server_url, name, args.outage_seconds))
    await send(envelopes[third : 2 * third])
    await outage
    await send(envelopes[2 * third :])
    redelivered = len(refused)
    for envelope in refused:  # Slack redelivers what got a non-2xx
        await deliver.envelope(envelope, retry_num=1, retry_reason="http_error")
    service = app.state.slack
    await service.drain(120)
    report = await service.repair_now(grace=timedelta(0))
    await service.drain(120)
    elapsed = time.perf_counter() - started

    backends: dict[int, list[str]] = {}
    for message in fake.bot_messages(TICKETS):
        match = MARKER.search(message.get("text") or "")
        if match:
            backends.setdefault(int(match.group(1)), []).append(message["ts"])
    connection = await asyncpg.connect(_dsn(db_url))
    try:
        tickets = {row["msgTs"]: row["ticketTs"] for row in await connection.fetch('SELECT * FROM "Ticket"')}
    finally:
        await connection.close()
    extra_backend = sum(len(found) - 1 for found in backends.values() if len(found) > 1)
    missing_backend = args.questions - len(backends)
    extra_replies = missing_replies = unrecorded = 0
    for i, envelope in enumerate(envelopes):
        ts = envelope["event"]["ts"]
        replies = [m for m in fake.messages(HELP, thread_ts=ts) if m.get("bot_id")]
        extra_replies += max(0, len(replies) - 1)
        missing_replies += not replies
        unrecorded += tickets.get(ts) is None or tickets.get(ts) not in backends.get(i, [])
    lost_posts = lost.fired
    print(f"questions                      {args.questions}")
    print(f"chat.postMessage answered 500  {lost_posts} (carried out; one in {args.every})")
    print(f"deliveries refused in outage   {redelivered} (redelivered)")
    print(f"repair job                     finished {len(report.finished)}, failed {len(report.failed)}")
    print(f"tickets stored                 {len(tickets)}")
    print(f"extra backend messages         {extra_backend}")
    print(f"extra thread replies           {extra_replies}")
    print(f"missing backend / replies      {missing_backend} / {missing_replies}")
    print(f"tickets not pointing at theirs {unrecorded}")
    print(f"elapsed                        {elapsed:.1f} s (load average {os.getloadavg()[0]:.2f})")
    clean = (
        extra_backend == extra_replies == missing_backend == missing_replies == unrecorded == 0
        and len(tickets) == args.questions
    )
    print("result                         " + ("no duplicate, nothing missing" if clean else "NOT CLEAN"))
    return 0 if clean else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--every", type=int, default=9, help="one chat.postMessage in EVERY is lost")
    parser.add_argument("--outage-seconds", type=float, default=2.0)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: an embedded one)")
    args = parser.parse_args()
    server = None
    server_url = args.database_url
    if server_url is None:
        server = embedded.start(ROOT / ".nephthys" / "bench-pgdata")
        server_url = server.url
    try:
        return asyncio.run(run(args, server_url))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
