"""The Slack benchmark (issue 4): a burst of questions through the real service and a fake Slack.

    python bench/slack_burst.py                       # both phases, 1,000 questions in 10 s each
    python bench/slack_burst.py --phase clean --questions 200 --seconds 2

Three processes: the fake Slack Web API (``python -m nephthys.testing.fake_slack``), Nephthys
(``python -m nephthys serve``) pointed at it, and this load generator, which signs Events API
envelopes like Slack and posts them on a fixed schedule (open loop: a slow answer does not
delay the next question).

Phases (each on an emptied database):

- clean: every question delivered once, Slack answers everything. Measures the acknowledgement
  time (client side, request sent -> response read) and question -> ticket stored and all its
  Slack messages posted (request sent -> the last of its backend message, thread reply and
  reaction as the fake Slack recorded them; one clock, one machine).
- hostile: every question delivered three times (the first, then X-Slack-Retry-Num 1 and 2
  within a second) while the fake answers 429 (Retry-After: 0) to one Web API call in ten.

After each phase it waits until every ticket's thread reply is recorded (or a timeout) and then
checks: N tickets, N backend messages, N thread replies, N reactions, and nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nephthys.database import migrate  # noqa: E402
from nephthys.testing.fake_slack import next_ts  # noqa: E402
from nephthys.testing.slack_requests import (  # noqa: E402
    event_callback,
    question,
    signed_headers,
    thread_reply,
)

HELP = "C0HELP0001"
TICKETS = "C0TICKETS1"
BTS = "C0BTS00001"
SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
ASKERS = 200
HELPERS = 20
# Issue 23's targets at 100 questions/s (--questions 1000 --seconds 10).
TARGET_ACK_P99_MS = 20
TARGET_POSTED_P90_MS = 50
TARGET_CPU_MS_PER_QUESTION = 3


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def unpack_ref(ref: str) -> Path:
    """The ``nephthys`` package at git ``ref``, unpacked under bench/results (no checkout is touched)."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True
    ).stdout.strip()
    if not sha:
        raise SystemExit(f"--code-ref: {ref!r} is not a commit here")
    target = ROOT / "bench" / "results" / f"code-{sha}"
    if not (target / "nephthys").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", sha, "nephthys"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


# ---------------------------------------------------------------- processes


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Process:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        # cwd is a scratch folder, so no developer's .env is read.
        popen = subprocess.Popen(command, env=env, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT)
    return Process(name, popen, log_path)


async def wait_for(url: str, process: Process, check=lambda response: response.status_code < 500) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            try:
                if check(await client.get(url)):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready in 60 s:\n{process.tail()}")


# ---------------------------------------------------------------- the fake Slack


def service_env(base_env: dict[str, str], database_url: str, fake_base: str) -> dict[str, str]:
    """A Slack-on service's environment against the fake Slack at ``fake_base``, on ``database_url``."""
    return {
        **base_env,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": f"{fake_base}/api/",
        "SLACK_HELP_CHANNEL": HELP,
        "SLACK_TICKET_CHANNEL": TICKETS,
        "SLACK_BTS_CHANNEL": BTS,
    }


def start_fake_slack(workdir: Path, port: int, env: dict[str, str]) -> Process:
    """The fake Slack Web API as its own process (add it to the processes stopped at the end)."""
    command = [sys.executable, "-m", "nephthys.testing.fake_slack", "--port", str(port)]
    return start("fake-slack", command, env, workdir)


async def fake_slack_ready(process: Process, port: int) -> tuple[str, FakeControl]:
    """Once the fake Slack answers: its base URL and its control."""
    base = f"http://127.0.0.1:{port}"
    await wait_for(f"{base}/_fake/state", process, lambda response: response.status_code == 200)
    return base, FakeControl(base)


class FakeControl:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.AsyncClient(base_url=base, timeout=60)

    async def call(self, method_name: str, /, **kwargs) -> object:
        response = await self.http.post("/_fake/control", json={"call": method_name, "kwargs": kwargs})
        response.raise_for_status()
        return response.json().get("result")

    async def state(self) -> dict:
        response = await self.http.get("/_fake/state")
        response.raise_for_status()
        return response.json()


