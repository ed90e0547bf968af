"""The lifecycle's CPU per message, alone: ``open_ticket`` per question and ``record_reply`` per thread reply.

    python bench/reply_cpu.py --database-url URL [--questions 300 --replies 2]

Run by bench/timeline.py once with this tree and once with the code before the event log
(``PYTHONPATH`` on that code's ``nephthys/``), each on a database its own migrations made: the
same calls (the code before takes no Slack instants; this tree gets each message's ts and instant,
as the Slack adapters pass them), timed by the CPU this process and the database's backends use,
no Slack and no HTTP. What the event log adds to a message's handling is the difference: its
events, the fold and the span write, in the message's transaction. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from nephthys.database.engine import create_engine, session_factory
from nephthys.tickets import lifecycle

HELPERS = 20


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backends_cpu(monitor: asyncpg.Connection, database: str) -> dict[int, float]:
    rows = await monitor.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
    )
    return {row["pid"]: cpu_seconds(row["pid"]) for row in rows}


def slack_ts(n: int, base: float) -> str:
    return f"{base + n * 0.001:.6f}"


async def main_async(args: argparse.Namespace) -> dict:
    dsn = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    database = dsn.rsplit("/", 1)[1]
    monitor = await asyncpg.connect(dsn)
    await monitor.execute(
        'TRUNCATE "BotMessage", tags_on_tickets, "Ticket", "SlackEvent", "User" RESTART IDENTITY CASCADE'
    )
    engine = create_engine(args.database_url, pool_size=2)
    sessions = session_factory(engine)
    opening = inspect.signature(lifecycle.open_ticket).parameters
    replying = inspect.signature(lifecycle.record_reply).parameters
    base = time.time() - 3600
    try:
        for h in range(HELPERS):
            await lifecycle.set_helper(sessions, slack_id=f"U0HLP{h:05d}", helper=True)
        questions = [(slack_ts(n, base), f"U0ASK{n % 200:05d}") for n in range(args.questions)]

        async def ask(ts: str, asker: str) -> None:
            extra = {"at": datetime.fromtimestamp(float(ts), UTC)} if "at" in opening else {}
            await lifecycle.open_ticket(
                sessions,
                msg_ts=ts,
                asker_slack_id=asker,
                description="How do I deploy?",
                title="Deploy",
                **extra,
            )

        async def reply(thread_ts: str, author: str, ts: str) -> None:
            extra = {"ts": ts, "at": datetime.fromtimestamp(float(ts), UTC)} if "at" in replying else {}
            recorded = await lifecycle.record_reply(
                sessions, thread_ts=thread_ts, author_slack_id=author, **extra
            )
            assert recorded is not None

        # Warm-up (the pool's connections, prepared statements): a few questions and replies, not counted.
        for n in range(5):
            await ask(slack_ts(900_000 + n, base), "U0WARM0001")
            await reply(slack_ts(900_000 + n, base), "U0HLP00000", slack_ts(950_000 + n, base))

        figures: dict[str, float] = {}
        before_own, before_db = time.process_time(), await backends_cpu(monitor, database)
        for ts, asker in questions:
            await ask(ts, asker)
        after_db = await backends_cpu(monitor, database)
        figures["question_process_cpu_ms"] = (time.process_time() - before_own) * 1000 / len(questions)
        figures["question_database_cpu_ms"] = (
            sum(cpu - before_db.get(pid, 0.0) for pid, cpu in after_db.items()) * 1000 / len(questions)
        )
        replies = []
        for turn in range(args.replies):
            for n, (ts, asker) in enumerate(questions):
                author = asker if turn % 2 else f"U0HLP{n % HELPERS:05d}"
                replies.append((ts, author, slack_ts(100_000 * (turn + 1) + n, base)))
        before_own, before_db = time.process_time(), await backends_cpu(monitor, database)
        for thread_ts, author, ts in replies:
            await reply(thread_ts, author, ts)
        after_db = await backends_cpu(monitor, database)
        figures["reply_process_cpu_ms"] = (time.process_time() - before_own) * 1000 / len(replies)
        figures["reply_database_cpu_ms"] = (
            sum(cpu - before_db.get(pid, 0.0) for pid, cpu in after_db.items()) * 1000 / len(replies)
        )
        figures["replies"] = len(replies)
        figures["questions"] = len(questions)
        figures["events_logged"] = await monitor.fetchval(
            "SELECT CASE WHEN to_regclass('\"TicketEvent\"') IS NULL THEN NULL "
            "ELSE (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM \"TicketEvent\"', false, true, '')))[1]::text::int END"
        )
        return figures
    finally:
        await engine.dispose()
        await monitor.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--replies", type=int, default=2)
    figures = asyncio.run(main_async(parser.parse_args()))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
