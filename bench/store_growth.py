"""The store-growth attack of issue 18 §2, against this tree and against the code before the bound.

    python bench/store_growth.py            # before (5b530dd) and after, 60 s each at 50 requests/s

For each side, one at a time on this machine:

1. a fresh database (``nephthys_bench_store_before`` / ``_after``) is created,
   migrated by that side's own code (``python -m nephthys db upgrade``) and
   filled with ``--tickets`` tickets over the last year (bench/generate.py, today's
   data);
2. that side's service starts on it (``python -m nephthys serve --no-migrate``,
   Slack off); the code before is ``git archive <--before> nephthys`` unpacked in a
   temporary folder and run with ``PYTHONPATH`` pointing at it, as bench/aggregates.py
   does (no checkout is touched);
3. a warm-up of ``--warm-up`` requests; once the database stops growing (the service
   builds its export blocks after start-up: 6 s without change), the database's size
   (``pg_database_size``), "DailyFigures"' size (``pg_total_relation_size``) and
   the service's resident memory (``VmRSS``) are read, and its peak (``VmHWM``) reset;
4. the attack: anonymous ``GET /api/stats/daily?since=Y-01-01&until=Y-12-31&tz=Z``
   for random years Y in 1000–1899 and zones Z among the first ``--zones``
   canonical IANA names, paced at ``--rate`` requests/s for ``--duration`` seconds;
5. the same sizes and memory again. Every answer must be a 200 and exact: with no
   ticket before 1900 every day's figures are 0 and its percentiles null, on the
   right dates; ``--check`` answers are also compared with a direct computation
   (``nephthys.stats.daily.daily_stats`` of this tree, nothing kept) on the same database.

It prints one table (figure | target | before | after) and writes every figure to
bench/results/store-growth-*.json. ``--skip-before`` measures this tree alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from bench.aggregates import extract  # noqa: E402
from bench.api import (  # noqa: E402
    RESULTS,
    Server,
    free_port,
    proc_status_kb,
    reset_peak_rss,
    service_env,
    start_server,
    stop_server,
    wait_until_ready,
)

BEFORE = "5b530dd"  # main before the bound (issue 18)
TARGET_DATABASE_MB = 5
TARGET_MEMORY_MB = 50
MB = 1024 * 1024


def log(message: str) -> None:
    print(message, flush=True)


def attack_zones(count: int) -> list[str]:
    """The first ``count`` canonical IANA names, in name order (both sides accept them)."""
    return sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})[:count]


def prepare_database(args: argparse.Namespace, side: str, pythonpath: str | None, log_dir: Path) -> str:
    """A fresh database migrated by the side's own code, then filled."""
    url = asyncio.run(generate.recreate_database(args.server_url, f"nephthys_bench_store_{side}"))
    subprocess.run(
        [sys.executable, "-m", "nephthys", "db", "upgrade"],
        env=service_env(url, pythonpath),
        cwd=log_dir,  # no developer's .env is read
        check=True,
        capture_output=True,
    )
    asyncio.run(fill(url, args.tickets))
    return url


async def fill(url: str, tickets: int) -> None:
    shape = generate.Shape(tickets=tickets, users=2_000, helpers=50, live=False)
    await generate.fill(url, shape, now=datetime.now(UTC).replace(microsecond=0), log=lambda _: None)


async def sizes(url: str) -> dict:
    connection = await asyncpg.connect(generate._dsn(url))
    try:
        row = await connection.fetchrow(
            """SELECT pg_database_size(current_database()) AS database,
                      pg_total_relation_size('"DailyFigures"') AS daily_figures,
                      (SELECT count(*) FROM "DailyFigures") AS daily_figures_rows,
                      (SELECT version_num FROM alembic_version) AS revision"""
        )
        tables = await connection.fetch(
            """SELECT c.relname, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('information_schema')"""
        )
    finally:
        await connection.close()
    return {**dict(row), "tables": {t["relname"]: t["bytes"] for t in tables}}


async def settled_sizes(url: str, *, quiet_for: float = 6, at_most: float = 120) -> dict:
    """The sizes once the service's start-up work (e.g. the export blocks it builds) stops growing the database."""
    deadline = time.monotonic() + at_most
    last = await sizes(url)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_for)
        now = await sizes(url)
        if now["database"] == last["database"]:
            return now
        last = now
    return last


def largest_growth(before: dict, after: dict, count: int = 4) -> dict[str, float]:
    """The tables (with their indexes and TOAST) that grew most, in MB."""
    grown = {name: size - before.get(name, 0) for name, size in after.items()}
    return {
        name: round(delta / MB, 2) for name, delta in sorted(grown.items(), key=lambda kv: -kv[1])[:count]
    }


def year_days(year: int) -> list[str]:
    first = date(year, 1, 1)
    return [(first + timedelta(days=i)).isoformat() for i in range((date(year + 1, 1, 1) - first).days)]


