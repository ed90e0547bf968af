"""Benchmark the aggregates of issue 11 against the client-side baseline, and the ticket export before/after.

    python bench/aggregates.py --tickets 1000000            # (re)generate the database, then measure
    python bench/aggregates.py --tickets 1000000 --reuse    # measure the database already there

Its own database (``--database``, default ``nephthys_bench_aggregates``), so it
never disturbs bench/api.py's. Measured, one server at a time:

1. Nephthys (the working tree): ``/api/stats/daily`` over the last 365 days (UTC)
   and ``/api/stats/distribution`` over all time (``hang`` and ``resolution``):
   the median of sequential requests (one keep-alive curl; the remembered answer
   at work, see docs/api.md "ETag and 304"), the median when a ticket changed
   just before each request (a no-op UPDATE: every request recomputes), and the
   median of an ``If-None-Match`` request answered 304. Also the median right
   after a real change (the newest open ticket alternately closes and opens
   again: the kept duration counts move and the daily series recomputes the
   days the change touched), and, for the daily series, with no kept day
   (``DailyFigures`` emptied before each request: every day computed).
2. The baseline a dashboard uses today: fetch the tickets and compute in the
   client. For the daily series and the hang distribution it reads each
   ticket's createdAt/assignedAt/closedAt from the database (as the separate
   service a team runs for this does: the API has no assignedAt); for the
   resolution distribution it pulls the year's closed tickets through
   ``/api/tickets?status=closed&since=…`` (as the cross-channel dashboard does)
   and reads ``created_at``/``closed_at``. Percentiles by the same linear
   interpolation. Its answers are checked equal to Nephthys's.
3. Ticket objects before and after issue 11's fields (``--before``, a commit
   whose ``nephthys/`` is extracted with ``git archive`` and run with
   PYTHONPATH): the full export's rate and ``status=open``'s median, alternating
   before/after so both see the same machine.
4. What a ticket write costs with the triggers in place: open tickets closed and
   opened again, each a single-statement transaction (median and p95).

Every figure goes to the terminal and to bench/results/aggregates-*.json, with the
load average before each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from bench.api import (  # noqa: E402
    OPEN_PATH,
    RESULTS,
    WORKSPACE_URL,
    Server,
    Timing,
    bring_up_to_date,
    database_facts,
    export,
    free_port,
    sequential,
    start_server,
    stop_server,
    summarise,
    wait_until_ready,
)

BUCKET_EDGES_MINUTES = (5, 15, 30, 60, 120, 240, 480, 1440, 2880, 10080)
TARGET_MS = 100


def log(message: str) -> None:
    print(message, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------- the client-side baseline


def percentile_cont(sorted_values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation at rank fraction·(n − 1)."""
    if not sorted_values:
        return None
    rank = fraction * (len(sorted_values) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (rank - low) * (sorted_values[high] - sorted_values[low])


def _ms(later: datetime, earlier: datetime) -> int:
    return (later - earlier) // timedelta(milliseconds=1)


def client_daily(rows: list, first: date, days: int) -> list[dict]:
    """The daily series from (createdAt, assignedAt, closedAt) rows, UTC days."""
    edges = [
        datetime.combine(first + timedelta(days=i), datetime.min.time(), tzinfo=UTC) for i in range(days + 1)
    ]
    ends = edges[1:]
    new, closed, change = [0] * days, [0] * days, [0] * (days + 1)
    hangs: list[list[float]] = [[] for _ in range(days)]
    resolutions: list[list[float]] = [[] for _ in range(days)]
    for created, assigned, closed_at in rows:
        day = bisect.bisect_right(edges, created) - 1
        if 0 <= day < days:
            new[day] += 1
            if assigned is not None:
                hangs[day].append(_ms(assigned, created) / 60000)
            if closed_at is not None:
                resolutions[day].append(_ms(closed_at, created) / 60000)
        if closed_at is not None:
            closed_day = bisect.bisect_right(edges, closed_at) - 1
            if 0 <= closed_day < days:
                closed[closed_day] += 1
        # unresolved at the ends of days [from, to): created before the end, not closed before it
        start = bisect.bisect_right(ends, created)
        stop = bisect.bisect_right(ends, closed_at) if closed_at is not None else days
        if start < stop:
            change[start] += 1
            change[stop] -= 1
    series, unresolved = [], 0
    for day in range(days):
        unresolved += change[day]
        hang, resolution = sorted(hangs[day]), sorted(resolutions[day])
        series.append(
            {
                "date": (first + timedelta(days=day)).isoformat(),
                "new_tickets": new[day],
                "closed_tickets": closed[day],
                "unresolved_at_end": unresolved,
                "hang_time_minutes": {
                    f"p{round(f * 100)}": percentile_cont(hang, f) for f in (0.5, 0.9, 0.95)
                },
                "resolution_time_minutes": {
                    f"p{round(f * 100)}": percentile_cont(resolution, f) for f in (0.5, 0.9, 0.95)
                },
            }
        )
    return series


def client_distribution(metric: str, durations_ms: list[int]) -> dict:
    durations_ms.sort()
    minutes = [d / 60000 for d in durations_ms]
    edges_ms = [edge * 60000 for edge in BUCKET_EDGES_MINUTES]
    counts = [0] * (len(edges_ms) + 1)
    for duration in durations_ms:
        counts[bisect.bisect_left(edges_ms, duration)] += 1  # the first edge >= d
    return {
        "metric": metric,
        "count": len(minutes),
        "percentiles": {
            f"p{round(f * 100)}": percentile_cont(minutes, f) for f in (0.5, 0.75, 0.9, 0.95, 0.99)
        },
        "buckets": [
            {"up_to_minutes": edge, "count": count}
            for edge, count in zip([*BUCKET_EDGES_MINUTES, None], counts, strict=True)
        ],
    }


TIMES_SQL = 'SELECT "createdAt", "assignedAt", "closedAt" FROM "Ticket"'


async def baseline_daily(database_url: str, first: date, days: int) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        rows = await connection.fetch(TIMES_SQL)
    finally:
        await connection.close()
    series = client_daily([tuple(row) for row in rows], first, days)
    return time.perf_counter() - started, series


async def baseline_hang_distribution(database_url: str) -> tuple[float, dict]:
    started = time.perf_counter()
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        rows = await connection.fetch(TIMES_SQL)
    finally:
        await connection.close()
    durations = [_ms(assigned, created) for created, assigned, _ in rows if assigned is not None]
    return time.perf_counter() - started, client_distribution("hang", durations)


def baseline_resolution_distribution(base_url: str, since: str) -> tuple[float, dict, int]:
    """What the cross-channel dashboard does: the closed tickets over the API, then arithmetic."""
    started = time.perf_counter()
    response = httpx.get(f"{base_url}/api/tickets", params={"status": "closed", "since": since}, timeout=600)
    tickets = orjson.loads(response.content)
    durations = [
        _ms(datetime.fromisoformat(t["closed_at"]), datetime.fromisoformat(t["created_at"]))
        for t in tickets
        if t["closed_at"] is not None
    ]
    return time.perf_counter() - started, client_distribution("resolution", durations), len(tickets)


# ---------------------------------------------------------------- nephthys


def same_figures(ours, theirs, path: str = "") -> list[str]:
    """Where two answers differ (floats to 1e-9 relative, 1e-6 absolute)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        problems = [f"{path}: keys {sorted(set(ours) ^ set(theirs))}"] if set(ours) != set(theirs) else []
        for key in set(ours) & set(theirs):
            problems += same_figures(ours[key], theirs[key], f"{path}.{key}")
        return problems
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: {len(ours)} items against {len(theirs)}"]
        return [
            p
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for p in same_figures(a, b, f"{path}[{i}]")
        ]
    if isinstance(ours, float) or isinstance(theirs, float):
        if ours is None or theirs is None or not math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-6):
            return [f"{path}: {ours} against {theirs}"]
        return []
    return [] if ours == theirs else [f"{path}: {ours!r} against {theirs!r}"]


async def timed_get(client: httpx.AsyncClient, url: str) -> Timing:
    started = time.perf_counter()
    response = await client.get(url)
    return Timing(response.status_code, time.perf_counter() - started, len(response.content))


async def after_changes(url: str, database_url: str, count: int) -> dict:
    """Latency when a ticket changed just before each request (a no-op UPDATE: a new data version)."""
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        ids = [r["id"] for r in await connection.fetch('SELECT id FROM "Ticket" ORDER BY id LIMIT $1', count)]
        timings = []
        async with httpx.AsyncClient(timeout=600) as client:
            await client.get(url)
            for ticket_id in ids:
                await connection.execute(
                    'UPDATE "Ticket" SET "lastMsgAt" = "lastMsgAt" WHERE id = $1', ticket_id
                )
                timings.append(await timed_get(client, url))
    finally:
        await connection.close()
    return summarise(timings)


async def ticket_writes(database_url: str, count: int) -> dict:
    """What a ticket change costs: ``count`` open tickets closed and opened again, each its own transaction.

    Every write fires the triggers a lifecycle change fires (totals, duration counts); the
    tickets end as they began. Returns the median and 95th percentile in milliseconds.
    """
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        ids = [
            r["id"]
            for r in await connection.fetch(
                "SELECT id FROM \"Ticket\" WHERE status = 'OPEN' ORDER BY id LIMIT $1", count
            )
        ]
        timings = []
        for ticket_id in ids:
            for statement in (
                'UPDATE "Ticket" SET status = \'CLOSED\', "closedAt" = now() WHERE id = $1',
                'UPDATE "Ticket" SET status = \'OPEN\', "closedAt" = NULL WHERE id = $1',
            ):
                started = time.perf_counter()
                await connection.execute(statement, ticket_id)
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    timings.sort()
    return {
        "writes": len(timings),
        "median_ms": statistics.median(timings),
        "p95_ms": timings[max(0, math.ceil(0.95 * len(timings)) - 1)],
    }


async def after_real_changes(url: str, database_url: str, count: int) -> dict:
    """Latency when a real ticket change committed just before each request.

    Alternately the newest open ticket closes (closedAt now) and opens again, so the
    answer's data really moves: the kept counts change and the daily series recomputes
    the days the change touched (its creation day and today).
    """
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        ticket_id = await connection.fetchval(
            'SELECT id FROM "Ticket" WHERE status = \'OPEN\' ORDER BY "createdAt" DESC LIMIT 1'
        )
        timings = []
        async with httpx.AsyncClient(timeout=600) as client:
            await client.get(url)
            for number in range(count):
                if number % 2 == 0:
                    change = 'UPDATE "Ticket" SET status = \'CLOSED\', "closedAt" = now() WHERE id = $1'
                else:
                    change = 'UPDATE "Ticket" SET status = \'OPEN\', "closedAt" = NULL WHERE id = $1'
                await connection.execute(change, ticket_id)
                timings.append(await timed_get(client, url))
            if count % 2:
                await connection.execute(
                    'UPDATE "Ticket" SET status = \'OPEN\', "closedAt" = NULL WHERE id = $1', ticket_id
                )
    finally:
        await connection.close()
    return summarise(timings)


async def cold(url: str, database_url: str, count: int) -> dict:
    """The daily series with no kept day (each request computes every day, as before migration 0012)."""
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        timings = []
        async with httpx.AsyncClient(timeout=600) as client:
            for _ in range(count):
                await connection.execute('DELETE FROM "DailyFigures"')
                # and a new data version, so the remembered answer is not served either
                await connection.execute(
                    'UPDATE "Ticket" SET "lastMsgAt" = "lastMsgAt" WHERE id = (SELECT min(id) FROM "Ticket")'
                )
                timings.append(await timed_get(client, url))
    finally:
        await connection.close()
    return summarise(timings)


def not_modified(url: str, count: int) -> dict:
    with httpx.Client(timeout=600) as client:
        etag = client.get(url).headers["etag"]
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(url, headers={"If-None-Match": etag})
            timings.append(Timing(response.status_code, time.perf_counter() - started, len(response.content)))
    return summarise(timings)


def measure_aggregates(server: Server, database_url: str, args: argparse.Namespace, today: date) -> dict:
    paths = {
        "daily_365": f"/api/stats/daily?since={today - timedelta(days=364)}&until={today}&tz=UTC",
        "distribution_hang": "/api/stats/distribution?metric=hang",
        "distribution_resolution": "/api/stats/distribution?metric=resolution",
    }
    out: dict = {}
    for name, path in paths.items():
        url = server.url(path)
        log(f"  {name}: {path}")
        out[name] = {
            "path": path,
            "load_before": load(),
            "sequential": sequential(url, args.requests, 120, 600),
            "after_change": asyncio.run(after_changes(url, database_url, args.change_requests)),
            "after_real_change": asyncio.run(after_real_changes(url, database_url, args.change_requests)),
            "not_modified": not_modified(url, args.requests),
            "answer": httpx.get(url, timeout=600).json(),
        }
        if name == "daily_365":
            out[name]["cold"] = asyncio.run(cold(url, database_url, args.cold_requests))
    return out


# ---------------------------------------------------------------- before / after


def extract(commit: str, into: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "nephthys"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def start_at(database_url: str, log_dir: Path, pythonpath: str | None) -> Server:
    """``python -m nephthys serve`` as bench/api.py starts it; with ``pythonpath``, that folder's code."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "SLACK_WORKSPACE_URL": WORKSPACE_URL,
        "SLACK_HELP_CHANNEL": generate.HELP_CHANNEL,
    }
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath  # ahead of the editable install of the working tree
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "nephthys",
        "serve",
        "--no-migrate",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = start_server("nephthys-before" if pythonpath else "nephthys", command, env, port, log_dir)
    wait_until_ready(server)
    return server


