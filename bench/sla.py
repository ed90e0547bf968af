"""What SLA targets cost at scale (issue 21): the watcher, the at-risk filter and the compliance figures.

    python bench/sla.py --tickets 1000000 --database nephthys_bench_sla           # generate, then measure
    python bench/sla.py --tickets 1000000 --database nephthys_bench_sla --reuse   # measure the database as it is

The database is made by ``bench/generate.py`` (a year of tickets; the generator writes no
timeline, so each ticket's clocks are filled here, set-based, from its columns, with targets on
every ticket: first response 30, next response 60, resolution 480 support minutes, London
Mon-Fri 09:00-18:00, warnings at 75%). A clock already past its target counts as breached and
posted; a running one has its warning or breach still to come. Then, each the median of
``--runs`` runs:

- ``sla-watch`` with nothing due: one whole run of the job (the minute's claim, its one read,
  the claim's finish) against a stub Slack client; wall time, and the service's CPU time;
- ``sla-watch`` with 100 due: 100 open tickets asked 25 support minutes ago (their first
  response past its warning point), warned by one run (posts to the stub, pacing off); the
  service's CPU time for the run (PostgreSQL's own time is in the wall time);
- ``/api/tickets?sla=at_risk``: the route's query and its page's ``sla`` members, as the route
  runs them (one read-only snapshot), while those 100 are at risk;
- ``/api/stats/sla`` over the last 30 days: ``nephthys.stats.sla.sla_compliance``.

Targets (2 cores, 1M tickets): watcher nothing due ≤ 10 ms, 100 due ≤ 500 ms of service CPU,
at_risk ≤ 50 ms, stats for 30 days ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench import generate
from nephthys.api import sla_now, tickets
from nephthys.config import Settings
from nephthys.database.engine import create_engine
from nephthys.sla import clocks
from nephthys.sla.due import _DUE as DUE_SQL
from nephthys.sla.install import policy_key
from nephthys.sla.policy import SlaPolicy, SlaTargets
from nephthys.stats.sla import sla_compliance
from nephthys.support_calendar import SupportCalendar, parse_support_hours
from nephthys.tasks import sla_watch
from nephthys.tasks.sla_watch import SlaWatch
from nephthys.transcripts import load_transcript

CALENDAR = SupportCalendar(ZoneInfo("Europe/London"), parse_support_hours("Mon-Fri 09:00-18:00"))
POLICY = SlaPolicy(SlaTargets(30, 60, 480), 0.75)

# Every ticket's clocks from its columns (written before the generator wrote timelines): the first response
# to "assignedAt" (or the closure), the resolution to the closure (paused while waiting on the
# asker), a next response running for in-progress tickets waiting on the helpers.
FILL = """
WITH t AS (
    SELECT t.id, t."createdAt", t.status, t."assignedAt", t."closedAt", t."waitingOn", t."waitingSince"
    FROM "Ticket" t WHERE t.id > :after AND t.id <= :upto),
first_response AS (
    SELECT id, status, 'FIRST_RESPONSE'::"TicketSpanKind" AS kind, "createdAt", 30 AS target, "createdAt" AS start_at,
           CASE WHEN coalesce("assignedAt", "closedAt") IS NOT NULL
                THEN CAST(nephthys_support_seconds("createdAt", coalesce("assignedAt", "closedAt")) AS float8) / 60
                ELSE 0 END AS minutes,
           CASE WHEN coalesce("assignedAt", "closedAt") IS NULL THEN "createdAt" END AS running_since
    FROM t),
resolution AS (
    SELECT id, status, 'RESOLUTION'::"TicketSpanKind", "createdAt", 480, "createdAt",
           CASE WHEN status = 'CLOSED' THEN CAST(nephthys_support_seconds("createdAt", "closedAt") AS float8) / 60
                WHEN "waitingOn" = 'ASKER' THEN CAST(nephthys_support_seconds("createdAt", "waitingSince") AS float8) / 60
                ELSE 0 END,
           CASE WHEN status <> 'CLOSED' AND "waitingOn" IS DISTINCT FROM 'ASKER' THEN "createdAt" END
    FROM t),
