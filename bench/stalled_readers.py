"""Stalled readers against the Slack path (issue 18, part 1), this tree beside the code before it.

    python bench/stalled_readers.py            # 100 stalled readers, 32 stats_v2 clients, 200 questions in 20 s

For each variant (``before``: ``--before-ref``, default 5b530dd, unpacked with ``git archive`` and
run with PYTHONPATH pointing at it; ``after``: this tree), on a fresh database filled with
``--tickets`` tickets with long descriptions, with the fake Slack and the service each their own
process (see bench/slack_burst.py), all on loopback:

1. ``--stalled`` readers: raw sockets, each from its own loopback address (127.0.1.x, so the
   per-client cap does not stop them: the overall cap must), with a 4 kB receive buffer, that send
   ``GET /api/tickets?since=2000-01-01`` and never read;
2. ``--hammers`` keep-alive clients asking ``/api/stats_v2`` as fast as they are answered (a
   separate process: this one's event loop only times the questions);
3. ``/health`` asked every 0.25 s (5 s timeout) from then until the end;
4. ``--questions`` signed questions sent over ``--seconds`` (open loop, no redelivery), then up to
   60 s for their work to finish.

Figures per variant: questions acknowledged (2xx), ack p50/p99/max, tickets complete (a ticket
with its backend message and its thread reply in "BotMessage"), /health answers (200 of all),
stats_v2 answers by status, and the service's backends idle in a transaction (by pool) once
CLIENT_STALL_SECONDS (30 s unless ``--service-env`` sets it) plus 5 s have passed since the
readers connected, with the readers still connected. Target (after): every question
acknowledged with p99 ≤ 100 ms, every ticket complete, /health 200 throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api import unpack_ref  # noqa: E402
from bench.slack_burst import (  # noqa: E402
    BTS,
    HELP,
    TICKETS,
    Process,
    _dsn,
    fake_slack_ready,
    free_port,
    log,
    percentile,
    service_env,
    signed_request,
    start,
    start_fake_slack,
    wait_for,
)
from nephthys.database import migrate  # noqa: E402
from nephthys.testing.fake_slack import next_ts  # noqa: E402
from nephthys.testing.slack_requests import event_callback, question  # noqa: E402

EXPORT = "/api/tickets?since=2000-01-01"
TARGET_ACK_P99_MS = 100
ASKERS = 200


# ---------------------------------------------------------------- the load


def stalled_reader(port: int, number: int) -> socket.socket:
    """A client from its own loopback address that sends an export request and never reads."""
    reader = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.bind((f"127.0.1.{1 + number % 250}", 0))
    reader.connect(("127.0.0.1", port))
    reader.sendall(f"GET {EXPORT} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return reader


async def hammer(url: str, clients: int, seconds: float) -> dict:
    """``clients`` keep-alive clients asking ``url`` back to back for ``seconds``: answers by status."""
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def client() -> None:
            while time.monotonic() < deadline:
                try:
                    async with session.get(url) as response:
                        await response.read()
                        statuses[str(response.status)] += 1
                except (aiohttp.ClientError, TimeoutError) as error:
                    statuses[type(error).__name__] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return dict(statuses)


async def poll_health(url: str, stop: asyncio.Event, answers: list[str]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while not stop.is_set():
            try:
                async with session.get(url) as response:
                    await response.read()
                    answers.append(str(response.status))
            except (aiohttp.ClientError, TimeoutError) as error:
                answers.append(type(error).__name__)
            await asyncio.sleep(0.25)


async def ask(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict
) -> tuple[int | str, float]:
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            status: int | str = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        status = type(error).__name__
    return status, (time.perf_counter() - started) * 1000


# ---------------------------------------------------------------- one variant


async def fresh_database(server_url: str, database: str, tickets: int, description_chars: int) -> str:
    database_url = server_url.rsplit("/", 1)[0] + f"/{database}"
    admin = await asyncpg.connect(_dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    await migrate.upgrade(database_url)
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        user = await connection.fetchval(
            """INSERT INTO "User" ("slackId") VALUES ('U0BULK0001') RETURNING id"""
        )
        # An hour old: read row by row (no export blocks yet), as the newest tickets always are.
        await connection.execute(
            """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgAt",
                   "lastMsgBy", "createdAt")
               SELECT 'Bulk question ' || n, repeat('A long description. ', $2 / 20), 'OPEN',
                   '1500000000.' || lpad(n::text, 6, '0'), $1, now() - interval '1 hour',
                   'AUTHOR', now() - interval '1 hour'
               FROM generate_series(1, $3) n""",
            user,
            description_chars,
            tickets,
        )
    finally:
        await connection.close()
    return database_url


async def run_variant(name: str, args: argparse.Namespace, pythonpath: Path | None) -> dict:
    load_before = os.getloadavg()[0]
    database_url = await fresh_database(
        args.server_url, f"{args.database}_{name}", args.tickets, args.description_chars
    )
    workdir = Path(tempfile.mkdtemp(prefix=f"nephthys-stalled-{name}-"))
    fake_port, service_port = free_port(), free_port()
    base_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    processes: list[Process] = []
    readers: list[socket.socket] = []
    try:
        fake_process = start_fake_slack(workdir, fake_port, base_env)
        processes.append(fake_process)
        fake_base, fake = await fake_slack_ready(fake_process, fake_port)
        for n in range(ASKERS):
            await fake.call("add_user", user_id=f"U0ASK{n:05d}", name=f"asker{n}")
        await fake.call("set_members", channel_id=BTS, user_ids=["U0HLP00001"])
        env = {**service_env(base_env, database_url, fake_base), "DAILY_SUMMARY": "false"}
        env.update(name_value.split("=", 1) for name_value in args.service_env)
        if pythonpath is not None:
            env["PYTHONPATH"] = str(pythonpath)
        command = [sys.executable, "-m", "nephthys", "serve", "--no-migrate", "--host", "127.0.0.1"]
        for attempt in range(3):  # a port taken meanwhile by another program: another port
            service_process = start("nephthys", [*command, "--port", str(service_port)], env, workdir)
            processes.append(service_process)
            service = f"http://127.0.0.1:{service_port}"
            try:
                await wait_for(f"{service}/health", service_process, lambda r: r.json().get("slack") is True)
                break
            except RuntimeError:
                if attempt == 2 or "address already in use" not in service_process.tail():
                    raise
                service_port = free_port()

        # Every question built and signed before the burst (the question exists in Slack first).
        requests = []
        for n in range(args.questions):
            ts, asker = next_ts(), f"U0ASK{n % ASKERS:05d}"
            text = f"Question {n}: how do I get my project {n} deployed before the deadline?"
            await fake.call("add_message", channel=HELP, user=asker, text=text, ts=ts)
            requests.append(signed_request(event_callback(question(HELP, asker, text, ts=ts)), 0))

        log(f"{name}: {args.stalled} stalled readers")
        readers = [stalled_reader(service_port, n) for n in range(args.stalled)]
        readers_at = time.monotonic()
        await asyncio.sleep(3)  # they take what they take
        stop_health = asyncio.Event()
        health: list[str] = []
        health_task = asyncio.create_task(poll_health(f"{service}/health", stop_health, health))
        hammer_seconds = args.seconds + 10
        hammer_process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--hammer", f"{service}/api/stats_v2",
            "--hammers", str(args.hammers), "--seconds", str(hammer_seconds),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(2)  # the hammer under way
        log(
            f"{name}: {args.questions} questions over {args.seconds:.0f} s beside {args.hammers} stats_v2 clients"
        )
        connector = aiohttp.TCPConnector(limit=400)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            loop = asyncio.get_running_loop()
            start_at, tasks = loop.time(), []
            for n, (body, headers) in enumerate(requests):
                delay = start_at + n * args.seconds / args.questions - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(ask(session, f"{service}/slack/events", body, headers)))
            acks = await asyncio.gather(*tasks)
        slowest = sorted(range(len(acks)), key=lambda n: acks[n][1])[-10:]
        log(
            f"{name}: slowest acks (s after the first question: ms): "
            + ", ".join(f"{n * args.seconds / args.questions:.1f}: {acks[n][1]:.0f}" for n in slowest)
        )
        log(f"{name}: burst sent; waiting up to 60 s for the work")
        complete = await wait_for_tickets(database_url, args.questions, within=60)
        hammer_out, _ = await hammer_process.communicate()
        # Past the stall bound (and a margin), with the readers still connected: who is still in a transaction?
        settings = dict(name_value.split("=", 1) for name_value in args.service_env)
        bound = float(settings.get("CLIENT_STALL_SECONDS", 30))
        await asyncio.sleep(max(0.0, readers_at + bound + 5 - time.monotonic()))
        stop_health.set()
        await health_task
        idle_after_bound = await transactions_by_pool(database_url)
    finally:
        for reader in readers:
            reader.close()
        for process in reversed(processes):
            process.stop()
    ack_ms = [ms for status, ms in acks]
    acknowledged = sum(1 for status, _ in acks if isinstance(status, int) and 200 <= status < 300)
    return {
        "questions": args.questions,
        "questions_acknowledged": acknowledged,
        "ack_statuses": dict(Counter(str(status) for status, _ in acks)),
        "ack_ms_p50": round(percentile(ack_ms, 0.50), 1),
        "ack_ms_p99": round(percentile(ack_ms, 0.99), 1),
        "ack_ms_max": round(max(ack_ms), 1),
        "tickets_complete": complete,
        "health_200": health.count("200"),
        "health_answers": len(health),
        "health_statuses": dict(Counter(health)),
        "stats_v2_answers": json.loads(hammer_out or b"{}"),
        "idle_in_transaction_after_bound": idle_after_bound,
        "load_average_before": round(load_before, 2),
        "logs": str(workdir),
    }


async def tickets_complete(connection: asyncpg.Connection) -> int:
    """Questions' tickets with their backend message and their thread reply recorded."""
    return await connection.fetchval(
        """SELECT count(*) FROM "Ticket" t WHERE t."msgTs" NOT LIKE '1500000000.%'
           AND EXISTS (SELECT 1 FROM "BotMessage" b WHERE b."ticketId" = t.id AND b."channelId" = $1)
           AND EXISTS (SELECT 1 FROM "BotMessage" b WHERE b."ticketId" = t.id AND b."channelId" = $2)""",
        TICKETS,
        HELP,
    )


