"""What the API's in-process copies cost in memory (docs/deployment.md, "Several instances").

    python bench/memo_memory.py --tickets 125000            # generate nephthys_bench_memory, then measure
    python bench/memo_memory.py --tickets 125000 --reuse    # measure the database already generated
    python bench/memo_memory.py --database D --reuse --code-ref main   # the same, with main's code

The generator makes ~8% of tickets active (open or in progress), so 125,000 tickets give about
10,000 active ones (1,000,000: about 80,000). In one process it fills the service's copies as
requests would and prints what each keeps once the answers are dropped:

- ``ActiveTicketsMemo`` (nephthys/api/active_tickets.py): one copy per active status of the
  stored ticket objects. First, untraced, the process's resident memory (``VmRSS``, after a
  garbage collection) before the memo and after one ``/api/tickets?status=open`` and one
  ``in_progress`` request with descriptions (what the service holds with the default
  API_DESCRIPTIONS=public), then after the same two without descriptions too (what =keys adds);
  and each request's median time in process, repeated, and right after a ticket change
  (``--changes`` open tickets assigned and put back, one transaction each; the copies patched).
  Then, again from empty with
  ``tracemalloc`` tracing Python's allocations, what the filled memo keeps, and its parts by
  ``sys.getsizeof`` (numpy arrays by ``nbytes``): the objects' bytes, the per-ticket Python
  objects, the indexes, the joined answers and the sla templates;
- ``StatsV2Memo`` (nephthys/stats/memo.py): the last ``/api/stats_v2`` computation, rendered.

``--code-ref`` runs the same measurement with another commit's ``nephthys`` (unpacked with ``git
archive`` into a temporary folder, first on ``sys.path``): the figures before and after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _code_ref() -> str | None:
    """``--code-ref``, read before ``nephthys`` is imported (it decides which one is)."""
    for i, arg in enumerate(sys.argv):
        if arg == "--code-ref" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--code-ref="):
            return arg.split("=", 1)[1]
    return None


if (REF := _code_ref()) is not None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", REF, "nephthys"], check=True, capture_output=True
    )
    SOURCE = Path(tempfile.mkdtemp(prefix="memo-memory-"))
    tarfile.open(fileobj=io.BytesIO(archive.stdout)).extractall(SOURCE, filter="data")
    sys.path.insert(0, str(SOURCE))

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


def resident() -> int:
    """The process's resident memory in bytes (VmRSS), after a garbage collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def mib(size: int) -> str:
    return f"{size / 2**20:6.1f} MiB"


def parts(memo: ActiveTicketsMemo) -> dict[str, int]:
    """What the copies hold, by kind (sys.getsizeof of each object once; numpy arrays by nbytes)."""
    sizes = dict.fromkeys(
        ("objects' bytes", "per-ticket Python objects", "indexes", "joined answers", "sla templates"), 0
    )
    seen: set[int] = set()

    def size(value: object) -> int:
        if id(value) in seen:
            return 0
        seen.add(id(value))
        nbytes = getattr(value, "nbytes", None)
        if isinstance(nbytes, int) and not isinstance(value, (bytes, memoryview)):
            return nbytes + sys.getsizeof(value) if getattr(value, "base", None) is None else nbytes
        return sys.getsizeof(value)

    def deep(value: object) -> int:
        total = size(value)
        if isinstance(value, (tuple, list)):
            total += sum(deep(item) for item in value)
        elif isinstance(value, dict):
            total += sum(deep(k) + deep(v) for k, v in value.items())
        elif hasattr(value, "__slots__"):
            total += sum(deep(getattr(value, name)) for name in value.__slots__)
        return total

    for copy in memo._copies.values():
        if hasattr(copy, "jsons"):  # before: one bytes object and tuple per ticket
            sizes["objects' bytes"] += sum(size(json) for json in copy.jsons)
            sizes["per-ticket Python objects"] += (
                size(copy.jsons) + deep(copy.keys) + deep(copy.cuts) + deep(copy.waits)
            )
            sizes["indexes"] += deep(copy.where)
            sizes["joined answers"] += sum(size(body) for body in copy._bodies.values())
        else:  # one array per copy, numpy columns
            sizes["objects' bytes"] += size(copy.array.data)
            sizes["indexes"] += sum(
                size(column)
                for column in (
                    copy.array.starts,
                    copy.created,
                    copy.ids,
                    copy.cut_at,
                    copy.cut_length,
                    copy.waits,
                )
            )
            if copy._hidden is not None:
                sizes["joined answers"] += size(copy._hidden.data) + size(copy._hidden.starts)
        sizes["sla templates"] += deep(copy.slas)
    return sizes


async def fill(memo: ActiveTicketsMemo, driver: asyncpg.Connection, descriptions: bool) -> int:
    """One request per active status; the largest answer's length (the answers are dropped)."""
    largest = 0
    for status in ACTIVE_STATUSES:
        body = await memo.answer(driver, status, descriptions=descriptions)
        largest = max(largest, len(body))
        del body
    return largest


