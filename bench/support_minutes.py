"""What counting support minutes in SQL costs PostgreSQL (the support calendar, issue 20 §3).

    python bench/support_minutes.py --intervals 100000 --runs 5

Fills a temporary table with ``--intervals`` random [start, end) pairs from 2025 to 2027
(short: up to a day; long: up to 60 days), then times one query summing the support minutes
of every row (``SupportCalendar.sql``, ``nephthys/support_calendar.py``) for a few calendars,
beside the wall-clock minutes (the floor: the same scan and a subtraction) and beside a
per-day walk (``generate_series`` over each interval's local days, what the formula avoids).
Prints the median wall time of ``--runs`` runs of each, and checks that the sums of the
SQL form equal those of the Python form.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from nephthys.database.engine import create_engine
from nephthys.support_calendar import SupportCalendar, parse_support_hours

CALENDARS = {
    "Mon-Fri 09:00-18:00 London, 8 holidays a year": SupportCalendar(
        ZoneInfo("Europe/London"),
        parse_support_hours("Mon-Fri 09:00-18:00"),
        frozenset(
            date(y, m, d)
            for y in (2025, 2026, 2027)
            for m, d in [(1, 1), (4, 18), (4, 21), (5, 5), (5, 26), (8, 25), (12, 25), (12, 26)]
        ),
    ),
    "always, New York (23/25-hour days)": SupportCalendar(ZoneInfo("America/New_York")),
    "daily 00:30-02:30 London (clock changes inside the hours)": SupportCalendar(
        ZoneInfo("Europe/London"), parse_support_hours("daily 00:30-02:30")
    ),
}

WALK = """(SELECT coalesce(sum(greatest(0, extract(epoch FROM least(x.e, w.closes) - greatest(x.s, w.opens)))), 0)
    FROM generate_series((x.s AT TIME ZONE :cal_tz)::date, (x.e AT TIME ZONE :cal_tz)::date, interval '1 day') g(d)
    CROSS JOIN LATERAL (SELECT (g.d + CAST(:cal_opens AS interval)) AT TIME ZONE :cal_tz AS opens,
                               (g.d + CAST(:cal_closes AS interval)) AT TIME ZONE :cal_tz AS closes) w
    WHERE (CAST(:cal_weekdays AS int[]))[extract(isodow FROM g.d)::int + 1]
          > (CAST(:cal_weekdays AS int[]))[extract(isodow FROM g.d)::int]
      AND NOT g.d::date = ANY(CAST(:cal_holidays AS date[])))"""


def intervals(count: int, longest: timedelta, seed: int) -> list[tuple[datetime, datetime]]:
    rng = random.Random(seed)
    origin, span = datetime(2025, 1, 1, tzinfo=UTC), 3 * 365 * 86400
    pairs = []
    for _ in range(count):
        start = origin + timedelta(seconds=rng.uniform(0, span))
        pairs.append((start, start + timedelta(seconds=rng.uniform(0, longest.total_seconds()))))
    return pairs


async def main(args: argparse.Namespace) -> None:
    engine = create_engine(args.server_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SET jit = off"))
            for label, longest in (
                ("short (≤ 1 day)", timedelta(days=1)),
                ("long (≤ 60 days)", timedelta(days=60)),
            ):
                pairs = intervals(args.intervals, longest, args.seed)
                await connection.execute(text("DROP TABLE IF EXISTS spans"))
                await connection.execute(
                    text(
                        "CREATE TEMPORARY TABLE spans AS SELECT s, e FROM "
                        "unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) AS u(s, e)"
                    ),
                    {"starts": [s for s, _ in pairs], "ends": [e for _, e in pairs]},
                )
                await connection.execute(text("ANALYZE spans"))
                print(f"\n{args.intervals:,} intervals, {label}: median of {args.runs} runs")
                floor = await timed(connection, "sum(extract(epoch FROM x.e - x.s) / 60)", {}, args.runs)
                print(f"  {'wall-clock minutes (the floor)':<62} {floor * 1000:8.1f} ms")
                for name, calendar in CALENDARS.items():
                    sql = calendar.sql("cal")
                    seconds, total = await timed(
                        connection, f"sum({sql.seconds('x.s', 'x.e')})", sql.parameters, args.runs, value=True
                    )
                    started = time.perf_counter()
                    in_python = sum((calendar.support_time(s, e) for s, e in pairs), timedelta(0))
                    python_seconds = time.perf_counter() - started
                    agree = _exact(total, in_python)
                    print(
                        f"  {name:<62} {seconds * 1000:8.1f} ms"
                        f"  ({seconds / args.intervals * 1e6:.2f} µs/interval; Python {python_seconds * 1000:.0f} ms;"
                        f" sums agree: {agree})"
                    )
                    if args.walk:
                        walked = await timed(
                            connection, f"sum({WALK})", sql.parameters, max(1, args.runs // 2)
                        )
                        print(f"  {'  the same by a per-day walk':<62} {walked * 1000:8.1f} ms")
    finally:
        await engine.dispose()


def _exact(total: Decimal, amount: timedelta) -> bool:
    return (
        Decimal(total) == Decimal(amount.days * 86400 + amount.seconds) + Decimal(amount.microseconds) / 10**6
    )


async def timed(connection, expression: str, parameters: dict, runs: int, *, value: bool = False):
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = (await connection.execute(text(f"SELECT {expression} FROM spans x"), parameters)).scalar()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return (median, result) if value else median


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--intervals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--no-walk", dest="walk", action="store_false", help="skip the per-day walk")
    asyncio.run(main(parser.parse_args()))