async def wait_for_tickets(database_url: str, questions: int, *, within: float) -> int:
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        deadline = time.monotonic() + within
        while True:
            complete = await tickets_complete(connection)
            if complete >= questions or time.monotonic() > deadline:
                return complete
            await asyncio.sleep(0.5)
    finally:
        await connection.close()


async def transactions_by_pool(database_url: str) -> dict[str, int]:
    """Backends of the service idle in a transaction, by application_name (the code before named none)."""
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        rows = await connection.fetch(
            """SELECT coalesce(nullif(application_name, ''), 'unnamed') AS pool, count(*) AS n
               FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state LIKE 'idle in transaction%' GROUP BY 1"""
        )
        return {row["pool"]: row["n"] for row in rows}
    finally:
        await connection.close()


# ---------------------------------------------------------------- main


ROWS = [
    ("questions acknowledged (2xx)", lambda f: f"{f['questions_acknowledged']}/{f['questions']}"),
    ("ack p50 ms", lambda f: f["ack_ms_p50"]),
    ("ack p99 ms", lambda f: f["ack_ms_p99"]),
    ("ack max ms", lambda f: f["ack_ms_max"]),
    ("ack statuses", lambda f: f["ack_statuses"]),
    ("tickets complete", lambda f: f"{f['tickets_complete']}/{f['questions']}"),
    ("/health 200", lambda f: f"{f['health_200']}/{f['health_answers']}"),
    ("/health answers", lambda f: f["health_statuses"]),
    ("stats_v2 answers", lambda f: f["stats_v2_answers"]),
    ("idle in transaction, bound + 5 s", lambda f: f["idle_in_transaction_after_bound"] or 0),
    ("machine load average before", lambda f: f["load_average_before"]),
]


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    names = list(results)
    print(
        f"\n{args.stalled} stalled export readers, {args.hammers} stats_v2 clients, "
        f"{args.questions} questions over {args.seconds:.0f} s ({args.tickets} tickets in the database)"
    )
    print(f"{'':32}" + "".join(f"{name:>40}" for name in names))
    for label, value in ROWS:
        print(f"{label:32}" + "".join(f"{str(value(results[name])):>40}" for name in names))
    output = ROOT / "bench" / "results" / f"stalled-{datetime.now():%Y%m%d-%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    print(f"results written to {output.relative_to(ROOT)}")


