"""What the API's in-process copies cost in memory (docs/deployment.md, "Several instances").

    python bench/memo_memory.py --tickets 125000            # generate nephthys_bench_memory, then measure
    python bench/memo_memory.py --tickets 125000 --reuse    # measure the database already generated

The generator makes ~8% of tickets active (open or in progress), so 125,000 tickets give about
10,000 active ones. In one process, with ``tracemalloc`` tracing Python's allocations, it fills
the service's copies as requests would and prints what each keeps once the answers are dropped:

- ``ActiveTicketsMemo`` (nephthys/api/active_tickets.py): one copy per active status of the
  stored ticket objects, after one ``/api/tickets?status=open`` and one ``in_progress`` request,
  each asked with and without descriptions (a copy also keeps the two joined bodies it served);
- ``StatsV2Memo`` (nephthys/stats/memo.py): the last ``/api/stats_v2`` computation, rendered.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.generate import DEFAULT_SERVER_URL, Shape, database_url, generate  # noqa: E402
from nephthys.api.active_tickets import ACTIVE_STATUSES, ActiveTicketsMemo  # noqa: E402
from nephthys.database.engine import create_engine  # noqa: E402
from nephthys.stats.memo import StatsV2Memo, current_stats_v2  # noqa: E402
from nephthys.stats.overview import MessageLinks  # noqa: E402

DATABASE = "nephthys_bench_memory"


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def mib(size: int) -> str:
    return f"{size / 2**20:6.1f} MiB"


async def measure(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    driver = await asyncpg.connect(dsn)
    try:
        counts = {
            status: await driver.fetchval('SELECT count(*) FROM "Ticket" WHERE status = $1', status)
            for status in ACTIVE_STATUSES
        }
        stored = await driver.fetchval(
            'SELECT sum(octet_length(json::text)) FROM "ActiveTicketJson" WHERE status = ANY($1)',
            list(ACTIVE_STATUSES),
        )
        tracemalloc.start()
        before = traced()
        memo = ActiveTicketsMemo()
        largest = 0
        for status in ACTIVE_STATUSES:
            for descriptions in (True, False):
                body = await memo.answer(driver, status, descriptions=descriptions)
                largest = max(largest, len(body))
                del body
        active = traced() - before
        # The joined bodies kept beside the objects (dropped at the next change).
        bodies = sum(len(b) for copy in memo._copies.values() for b in copy._bodies.values())
    finally:
        await driver.close()

    engine = create_engine(url, pool_size=1)
    try:
        before = traced()
        stats_memo = StatsV2Memo()
        async with engine.connect() as connection:
            rendered, _ = await current_stats_v2(connection, stats_memo, MessageLinks("https://x", "C0"))
            document = len(rendered.before_age) + len(rendered.after_age or b"")
            del rendered
        stats = traced() - before
    finally:
        await engine.dispose()
    tracemalloc.stop()

    total = sum(counts.values())
    print(f"active tickets: {total:,} ({', '.join(f'{s} {n:,}' for s, n in counts.items())})")
    print(f"their stored JSON in PostgreSQL: {mib(stored or 0)}")
    print(f"ActiveTicketsMemo keeps {mib(active)} ({active / max(total, 1):,.0f} bytes a ticket); "
          f"largest answer {mib(largest)}")  # fmt: skip
    print(f"  of which the joined answers kept until the next change: {mib(bodies)}")
    print(f"StatsV2Memo keeps       {mib(stats)} (its rendered document: {document:,} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=125_000)
    parser.add_argument("--reuse", action="store_true", help="measure the database already generated")
    parser.add_argument("--server-url", default=DEFAULT_SERVER_URL)
    parser.add_argument("--database", default=DATABASE)
    args = parser.parse_args(argv)
    if args.reuse:
        url = database_url(args.server_url, args.database)
    else:
        url = asyncio.run(
            generate(Shape(tickets=args.tickets), server_url=args.server_url, database=args.database)
        )
    asyncio.run(measure(url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