def before_and_after(database_url: str, facts: dict, args: argparse.Namespace, log_dir: Path) -> dict:
    rounds: dict = {"before": {"export": [], "open": []}, "after": {"export": [], "open": []}}
    with tempfile.TemporaryDirectory(prefix="nephthys-before-") as folder:
        extract(args.before, Path(folder))
        for round_number in range(args.rounds):
            for side, pythonpath in (("before", folder), ("after", None)):
                log(f"  round {round_number + 1}, {side}")
                server = start_at(database_url, log_dir, pythonpath)
                try:
                    version = httpx.get(server.url("/api/tickets?status=open&limit=1"), timeout=60).json()
                    has_new_fields = bool(version) and "team_tags" in version[0]
                    if has_new_fields != (side == "after"):
                        raise RuntimeError(
                            f"the {side} server has the wrong code (team_tags: {has_new_fields})"
                        )
                    rounds[side]["load_before"] = load()
                    rounds[side]["export"].append(export(server, facts["tickets"], 600))
                    rounds[side]["open"].append(
                        sequential(server.url(OPEN_PATH), args.open_requests, 120, 600)
                    )
                finally:
                    stop_server(server)
    for side in rounds.values():
        side["export_tickets_per_s_median"] = statistics.median(e["tickets_per_s"] for e in side["export"])
        side["export_complete"] = all(e["complete"] for e in side["export"])
        side["open_median_ms"] = statistics.median(o["median_ms"] for o in side["open"])
    return rounds