next_response AS (
    SELECT id, status, 'NEXT_RESPONSE'::"TicketSpanKind", "createdAt", 60, "waitingSince", 0::float8, "waitingSince"
    FROM t WHERE status = 'IN_PROGRESS' AND "waitingOn" = 'HELPERS' AND "waitingSince" IS NOT NULL),
c AS (SELECT * FROM first_response UNION ALL SELECT * FROM resolution UNION ALL SELECT * FROM next_response),
timed AS (
    SELECT c.*,
           CASE WHEN running_since IS NOT NULL THEN nephthys_support_add(running_since, CAST((target - minutes) * 60 AS numeric)) END AS due_at,
           CASE WHEN running_since IS NOT NULL THEN nephthys_support_add(running_since, CAST(greatest(0, target * 45 - minutes * 60) AS numeric)) END AS warn_at
    FROM c)
INSERT INTO "TicketSlaClock" ("ticketId", kind, "ticketCreatedAt", "targetMinutes", "startAt", state, minutes,
                              "runningSince", "dueAt", "warnAt", "actionAt")
SELECT id, kind, "createdAt", target, start_at,
       CAST(CASE WHEN running_since IS NOT NULL THEN 'RUNNING'
                 WHEN kind = 'RESOLUTION' AND status <> 'CLOSED' AND minutes < target THEN 'PAUSED'
                 WHEN minutes > target THEN 'BREACHED'
                 ELSE 'MET' END AS "SlaState"),
       minutes, running_since, due_at, warn_at,
       -- A clock past its target was breached and posted already; one to come waits for its warning or breach.
       CASE WHEN running_since IS NULL OR due_at <= :now THEN NULL WHEN warn_at > :now THEN warn_at ELSE due_at END
FROM timed
ON CONFLICT DO NOTHING
"""


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class StubSlack:
    """Answers chat.postMessage at once (the bench measures the service, not Slack)."""

    posts: list[str] = field(default_factory=list)

    async def post_message(self, *, channel: str, text: str, **_: object) -> str:
        self.posts.append(channel)
        return f"{time.time():.6f}"


async def prepare(url: str) -> None:
    engine = create_engine(url, pool_size=2)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(CALENDAR.function_definition()))
            await connection.execute(text(CALENDAR.add_function_definition()))
            await connection.execute(
                text(
                    """UPDATE "SlaPolicyInUse" SET "firstResponseMinutes" = 30, "nextResponseMinutes" = 60,
                       "resolutionMinutes" = 480, "warnAt" = 0.75, key = :key, "recomputeKey" = NULL WHERE id = 1"""
                ),
                {"key": policy_key(CALENDAR, POLICY)},
            )
            await connection.execute(
                text('UPDATE "SupportCalendarInUse" SET key = :key WHERE id = 1'), {"key": CALENDAR.key}
            )
            await connection.execute(text('TRUNCATE "TicketSlaClock"'))
            # Fresh clocks: no warning or breach of them is logged (a previous run's would make them unclaimable).
            await connection.execute(
                text("""DELETE FROM "TicketEvent" WHERE kind IN ('SLA_WARNED', 'SLA_BREACHED')""")
            )
            top = await connection.scalar(text('SELECT max(id) FROM "Ticket"'))
        now = datetime.now(UTC)
        started = time.perf_counter()
        # 25,000 tickets a statement: each also renders its tickets' stored objects again (the clocks'
        # triggers, migration 0028), within the 60 s statement timeout under load.
        for after in range(0, top or 0, 25_000):
            async with engine.begin() as connection:
                await connection.execute(text(FILL), {"after": after, "upto": after + 25_000, "now": now})
        log(f"  clocks filled in {time.perf_counter() - started:.1f} s")
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text('VACUUM ANALYZE "TicketSlaClock"'))
            counts = (
                await connection.execute(
                    text('SELECT state::text, count(*) FROM "TicketSlaClock" GROUP BY 1 ORDER BY 1')
                )
            ).all()
            log("  clocks: " + ", ".join(f"{state} {count:,}" for state, count in counts))
    finally:
        await engine.dispose()


async def make_due(url: str, now: datetime, count: int) -> list[int]:
    """``count`` open tickets asked 25 support minutes before ``now``, with their timeline's spans, so the
    lifecycle's own refresh computes their clocks: first response past its warning point, not due."""
    engine = create_engine(url, pool_size=2)
    asked = now - timedelta(minutes=25)
    try:
        async with engine.begin() as connection:
            if CALENDAR.support_minutes(asked, now) != 25:
                # Outside support hours nothing would be due: every minute counts for this part.
                always = SupportCalendar(ZoneInfo("Europe/London"))
                await connection.execute(text(always.function_definition()))
                await connection.execute(text(always.add_function_definition()))
            ids = list(
                (
                    await connection.execute(
                        text("""SELECT id FROM "Ticket" WHERE status = 'OPEN' ORDER BY id DESC LIMIT :n"""),
                        {"n": count},
                    )
                ).scalars()
            )
            await connection.execute(
                text("""UPDATE "Ticket" SET "createdAt" = :at, "waitingOn" = 'HELPERS', "waitingSince" = :at
                        WHERE id = ANY(:ids)"""),
                {"at": asked, "ids": ids},
            )
            await connection.execute(
                text('DELETE FROM "TicketSpan" WHERE "ticketId" = ANY(:ids)'), {"ids": ids}
            )
            await connection.execute(
                text(
                    """INSERT INTO "TicketSpan" ("ticketId", kind, "startAt", "ticketCreatedAt")
                       SELECT id, kind, :at, :at FROM unnest(CAST(:ids AS int[])) id,
                              unnest(CAST('{FIRST_RESPONSE,RESOLUTION}' AS "TicketSpanKind"[])) kind"""
                ),
                {"at": asked, "ids": ids},
            )
            await connection.execute(
                text(
                    """INSERT INTO "TicketEvent" ("ticketId", kind, at) SELECT id, 'OPENED', :at FROM unnest(CAST(:ids AS int[])) id"""
                ),
                {"at": asked, "ids": ids},
            )
            await clocks.refresh(connection, ids)
        return ids
    finally:
        await engine.dispose()