# ---------------------------------------------------------------- one phase


@dataclass
class Delivery:
    ts: str
    sent_at: float  # wall clock, to compare with the fake's call times
    ack_ms: float
    status: int
    retry: int
    send_lag_ms: float = 0.0  # how late the load generator sent it (its own overload)


@dataclass
class PhaseResult:
    name: str
    deliveries: list[Delivery] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)


def signed_request(envelope: dict, retry: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers Slack would send (signed now; valid for 5 minutes)."""
    body = json.dumps(envelope, separators=(",", ":")).encode()
    headers = signed_headers(body, SECRET, retry_num=retry or None)
    headers["Content-Type"] = "application/json"
    return body, headers


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    ts: str,
    body: bytes,
    headers: dict,
    retry: int,
    scheduled: float,
) -> Delivery:
    loop = asyncio.get_running_loop()
    lag_ms = (loop.time() - scheduled) * 1000
    sent_at = time.time()
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        status = response.status
    ack_ms = (time.perf_counter() - started) * 1000
    return Delivery(ts, sent_at, ack_ms, status, retry, lag_ms)


async def run_phase(
    name: str,
    *,
    service: str,
    fake: FakeControl,
    database_url: str,
    questions: int,
    seconds: float,
    hostile: bool,
    pids: dict[str, int],
    replies: int = 0,
) -> PhaseResult:
    result = PhaseResult(name)
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        await connection.execute(
            'TRUNCATE "BotMessage", tags_on_tickets, "Ticket", "SlackEvent" RESTART IDENTITY CASCADE'
        )
    finally:
        await connection.close()
    await fake.call("clear_failures")
    await fake.call("reset_calls")

    askers = [f"U0ASK{n:05d}" for n in range(ASKERS)]
    events = []
    for n in range(questions):
        ts = next_ts()
        asker = askers[n % ASKERS]
        text = f"Question {n}: how do I get my project {n} deployed before the deadline?"
        # The question exists in Slack before its event is sent (reactions need it).
        await fake.call("add_message", channel=HELP, user=asker, text=text, ts=ts)
        events.append(
            event_callback(question(HELP, asker, text, ts=ts), event_id=f"Ev{name[:2].upper()}{n:07d}")
        )
    if hostile:
        await fake.call("fail", method="*", error="ratelimited", retry_after=0, times=None, every=10)

    # Every request is built and signed before the burst, so the generator only sends.
    schedule: list[tuple[float, str, bytes, dict, int]] = []
    interval = seconds / questions
    for n, envelope in enumerate(events):
        at = 0.2 + n * interval
        ts = envelope["event"]["ts"]
        schedule.append((at, ts, *signed_request(envelope, 0), 0))
        if hostile:
            schedule.append((at + random.uniform(0.0, 0.2), ts, *signed_request(envelope, 1), 1))
            schedule.append((at + random.uniform(0.2, 1.0), ts, *signed_request(envelope, 2), 2))
    schedule.sort(key=lambda item: item[0])
    url = f"{service}/slack/events"
    connector = aiohttp.TCPConnector(limit=400, limit_per_host=400)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        # Open connections first, so connection set-up is not counted as acknowledgement time.
        async def warm() -> None:
            async with session.get(f"{service}/health") as response:
                await response.read()

        await asyncio.gather(*(warm() for _ in range(50)))
        log(
            f"{name}: {questions} questions over {seconds:.0f} s"
            + (", each delivered 3 times, 429 on 1 call in 10" if hostile else "")
        )
        loop = asyncio.get_running_loop()
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start_at = loop.time()
        tasks = []
        for at, ts, body, headers, retry in schedule:
            delay = start_at + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(
                asyncio.create_task(deliver(session, url, ts, body, headers, retry, scheduled=start_at + at))
            )
        result.deliveries = list(await asyncio.gather(*tasks))
        burst_end = loop.time()
        log(f"{name}: burst sent in {burst_end - start_at - 0.2:.1f} s; waiting for the work to finish")

        finished = await wait_until_finished(database_url, questions, within=180)
        log(
            f"{name}: work finished {loop.time() - burst_end:.1f} s after the burst"
            if finished
            else f"{name}: NOT finished"
        )

    cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    state = await fake.state()
    result.figures, result.checks = await measure(result, state, database_url, questions, finished)
    if replies and not hostile:
        asked = [(envelope["event"]["ts"], envelope["event"]["user"]) for envelope in events]
        await run_replies(result, service=service, database_url=database_url, asked=asked,
                          replies=replies, seconds=seconds, pids=pids)  # fmt: skip
    slowest = sorted(result.deliveries, key=lambda d: d.ack_ms)[-15:]
    first_sent = min(d.sent_at for d in result.deliveries)
    log(
        "slowest acks (s after start: ms): "
        + ", ".join(f"{d.sent_at - first_sent:.2f}: {d.ack_ms:.0f}" for d in slowest)
    )
    for process_name, used in cpu_used.items():
        result.figures[f"cpu_ms_per_question_{process_name}"] = round(used * 1000 / questions, 2)
    return result


async def run_replies(
    result: PhaseResult,
    *,
    service: str,
    database_url: str,
    asked: list[tuple[str, str]],
    replies: int,
    seconds: float,
    pids: dict[str, int],
) -> None:
    """``replies`` thread replies per question, a helper's first, then the asker's and a helper's in
    turn (each one a ticket change: assignment, who spoke last, and with the timeline its events and
    fold), paced over ``seconds``; the service's CPU per reply and whether each was handled."""
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        handled_before = await connection.fetchval('SELECT count("processedAt") FROM "SlackEvent"')
    finally:
        await connection.close()
    envelopes = []
    for turn in range(replies):
        for n, (ts, asker) in enumerate(asked):
            author = asker if turn % 2 else f"U0HLP{n % HELPERS:05d}"
            text = f"Reply {turn} in thread {n}: have you tried the deploy guide?"
            reply = thread_reply(HELP, author, text, thread_ts=ts, parent_user_id=asker)
            envelopes.append(event_callback(reply, event_id=f"EvRE{turn:02d}{n:06d}"))
    interval = seconds / len(envelopes)
    signed = [signed_request(envelope, 0) for envelope in envelopes]
    url = f"{service}/slack/events"
    connector = aiohttp.TCPConnector(limit=400, limit_per_host=400)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        log(f"{result.name}: {len(envelopes)} thread replies over {seconds:.0f} s")
        loop = asyncio.get_running_loop()
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start_at = loop.time()
        tasks = []
        for n, (body, headers) in enumerate(signed):
            delay = start_at + n * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ts = envelopes[n]["event"]["ts"]
            tasks.append(
                asyncio.create_task(deliver(session, url, ts, body, headers, 0, start_at + n * interval))
            )
        deliveries = list(await asyncio.gather(*tasks))
        handled = await wait_until_handled(database_url, handled_before + len(envelopes), within=180)
    cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    for process_name, used in cpu_used.items():
        result.figures[f"cpu_ms_per_reply_{process_name}"] = round(used * 1000 / len(envelopes), 2)
    result.figures["reply_ack_ms_p50"] = round(percentile([d.ack_ms for d in deliveries], 0.5), 2)
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        assigned = await connection.fetchval('SELECT count(*) FROM "Ticket" WHERE "assignedAt" IS NOT NULL')
    finally:
        await connection.close()
    result.checks[f"{len(envelopes)} thread replies acknowledged 2xx"] = all(
        200 <= d.status < 300 for d in deliveries
    )
    result.checks[f"{len(envelopes)} thread replies handled"] = handled
    result.checks[f"{len(asked)} tickets assigned by their helper's reply"] = assigned == len(asked)


async def wait_until_handled(database_url: str, events: int, *, within: float) -> bool:
    """Whether ``events`` Slack events have been handled (processedAt) within ``within`` seconds."""
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if await connection.fetchval('SELECT count("processedAt") FROM "SlackEvent"') >= events:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await connection.close()


async def wait_until_finished(database_url: str, questions: int, *, within: float) -> bool:
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            replies = await connection.fetchval(
                'SELECT count(*) FROM "BotMessage" WHERE "channelId" = $1', HELP
            )
            if replies >= questions:
                # One more look: redeliveries may still be in flight.
                await asyncio.sleep(1.0)
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await connection.close()


async def measure(result: PhaseResult, state: dict, database_url: str, questions: int, finished: bool):
    first = [d for d in result.deliveries if d.retry == 0]
    asked = {d.ts: d for d in first}
    done_at: dict[str, list[float]] = {ts: [] for ts in asked}
    ok_calls = [c for c in state["calls"] if c["ok"]]
    backend_posts = [
        c for c in ok_calls if c["method"] == "chat.postMessage" and c["args"].get("channel") == TICKETS
    ]
    thread_posts = [
        c for c in ok_calls if c["method"] == "chat.postMessage" and c["args"].get("thread_ts") in asked
    ]
    reactions = [
        c for c in ok_calls if c["method"] == "reactions.add" and c["args"].get("timestamp") in asked
    ]
    link_to_ts = {ts.replace(".", ""): ts for ts in asked}
    for call in backend_posts:
        text = call["args"].get("text", "")
        ts = next((ts for key, ts in link_to_ts.items() if f"/p{key}" in text), None)
        if ts is not None:
            done_at[ts].append(datetime.fromisoformat(call["at"]).timestamp())
    for call in thread_posts:
        done_at[call["args"]["thread_ts"]].append(datetime.fromisoformat(call["at"]).timestamp())
    for call in reactions:
        done_at[call["args"]["timestamp"]].append(datetime.fromisoformat(call["at"]).timestamp())
    posted_ms = [(max(times) - asked[ts].sent_at) * 1000 for ts, times in done_at.items() if len(times) >= 3]

    connection = await asyncpg.connect(_dsn(database_url))
    try:
        tickets = await connection.fetch('SELECT "msgTs", "ticketTs" FROM "Ticket"')
        bot_rows = await connection.fetch('SELECT "channelId", count(*) AS n FROM "BotMessage" GROUP BY 1')
        events = await connection.fetchrow(
            'SELECT count(*) AS n, count("processedAt") AS processed FROM "SlackEvent"'
        )
    finally:
        await connection.close()
    in_ticket_channel = [
        m
        for m in state["channels"].get(TICKETS, [])
        if any(f"/p{k}" in m.get("text", "") for k in link_to_ts)
    ]
    replies_per_question: dict[str, int] = {}
    for message in state["channels"].get(HELP, []):
        if message.get("bot_id") and message.get("thread_ts") in asked:
            replies_per_question[message["thread_ts"]] = replies_per_question.get(message["thread_ts"], 0) + 1
    reacted = sum(1 for ts in asked if "thinking_face" in state["reactions"].get(f"{HELP}/{ts}", []))
    acks = [d.ack_ms for d in result.deliveries]
    rate_limited = sum(1 for c in state["calls"] if c["status"] == 429)

    figures = {
        "deliveries": len(result.deliveries),
        "ack_ms_p50": round(percentile(acks, 0.50), 2),
        "ack_ms_p99": round(percentile(acks, 0.99), 2),
        "ack_ms_max": round(max(acks), 2),
        "first_delivery_ack_ms_p99": round(percentile([d.ack_ms for d in first], 0.99), 2),
        "generator_send_lag_ms_p99": round(percentile([d.send_lag_ms for d in result.deliveries], 0.99), 2),
        "question_to_posted_ms_p50": round(percentile(posted_ms, 0.50), 1) if posted_ms else None,
        "question_to_posted_ms_p90": round(percentile(posted_ms, 0.90), 1) if posted_ms else None,
        "question_to_posted_ms_max": round(max(posted_ms), 1) if posted_ms else None,
        "web_api_calls": len(state["calls"]),
        "web_api_429s": rate_limited,
    }
    checks = {
        "all work finished": finished,
        "every delivery acknowledged 2xx": all(200 <= d.status < 300 for d in result.deliveries),
        f"{questions} tickets, one per question": len(tickets) == questions
        and {row["msgTs"] for row in tickets} == set(asked),
        f"{questions} tickets with a backend message": sum(1 for row in tickets if row["ticketTs"])
        == questions,
        f"{questions} backend messages in the tickets channel": len(in_ticket_channel) == questions,
        f"{questions} backend messages posted (none twice)": len(backend_posts) == questions,
        f"{questions} thread replies, one per question": len(replies_per_question) == questions
        and set(replies_per_question.values()) == {1},
        f"{questions} thread replies posted (none twice)": len(thread_posts) == questions,
        f"{questions} questions with thinking_face": reacted == questions,
        f"{2 * questions} BotMessage rows": sum(row["n"] for row in bot_rows) == 2 * questions,
        f"{questions} Slack events, all processed": events["n"] == questions
        and events["processed"] == questions,
    }
    return figures, checks


# ---------------------------------------------------------------- main


async def main_async(args: argparse.Namespace) -> int:
    database_url = args.server_url.rsplit("/", 1)[0] + f"/{args.database}"
    admin = await asyncpg.connect(_dsn(args.server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{args.database}"')
    finally:
        await admin.close()
    workdir = Path(tempfile.mkdtemp(prefix="nephthys-slack-bench-"))
    base_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    if args.code_ref:
        # Other code (git archive of its nephthys/, found first on PYTHONPATH), migrated by its own
        # migrations, so the database is what that code ran on.
        base_env["PYTHONPATH"] = str(unpack_ref(args.code_ref))
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "nephthys", "db", "upgrade"],
            env={**base_env, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"},
            cwd=workdir,
            check=True,
            capture_output=True,
        )
    else:
        await migrate.upgrade(database_url)
    if args.without_ticket_json:  # the path as it was before issue 14: no stored JSON to keep
        connection = await asyncpg.connect(_dsn(database_url))
        for table, trigger in [
            ('"Ticket"', "ticket_json_insert"), ('"Ticket"', "ticket_json_update"),
            ('"Ticket"', "ticket_json_delete"), ("tags_on_tickets", "ticket_json_tag_link"),
            ('"User"', "ticket_json_user"), ('"Tag"', "ticket_json_tag"),
        ]:  # fmt: skip
            await connection.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{trigger}"')
        await connection.close()
    if os.environ.get("BENCH_DISABLE_TRIGGERS"):
        connection = await asyncpg.connect(_dsn(database_url))
        await connection.execute(
            'ALTER TABLE "Ticket" DISABLE TRIGGER USER; ALTER TABLE "User" DISABLE TRIGGER USER'
        )
        await connection.close()

    fake_port, service_port = free_port(), free_port()
    # The fake Slack is this tree's, whichever code the service runs.
    fake_env = {key: value for key, value in base_env.items() if key != "PYTHONPATH"}
    fake_process = start_fake_slack(workdir, fake_port, fake_env)
    processes = [fake_process]
    try:
        fake_base, fake = await fake_slack_ready(fake_process, fake_port)
        helpers = [f"U0HLP{n:05d}" for n in range(HELPERS)]
        for n in range(ASKERS):
            await fake.call("add_user", user_id=f"U0ASK{n:05d}", name=f"asker{n}")
        await fake.call("set_members", channel_id=BTS, user_ids=helpers)

        env = service_env(base_env, database_url, fake_base)
        env.update(dict(setting.split("=", 1) for setting in args.service_env))
        command = [sys.executable, "-m", "nephthys", "serve", "--no-migrate", "--host", "127.0.0.1"]
        if args.profile:
            command[1:1] = ["-m", "cProfile", "-o", str(workdir / "nephthys.prof")]
        service_process = start("nephthys", [*command, "--port", str(service_port)], env, workdir)
        processes.append(service_process)
        service = f"http://127.0.0.1:{service_port}"
        await wait_for(
            f"{service}/health",
            service_process,
            lambda r: r.status_code == 200 and r.json().get("slack") is True,
        )

        phases = ["clean", "hostile"] if args.phase == "both" else [args.phase]
        results = []
        for phase in phases:
            results.append(
                await run_phase(
                    phase,
                    service=service,
                    fake=fake,
                    database_url=database_url,
                    questions=args.questions,
                    seconds=args.seconds,
                    hostile=phase == "hostile",
                    pids={"nephthys": service_process.popen.pid, "fake_slack": fake_process.popen.pid},
                    replies=args.replies,
                )
            )
        report(results, args)
        passed = all(all(r.checks.values()) for r in results)
        clean = next((r for r in results if r.name == "clean"), None)
        if clean is not None:
            passed = passed and clean.figures["ack_ms_p99"] <= TARGET_ACK_P99_MS
            posted = clean.figures["question_to_posted_ms_p90"]
            passed = passed and posted is not None and posted <= TARGET_POSTED_P90_MS
            cpu = clean.figures.get("cpu_ms_per_question_nephthys")
            passed = passed and cpu is not None and cpu <= TARGET_CPU_MS_PER_QUESTION
        return 0 if passed else 1
    finally:
        for process in reversed(processes):
            process.stop()
        log(f"logs in {workdir}")


def report(results: list[PhaseResult], args: argparse.Namespace) -> None:
    print()
    for result in results:
        print(f"== {result.name}: {args.questions} questions in {args.seconds:.0f} s")
        for key, value in result.figures.items():
            print(f"  {key:34} {value}")
        for check, ok in result.checks.items():
            print(f"  [{'ok' if ok else 'FAIL'}] {check}")
    clean = next((r for r in results if r.name == "clean"), None)
    if clean is not None:
        print(
            f"\ntargets (clean): ack p99 {clean.figures['ack_ms_p99']} ms (<= {TARGET_ACK_P99_MS}); "
            f"question -> posted p90 {clean.figures['question_to_posted_ms_p90']} ms (<= {TARGET_POSTED_P90_MS}); "
            f"CPU per question {clean.figures.get('cpu_ms_per_question_nephthys')} ms "
            f"(<= {TARGET_CPU_MS_PER_QUESTION})"
        )
    output = (
        Path(args.output)
        if args.output
        else ROOT / "bench" / "results" / f"slack-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "nephthys"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    )
    output.write_text(
        json.dumps(
            {
                "commit": commit,
                "nephthys_uncommitted_changes": dirty,
                "code_ref": args.code_ref,
                "cpus": os.cpu_count(),
                "questions": args.questions,
                "seconds": args.seconds,
                "phases": {r.name: {"figures": r.figures, "checks": r.checks} for r in results},
            },
            indent=2,
        )
    )
    print(f"results written to {output}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--phase", choices=["clean", "hostile", "both"], default="both")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="nephthys_bench_slack")
    parser.add_argument("--profile", action="store_true", help="run the service under cProfile (slower)")
    parser.add_argument(
        "--without-ticket-json",
        action="store_true",
        help="disable the stored-JSON triggers (migration 0011), to compare with the path before them",
    )
    parser.add_argument(
        "--code-ref",
        help="run the service from this git ref instead of the working tree (git archive, PYTHONPATH), "
        "on a database its own migrations made",
    )
    parser.add_argument(
        "--replies",
        type=int,
        default=0,
        help="clean phase: then this many thread replies per question (a helper's, the asker's, …), CPU per reply",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for the service (repeatable), e.g. SURGE_MIN_TICKETS=0 to see what surges cost",
    )
    parser.add_argument("--output", help="the results' JSON file (default bench/results/slack-<time>.json)")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