# ---------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> dict:
    database_url = generate.database_url(args.server_url, args.database)
    if args.reuse:
        asyncio.run(bring_up_to_date(database_url))
    else:
        log(f"generating {args.tickets:,} tickets into {args.database} …")
        asyncio.run(
            generate.generate(
                generate.Shape(tickets=args.tickets),
                server_url=args.server_url,
                database=args.database,
                log=log,
            )
        )
        asyncio.run(bring_up_to_date(database_url))
    facts = asyncio.run(database_facts(database_url))
    log(
        f"database: {facts['tickets']:,} tickets ({facts['open']:,} open), schema revision {facts['revision']}"
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / f"logs-aggregates-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).date()
    outcome: dict = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started_at": stamp,
        "git_commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "load_at_start": load()},
        "database": {"name": args.database, **facts},
    }  # fmt: skip

    log("nephthys: the aggregates …")
    server = start_at(database_url, log_dir, None)
    try:
        outcome["nephthys"] = measure_aggregates(server, database_url, args, today)
        log("baseline: fetching the tickets and computing in the client …")
        baseline: dict = {"load_before": load()}
        year_ago = (today - timedelta(days=364)).isoformat()
        runs = [
            asyncio.run(baseline_daily(database_url, today - timedelta(days=364), 365))
            for _ in range(args.baseline_runs)
        ]
        baseline["daily_365_seconds"] = [seconds for seconds, _ in runs]
        baseline["daily_365_differences"] = same_figures(
            outcome["nephthys"]["daily_365"]["answer"]["days"], runs[-1][1]
        )[:10]
        runs_h = [asyncio.run(baseline_hang_distribution(database_url)) for _ in range(args.baseline_runs)]
        baseline["distribution_hang_seconds"] = [seconds for seconds, _ in runs_h]
        baseline["distribution_hang_differences"] = same_figures(
            outcome["nephthys"]["distribution_hang"]["answer"], runs_h[-1][1]
        )[:10]
        runs_r = [
            baseline_resolution_distribution(server.base_url, year_ago) for _ in range(args.baseline_runs)
        ]
        baseline["distribution_resolution_seconds"] = [seconds for seconds, _, _ in runs_r]
        baseline["distribution_resolution_tickets"] = runs_r[-1][2]
        # The API's year of closed tickets is not all time: compare with Nephthys over the same range.
        same_range = httpx.get(
            server.url(f"/api/stats/distribution?metric=resolution&since={year_ago}"), timeout=600
        ).json()
        baseline["distribution_resolution_differences"] = same_figures(same_range, runs_r[-1][1])[:10]
        outcome["baseline"] = baseline
    finally:
        stop_server(server)
    for name in ("daily_365", "distribution_hang", "distribution_resolution"):
        outcome["nephthys"][name].pop("answer")

    log("ticket writes: open tickets closed and opened again …")
    outcome["ticket_writes"] = {
        "load_before": load(),
        **asyncio.run(ticket_writes(database_url, args.writes)),
    }
    if args.before:
        log(f"ticket objects before ({args.before}) and after …")
        outcome["before_after"] = before_and_after(database_url, facts, args, log_dir)
    outcome["machine"]["load_at_end"] = load()
    return outcome


