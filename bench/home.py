"""The App Home benchmark (issue 12): each view's build time, and app_home_opened -> views.publish.

    python bench/home.py                          # 1,000,000 tickets, 200 helpers (generates first)
    python bench/home.py --reuse                  # measure the database already generated
    python bench/home.py --tickets 20000          # a quick run

Set-up: ``bench/generate.py`` fills ``--database`` (default ``nephthys_bench_home``) with a year
of tickets; then one more helper, ``U0BENCHHELP``, gets exactly ``--assigned`` (300) open and
in-progress tickets assigned (taken from other helpers' unclosed ones).

Part 1, each view's build (in this process, on the real database): the whole render of the
view for the bench helper (the viewer's roles and remembered view, the view's queries, its
blocks, within 100), ``--builds`` times; median and 95th percentile. The dashboard and My stats
read stats_v2 through the service's memo, so they are timed twice: as served (the memo holds
while no ticket changes) and "after a ticket change" (a no-op UPDATE commits before each build,
so stats_v2 is computed afresh every time). Beside them, the existing Nephthys' approach where
it has the view: the dashboard loads every ticket and aggregates in Python (bench/baseline.py's
code), "Assigned to me" loads every assigned ticket with its people and tags and renders them
all on one view (no paging; Slack refuses more than 100 blocks).

Part 2, app_home_opened -> views.publish: the fake Slack and ``nephthys serve`` as separate
processes; signed ``app_home_opened`` events at ``--opens-per-second`` (20) for ``--seconds``
(open loop), helper after helper (200 helpers: each opens every 10 s, so no open is coalesced),
their remembered views spread over the five helper views and the bench helper's on "Assigned to
me". Latency: the event sent -> the fake Slack recording that helper's last views.publish before
their next open (one clock, one machine).

The load average is printed before each part: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import baseline, generate  # noqa: E402
from bench.slack_burst import (  # noqa: E402
    fake_slack_ready,
    free_port,
    percentile,
    service_env,
    start,
    start_fake_slack,
    wait_for,
)
from nephthys.config import Settings  # noqa: E402
from nephthys.database.engine import create_engine, session_factory  # noqa: E402
from nephthys.slack.client import SlackClient  # noqa: E402
from nephthys.slack.context import Channels, SlackContext  # noqa: E402
from nephthys.slack.home import assigned  # noqa: E402
from nephthys.slack.home.common import View  # noqa: E402
from nephthys.slack.home.publisher import COALESCE_SECONDS, HomePublisher  # noqa: E402
from nephthys.testing.slack_requests import app_home_opened, event_callback, signed_headers  # noqa: E402
from nephthys.tickets.lifecycle import AssignedTicket  # noqa: E402
from nephthys.transcripts import load_transcript  # noqa: E402

HELP, TICKETS, BTS = "C0HELP0001", "C0TICKETS1", "C0BTS00001"
SECRET, BOT_TOKEN = "bench-signing-secret", "xoxb-bench"
BENCH_HELPER = "U0BENCHHELP"
TARGET_BUILD_MEDIAN_MS = 50
TARGET_PUBLISH_P95_MS = 150


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


# ---------------------------------------------------------------- set-up


async def prepare(database_url: str, assigned_count: int) -> list[str]:
    """The bench helper with exactly ``assigned_count`` unclosed tickets; returns every helper's id."""
    connection = await asyncpg.connect(dsn(database_url))
    try:
        me = await connection.fetchval(
            """INSERT INTO "User" ("slackId", helper) VALUES ($1, true)
               ON CONFLICT ("slackId") DO UPDATE SET helper = true RETURNING id""",
            BENCH_HELPER,
        )
        have = await connection.fetchval(
            """SELECT count(*) FROM "Ticket" WHERE "assignedToId" = $1 AND status <> 'CLOSED'""", me
        )
        if have > assigned_count:
            await connection.execute(
                """UPDATE "Ticket" SET status = 'CLOSED', "closedById" = $1, "closedAt" = now()
                   WHERE id IN (SELECT id FROM "Ticket" WHERE "assignedToId" = $1 AND status <> 'CLOSED'
                                ORDER BY id LIMIT $2)""",
                me,
                have - assigned_count,
            )
        elif have < assigned_count:
            await connection.execute(
                """UPDATE "Ticket" SET "assignedToId" = $1, status = 'IN_PROGRESS',
                          "assignedAt" = coalesce("assignedAt", "createdAt" + interval '7 minutes')
                   WHERE id IN (SELECT id FROM "Ticket" WHERE status <> 'CLOSED'
                                AND "assignedToId" IS DISTINCT FROM $1 ORDER BY id DESC LIMIT $2)""",
                me,
                assigned_count - have,
            )
        await connection.execute('UPDATE "User" SET "appHomeLastView" = $1 WHERE id = $2', "assigned", me)
        await connection.execute('ANALYZE "Ticket"')
        rows = await connection.fetch('SELECT "slackId" FROM "User" WHERE helper ORDER BY id')
        return [row["slackId"] for row in rows]
    finally:
        await connection.close()