async def release_minute(engine) -> None:
    """Give back sla-watch's minute claim, so the next run may claim the same minute again."""
    async with engine.begin() as connection:
        await connection.execute(
            text("""DELETE FROM "JobRun" WHERE job = 'sla-watch' AND period = 'minute'""")
        )


async def _no_backend_message(ctx, ticket_id: int) -> None:
    """The stub has no tickets channel: a breach's backend-message refresh (a chat.update) is left out."""


def watcher(sessions, url: str, now: datetime) -> tuple[SlaWatch, StubSlack]:
    slack = StubSlack()

    async def alert(text_: str) -> None:
        log(f"  alert: {text_}")

    settings = Settings.from_env({"DATABASE_URL": url, "TIMEZONE": "Europe/London"}, dotenv_path=None)
    ctx = SimpleNamespace(
        sessions=sessions,
        client=slack,
        channels=SimpleNamespace(bts="C0TEAM0001", help="C0HELP0001"),
        transcript=load_transcript("default"),
        settings=settings,
        clock=lambda: now,
        alert=alert,
    )
    return SlaWatch(ctx, clock=lambda: now, interval_seconds=0, per_run=200), slack  # type: ignore[arg-type]


async def timed(work, runs: int, before=None) -> tuple[float, float]:
    """Median wall and service-CPU milliseconds of ``runs`` runs of ``work()`` (after one warm-up);
    ``before()``, untimed, ahead of each."""
    if before is not None:
        await before()
    await work()
    walls, cpus = [], []
    for _ in range(runs):
        if before is not None:
            await before()
        wall, cpu = time.perf_counter(), time.process_time()
        await work()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus)