async def medians(
    memo: ActiveTicketsMemo, driver: asyncpg.Connection, runs: int
) -> dict[str, tuple[float, float]]:
    """Each status's answer (with descriptions), timed in process: the median of ``runs``, in ms, wall
    and this process's CPU (the machine's load moves the first)."""
    found = {}
    for status in ACTIVE_STATUSES:
        times, cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            await memo.answer(driver, status, descriptions=True)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        found[status] = (statistics.median(times), statistics.median(cpu))
    return found


async def after_changes(
    memo: ActiveTicketsMemo, driver: asyncpg.Connection, changes: int
) -> dict[str, tuple[float, float]]:
    """Each status's answer right after a ticket change (the copies patched), median in ms: ``changes``
    open tickets each assigned (in progress) and put back, one transaction each, as bench/api.py's
    change_cost does; both statuses asked after each change."""
    tickets = await driver.fetch(
        """SELECT id FROM "Ticket" WHERE status = 'OPEN' AND "assignedToId" IS NULL ORDER BY id LIMIT $1""",
        changes,
    )
    helper = await driver.fetchval('SELECT id FROM "User" WHERE helper ORDER BY id LIMIT 1')
    times: dict[str, list[float]] = {status: [] for status in ACTIVE_STATUSES}
    cpu: dict[str, list[float]] = {status: [] for status in ACTIVE_STATUSES}
    for ticket in tickets:
        for status, assigned in (("IN_PROGRESS", helper), ("OPEN", None)):
            await driver.execute(
                """UPDATE "Ticket" SET status = $2::"TicketStatus", "assignedToId" = $3,
                       "assignedAt" = CASE WHEN $3::int IS NULL THEN NULL ELSE now() END
                   WHERE id = $1""",
                ticket["id"],
                status,
                assigned,
            )
            for each in ACTIVE_STATUSES:
                started, started_cpu = time.perf_counter(), time.process_time()
                await memo.answer(driver, each, descriptions=True)
                times[each].append((time.perf_counter() - started) * 1000)
                cpu[each].append((time.process_time() - started_cpu) * 1000)
    return {
        status: (statistics.median(found), statistics.median(cpu[status]))
        for status, found in times.items()
        if found
    }


async def measure(url: str, runs: int, changes: int) -> None:
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
        # Resident memory, untraced (tracemalloc's own records would count as the memo's).
        rss_empty = resident()
        memo = ActiveTicketsMemo()
        largest = await fill(memo, driver, descriptions=True)
        rss_public = resident()
        largest = max(largest, await fill(memo, driver, descriptions=False))
        rss_keys = resident()
        times = await medians(memo, driver, runs)
        changed = await after_changes(memo, driver, changes)
        rss_changed = resident()
        del memo
        # Python's allocations, traced, from empty again.
        tracemalloc.start()
        before = traced()
        memo = ActiveTicketsMemo()
        await fill(memo, driver, descriptions=True)
        await fill(memo, driver, descriptions=False)
        active = traced() - before
        kinds = parts(memo)
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
    print(f"resident memory: {mib(rss_empty)} empty, {mib(rss_public)} with descriptions "
          f"(+{mib(rss_public - rss_empty).strip()}), {mib(rss_keys)} also without "
          f"(+{mib(rss_keys - rss_empty).strip()})")  # fmt: skip
    answers = ", ".join(f"{status} {ms:.1f} ms (CPU {cpu:.1f} ms)" for status, (ms, cpu) in times.items())
    print(f"answer in process, median of {runs}: {answers}")
    if changed:
        answers = ", ".join(
            f"{status} {ms:.1f} ms (CPU {cpu:.1f} ms)" for status, (ms, cpu) in changed.items()
        )
        print(f"answer in process right after a ticket change, median of {2 * changes}: {answers}")
        print(
            f"resident memory after those changes: {mib(rss_changed)} (+{mib(rss_changed - rss_empty).strip()})"
        )
    print(f"ActiveTicketsMemo keeps {mib(active)} ({active / max(total, 1):,.0f} bytes a ticket); "
          f"largest answer {mib(largest)}")  # fmt: skip
    for kind, size in kinds.items():
        print(f"  {kind + ':':27} {mib(size)}")
    print(f"StatsV2Memo keeps       {mib(stats)} (its rendered document: {document:,} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=125_000)
    parser.add_argument("--reuse", action="store_true", help="measure the database already generated")
    parser.add_argument("--server-url", default=DEFAULT_SERVER_URL)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--runs", type=int, default=20, help="requests per status for the in-process medians")
    parser.add_argument(
        "--changes",
        type=int,
        default=10,
        help="open tickets assigned and put back to time answers after a change",
    )
    parser.add_argument("--code-ref", help="measure this commit's nephthys instead of the working tree's")
    args = parser.parse_args(argv)
    if args.reuse:
        url = database_url(args.server_url, args.database)
    else:
        url = asyncio.run(
            generate(Shape(tickets=args.tickets), server_url=args.server_url, database=args.database)
        )
    asyncio.run(measure(url, args.runs, args.changes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
