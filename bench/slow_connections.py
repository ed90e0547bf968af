"""Does /health keep answering while N slow-header connections are held open? Before and after.

    python bench/slow_connections.py                  # 3,000 slow connections, 30 s, both codes
    python bench/slow_connections.py --connections 6000 --processes 2 --skip-before

A slow-header ("slowloris") client opens a connection, sends part of a request line and
headers, then one more header byte every ``--trickle`` seconds and never the end. Worker
processes (``--processes``) hold ``--connections`` of them against a service started here on
loopback, opening a new one whenever the server closes one, as an attacker would. While they
stay, a normal client asks ``GET /health`` on a new connection every ``--interval`` seconds
for ``--duration`` seconds (5 s timeout): the figures are the count of 200s, of other
answers and of failures, and the latency p50/p99 of the 200s.

It runs against two services, one after the other, on the same database (created afresh on
``--server-url``, default the local PostgreSQL): this working tree's ``nephthys serve``, and
the code before the connection bounds (``--before-ref``, default 5b530dd), unpacked with
``git archive`` under bench/results/ and run with PYTHONPATH, as bench/api.py does. This
process and its workers raise their soft RLIMIT_NOFILE to the hard limit (the services inherit
it). Figures go to the terminal and to bench/results/slow-connections-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from bench.api import (  # noqa: E402
    RESULTS,
    free_port,
    git,
    start_nephthys,
    stop_server,
    unpack_ref,
    wait_until_ready,
)

SLOW_START = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- the slow clients (worker processes)


async def _hold_one(port: int, stop_at: float, trickle: float, stats: dict[str, int]) -> None:
    """Keep one slow-header connection open until ``stop_at``, reopening it when the server closes it."""
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            writer.write(SLOW_START)
            await writer.drain()
        except (OSError, TimeoutError):
            stats["connect_failures"] += 1
            await asyncio.sleep(1)
            continue
        stats["opened"] += 1
        stats["open"] += 1
        try:
            while loop.time() < stop_at:
                try:
                    data = await asyncio.wait_for(
                        reader.read(4096), min(trickle, max(0.01, stop_at - loop.time()))
                    )
                except TimeoutError:
                    writer.write(b"a")  # one more byte of the header that never ends
                    await writer.drain()
                    continue
                if not data:
                    break  # closed by the server
                stats["answered"] += 1  # the server answered (a 408 or 503) rather than waiting
            else:
                continue
            stats["closed_by_server"] += 1
        except OSError:
            stats["closed_by_server"] += 1
        finally:
            stats["open"] -= 1
            writer.close()


async def _hold(
    port: int, count: int, ramp_seconds: float, hold_seconds: float, trickle: float, report
) -> None:
    loop = asyncio.get_running_loop()
    stats = dict.fromkeys(("opened", "open", "closed_by_server", "connect_failures", "answered"), 0)
    stop_at = loop.time() + ramp_seconds + hold_seconds
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(_hold_one(port, stop_at, trickle, stats)))
        if i % 100 == 99:
            await asyncio.sleep(ramp_seconds * 100 / count)
    await asyncio.gather(*tasks, return_exceptions=True)
    report.put(stats)


def _worker(port: int, count: int, ramp_seconds: float, hold_seconds: float, trickle: float, report) -> None:
    raise_open_files_limit()
    asyncio.run(_hold(port, count, ramp_seconds, hold_seconds, trickle, report))


# ---------------------------------------------------------------- the normal client


async def probe_health(base_url: str, duration: float, interval: float) -> dict:
    latencies: list[float] = []
    others: dict[str, int] = {}
    # No keep-alive: every probe is a new client arriving, which is what a flood of slow
    # connections starves (accept, file descriptors), not a request on a connection already open.
    async with httpx.AsyncClient(
        base_url=base_url, timeout=5, limits=httpx.Limits(max_keepalive_connections=0)
    ) as client:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                response = await client.get("/health")
                outcome = str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            elapsed = time.perf_counter() - started
            if outcome == "200":
                latencies.append(elapsed)
            else:
                others[outcome] = others.get(outcome, 0) + 1
            await asyncio.sleep(max(0.0, interval - elapsed))
    latencies.sort()

    def pct(p: float) -> float | None:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)
            if latencies
            else None
        )

    return {"ok": len(latencies), "not_ok": others, "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


# ---------------------------------------------------------------- one run


def _sample_descriptors(pid: int, samples: list[int], done: threading.Event) -> None:
    """The server's open file descriptors (each connection is one), every 0.5 s."""
    while not done.wait(0.5):
        with contextlib.suppress(OSError):
            samples.append(len(os.listdir(f"/proc/{pid}/fd")))