def settings_for(database_url: str, **overrides) -> Settings:
    base = Settings.from_env({}, dotenv_path=None)
    return dataclasses.replace(
        base,
        database_url=database_url,
        slack_help_channel=HELP,
        slack_ticket_channel=TICKETS,
        slack_workspace_url="https://bench.slack.com",
        **overrides,
    )


# ---------------------------------------------------------------- part 1: building each view


def summary(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "median_ms": statistics.median(samples) if samples else None,
        "p95_ms": percentile(samples, 0.95) if samples else None,
        "first_ms": samples[0] if samples else None,
    }


async def time_builds(publisher: HomePublisher, view: View, builds: int, *, before=None) -> dict:
    samples, block_counts = [], set()
    for _ in range(builds):
        if before is not None:
            await before()
        started = time.perf_counter()
        blocks = await publisher._render(BENCH_HELPER, view, 1, None, False)
        samples.append((time.perf_counter() - started) * 1000)
        block_counts.add(len(blocks))
        if any(block.get("block_id") == "home_error" for block in blocks):
            raise RuntimeError(f"the {view.value} view failed to build; see the log above")
    return summary(samples) | {"blocks": sorted(block_counts)}


async def baseline_dashboard(pool: asyncpg.Pool) -> None:
    """Existing Nephthys: every ticket loaded, stats_v2's sections aggregated in Python."""
    config = baseline.Config(database_url="", workspace_url="https://bench.slack.com", help_channel=HELP)
    now = datetime.now(UTC)
    async with pool.acquire() as connection:
        tickets = await connection.fetch(baseline.STATS_COLUMNS)
        helpers = {
            r["id"]: r["slackId"]
            for r in await connection.fetch('SELECT id, "slackId" FROM "User" WHERE helper')
        }
    day, week = timedelta(days=1), timedelta(days=7)
    baseline.overall_stats(tickets, helpers, now, config)
    for window_start, window_end in (
        (now - day, now),
        (now - 2 * day, now - day),
        (now - week, now),
        (now - 2 * week, now - week),
    ):
        baseline.window_stats(tickets, helpers, window_start, window_end)


BASELINE_ASSIGNED = """SELECT t.id, t.title, t."msgTs", t.status::text AS status, t."createdAt",
       t."lastMsgBy"::text AS "lastMsgBy", ob."slackId" AS asker,
       coalesce(array_agg(g.name) FILTER (WHERE g.id IS NOT NULL), '{}') AS tags
FROM "Ticket" t JOIN "User" me ON me.id = t."assignedToId" JOIN "User" ob ON ob.id = t."openedById"
LEFT JOIN tags_on_tickets tt ON tt."ticketId" = t.id LEFT JOIN "Tag" g ON g.id = tt."tagId"
WHERE me."slackId" = $1 AND t.status <> 'CLOSED'
GROUP BY t.id, ob."slackId" ORDER BY t."createdAt" """


