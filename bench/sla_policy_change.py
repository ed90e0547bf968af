"""A service started with other SLA settings at scale (issue 21): how soon it answers, and what the
background recompute of every ticket's clocks costs.

    python bench/sla_policy_change.py --database nephthys_bench_sla --reuse                  # fill the clocks, then measure
    python bench/sla_policy_change.py --database nephthys_bench_sla --reuse --keep-clocks    # the clocks a previous run left
    python bench/sla_policy_change.py --database D --reuse --keep-clocks --code-ref f1f05df  # the same with older code

The database is one ``bench/sla.py`` fills (a copy of the 1M template: targets on every ticket,
first response 30, next response 60, resolution 480 support minutes, London Mon-Fri 09:00-18:00).
Then ``nephthys serve`` (Slack off, ``--no-migrate``) starts with other targets: first response
45 when the clocks follow bench/sla.py's policy, else that policy again (so every run is a change,
however many times it is repeated). Measured:

- the time from the process's start to its first 200 from ``/health`` (before this change the
  start-up recomputed every clock first);
- the background recompute (``sla-recompute``), from "SlaPolicyInUse": when the active tickets
  were done (sla-watch acts again from then on) and when every ticket was, by the database's own
  instants; the CPU it took: the service process's, and that of the service's PostgreSQL backends
  (``application_name`` ``nephthys-*``; PostgreSQL must run on this machine);
- ``/health`` answered meanwhile: every 0.5 s, its wall time.

``--foreground`` isolates the recompute's own CPU: the service is stopped as soon as it answers
``/health``, and the recompute is run in this process (``nephthys.sla.install.recompute``, as the
job runs it, on connections of its own): this process's CPU and its backends'. In the service it
shares both with the API's other jobs (``memory-reindex`` fills a copy of the template's search rows
for a long while, and ``ticket-json-upkeep`` rebuilds the export's blocks the recompute touched).

``--code-ref REF`` runs the ``nephthys`` package at git ``REF`` instead (unpacked under bench/results;
its start-up then does the recompute itself, and only the time to the first ``/health`` is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bench import generate, sla
from bench.api import cpu_seconds, free_port, start_nephthys, stop_server, unpack_ref
from nephthys.database.engine import create_engine, session_factory
from nephthys.sla import install
from nephthys.sla.install import policy_key
from nephthys.sla.policy import SlaPolicy, SlaTargets

OTHER = SlaPolicy(SlaTargets(45, 60, 480), 0.75)


def log(message: str) -> None:
    print(message, flush=True)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def service_settings(policy: SlaPolicy) -> dict[str, str]:
    first, next_, resolution = policy.targets.as_tuple()
    return {
        "TIMEZONE": "Europe/London",
        "SUPPORT_HOURS": "Mon-Fri 09:00-18:00",
        "SLA_FIRST_RESPONSE_MINUTES": str(first),
        "SLA_NEXT_RESPONSE_MINUTES": str(next_),
        "SLA_RESOLUTION_MINUTES": str(resolution),
        "SLA_WARN_AT": str(policy.warn_at),
        "LOG_LEVEL": "INFO",
    }


async def backend_cpu(connection: asyncpg.Connection) -> dict[int, float]:
    rows = await connection.fetch(
        """SELECT pid FROM pg_stat_activity
           WHERE datname = current_database() AND application_name LIKE 'nephthys%' AND pid <> pg_backend_pid()"""
    )
    return {row["pid"]: cpu for row in rows if (cpu := cpu_seconds(row["pid"])) is not None}


async def recompute_here(url: str, connection: asyncpg.Connection) -> None:
    """The rest of the recompute, in this process, timed and its CPU measured (``--foreground``)."""
    engine = create_engine(url, pool_size=2, application_name="nephthys-bench-recompute")
    sessions = session_factory(engine)
    load_before = loadavg()
    try:
        async with engine.connect() as warm:  # the pool's connection, so its backend is seen below
            await warm.execute(text("SELECT 1"))
        pids = [
            row["pid"]
            for row in await connection.fetch(
                """SELECT pid FROM pg_stat_activity WHERE application_name = 'nephthys-bench-recompute'"""
            )
        ]
        before = {pid: cpu_seconds(pid) or 0.0 for pid in pids}
        wall, cpu = time.perf_counter(), time.process_time()
        done = await install.recompute(sessions)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = await connection.fetch(
            """SELECT pid FROM pg_stat_activity WHERE application_name = 'nephthys-bench-recompute'"""
        )
        postgres = sum((cpu_seconds(row["pid"]) or 0.0) - before.get(row["pid"], 0.0) for row in after)
    finally:
        await engine.dispose()
    state = await connection.fetchrow('SELECT * FROM "SlaPolicyInUse" WHERE id = 1')
    log(f"  in this process: {done.tickets:,} tickets in {done.batches:,} batches, {wall:.1f} s")
    log(f"  CPU: this process {cpu:.1f} s, its PostgreSQL backends {postgres:.1f} s")
    log(f"  ({state['recomputedTickets']:,} tickets recomputed in all, the service's first ones included)")
    log(f"load average: before {load_before}, after {loadavg()}")


async def run(url: str, code_ref: str | None, health_timeout: float, foreground: bool = False) -> None:
    connection = await asyncpg.connect(generate._dsn(url))
    try:
        row = await connection.fetchrow('SELECT key, "recomputeKey" FROM "SlaPolicyInUse" WHERE id = 1')
        filled = policy_key(sla.CALENDAR, sla.POLICY)
        current = row["recomputeKey"] or row["key"]
        policy = OTHER if current == filled else sla.POLICY
        tickets = await connection.fetchval('SELECT count(*) FROM "Ticket"')
        active = await connection.fetchval("""SELECT count(*) FROM "Ticket" WHERE status <> 'CLOSED'""")
        log(
            f"  {tickets:,} tickets ({active:,} active); clocks follow {current!r}; starting with {policy.key!r}"
        )
        pythonpath = unpack_ref(code_ref) if code_ref else None
        port = free_port()
        log_dir = Path(tempfile.mkdtemp(prefix="nephthys-sla-policy-"))
        load_before = loadavg()
        started = time.monotonic()
        server = start_nephthys(
            url, port, log_dir, pythonpath=pythonpath, extra_env=service_settings(policy), name="service"
        )
        try:
            first_health = None
            async with httpx.AsyncClient(timeout=2) as client:
                while time.monotonic() - started < health_timeout:
                    if server.process.poll() is not None:
                        raise RuntimeError(f"the service exited:\n{server.log_tail()}")
                    try:
                        if (await client.get(server.url("/health"))).status_code == 200:
                            first_health = time.monotonic() - started
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.05)
                if first_health is None:
                    raise RuntimeError(f"no /health within {health_timeout:.0f} s:\n{server.log_tail()}")
                log(f"  first /health 200 after {first_health:.2f} s (load {load_before} before)")
                if code_ref:
                    log(f"load average after: {loadavg()}")
                    return
                if foreground:
                    stop_server(server)
                    await recompute_here(url, connection)
                    return
                service_cpu0 = cpu_seconds(server.pid) or 0.0
                seen: dict[int, float] = {}
                first_seen: dict[int, float] = await backend_cpu(connection)
                healths: list[float] = []
                while True:
                    at = time.perf_counter()
                    assert (await client.get(server.url("/health"))).status_code == 200
                    healths.append((time.perf_counter() - at) * 1000)
                    seen.update(await backend_cpu(connection))
                    state = await connection.fetchrow('SELECT * FROM "SlaPolicyInUse" WHERE id = 1')
                    if state["recomputeKey"] is None:
                        break
                    if server.process.poll() is not None:
                        raise RuntimeError(f"the service exited:\n{server.log_tail()}")
                    await asyncio.sleep(0.5)
                service_cpu = (cpu_seconds(server.pid) or 0.0) - service_cpu0
                postgres_cpu = sum(cpu - first_seen.get(pid, 0.0) for pid, cpu in seen.items())
                load_after = loadavg()
        finally:
            stop_server(server)
    finally:
        await connection.close()
    begun = state["recomputeStartedAt"]
    log(f"  recompute: {state['recomputedTickets']:,} tickets' clocks recomputed (active first, then all)")
    log(f"  active tickets done after {(state['recomputeActiveDoneAt'] - begun).total_seconds():.1f} s")
    log(f"  every ticket done after   {(state['installedAt'] - begun).total_seconds():.1f} s")
    log(f"  CPU over the recompute: service {service_cpu:.1f} s, PostgreSQL backends {postgres_cpu:.1f} s")
    log(
        f"  /health during it: {len(healths)} requests, median {statistics.median(healths):.1f} ms, "
        f"max {max(healths):.1f} ms, all 200"
    )
    log(f"load average: before {load_before}, after {load_after}")
    log(f"  (service log: {server.log_path})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="nephthys_bench_sla")
    parser.add_argument("--server-url", default=generate.DEFAULT_SERVER_URL)
    parser.add_argument(
        "--reuse", action="store_true", help="required: the database is a copy of the template"
    )
    parser.add_argument("--keep-clocks", action="store_true", help="the clocks a previous run left")
    parser.add_argument("--code-ref", help="run the nephthys package at this git ref instead")
    parser.add_argument("--health-timeout", type=float, default=1200.0)
    parser.add_argument(
        "--foreground", action="store_true", help="the recompute in this process (its own CPU)"
    )
    args = parser.parse_args(argv)
    if not args.reuse:
        parser.error("--reuse: make the database first (a copy of the template; bench/sla.py generates one)")
    url = args.server_url.rsplit("/", 1)[0] + f"/{args.database}"
    before, after = asyncio.run(generate.bring_reused_up_to_date(url, log=log))
    if before != after:
        log(f"  migrated the database from {before} to {after}")
    if not args.keep_clocks:
        asyncio.run(sla.prepare(url))
    asyncio.run(run(url, args.code_ref, args.health_timeout, args.foreground))
    return 0


if __name__ == "__main__":
    sys.exit(main())
