"""Where one 365-day daily series (or a range) spends its CPU, statement by statement, in-process.

Not part of the bench's table: a tool to find what to cut. For each statement the executor runs, it
prints the service process's CPU (``time.process_time``) and the backend's (/proc/PID/stat), both
around the statement's execute and its rows' fetch.

    python bench/profile_daily.py --database nephthys_bench_x --zone Asia/Kolkata --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from nephthys.database.engine import create_engine
from nephthys.stats.daily import daily_stats
from nephthys.stats.hourly import range_stats

TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_ms(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS


def backend_schedstat_ms(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e6


class Timed:
    """An executor that records each statement's CPU on both sides."""

    def __init__(self, connection, backend: int, explain: bool = False) -> None:
        self.connection, self.backend, self.rows, self.explain = connection, backend, [], explain

    async def execute(self, statement, parameters=None):
        if self.explain and str(statement).lstrip().upper().startswith(("SELECT", "WITH")):
            async with self.connection.begin_nested():
                plan = await self.connection.execute(
                    text("EXPLAIN (ANALYZE, BUFFERS) " + str(statement)), parameters
                )
                print("\n".join(r[0] for r in plan))
        service, database = time.process_time(), backend_schedstat_ms(self.backend)
        result = await self.connection.execute(statement, parameters)
        self.rows.append(
            (
                str(statement).split("\n")[0][:70],
                (time.process_time() - service) * 1000,
                backend_schedstat_ms(self.backend) - database,
            )
        )
        return result

    def begin_nested(self):
        return self.connection.begin_nested()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--zone", default="UTC")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--remember", action="store_true")
    parser.add_argument("--range", action="store_true", help="time a range with both ends instead")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) every statement")
    args = parser.parse_args()
    engine = create_engine(f"postgresql://postgres@127.0.0.1:5432/{args.database}", pool_size=1)
    today = datetime.now(UTC).date()
    for run in range(args.runs):
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await connection.commit()
            if args.remember:
                await connection.execute(text('DELETE FROM "DailyFigures"'))
                await connection.execute(text('DELETE FROM "DailyFiguresZone"'))
                await connection.commit()
            async with connection.begin():
                timed = Timed(connection, backend, args.explain)
                service, database = time.process_time(), backend_schedstat_ms(backend)
                if args.range:
                    since = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(seconds=run * 61, milliseconds=run)
                    until = datetime(2026, 8, 15, 12, tzinfo=UTC) + timedelta(seconds=run * 59)
                    await range_stats(timed, since, until)
                else:
                    await daily_stats(
                        timed, today - timedelta(days=364), today, ZoneInfo(args.zone), remember=args.remember
                    )
                total_service = (time.process_time() - service) * 1000
                total_database = backend_schedstat_ms(backend) - database
            print(f"run {run}: service {total_service:.1f} ms, database {total_database:.1f} ms")
            for name, s, d in timed.rows:
                print(f"    {s:7.1f} {d:7.1f}  {name}")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