async def baseline_assigned(pool: asyncpg.Pool) -> int:
    """Existing Nephthys: every assigned ticket loaded and rendered on one view; returns its blocks."""
    transcript, now = load_transcript("default"), datetime.now(UTC)
    async with pool.acquire() as connection:
        rows = await connection.fetch(BASELINE_ASSIGNED, BENCH_HELPER)
    blocks: list[dict] = []
    for row in rows:
        ticket = AssignedTicket(
            id=row["id"],
            title=row["title"],
            msg_ts=row["msgTs"],
            status=row["status"],
            asker_slack_id=row["asker"],
            created_at=row["createdAt"],
            last_msg_by=None,
            tags=tuple(row["tags"]),
        )
        blocks += assigned.ticket_blocks(transcript, ticket, now=now, thread_link=lambda ts: ts)
    return len(blocks)


async def time_baseline(work, builds: int) -> dict:
    samples, extra = [], None
    for _ in range(builds):
        started = time.perf_counter()
        extra = await work()
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples) | ({"blocks": [extra]} if extra is not None else {})


async def part_one(database_url: str, builds: int, baseline_builds: int) -> dict:
    settings = settings_for(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    ctx = SlackContext(
        settings=settings,
        sessions=sessions,
        client=SlackClient(settings),
        transcript=load_transcript("default"),
        channels=Channels(help=HELP, tickets=TICKETS),
    )
    publisher = HomePublisher(ctx)
    pool = await asyncpg.create_pool(dsn(database_url), min_size=1, max_size=2)

    async def ticket_change() -> None:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                'UPDATE "Ticket" SET "lastMsgAt" = "lastMsgAt" WHERE id = (SELECT min(id) FROM "Ticket")'
            )

    results: dict = {}
    try:
        for view in (View.DASHBOARD, View.ASSIGNED, View.TEAM_TAGS, View.QUESTION_TAGS, View.MY_STATS):
            log(f"building {view.value} x{builds} (load {load_average()})")
            results[view.value] = await time_builds(publisher, view, builds)
        for view in (View.DASHBOARD, View.MY_STATS):
            log(f"building {view.value} after a ticket change x{builds} (load {load_average()})")
            results[f"{view.value} after a ticket change"] = await time_builds(
                publisher, view, builds, before=ticket_change
            )
        log(f"baseline dashboard x{baseline_builds} (load {load_average()})")
        results["baseline dashboard"] = await time_baseline(lambda: baseline_dashboard(pool), baseline_builds)
        log(f"baseline assigned x{builds}")
        results["baseline assigned"] = await time_baseline(lambda: baseline_assigned(pool), builds)
    finally:
        await pool.close()
        await engine.dispose()
    return results


# ---------------------------------------------------------------- part 2: app_home_opened -> views.publish


