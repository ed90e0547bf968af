"""My stats' ratings at scale: the viewer's ratings (all time and 30 days) beside /api/stats/feedback.

    python bench/home_feedback.py                      # 1,000,000 tickets on a throwaway embedded PostgreSQL
    python bench/home_feedback.py --tickets 200000     # a quicker run
    python bench/home_feedback.py --server-url postgresql://postgres@127.0.0.1:5432/postgres

``bench/generate.py`` fills the database (on ``--server-url``, or a throwaway embedded server
when it is not given), then ``--rated`` (30%) of the closed tickets get one rating each, spread
over the last year. Timed ``--runs`` times each, in this process, on one connection: the App Home's
``helper_ratings`` for the helper who closed the most tickets (all time, then the last 30 days:
what one My stats render adds), and ``feedback_stats`` with no bounds (what /api/stats/feedback
computes). Medians and 95th percentiles; the load average is printed first (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from nephthys.database import embedded  # noqa: E402
from nephthys.database.engine import create_engine  # noqa: E402
from nephthys.stats.feedback import feedback_stats, helper_ratings  # noqa: E402

RATE_SQL = """
INSERT INTO "Feedback" ("ticketId", "createdById", rating, "createdAt")
SELECT t.id, t."openedById",
       (ARRAY['NOT_GOOD', 'OKAY', 'GREAT', 'GREAT'])[1 + (t.id % 4)]::"FeedbackRating",
       t."closedAt" + interval '10 minutes'
FROM "Ticket" t
WHERE t.status = 'CLOSED' AND random() < $1
ON CONFLICT DO NOTHING
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(runs: int, call) -> tuple[float, float]:
    await call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 0.95)


async def measure(server_url: str, args: argparse.Namespace) -> None:
    shape = generate.Shape(tickets=args.tickets)
    url = await generate.generate(shape, server_url=server_url, database=args.database)
    import asyncpg

    raw = await asyncpg.connect(generate._dsn(url))
    try:
        await raw.execute("SELECT setseed(0.42)")
        await raw.execute(RATE_SQL, args.rated)
        await raw.execute('VACUUM ANALYZE "Feedback"')
        rated = await raw.fetchval('SELECT count(*) FROM "Feedback"')
        busiest = await raw.fetchrow(
            """SELECT u."slackId" AS slack_id, count(*) AS closed FROM "Ticket" t
               JOIN "User" u ON u.id = t."closedById" WHERE t.status = 'CLOSED'
               GROUP BY u."slackId" ORDER BY count(*) DESC LIMIT 1"""
        )
    finally:
        await raw.close()
    print(
        f"{args.tickets:,} tickets, {rated:,} ratings; viewer {busiest['slack_id']} closed {busiest['closed']:,}"
    )
    print(f"load average before measuring: {os.getloadavg()}")
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            now = datetime.now(UTC)

            async def all_time():
                await helper_ratings(connection, slack_id=busiest["slack_id"])

            async def month():
                await helper_ratings(
                    connection, slack_id=busiest["slack_id"], since=now - timedelta(days=30), until=now
                )

            async def api_feedback():
                await feedback_stats(connection)

            for label, call in [
                ("My stats ratings, all time", all_time),
                ("My stats ratings, last 30 days", month),
                ("/api/stats/feedback (all time)", api_feedback),
            ]:
                median, p95 = await timed(args.runs, call)
                print(f"  {label:<36} median {median:8.2f} ms   p95 {p95:8.2f} ms   ({args.runs} runs)")
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--rated", type=float, default=0.3, help="share of closed tickets rated")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--server-url", default=None, help="default: a throwaway embedded PostgreSQL")
    parser.add_argument("--database", default="nephthys_bench_feedback")
    args = parser.parse_args()
    if args.server_url:
        asyncio.run(measure(args.server_url, args))
        return 0
    server = embedded.start_throwaway()
    try:
        asyncio.run(measure(server.url, args))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