def run_against(
    name: str, database_url: str, args: argparse.Namespace, log_dir: Path, pythonpath: Path | None
) -> dict:
    port = free_port()
    server = start_nephthys(database_url, port, log_dir, name=name, pythonpath=pythonpath)
    try:
        wait_until_ready(server)
        baseline = asyncio.run(probe_health(server.base_url, 3, args.interval))
        report: multiprocessing.Queue = multiprocessing.Queue()
        per_worker = [
            args.connections // args.processes + (i < args.connections % args.processes)
            for i in range(args.processes)
        ]
        workers = [
            multiprocessing.Process(
                target=_worker,
                args=(port, count, args.ramp, args.duration, args.trickle, report),
                daemon=True,
            )
            for count in per_worker
        ]
        for worker in workers:
            worker.start()
        time.sleep(args.ramp)  # let the slow connections pile up first
        descriptors: list[int] = []
        sampling = threading.Event()
        sampler = threading.Thread(target=_sample_descriptors, args=(server.pid, descriptors, sampling))
        sampler.start()
        under_attack = asyncio.run(probe_health(server.base_url, args.duration, args.interval))
        sampling.set()
        sampler.join()
        held = [report.get(timeout=args.duration + 120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        alive = server.process.poll() is None
        stop_started = time.monotonic()
        stop_server(server)
        return {
            "name": name,
            "health_before_attack": baseline,
            "health_under_attack": under_attack,
            "slow": {key: sum(h[key] for h in held) for key in held[0]},
            "server_descriptors": {
                "min": min(descriptors, default=None),
                "max": max(descriptors, default=None),
            },
            "server_alive_after": alive,
            "stop_seconds": round(time.monotonic() - stop_started, 1),
        }
    finally:
        stop_server(server)


def _failures(outcomes: dict[str, int]) -> str:
    """How many failed (what each was is in the JSON)."""
    return str(sum(outcomes.values()))


def _span(figures: dict) -> str:
    return f"{figures['min']}-{figures['max']}"


def row(label: str, values: list[object]) -> str:
    return f"{label:<44}" + "".join(f"{str(v):>22}" for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=3000, help="slow-header connections held (3000)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes holding them (1)")
    parser.add_argument(
        "--duration", type=float, default=30, help="seconds /health is probed under attack (30)"
    )
    parser.add_argument("--ramp", type=float, default=10, help="seconds to open them before probing (10)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between /health probes (0.1)")
    parser.add_argument("--trickle", type=float, default=5, help="seconds between header bytes (5)")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="nephthys_bench_slow")
    parser.add_argument("--before-ref", default="5b530dd", help="the code before the change (5b530dd)")
    parser.add_argument("--skip-before", action="store_true", help="measure this working tree only")
    args = parser.parse_args(argv)

    limit = raise_open_files_limit()
    if args.connections // args.processes + 100 > limit:
        raise SystemExit(
            f"--connections: {args.connections} over {args.processes} process(es) exceeds RLIMIT_NOFILE {limit}; add --processes"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / f"logs-slow-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    database_url = asyncio.run(generate.recreate_database(args.server_url, args.database))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": database_url,
    }
    subprocess.run(
        [sys.executable, "-m", "nephthys", "db", "upgrade"],
        env=env,
        cwd=log_dir,
        check=True,
        capture_output=True,
    )

    runs = [run_against("after", database_url, args, log_dir, None)]
    if not args.skip_before:
        runs.append(run_against("before", database_url, args, log_dir, unpack_ref(args.before_ref)))

    dirty = bool(git("status", "--porcelain", "nephthys"))
    print(
        f"\n{args.connections} slow-header connections ({args.processes} process(es), RLIMIT_NOFILE {limit}), "
        f"/health every {args.interval} s for {args.duration} s; commit {git('rev-parse', '--short', 'HEAD')}"
        f"{' + uncommitted changes' if dirty else ''}; before = {args.before_ref}"
    )
    names = [r["name"] + (f" ({args.before_ref})" if r["name"] == "before" else " (this tree)") for r in runs]
    print(row("", names))
    print(row("/health 200s before the attack", [r["health_before_attack"]["ok"] for r in runs]))
    print(row("/health 200s under attack", [r["health_under_attack"]["ok"] for r in runs]))
    print(row("/health failures under attack", [_failures(r["health_under_attack"]["not_ok"]) for r in runs]))
    print(row("/health p50 under attack (ms)", [r["health_under_attack"]["p50_ms"] for r in runs]))
    print(row("/health p99 under attack (ms)", [r["health_under_attack"]["p99_ms"] for r in runs]))
    print(row("slow connections opened (incl. reopened)", [r["slow"]["opened"] for r in runs]))
    print(row("slow connections closed by the server", [r["slow"]["closed_by_server"] for r in runs]))
    print(row("server's open descriptors under attack", [_span(r["server_descriptors"]) for r in runs]))
    print(row("slow connect failures", [r["slow"]["connect_failures"] for r in runs]))
    print(row("SIGTERM to exit (s)", [r["stop_seconds"] for r in runs]))
    out = RESULTS / f"slow-connections-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), "rlimit_nofile": limit, "runs": runs}, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