async def main_async(args: argparse.Namespace) -> int:
    results: dict[str, dict] = {}
    if not args.skip_before:
        results[f"before ({args.before_ref})"] = await run_variant(
            "before", args, unpack_ref(args.before_ref)
        )
    results["after (this tree)"] = await run_variant("after", args, None)
    report(results, args)
    after = results["after (this tree)"]
    passed = (
        after["questions_acknowledged"] == args.questions
        and after["ack_ms_p99"] <= TARGET_ACK_P99_MS
        and after["tickets_complete"] == args.questions
        and after["health_200"] == after["health_answers"] > 0
    )
    print(f"target (after): {'met' if passed else 'NOT met'}")
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stalled", type=int, default=100)
    parser.add_argument("--hammers", type=int, default=32)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--description-chars", type=int, default=3000)
    parser.add_argument("--before-ref", default="5b530dd")
    parser.add_argument("--skip-before", action="store_true")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="nephthys_bench_stalled")
    parser.add_argument(
        "--service-env", action="append", default=[], metavar="NAME=VALUE", help="a setting for both services"
    )
    parser.add_argument("--hammer", metavar="URL", help=argparse.SUPPRESS)  # the hammer process itself
    args = parser.parse_args()
    if args.hammer:
        print(json.dumps(asyncio.run(hammer(args.hammer, args.hammers, args.seconds))))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
