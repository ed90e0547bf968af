"""Building one daily summary at 1,000,000 tickets: its statement, its blocks and its chart.

    python bench/summary.py --tickets 1000000            # generate nephthys_bench_summary, then measure
    python bench/summary.py --tickets 1000000 --reuse    # measure the database already generated

Target (2 cores, 1M tickets): the median build ≤ 300 ms. A build is what the
``daily-summary`` job does before it posts: ``nephthys.stats.summary.daily_summary``
(one statement), ``summary_blocks`` and ``draw_chart`` (matplotlib, Agg, PNG). One
warm-up build first (matplotlib's import and font cache, PostgreSQL's buffers), then
``--runs`` builds; the median, the 90th percentile and each part's median are printed
with the load average before and after (the machine is shared: compare runs).
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
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench import generate  # noqa: E402
from nephthys.database.engine import create_engine, session_factory  # noqa: E402
from nephthys.stats import MessageLinks  # noqa: E402
from nephthys.stats.summary import CHART_DAYS, daily_summary  # noqa: E402
from nephthys.tasks.chart import draw_chart  # noqa: E402
from nephthys.tasks.summary import summary_blocks  # noqa: E402
from nephthys.transcripts import load_transcript  # noqa: E402

TARGET_MS = 300
DEFAULT_DATABASE = "nephthys_bench_summary"  # not the API benchmark's, so the two never clobber each other


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


async def measure(url: str, *, runs: int, timezone: str) -> dict:
    tz = ZoneInfo(timezone)
    transcript = load_transcript("default")
    links = MessageLinks("https://hackclub.slack.com", generate.HELP_CHANNEL)
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    day = now.astimezone(tz).date() - timedelta(days=1)
    parts: dict[str, list[float]] = {"query": [], "blocks": [], "chart": [], "total": []}
    try:
        async with sessions() as session:
            count = await session.scalar(text('SELECT count(*) FROM "Ticket"'))
        for run in range(runs + 1):
            started = time.perf_counter()
            async with sessions() as session:
                summary = await daily_summary(session, day=day, tz=tz, now=now, waiting_days=5)
            queried = time.perf_counter()
            summary_blocks(summary, transcript, links, waiting_days=5)
            built = time.perf_counter()
            png = draw_chart(
                summary.series,
                title=transcript.text("summary_chart_title", days=str(CHART_DAYS)),
                new=transcript.text("summary_chart_new"),
                closed=transcript.text("summary_chart_closed"),
                open_at_end=transcript.text("summary_chart_open"),
            )
            drawn = time.perf_counter()
            if run == 0:
                continue  # the warm-up
            parts["query"].append((queried - started) * 1000)
            parts["blocks"].append((built - queried) * 1000)
            parts["chart"].append((drawn - built) * 1000)
            parts["total"].append((drawn - started) * 1000)
    finally:
        await engine.dispose()
    return {
        "tickets": count,
        "day": day.isoformat(),
        "new": summary.figures["new_tickets_total"],
        "waiting": summary.waiting_total,
        "png_bytes": len(png),
        "parts": parts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="measure the database already generated")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timezone", default="Europe/London")
    parser.add_argument("--server-url", default=generate.DEFAULT_SERVER_URL)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    args = parser.parse_args(argv)

    url = generate.database_url(args.server_url, args.database)
    print(f"load average before: {load()}")
    if args.reuse:
        asyncio.run(generate.bring_reused_up_to_date(url))
    else:
        shape = generate.Shape(
            tickets=args.tickets, users=max(1000, args.tickets // 50), helpers=200, tags=20
        )
        asyncio.run(generate.generate(shape, server_url=args.server_url, database=args.database))
        print(f"load average after generating: {load()}")
    result = asyncio.run(measure(url, runs=args.runs, timezone=args.timezone))
    parts = result["parts"]
    total = parts["total"]
    median = statistics.median(total)
    p90 = statistics.quantiles(total, n=10)[-1] if len(total) >= 2 else total[0]
    print(
        f"{result['tickets']:,} tickets; summary of {result['day']} ({args.timezone}): "
        f"{result['new']} new, {result['waiting']} worth a look; chart {result['png_bytes']:,} bytes"
    )
    print(f"{'part':<8} {'median ms':>10}")
    for name in ("query", "blocks", "chart"):
        print(f"{name:<8} {statistics.median(parts[name]):>10.1f}")
    verdict = "meets" if median <= TARGET_MS else "MISSES"
    print(
        f"one summary: median {median:.1f} ms, p90 {p90:.1f} ms over {len(total)} builds; {verdict} ≤ {TARGET_MS} ms"
    )
    print(f"load average after: {load()}")
    return 0 if median <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
