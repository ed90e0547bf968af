"""How much each way of reading the stored ticket JSON costs, without HTTP (issue 14, second pass).

    python bench/ticket_reads.py --database i14_live --status OPEN --runs 10

Reads the stored objects of one active status in the API's order, each way
below, on one asyncpg connection, and prints the median wall time of ``--runs``
reads and the mean CPU per read of this process (the service's share) and of
its PostgreSQL backend (from /proc, so run it on the database's machine). The
cut without a description uses the stored offsets as they are: on a database
at 0011 they are characters (the text overlay is right), at 0013 octets (the
bytea overlay is right); the cost is what is measured. Prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import asyncpg

ORDERED = """SELECT {column} FROM "ActiveTicketJson" j WHERE j.status = '{status}' ORDER BY j."createdAt", j."ticketId\""""
KEYSET = """SELECT textsend(string_agg(j.json, ',')), max(j."createdAt"), array_agg(j."ticketId") FROM (
    SELECT * FROM "ActiveTicketJson" j WHERE j.status = '{status}' {after}
    ORDER BY j."createdAt", j."ticketId" LIMIT {size}) j"""
TEXT_CUT = """overlay(j.json PLACING '' FROM j."descriptionAt" + 1 FOR j."descriptionLength")"""
BYTES_CUT = (
    """overlay(textsend(j.json) PLACING ''::bytea FROM j."descriptionAt" + 1 FOR j."descriptionLength")"""
)


def backend_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(args: argparse.Namespace) -> None:
    connection = await asyncpg.connect(f"{args.server_url.rstrip('/')}/{args.database}")
    await connection.execute("SET jit = off; SET enable_sort = off")
    backend = await connection.fetchval("SELECT pg_backend_pid()")
    status = args.status

    async def copy(column: str, **options) -> int:
        chunks: list[bytes] = []

        async def keep(chunk: bytes) -> None:
            chunks.append(chunk)

        await connection.copy_from_query(ORDERED.format(column=column, status=status), output=keep, **options)
        return len(b"".join(chunks))

    async def cursor(column: str) -> int:
        batches = []
        async with connection.transaction():
            rows_of = await connection.cursor(ORDERED.format(column=column, status=status))
            while rows := await rows_of.fetch(1000):
                batches.append(b",".join([row[0] for row in rows]))
        return len(b",".join(batches))

    async def keyset_string_agg(size: int) -> int:
        batches = []
        async with connection.transaction():
            row = await connection.fetchrow(KEYSET.format(status=status, after="", size=size))
            while row[0] is not None:
                batches.append(row[0])
                if len(row[2]) < size:
                    break
                after = 'AND (j."createdAt", j."ticketId") > ($1, $2)'
                row = await connection.fetchrow(
                    KEYSET.format(status=status, after=after, size=size), row[1], row[2][-1]
                )
        return len(b",".join(batches))

    ways = {
        "COPY csv (first pass)": lambda: copy("',' || j.json", format="csv", delimiter="\x01", quote="\x02"),
        "COPY binary, chunks only": lambda: copy("j.json", format="binary"),
        "cursor, textsend (this branch)": lambda: cursor("textsend(j.json)"),
        "string_agg, keyset batches of 1,000": lambda: keyset_string_agg(1000),
        "no description: text overlay": lambda: cursor(f"textsend({TEXT_CUT})"),
        "no description: bytea overlay (this branch)": lambda: cursor(BYTES_CUT),
    }
    print(f"{args.database}, status {status}, {args.runs} reads each, load {os.getloadavg()[0]:.2f}")
    for name, read in ways.items():
        await read()  # warm-up
        walls, mine, theirs = [], [], []
        for _ in range(args.runs):
            backend_before, mine_before, started = (
                backend_cpu(backend),
                time.process_time(),
                time.perf_counter(),
            )
            size = await read()
            walls.append(time.perf_counter() - started)
            mine.append(time.process_time() - mine_before)
            theirs.append(backend_cpu(backend) - backend_before)
        print(
            f"{name:<44} median {statistics.median(walls) * 1000:6.1f} ms  client CPU "
            f"{statistics.mean(mine) * 1000:5.1f} ms  PostgreSQL CPU {statistics.mean(theirs) * 1000:5.1f} ms  "
            f"{size:,} B  load {os.getloadavg()[0]:.2f}"
        )
    await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="i14_live")
    parser.add_argument("--status", choices=["OPEN", "IN_PROGRESS"], default="OPEN")
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