async def measure(url: str, runs: int) -> dict[str, tuple[float, float]]:
    engine = create_engine(url, pool_size=4)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    results: dict[str, tuple[float, float]] = {}
    try:
        now = datetime.now(UTC)
        # Catch up first: clocks that became due since the fill (minutes ago) are warned or breached.
        while True:
            job, slack = watcher(sessions, url, now)
            await release_minute(engine)
            done = await job.run()
            if done.startswith("warned 0, posted 0"):
                break
            log(f"  catching up: {done}")

        idle, _ = watcher(sessions, url, now)  # built once: settings and transcript are read at start-up

        async def nothing_due() -> None:
            assert (await idle.run()).startswith("warned 0, posted 0"), "something was due"

        # The same instant each run (so nothing new falls due), its minute's claim given back untimed.
        results["sla-watch, nothing due"] = await timed(
            nothing_due, runs, before=lambda: release_minute(engine)
        )

        # The read alone, prepared on one held connection (what the database does for that run).
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            statement = await driver.prepare(str(DUE_SQL).replace(":now", "$1").replace(":limit", "$2"))

            async def read_alone() -> None:
                assert await statement.fetch(now, 40) == []

            results["  its read alone"] = await timed(read_alone, runs)

        due_at = now + timedelta(minutes=1)
        ids = await make_due(url, due_at, 100)

        async def at_risk() -> None:
            query = tickets.TicketFilter(sla="at_risk", limit=1000)
            sql, args = query.sql()
            async with engine.connect() as connection:
                driver = (await connection.get_raw_connection()).driver_connection
                async with driver.transaction(isolation="repeatable_read", readonly=True):
                    rows = await driver.fetch(sql, *args)
                    page = rows[:1000]
                    await sla_now.rewrite_objects(
                        driver, [(r["keyset_id"], r["json"]) for r in page], CALENDAR
                    )
            assert len(rows) >= len(ids), f"expected the {len(ids)} at risk, found {len(rows)}"

        results["/api/tickets?sla=at_risk"] = await timed(at_risk, runs)

        async def stats() -> None:
            async with engine.connect() as connection:
                async with connection.begin():
                    await sla_compliance(
                        connection, now=datetime.now(UTC), since=datetime.now(UTC) - timedelta(days=30)
                    )

        results["/api/stats/sla, 30 days"] = await timed(stats, runs)

        job, slack = watcher(sessions, url, due_at)
        wall, cpu = time.perf_counter(), time.process_time()
        done = await job.run()
        results["sla-watch, 100 due"] = (
            (time.perf_counter() - wall) * 1000,
            (time.process_time() - cpu) * 1000,
        )
        log(f"  100 due: {done}; {len(slack.posts)} posts")
    finally:
        await engine.dispose()
    return results


TARGETS = {
    "sla-watch, nothing due": ("wall", 10),
    "  its read alone": ("wall", 10),
    "sla-watch, 100 due": ("cpu", 500),
    "/api/tickets?sla=at_risk": ("wall", 50),
    "/api/stats/sla, 30 days": ("wall", 100),
}


def main(argv: list[str] | None = None) -> int:
    sla_watch.flows.show_wait = _no_backend_message  # type: ignore[assignment]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--database", default="nephthys_bench_sla")
    parser.add_argument("--server-url", default=generate.DEFAULT_SERVER_URL)
    parser.add_argument("--reuse", action="store_true", help="measure the database already generated")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep-clocks", action="store_true", help="measure the clocks a previous run filled")
    args = parser.parse_args(argv)
    url = args.server_url.rsplit("/", 1)[0] + f"/{args.database}"
    if not args.reuse:
        generate.main(
            ["--tickets", str(args.tickets), "--database", args.database, "--server-url", args.server_url]
        )
    # A reused database gets the migrations since it was made (0028: the objects' sla member).
    before, after = asyncio.run(generate.bring_reused_up_to_date(url, log=log))
    if before != after:
        log(f"  migrated the database from {before} to {after}")
    if not args.keep_clocks:
        asyncio.run(prepare(url))
    results = asyncio.run(measure(url, args.runs))
    with open("/proc/loadavg") as loadavg:
        log(f"load average: {loadavg.read().strip()}")
    log(f"{'measure':<28} {'wall ms':>9} {'service CPU ms':>15}   target")
    for name, (wall, cpu) in results.items():
        kind, limit = TARGETS[name]
        ok = (wall if kind == "wall" else cpu) <= limit
        log(f"{name:<28} {wall:9.1f} {cpu:15.1f}   {kind} <= {limit} ms {'ok' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