async def part_two(database_url: str, helpers: list[str], rate: float, seconds: float) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="nephthys-home-bench-"))
    fake_port, service_port = free_port(), free_port()
    base_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    fake_process = start_fake_slack(workdir, fake_port, base_env)
    processes = [fake_process]
    try:
        fake_base, fake = await fake_slack_ready(fake_process, fake_port)
        for helper in helpers:
            await fake.call("add_user", user_id=helper, name=helper.lower())
        await fake.call("set_members", channel_id=BTS, user_ids=helpers)
        # Remembered views spread over the five helper views (the bench helper's stays "assigned").
        views = ["dashboard", "assigned", "team_tags", "question_tags", "my_stats"]
        connection = await asyncpg.connect(dsn(database_url))
        try:
            await connection.executemany(
                'UPDATE "User" SET "appHomeLastView" = $1 WHERE "slackId" = $2 AND "slackId" <> $3',
                [(views[n % len(views)], helper, BENCH_HELPER) for n, helper in enumerate(helpers)],
            )
            remembered = dict(
                await connection.fetch('SELECT "slackId", "appHomeLastView" FROM "User" WHERE helper')
            )
        finally:
            await connection.close()
        env = service_env(base_env, database_url, fake_base)
        command = [sys.executable, "-m", "nephthys", "serve", "--no-migrate", "--host", "127.0.0.1"]
        service_process = start("nephthys", [*command, "--port", str(service_port)], env, workdir)
        processes.append(service_process)
        service = f"http://127.0.0.1:{service_port}"
        await wait_for(
            f"{service}/health",
            service_process,
            lambda r: r.status_code == 200 and r.json().get("slack") is True,
        )
        # The bench helper first, then every helper in turn.
        order = [BENCH_HELPER] + [h for h in helpers if h != BENCH_HELPER]
        # Warm-up, not measured: one open per view, so the service's first queries are compiled.
        async with httpx.AsyncClient(timeout=30) as warm:
            for user in order[:5]:
                body = json.dumps(event_callback(app_home_opened(user)), separators=(",", ":")).encode()
                headers = signed_headers(body, SECRET) | {"Content-Type": "application/json"}
                await warm.post(f"{service}/slack/events", content=body, headers=headers)
        await asyncio.sleep(COALESCE_SECONDS + 1)  # past the coalescing window of those opens
        total = int(rate * seconds)
        log(f"{total} app_home_opened at {rate:g}/s (load {load_average()})")
        sent: list[tuple[str, float, int]] = []
        statuses: list[int] = []
        async with aiohttp.ClientSession() as session:
            loop = asyncio.get_running_loop()
            start_at = loop.time() + 0.2
            tasks = []

            async def deliver(user: str) -> None:
                body = json.dumps(event_callback(app_home_opened(user)), separators=(",", ":")).encode()
                headers = signed_headers(body, SECRET) | {"Content-Type": "application/json"}
                sent.append((user, time.time(), len(sent)))
                async with session.post(f"{service}/slack/events", data=body, headers=headers) as response:
                    statuses.append(response.status)

            for n in range(total):
                delay = start_at + n / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(deliver(order[n % len(order)])))
            await asyncio.gather(*tasks)
        await asyncio.sleep(3)  # let the last renders land
        first_sent = min(at for _, at, _ in sent)
        calls = [
            c
            for c in (await fake.state())["calls"]
            if c["method"] == "views.publish"
            and c["ok"]
            and datetime.fromisoformat(c["at"]).timestamp() >= first_sent
        ]
        publish_times: dict[str, list[float]] = {}
        for call in calls:
            publish_times.setdefault(call["args"]["user_id"], []).append(
                datetime.fromisoformat(call["at"]).timestamp()
            )
        latencies: dict[str, list[float]] = {}
        missing = coalesced = 0
        by_user: dict[str, list[float]] = {}
        for user, at, _ in sent:
            by_user.setdefault(user, []).append(at)
        for user, times in by_user.items():
            times.sort()
            for index, at in enumerate(times):
                following = times[index + 1] if index + 1 < len(times) else float("inf")
                answered = [t for t in publish_times.get(user, []) if at <= t < following]
                if not answered:
                    # An open moments after the same person's last one is coalesced by design.
                    if index > 0 and at - times[index - 1] < COALESCE_SECONDS:
                        coalesced += 1
                    else:
                        missing += 1
                    continue
                view = remembered.get(user) or "dashboard"
                latencies.setdefault(view, []).append((max(answered) - at) * 1000)
        every = [ms for values in latencies.values() for ms in values]
        return {
            "opens": total,
            "acknowledged_2xx": sum(1 for s in statuses if 200 <= s < 300),
            "published": len(every),
            "not_published": missing,
            "coalesced": coalesced,
            "loading_views": len(calls) - len(every),
            "all": summary(every) | {"p50_ms": percentile(every, 0.5)},
            "by_view": {view: summary(values) for view, values in sorted(latencies.items())},
        }
    finally:
        for process in reversed(processes):
            process.stop()


# ---------------------------------------------------------------- main


def commit() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} ms"