def report(outcome: dict) -> str:
    lines = [
        f"commit {outcome['git_commit']}, {outcome['database']['tickets']:,} tickets, "
        f"load average at start {outcome['machine']['load_at_start']}, at end {outcome['machine']['load_at_end']}",
        "",
        "| metric | target | nephthys: repeated (remembered) | recomputed: no-op change | recomputed: "
        "a ticket closes/reopens | no kept days | 304 | baseline (client) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    baseline = outcome["baseline"]
    for name, label, base in [
        ("daily_365", "daily, 365 days", baseline["daily_365_seconds"]),
        ("distribution_hang", "distribution, hang, all time", baseline["distribution_hang_seconds"]),
        (
            "distribution_resolution",
            "distribution, resolution, all time",
            baseline["distribution_resolution_seconds"],
        ),
    ]:
        ours = outcome["nephthys"][name]
        cold_ms = f"{ours['cold']['median_ms']:,.0f} ms" if "cold" in ours else "—"
        lines.append(
            f"| {label} | ≤ {TARGET_MS} ms median | {ours['sequential']['median_ms']:.1f} ms "
            f"| {ours['after_change']['median_ms']:.1f} ms | {ours['after_real_change']['median_ms']:.1f} ms "
            f"| {cold_ms} | {ours['not_modified']['median_ms']:.1f} ms "
            f"| {statistics.median(base) * 1000:,.0f} ms |"
        )
    for key in (
        "daily_365_differences",
        "distribution_hang_differences",
        "distribution_resolution_differences",
    ):
        lines.append(f"check {key}: {'equal' if not baseline[key] else baseline[key]}")
    lines.append(
        f"(the resolution baseline pulls the year's {baseline['distribution_resolution_tickets']:,} closed tickets "
        "through /api/tickets; it is checked against Nephthys over the same range)"
    )
    writes = outcome["ticket_writes"]
    lines.append(
        f"ticket writes ({writes['writes']} single-statement closes/reopens): median {writes['median_ms']:.2f} ms, "
        f"p95 {writes['p95_ms']:.2f} ms"
    )
    if "before_after" in outcome:
        before, after = outcome["before_after"]["before"], outcome["before_after"]["after"]
        lines += [
            "",
            "| ticket objects | before | after |",
            "|---|---|---|",
            f"| full export, tickets/s (median of {len(before['export'])}) | {before['export_tickets_per_s_median']:,.0f} "
            f"| {after['export_tickets_per_s_median']:,.0f} |",
            f"| export bytes | {before['export'][-1]['bytes']:,} | {after['export'][-1]['bytes']:,} |",
            f"| status=open median (median of {len(before['open'])} runs) | {before['open_median_ms']:.1f} ms "
            f"| {after['open_median_ms']:.1f} ms |",
            f"exports complete: before {before['export_complete']}, after {after['export_complete']}",
        ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="measure the database already generated")
    parser.add_argument("--server-url", default=generate.DEFAULT_SERVER_URL)
    parser.add_argument("--database", default="nephthys_bench_aggregates")
    parser.add_argument("--requests", type=int, default=50, help="sequential requests per aggregate")
    parser.add_argument("--change-requests", type=int, default=10, help="requests after a ticket change")
    parser.add_argument("--cold-requests", type=int, default=3, help="daily requests with no kept day")
    parser.add_argument("--writes", type=int, default=200, help="tickets closed and reopened (write cost)")
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument(
        "--before", default="b82c1ec", help="commit before the new ticket fields ('' to skip)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="before/after rounds (each: 1 export, open median)"
    )
    parser.add_argument("--open-requests", type=int, default=20)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    outcome = run(args)
    text = report(outcome)
    log("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"aggregates-{outcome['started_at']}-{outcome['database']['tickets']}.json"
    path.write_text(json.dumps(outcome, indent=2, default=str))
    log(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