def exact_before_the_data(body: dict, zone: str, year: int) -> bool:
    """With no ticket before 1900, the one exact answer: every figure 0, every percentile null."""
    empty = {"p50": None, "p90": None, "p95": None}
    days = body.get("days")
    return (
        body.get("tz") == zone
        and isinstance(days, list)
        and [d.get("date") for d in days] == year_days(year)
        and all(
            d["new_tickets"] == 0
            and d["closed_tickets"] == 0
            and d["unresolved_at_end"] == 0
            and d["hang_time_minutes"] == empty
            and d["resolution_time_minutes"] == empty
            for d in days
        )
    )


async def attack(
    server: Server, zones: list[str], *, rate: float, duration: float, seed: int, check: int
) -> dict:
    """Paced anonymous requests; every answer checked; ``check`` of them kept for a direct comparison."""
    chooser = random.Random(seed)
    statuses: dict[str, int] = {}
    inexact = 0
    latencies: list[float] = []
    kept_for_check: list[tuple[str, int, dict]] = []
    outstanding = 0
    skipped = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:

        async def one(zone: str, year: int, keep: bool) -> None:
            nonlocal inexact, outstanding
            started = time.perf_counter()
            try:
                response = await client.get(
                    "/api/stats/daily",
                    params={"since": f"{year}-01-01", "until": f"{year}-12-31", "tz": zone},
                )
            except httpx.HTTPError as error:
                statuses[type(error).__name__] = statuses.get(type(error).__name__, 0) + 1
                inexact += 1
                return
            finally:
                outstanding -= 1
            latencies.append(time.perf_counter() - started)
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            body = response.json() if response.status_code == 200 else {}
            if not exact_before_the_data(body, zone, year):
                inexact += 1
            if keep:
                kept_for_check.append((zone, year, body))

        total = int(rate * duration)
        every = max(total // check, 1) if check else 0
        tasks = []
        started = time.perf_counter()
        for index in range(total):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            zone, year = chooser.choice(zones), chooser.randrange(1000, 1900)
            if outstanding >= 256:  # the service fell far behind: do not pile up more
                skipped += 1
                continue
            outstanding += 1
            tasks.append(asyncio.ensure_future(one(zone, year, bool(every) and index % every == 0)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "sent": len(tasks),
        "skipped_behind": skipped,
        "seconds": round(elapsed, 1),
        "rate_per_s": round(len(tasks) / elapsed, 1),
        "statuses": statuses,
        "inexact": inexact,
        "median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1) if latencies else None,
        "kept_for_check": kept_for_check,
    }


async def direct_check(url: str, answers: list[tuple[str, int, dict]]) -> int:
    """How many answers differ from this tree's direct computation (nothing kept) on the same database."""
    from nephthys.database.engine import create_engine
    from nephthys.stats.daily import daily_stats

    engine = create_engine(url, pool_size=1)
    differing = 0
    try:
        async with engine.connect() as connection:
            for zone, year, body in answers:
                direct = await daily_stats(
                    connection, date(year, 1, 1), date(year, 12, 31), zoneinfo.ZoneInfo(zone)
                )
                differing += body.get("days") != direct
    finally:
        await engine.dispose()
    return differing


def side_run(args: argparse.Namespace, side: str, pythonpath: str | None, log_dir: Path) -> dict:
    log(f"{side}: fresh database, migrated by its own code, {args.tickets:,} tickets …")
    url = prepare_database(args, side, pythonpath, log_dir)
    port = free_port()
    command = [sys.executable, "-m", "nephthys", "serve", "--no-migrate", "--host", "127.0.0.1"]
    server = start_server(
        f"nephthys-{side}", [*command, "--port", str(port)], service_env(url, pythonpath), port, log_dir
    )
    zones = attack_zones(args.zones)
    try:
        wait_until_ready(server)
        asyncio.run(attack(server, zones, rate=args.rate, duration=args.warm_up / args.rate, seed=1, check=0))
        before = asyncio.run(settled_sizes(url))
        rss_before = proc_status_kb(server.pid, "VmRSS")
        peak_reset = reset_peak_rss(server.pid)
        load_before = [round(x, 2) for x in os.getloadavg()]
        log(f"{side}: attack, {args.rate:g} requests/s for {args.duration:g} s over {len(zones)} zones …")
        outcome = asyncio.run(
            attack(server, zones, rate=args.rate, duration=args.duration, seed=args.seed, check=args.check)
        )
        rss_after = proc_status_kb(server.pid, "VmRSS")
        rss_peak = proc_status_kb(server.pid, "VmHWM") if peak_reset else None
        after = asyncio.run(sizes(url))
    finally:
        stop_server(server)
    answers = outcome.pop("kept_for_check")
    outcome["direct_checked"] = len(answers)
    outcome["direct_differing"] = asyncio.run(direct_check(url, answers))
    if not args.keep:
        asyncio.run(drop(args.server_url, f"nephthys_bench_store_{side}"))
    return {
        "revision": after["revision"],
        "load_before": load_before,
        "database_growth_mb": round((after["database"] - before["database"]) / MB, 2),
        "daily_figures_growth_mb": round((after["daily_figures"] - before["daily_figures"]) / MB, 2),
        "daily_figures_rows": [before["daily_figures_rows"], after["daily_figures_rows"]],
        "tables_grown_most_mb": largest_growth(before["tables"], after["tables"]),
        "rss_mb": [round(rss_before / 1024, 1), round(rss_after / 1024, 1)],
        "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "rss_peak_growth_mb": round((rss_peak - rss_before) / 1024, 1) if rss_peak else None,
        **outcome,
    }


async def drop(server_url: str, database: str) -> None:
    connection = await asyncpg.connect(generate._dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


def report(outcome: dict) -> str:
    sides = outcome["sides"]
    names = list(sides)

    def row(label: str, target: str, key) -> str:
        cells = [str(key(sides[name])) for name in names]
        return f"| {label} | {target} | " + " | ".join(cells) + " |"

    lines = [
        f"store growth, {outcome['rate']:g} requests/s for {outcome['duration']:g} s, {outcome['zones']} zones, "
        f"years 1000–1899, {outcome['tickets']:,} tickets (after: {outcome['commit']})",
        "",
        "| figure | target | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
        row("database growth (pg_database_size)", f"≤ {TARGET_DATABASE_MB} MB", lambda s: f"{s['database_growth_mb']} MB"),
        row("DailyFigures growth (pg_total_relation_size)", "", lambda s: f"{s['daily_figures_growth_mb']} MB"),
        row("DailyFigures rows (start → end)", "", lambda s: "{} → {}".format(*s["daily_figures_rows"])),
        row("tables grown most (MB)", "", lambda s: ", ".join(f"{k} {v}" for k, v in s["tables_grown_most_mb"].items())),
        row("service RSS growth (end − start)", f"≤ {TARGET_MEMORY_MB} MB", lambda s: f"{s['rss_growth_mb']} MB"),
        row("service RSS peak growth (VmHWM − start)", "", lambda s: f"{s['rss_peak_growth_mb']} MB"),
        row("service RSS (start → end)", "", lambda s: "{} → {} MB".format(*s["rss_mb"])),
        row("requests sent (rate achieved)", "", lambda s: f"{s['sent']} ({s['rate_per_s']}/s)"),
        row("answers", "all 200", lambda s: ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items()))),
        row("answers not exact", "0", lambda s: s["inexact"]),
        row("checked against a direct computation (differing)", "0", lambda s: f"{s['direct_checked']} ({s['direct_differing']})"),
        row("latency median / p99", "", lambda s: f"{s['median_ms']} / {s['p99_ms']} ms"),
        row("schema revision", "", lambda s: s["revision"]),
    ]  # fmt: skip
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Issue 18 §2: what anonymous /api/stats/daily requests grow."
    )
    parser.add_argument(
        "--server-url", default=generate.DEFAULT_SERVER_URL, help="a PostgreSQL server to use"
    )
    parser.add_argument(
        "--before", default=BEFORE, help="the commit measured as 'before' (default %(default)s)"
    )
    parser.add_argument("--skip-before", action="store_true", help="measure this tree only")
    parser.add_argument(
        "--tickets", type=int, default=20_000, help="tickets over the last year (default 20,000)"
    )
    parser.add_argument("--rate", type=float, default=50, help="requests per second (default 50)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of attack (default 60)")
    parser.add_argument("--zones", type=int, default=413, help="how many zones the attack uses (default 413)")
    parser.add_argument(
        "--warm-up", type=int, default=50, help="requests before the first reading (default 50)"
    )
    parser.add_argument("--check", type=int, default=30, help="answers compared with a direct computation")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    log_dir = RESULTS / f"logs-store-growth-{stamp}"
    log_dir.mkdir(parents=True)
    dirty = bool(git("status", "--porcelain", "--", "nephthys"))
    outcome: dict = {
        "commit": git("rev-parse", "--short", "HEAD") + (" (+ uncommitted changes)" if dirty else ""),
        "before": None if args.skip_before else git("rev-parse", "--short", args.before),
        "rate": args.rate,
        "duration": args.duration,
        "zones": len(attack_zones(args.zones)),
        "tickets": args.tickets,
        "sides": {},
    }
    with tempfile.TemporaryDirectory(prefix="nephthys-before-") as folder:
        if not args.skip_before:
            extract(args.before, Path(folder))
            outcome["sides"][f"before ({outcome['before']})"] = side_run(args, "before", folder, log_dir)
        outcome["sides"]["after"] = side_run(args, "after", None, log_dir)
    text = report(outcome)
    log("\n" + text)
    path = RESULTS / f"store-growth-{stamp}.json"
    path.write_text(json.dumps(outcome, indent=2, default=str))
    log(f"\nfigures: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