def report(results: dict, publish: dict | None, facts: dict) -> None:
    print()
    print(f"App Home benchmark: {facts['tickets']:,} tickets, {facts['helpers']} helpers, "
          f"the bench helper with {facts['assigned']} assigned; commit {facts['commit']}")  # fmt: skip
    print(f"load average before: part 1 {facts['load_part_1']}, part 2 {facts.get('load_part_2', '—')}")
    print()
    print(f"{'view build (queries + blocks)':<42}{'median':>12}{'p95':>12}{'first':>12}  blocks   target")
    for name, figures in results.items():
        target = "" if name.startswith("baseline") else f"≤ {TARGET_BUILD_MEDIAN_MS} ms median"
        if name.startswith("baseline"):
            mark = ""
        else:
            mark = " ok" if figures["median_ms"] <= TARGET_BUILD_MEDIAN_MS else " MISSED"
        print(
            f"{name:<42}{fmt(figures['median_ms']):>12}{fmt(figures['p95_ms']):>12}{fmt(figures['first_ms']):>12}"
            f"  {','.join(map(str, figures.get('blocks', []))):<7}  {target}{mark}"
        )
    if publish is not None:
        print()
        overall = publish["all"]
        mark = (
            "ok" if overall["p95_ms"] is not None and overall["p95_ms"] <= TARGET_PUBLISH_P95_MS else "MISSED"
        )
        print(
            f"app_home_opened -> views.publish at {facts['rate']:g}/s: {publish['opens']} opens, "
            f"{publish['acknowledged_2xx']} acknowledged 2xx, {publish['published']} published, "
            f"{publish['coalesced']} coalesced (a repeat within {COALESCE_SECONDS:g} s), "
            f"{publish['not_published']} never published, {publish['loading_views']} loading views"
        )
        print(
            f"  all views: median {fmt(overall['median_ms'])}, p95 {fmt(overall['p95_ms'])} "
            f"(target p95 ≤ {TARGET_PUBLISH_P95_MS} ms: {mark}); existing Nephthys: no comparable run (—)"
        )
        for view, figures in publish["by_view"].items():
            print(
                f"  {view:<16} n={figures['n']:<4} median {fmt(figures['median_ms'])}, p95 {fmt(figures['p95_ms'])}"
            )


async def main_async(args: argparse.Namespace) -> int:
    database_url = generate.database_url(args.server_url, args.database)
    if not args.reuse:
        shape = generate.Shape(
            tickets=args.tickets, helpers=args.helpers, users=max(20_000, args.helpers * 10)
        )
        log(f"generating {args.tickets:,} tickets into {args.database} (load {load_average()})")
        await generate.generate(shape, server_url=args.server_url, database=args.database, log=log)
    await generate.bring_reused_up_to_date(database_url, log=log)
    helpers = await prepare(database_url, args.assigned)
    connection = await asyncpg.connect(dsn(database_url))
    try:
        tickets = await connection.fetchval('SELECT count(*) FROM "Ticket"')
        assigned_count = await connection.fetchval(
            """SELECT count(*) FROM "Ticket" t JOIN "User" u ON u.id = t."assignedToId"
               WHERE u."slackId" = $1 AND t.status <> 'CLOSED'""",
            BENCH_HELPER,
        )
    finally:
        await connection.close()
    facts = {
        "tickets": tickets,
        "helpers": len(helpers),
        "assigned": assigned_count,
        "rate": args.opens_per_second,
        "commit": commit(),
        "load_part_1": load_average(),
    }
    results = await part_one(database_url, args.builds, args.baseline_builds)
    publish = None
    if not args.skip_publish:
        facts["load_part_2"] = load_average()
        publish = await part_two(database_url, helpers, args.opens_per_second, args.seconds)
    report(results, publish, facts)
    out = ROOT / "bench" / "results" / f"home-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{tickets}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"facts": facts, "builds": results, "publish": publish}, indent=2, default=str))
    print(f"\nfigures written to {out.relative_to(ROOT)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--helpers", type=int, default=200)
    parser.add_argument("--assigned", type=int, default=300, help="unclosed tickets of the bench helper")
    parser.add_argument("--server-url", default=generate.DEFAULT_SERVER_URL)
    parser.add_argument("--database", default="nephthys_bench_home")
    parser.add_argument("--reuse", action="store_true", help="do not generate; measure the database as it is")
    parser.add_argument("--builds", type=int, default=30, help="builds of each view")
    parser.add_argument(
        "--baseline-builds", type=int, default=3, help="builds of the baseline dashboard (slow)"
    )
    parser.add_argument("--opens-per-second", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--skip-publish", action="store_true", help="part 1 only")
    return parser


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
