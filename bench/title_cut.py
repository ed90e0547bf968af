"""What hiding question-worded titles costs PostgreSQL when it cuts stored objects (issue 18 §5).

    python bench/title_cut.py --rows 200000 --runs 7

Fills a temporary table with objects shaped like the stored ones (a 60-byte title, a
500-byte description, the rest of a ticket's members), with the cut of migration 0013 (the
description member) on every row and the cut of 0016 (title value through the description,
replaced by null) on half of them, then times each way of cutting every row in one query:
0013's overlay, and 0016's (``nephthys.api.stored_tickets``, which reads one byte per row to
choose what the cut becomes). Prints the median wall time of ``--runs`` reads of each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg

from nephthys.api import stored_tickets

FILL = """CREATE TEMPORARY TABLE j AS
SELECT n AS "ticketId", part.head || part.description || part.tail AS json,
       CASE WHEN n % 2 = 0 THEN octet_length(part.head)
            ELSE octet_length(part.head) - octet_length(part.title) END AS "descriptionAt",
       CASE WHEN n % 2 = 0 THEN octet_length(part.description)
            ELSE octet_length(part.title) + octet_length(part.description) END AS "descriptionLength"
FROM generate_series(1, $1::int) n
CROSS JOIN LATERAL (SELECT to_json('How do I ' || repeat('ship ', 10) || n)::text AS title) t
CROSS JOIN LATERAL (SELECT
    '{"id":' || n || ',"title":' || t.title AS head, t.title,
    ',"description":' || to_json(repeat('My project does not build ', 19) || n)::text AS description,
    ',"status":"open","opened_by":{"id":1,"slack_id":"U0123","username":"a"},"closed_by":null,'
    || '"assigned_to":null,"reopened_by":null,"tags":[],"team_tags":[],'
    || '"created_at":"2026-01-10T12:00:00.000+00:00","closed_at":null,"message_ts":"1.000001"}' AS tail) part"""

DESCRIPTION_ONLY = (
    """overlay(textsend(j.json) PLACING ''::bytea FROM j."descriptionAt" + 1 FOR j."descriptionLength")"""
)


async def timed(connection: asyncpg.Connection, column: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await connection.fetchval(f"SELECT sum(length({column})) FROM j")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(args: argparse.Namespace) -> None:
    connection = await asyncpg.connect(args.server_url)
    try:
        await connection.execute("SET jit = off")
        await connection.execute(FILL, args.rows)
        await connection.execute("ANALYZE j")
        ways = {
            "0013: the description member cut out": DESCRIPTION_ONLY,
            "0016: the same, or the title's value to null": stored_tickets.json_bytes(descriptions=False),
            "as stored (no cut)": stored_tickets.json_bytes(descriptions=True),
        }
        for name, column in ways.items():
            seconds = await timed(connection, column, args.runs)
            print(f"{name:48} {seconds * 1000:8.1f} ms for {args.rows:,} rows (median of {args.runs})")
    finally:
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args()))
