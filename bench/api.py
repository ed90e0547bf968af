"""Benchmark Nephthys's JSON API against the baseline, side by side, over real HTTP.

    python bench/api.py --tickets 1000000          # (re)generate nephthys_bench, then measure
    python bench/api.py --tickets 1000000 --reuse  # measure the database already there

Both services run as their own processes on the same database: Nephthys as
``python -m nephthys serve --no-migrate`` (DATABASE_URL pointing at the bench
database, Slack off) and the baseline (bench/baseline.py: load every ticket,
aggregate in Python). For each the script measures, in this order:

1. a full export ``/api/tickets?since=2000-01-01``: tickets/s, and the growth of
   the server process's resident memory (peak during the export − RSS just
   before it; /proc/<pid>/status, VmHWM reset through clear_refs and sampled).
   One export is counted by the client (every ``"message_ts"`` in the stream);
   the timed ones are discarded by curl and must match it in status and bytes,
   so the client's counting does not take the server's CPU (both rates printed);
2. ``/api/tickets?status=open``: median latency of sequential requests;
3. ``/api/stats_v2``: median latency of sequential requests (one keep-alive curl);
4. ``/api/stats_v2`` when a ticket changed just before each request (an
   information row: no cache can answer it);
5. ``/api/stats_v2`` throughput with 32 concurrent keep-alive clients (wrk, or a
   Python aiohttp load generator when wrk is missing; the output says which).

It prints one table (metric | target | nephthys | baseline | ratio) and writes
every figure, sample counts and the machine's load to bench/results/*.json.
The baseline is slow, so it gets fewer repetitions (a time budget); the table
says how many each side got. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import importlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORKSPACE_URL = "https://hackclub.slack.com"
EXPORT_PATH = "/api/tickets?since=2000-01-01"
OPEN_PATH = "/api/tickets?status=open"
IN_PROGRESS_PATH = "/api/tickets?status=in_progress"
STATS_PATH = "/api/stats_v2"
TICKET_MARKER = b'"message_ts"'  # once per ticket object in both services' output

TARGETS = {
    "stats_median_ms": ("≤ 25 ms", lambda v: v <= 25),
    "stats_rps": ("≥ 1,000 req/s", lambda v: v >= 1000),
    "open_median_ms": ("≤ 50 ms", lambda v: v <= 50),
    "in_progress_median_ms": ("≤ 50 ms", lambda v: v <= 50),
    "export_tickets_per_s": ("≥ 1,000,000 /s", lambda v: v >= 1_000_000),
    "export_rss_growth_mb": ("≤ 150 MB", lambda v: v <= 150),
}
# The code before issue 14 (tickets rendered at request time), run beside this tree's.
TODAY_REF = "b82c1ec"


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(name: str, command: list[str], env: dict[str, str], port: int, log_dir: Path) -> Server:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        # cwd is the results folder so no developer's .env is read by the service.
        process = subprocess.Popen(command, env=env, cwd=log_dir, stdout=log_file, stderr=subprocess.STDOUT)
    return Server(name, process, f"http://127.0.0.1:{port}", log_path)


def start_nephthys(
    database_url: str,
    port: int,
    log_dir: Path,
    *,
    name: str = "nephthys",
    pythonpath: Path | None = None,
    status_case: str = "lower",
    extra_env: dict[str, str] | None = None,
) -> Server:
    env = {**service_env(database_url, pythonpath), "API_STATUS_CASE": status_case, **(extra_env or {})}
    command = [sys.executable, "-m", "nephthys", "serve", "--no-migrate", "--host", "127.0.0.1"]
    return start_server(name, [*command, "--port", str(port)], env, port, log_dir)


def service_env(database_url: str, pythonpath: Path | str | None = None) -> dict[str, str]:
    """An API service's environment (Slack off) on ``database_url``; ``pythonpath``: other code than this tree's."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "SLACK_WORKSPACE_URL": WORKSPACE_URL,
        "SLACK_HELP_CHANNEL": generate.HELP_CHANNEL,
    }
    if pythonpath is not None:  # found before the editable install of this tree
        env["PYTHONPATH"] = str(pythonpath)
    return env


def start_today(database_url: str, port: int, log_dir: Path, source: Path) -> Server:
    """Today's code (``--today-ref``, unpacked at ``source``) as its own service on the same database."""
    server = start_nephthys(database_url, port, log_dir, name="today", pythonpath=source)
    return server


def unpack_ref(ref: str) -> Path:
    """The ``nephthys`` package at git ``ref``, unpacked under bench/results (no checkout is touched)."""
    sha = git("rev-parse", "--short", ref)
    if not sha:
        raise SystemExit(f"--today-ref: {ref!r} is not a commit here")
    target = RESULTS / f"code-{sha}"
    if not (target / "nephthys").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", sha, "nephthys"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def start_baseline(database_url: str, port: int, log_dir: Path) -> Server:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    command = [sys.executable, str(ROOT / "bench" / "baseline.py"), "--database-url", database_url]
    command += [
        "--port",
        str(port),
        "--workspace-url",
        WORKSPACE_URL,
        "--help-channel",
        generate.HELP_CHANNEL,
    ]
    return start_server("baseline", command, env, port, log_dir)


def wait_until_ready(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(server.url("/health"), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer /health within {timeout:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is not None:
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()  # e.g. the baseline still working through queued requests
        server.process.wait()


# ---------------------------------------------------------------- memory


def proc_status_kb(pid: int, field_name: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0, needs rights over the process)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


class PeakRssSampler:
    """Samples VmRSS every few milliseconds, in case VmHWM could not be reset."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmRSS"))
            except (OSError, KeyError):
                return
            time.sleep(self.interval)

    def __enter__(self) -> PeakRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used (None when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backend_pids(database_url: str) -> list[int]:
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        rows = await connection.fetch(
            """SELECT pid FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


class CpuMeter:
    """CPU used by the server process and by the PostgreSQL backends serving the bench database.

    CPU time is far steadier than wall time on a shared 2-core machine, and it says
    where a request's work is done. PostgreSQL's parallel workers are not counted
    (short-lived processes); PostgreSQL must run on this machine.
    """

    def __init__(self, server_pid: int, database_url: str) -> None:
        self.server_pid, self.database_url = server_pid, database_url

    def _backends(self) -> dict[int, float]:
        pids = asyncio.run(_backend_pids(self.database_url))
        return {pid: cpu for pid in pids if (cpu := cpu_seconds(pid)) is not None}

    def __enter__(self) -> CpuMeter:
        self._server = cpu_seconds(self.server_pid)
        self._postgres = self._backends()
        return self

    def __exit__(self, *exc) -> None:
        server = cpu_seconds(self.server_pid)
        self.server_seconds = None if server is None or self._server is None else server - self._server
        after = self._backends()
        self.postgres_seconds = sum(cpu - self._postgres.get(pid, 0.0) for pid, cpu in after.items())


# ---------------------------------------------------------------- HTTP measurements


@dataclass
class Timing:
    status: int
    seconds: float
    size: int


def curl_sequence(url: str, count: int, timeout: float) -> list[Timing]:
    """``count`` sequential GETs over one keep-alive connection, timed by curl itself."""
    if shutil.which("curl") is None:
        return httpx_sequence(url, count, timeout)
    command = [
        "curl",
        "-sS",
        "--max-time",
        str(timeout),
        "-w",
        "%{http_code} %{time_total} %{size_download}\n",
    ]
    for _ in range(count):
        command += ["-o", "/dev/null", url]
    output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    timings = []
    for line in output.splitlines():
        status, seconds, size = line.split()
        timings.append(Timing(int(status), float(seconds), int(size)))
    return timings


def httpx_sequence(url: str, count: int, timeout: float) -> list[Timing]:
    timings = []
    with httpx.Client(timeout=timeout) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(url)
            timings.append(Timing(response.status_code, time.perf_counter() - started, len(response.content)))
    return timings


def summarise(timings: list[Timing]) -> dict:
    seconds = sorted(t.seconds for t in timings)
    return {
        "requests": len(timings),
        "statuses": {str(status): n for status, n in Counter(t.status for t in timings).items()},
        "median_ms": statistics.median(seconds) * 1000,
        "p90_ms": seconds[min(len(seconds) - 1, math.ceil(0.9 * len(seconds)) - 1)] * 1000,
        "min_ms": seconds[0] * 1000,
        "max_ms": seconds[-1] * 1000,
        "bytes": timings[-1].size,
    }


def sequential(url: str, wanted: int, budget: float, timeout: float) -> dict:
    """Median of up to ``wanted`` requests (at least 3) after one warm-up, within about ``budget`` s."""
    warm_up = curl_sequence(url, 1, timeout)[0]
    count = max(3, min(wanted, int(budget / max(warm_up.seconds, 1e-4))))
    result = summarise(curl_sequence(url, count, timeout))
    result["warm_up_ms"] = warm_up.seconds * 1000
    result["reduced"] = count < wanted
    return result


async def stats_after_writes(server: Server, database_url: str, count: int, request_timeout: float) -> dict:
    """stats_v2 latency when a ticket changed just before each request (a no-op UPDATE fires the triggers)."""
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        ticket_ids = [
            row["id"]
            for row in await connection.fetch(
                """SELECT id FROM "Ticket" WHERE status = 'OPEN' ORDER BY id LIMIT $1""", count
            )
        ]
        timings = []
        async with httpx.AsyncClient(timeout=request_timeout) as client:
            await client.get(server.url(STATS_PATH))
            for ticket_id in ticket_ids:
                await connection.execute(
                    'UPDATE "Ticket" SET "lastMsgAt" = "lastMsgAt" WHERE id = $1', ticket_id
                )
                started = time.perf_counter()
                response = await client.get(server.url(STATS_PATH))
                timings.append(
                    Timing(response.status_code, time.perf_counter() - started, len(response.content))
                )
    finally:
        await connection.close()
    return summarise(timings)


JSON_TRIGGERS = ["ticket_json_insert", "ticket_json_update", "ticket_json_delete"]
# Tickets changed in a row with the triggers on (then off, and so on).
CHANGE_ROUND = 10


def run_ns(pid: int) -> int | None:
    """Nanoseconds a process has run on a CPU (the scheduler's own count, not sampled at ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile, in milliseconds, of values in seconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] * 1000


async def change_cost(server: Server, database_url: str, count: int) -> dict:
    """What a ticket change costs with the stored-JSON triggers on and off (today), and whether the
    next request sees it.

    Each change is one transaction, as the lifecycle's: an open ticket is assigned to a helper
    (status in_progress) and then put back (two changes, each timed to its commit). Rounds of
    CHANGE_ROUND tickets with the triggers on and off alternate, so the machine's load weighs on
    both alike. After every change with
    the triggers on, /api/ticket?id= must already show it.

    Beside the wall time, each change's share of the database: the CPU its backend ran for (from
    /proc, so PostgreSQL must run on this machine), and the wall time split into the UPDATE (with
    its row triggers) and the COMMIT (the WAL flush, which waits on the disk the other engineers'
    work shares). CPU is what the triggers add; the wall-time tail is mostly the machine's.
    """
    connection = await asyncpg.connect(generate._dsn(database_url))
    backend = await connection.fetchval("SELECT pg_backend_pid()")
    times: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    statement: dict[str, list[float]] = {"on": [], "off": []}
    commit: dict[str, list[float]] = {"on": [], "off": []}
    open_after: list[float] = []  # status=open right after a change (the copy patched)
    stale = 0
    try:
        ticket_ids = [
            row["id"]
            for row in await connection.fetch(
                """SELECT id FROM "Ticket" WHERE status = 'OPEN' AND "assignedToId" IS NULL ORDER BY id LIMIT $1""",
                count,
            )
        ]
        helper = await connection.fetchval('SELECT id FROM "User" WHERE helper ORDER BY id LIMIT 1')
        async with httpx.AsyncClient(timeout=60) as client:
            for number, ticket_id in enumerate(ticket_ids):
                triggers = "on" if (number // CHANGE_ROUND) % 2 == 0 else "off"
                # Switching the triggers invalidates cached plans: the first ticket of a round warms up.
                warming = number % CHANGE_ROUND == 0
                if warming:
                    for trigger in JSON_TRIGGERS:
                        await connection.execute(
                            f'ALTER TABLE "Ticket" {"ENABLE" if triggers == "on" else "DISABLE"} TRIGGER "{trigger}"'
                        )
                for status, assigned in (("IN_PROGRESS", helper), ("OPEN", None)):
                    ran_before = run_ns(backend)
                    started = time.perf_counter()
                    async with connection.transaction():
                        await connection.execute(
                            """UPDATE "Ticket" SET status = $2::"TicketStatus", "assignedToId" = $3,
                                   "assignedAt" = CASE WHEN $3::int IS NULL THEN NULL ELSE now() END
                               WHERE id = $1""",
                            ticket_id,
                            status,
                            assigned,
                        )
                        updated = time.perf_counter()
                    committed = time.perf_counter()
                    ran_after = run_ns(backend)
                    if not warming:
                        times[triggers].append(committed - started)
                        statement[triggers].append(updated - started)
                        commit[triggers].append(committed - updated)
                        if ran_before is not None and ran_after is not None:
                            cpu[triggers].append((ran_after - ran_before) / 1e9)
                    # The same reads after every change, triggers on or off, so both arms time changes
                    # between the same work; only with the triggers on must they show the change.
                    seen = (await client.get(server.url(f"/api/ticket?id={ticket_id}"))).json()
                    # The open tickets (the service's copy, brought up to date): this one in or out.
                    started = time.perf_counter()
                    listed = (await client.get(server.url(OPEN_PATH))).content
                    if triggers == "on":
                        if not warming:
                            open_after.append(time.perf_counter() - started)
                        stale += seen.get("status", "").lower() != status.lower()  # either API_STATUS_CASE
                        # A ticket object starts {"id":N,"title" (a user object {"id":N,"slack_id").
                        listed_here = f'{{"id":{ticket_id},"title":'.encode() in listed
                        stale += listed_here != (status == "OPEN")
    finally:
        for trigger in JSON_TRIGGERS:
            await connection.execute(f'ALTER TABLE "Ticket" ENABLE TRIGGER "{trigger}"')
        # Tickets changed with the triggers off have stale JSON until rendered again.
        await connection.execute('SELECT "ticket_json_refresh"($1::integer[])', ticket_ids)
        await connection.close()

    def mean_ms(values: list[float]) -> float | None:
        return statistics.fmean(values) * 1000 if values else None

    return {
        "changes": {key: len(values) for key, values in times.items()},
        "on_p50_ms": percentile(times["on"], 0.5),
        "on_p95_ms": percentile(times["on"], 0.95),
        "off_p50_ms": percentile(times["off"], 0.5),
        "off_p95_ms": percentile(times["off"], 0.95),
        "added_p95_ms": percentile(times["on"], 0.95) - percentile(times["off"], 0.95),
        "statement_p50_ms": {key: percentile(values, 0.5) for key, values in statement.items()},
        "statement_p95_ms": {key: percentile(values, 0.95) for key, values in statement.items()},
        "commit_p50_ms": {key: percentile(values, 0.5) for key, values in commit.items()},
        "commit_p95_ms": {key: percentile(values, 0.95) for key, values in commit.items()},
        "database_cpu_mean_ms": {key: mean_ms(values) for key, values in cpu.items()},
        "database_cpu_p50_ms": {
            key: percentile(values, 0.5) if values else None for key, values in cpu.items()
        },
        "database_cpu_p95_ms": {
            key: percentile(values, 0.95) if values else None for key, values in cpu.items()
        },
        "stale_reads": stale,
        "open_after_change_p50_ms": percentile(open_after, 0.5),
        "open_after_change_p95_ms": percentile(open_after, 0.95),
        "load_after": os.getloadavg()[0],
        "requests": 0,
    }


@contextlib.contextmanager
def body_stream(url: str, timeout: float):
    """(chunks of the response body, a dict filled with status and seconds at the end).

    curl decodes the chunked body in C, so the client does not slow the server
    down; without curl, http.client reads it.
    """
    outcome: dict = {}
    if shutil.which("curl"):
        command = [
            "curl",
            "-sS",
            "--max-time",
            str(timeout),
            "-w",
            "%{stderr}%{http_code} %{time_total}",
            url,
        ]
        curl = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert curl.stdout is not None and curl.stderr is not None

        def chunks():
            while chunk := curl.stdout.read(1 << 20):
                yield chunk

        try:
            yield chunks(), outcome
        finally:
            curl.wait()
            report = curl.stderr.read().decode().split()
            if len(report) == 2:
                outcome.update(status=int(report[0]), seconds=float(report[1]))
        return
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started = time.perf_counter()
    connection.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
    response = connection.getresponse()

    def chunks():
        while chunk := response.read(1 << 20):
            yield chunk

    try:
        yield chunks(), outcome
    finally:
        outcome.update(status=response.status, seconds=time.perf_counter() - started)
        connection.close()


def export(server: Server, expected: int, timeout: float, *, reference: dict | None = None) -> dict:
    """Stream the full export; watch the server's memory.

    Without ``reference`` the client counts the tickets as they arrive (without parsing). That
    costs the client ~0.5 s of CPU per million tickets on the two cores the server uses, so the
    timed runs give a ``reference`` (a counted run): curl discards the body, and the run is
    complete when its status and byte count equal the counted run's.
    """
    rss_before_kb = proc_status_kb(server.pid, "VmRSS")
    hwm_reset = reset_peak_rss(server.pid)
    tickets = size = 0
    tail = b""
    first = last = b""
    with PeakRssSampler(server.pid) as sampler:
        started = time.perf_counter()
        if reference is None:
            with body_stream(server.url(EXPORT_PATH), timeout) as (chunks, outcome):
                for chunk in chunks:
                    if not first:
                        first = chunk[:1]
                    tickets += (tail + chunk).count(TICKET_MARKER)
                    tail = chunk[-(len(TICKET_MARKER) - 1) :]
                    last = chunk.rstrip()[-1:] or last
                    size += len(chunk)
        else:
            outcome = discarded_body(server.url(EXPORT_PATH), timeout)
            size = outcome.get("bytes", 0)
            same = outcome.get("status") == reference["status"] == 200 and size == reference["bytes"]
            tickets = reference["tickets"] if same and reference["complete"] else 0
            first, last = (b"[", b"]") if same else (b"", b"")
        wall = time.perf_counter() - started
    status, seconds = outcome.get("status", 0), outcome.get("seconds", wall)
    peak_kb = max(sampler.peak_kb, proc_status_kb(server.pid, "VmHWM") if hwm_reset else 0)
    return {
        "status": status,
        "counted": reference is None,
        "tickets": tickets,
        "expected_tickets": expected,
        "complete": tickets == expected and first == b"[" and last == b"]",
        "seconds": seconds,
        "bytes": size,
        "tickets_per_s": tickets / seconds if seconds else 0.0,
        "rss_before_mb": rss_before_kb / 1024,
        "peak_rss_mb": peak_kb / 1024,
        "rss_growth_mb": max(0, peak_kb - rss_before_kb) / 1024,
        "peak_from": "VmHWM (reset before) and sampling" if hwm_reset else "sampling every 5 ms",
    }


def discarded_body(url: str, timeout: float) -> dict:
    """GET ``url`` with curl writing the body to /dev/null: status, bytes and curl's own time."""
    if shutil.which("curl"):
        report = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "--max-time", str(timeout), "-w",
             "%{http_code} %{size_download} %{time_total}", url],
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        if len(report) == 3:
            return {"status": int(report[0]), "bytes": int(report[1]), "seconds": float(report[2])}
        return {}
    outcome: dict = {"bytes": 0}
    with body_stream(url, timeout) as (chunks, result):
        for chunk in chunks:
            outcome["bytes"] += len(chunk)
    return {**result, **outcome}


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(number) * _WRK_UNITS[unit]


def parse_wrk(output: str) -> dict:
    def find(pattern: str, default: str = "0") -> str:
        match = re.search(pattern, output)
        return match.group(1) if match else default

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests_per_s": float(find(r"Requests/sec:\s+([\d.]+)")),
        "requests": int(find(r"(\d+) requests in")),
        "non_2xx": int(find(r"Non-2xx or 3xx responses: (\d+)")),
        "socket_errors": dict(
            zip(["connect", "read", "write", "timeout"], map(int, errors.groups()), strict=True)
        )
        if errors
        else {},
        "p50_ms": _wrk_ms(find(r"\s50%\s+([\d.]+\w+)", "0ms")),
        "p99_ms": _wrk_ms(find(r"\s99%\s+([\d.]+\w+)", "0ms")),
    }


def wrk_load(url: str, connections: int, duration: float, timeout: float) -> dict:
    command = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{duration:g}s"]
    command += ["--timeout", f"{timeout:g}s", "--latency", url]
    output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    return {**parse_wrk(output), "raw": output}


async def python_load(url: str, connections: int, duration: float, request_timeout: float) -> dict:
    """The fallback load generator: ``connections`` aiohttp workers, keep-alive, for ``duration`` s."""
    import aiohttp

    latencies: list[float] = []
    statuses: Counter = Counter()
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=request_timeout)
    ) as session:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        statuses[response.status] += 1
                    latencies.append(time.perf_counter() - started)
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_s": len(latencies) / elapsed,
        "requests": len(latencies),
        "non_2xx": sum(count for status, count in statuses.items() if not 200 <= status < 400),
        "socket_errors": {"errors": errors},
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else 0.0,
    }


def throughput(url: str, tool: str, connections: int, duration: float, timeout: float) -> dict:
    if tool == "wrk":
        return wrk_load(url, connections, duration, timeout)
    return asyncio.run(python_load(url, connections, duration, timeout))


# ---------------------------------------------------------------- the run


@dataclass
class Plan:
    tool: str
    connections: int
    duration: float
    stats_requests: int
    open_requests: int
    write_requests: int
    exports: int
    budget: float
    baseline_duration: float
    results: dict = field(default_factory=dict)


def phase(
    name: str, server: Server, database_url: str, action: Callable[[], dict], *, extra_requests: int = 1
) -> dict:
    """Run one measurement; adds the load before it and the CPU each request took (server, PostgreSQL)."""
    load = os.getloadavg()[0]
    log(f"  {server.name}: {name} … (load {load:.2f})")
    started = time.perf_counter()
    with CpuMeter(server.pid, database_url) as cpu:
        result = action()
    result["load_before"] = load
    result["phase_seconds"] = time.perf_counter() - started
    # Warm-up requests are served inside the phase too.
    requests = result.get("requests", 0) + extra_requests
    if cpu.server_seconds is not None and requests:
        result["server_cpu_ms_per_request"] = cpu.server_seconds * 1000 / requests
        result["postgres_cpu_ms_per_request"] = cpu.postgres_seconds * 1000 / requests
    return result


def measure(
    server: Server,
    plan: Plan,
    facts: dict,
    database_url: str,
    *,
    is_baseline: bool,
    exports: int | None = None,
) -> dict:
    out: dict = {}
    # One export counted by the client, then the timed ones with the body discarded (see export()).
    counted = phase(
        "full export, counted", server, database_url, lambda: export(server, facts["tickets"], timeout=1800)
    )
    out["export_counted"] = counted
    out["export"] = []
    for _ in range(1 if is_baseline else exports or plan.exports):
        out["export"].append(
            phase(
                "full export",
                server,
                database_url,
                lambda: export(server, facts["tickets"], timeout=1800, reference=counted),
            )
        )
    out["open"] = phase(
        "tickets?status=open",
        server,
        database_url,
        lambda: sequential(server.url(OPEN_PATH), plan.open_requests, plan.budget, timeout=600),
    )
    out["in_progress"] = phase(
        "tickets?status=in_progress",
        server,
        database_url,
        lambda: sequential(server.url(IN_PROGRESS_PATH), plan.open_requests, plan.budget, timeout=600),
    )
    # The service's resident memory once both active copies have answered (issue 23, "Memory").
    out["rss_after_active_mb"] = proc_status_kb(server.pid, "VmRSS") / 1024
    out["stats"] = phase(
        "stats_v2 sequential",
        server,
        database_url,
        lambda: sequential(server.url(STATS_PATH), plan.stats_requests, plan.budget, timeout=600),
    )
    if not is_baseline:
        out["stats_after_write"] = phase(
            "stats_v2 after a ticket change",
            server,
            database_url,
            lambda: asyncio.run(
                stats_after_writes(server, database_url, plan.write_requests, request_timeout=600)
            ),
        )
    duration = plan.baseline_duration if is_baseline else plan.duration
    out["throughput"] = phase(
        f"stats_v2 throughput ({plan.connections} clients, {duration:g} s, {plan.tool})",
        server,
        database_url,
        lambda: throughput(
            server.url(STATS_PATH),
            plan.tool,
            plan.connections,
            duration,
            timeout=duration + 60 if is_baseline else 10,
        ),
        extra_requests=0,
    )
    return out


async def bring_up_to_date(database_url: str) -> None:
    """A reused database gets the migrations added since it was generated (they must handle existing rows),
    and the stored-JSON trigger functions of this tree (code, which may have changed under the same revision)."""
    # The search rows too: a copy upgraded with `db upgrade --no-reindex`, or generated before the
    # generator filled them, would have the service fill them in the background while it is measured.
    before, after = await generate.bring_reused_up_to_date(database_url)
    stored_json = importlib.import_module("nephthys.database.migrations.versions.0011_ticket_json")
    # 0016 replaces 0011's render functions (0013's octet offsets, the hidden title's cut) and its
    # Ticket update trigger, and 0020 replaces 0016's (the wait and the minutes): applied after them.
    title_source = importlib.import_module("nephthys.database.migrations.versions.0016_title_source")
    waiting = importlib.import_module("nephthys.database.migrations.versions.0020_ticket_json_waiting")
    # 0028 replaces 0020's (the sla member last) and renders a ticket again when its clocks change.
    sla = importlib.import_module("nephthys.database.migrations.versions.0028_ticket_json_sla")
    # 0038 replaces 0028's render functions (the single ticket's planned once per connection).
    generic_plan = importlib.import_module(
        "nephthys.database.migrations.versions.0038_ticket_json_generic_plan"
    )
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        async with connection.transaction():
            for statement in (
                stored_json.drop_functions_and_triggers()
                + stored_json.create_functions_and_triggers()
                + title_source.render_functions_and_trigger()
                + waiting.render_functions_and_trigger()
                + sla.render_functions_and_trigger()
                + generic_plan.render_functions()
            ):
                await connection.execute(statement)
    finally:
        await connection.close()
    if before != after:
        log(f"  migrated the reused database from {before} to {after}; VACUUM ANALYZE …")
        connection = await asyncpg.connect(generate._dsn(database_url))
        try:
            await connection.execute("VACUUM ANALYZE")
        finally:
            await connection.close()


async def keep_export_blocks(database_url: str) -> None:
    """What the service's upkeep job does within a minute of starting: the export's blocks, built."""
    from nephthys.database.engine import create_engine, session_factory
    from nephthys.tasks.ticket_json import keep_blocks

    engine = create_engine(database_url)
    try:
        started = time.perf_counter()
        kept = await keep_blocks(session_factory(engine))
        log(
            f"  export blocks: {kept.dropped} dropped, {kept.built} built in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await engine.dispose()


async def database_facts(database_url: str) -> dict:
    """What the answers should be, from the database, and a read that pulls the tables into the page cache."""
    connection = await asyncpg.connect(generate._dsn(database_url))
    try:
        facts = dict(
            await connection.fetchrow(
                """SELECT count(*) AS tickets,
                          count(*) FILTER (WHERE status = 'OPEN') AS open,
                          count(*) FILTER (WHERE "createdAt" >= '2000-01-01') AS exported,
                          sum(length(title) + length(description)) AS text_bytes
                   FROM "Ticket" """
            )
        )
        facts["tags_on_tickets"] = await connection.fetchval("SELECT count(*) FROM tags_on_tickets")
        facts["users"] = await connection.fetchval('SELECT count(*) FROM "User"')
        facts["helpers"] = await connection.fetchval('SELECT count(*) FROM "User" WHERE helper')
        facts["revision"] = await connection.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()
    facts["tickets"] = facts.pop("exported")
    return facts


def creation_key(ticket: dict) -> tuple[datetime, int]:
    return datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00")), ticket["id"]


def check_answers(servers: dict[str, Server], facts: dict) -> dict:
    """Both services answer the same all-time statistics, and status=open returns every open ticket."""
    checks: dict = {}
    stats = {}
    for name, server in servers.items():
        response = httpx.get(server.url(STATS_PATH), timeout=600)
        stats[name] = response.json() if response.status_code == 200 else {"status": response.status_code}
        opened = httpx.get(server.url(OPEN_PATH), timeout=600)
        body = opened.json() if opened.status_code == 200 else []
        checks[f"{name}_open_tickets"] = {
            "status": opened.status_code,
            "returned": len(body),
            "expected": facts["open"],
            "all_open": all(ticket.get("status", "").lower() == "open" for ticket in body),
            "ordered": all(creation_key(a) <= creation_key(b) for a, b in itertools.pairwise(body)),
        }
    if "nephthys" in stats and "baseline" in stats:
        ours, theirs = stats["nephthys"].get("all_time", {}), stats["baseline"].get("all_time", {})
        differences = {}
        for key in sorted(set(ours) | set(theirs)):
            a, b = ours.get(key), theirs.get(key)
            if key == "oldest_unanswered_ticket" and a and b:
                a, b = a.get("id"), b.get("id")
            if isinstance(a, float) and isinstance(b, float):
                same = math.isclose(a, b, rel_tol=1e-9)
            else:
                same = a == b
            if not same:
                differences[key] = {"nephthys": a, "baseline": b}
        checks["all_time_differences"] = differences
    return checks


def run(args: argparse.Namespace) -> dict:
    database_url = generate.database_url(args.server_url, args.database)
    if args.reuse:
        log(f"reusing the database {args.database}")
        asyncio.run(bring_up_to_date(database_url))
    else:
        log(f"generating {args.tickets:,} tickets into {args.database} …")
        asyncio.run(
            generate.generate(
                generate.Shape(
                    tickets=args.tickets,
                    users=args.users,
                    helpers=args.helpers,
                    tags=args.tags,
                    live=args.data == "live",
                ),
                server_url=args.server_url,
                database=args.database,
                log=log,
            )
        )
    asyncio.run(keep_export_blocks(database_url))
    facts = asyncio.run(database_facts(database_url))
    log(
        f"database: {facts['tickets']:,} tickets ({facts['open']:,} open), {facts['users']:,} users, "
        f"schema revision {facts['revision']}"
    )
    if args.reuse and facts["tickets"] != args.tickets:
        log(f"note: --tickets {args.tickets:,} asked for, the reused database has {facts['tickets']:,}")

    tool = args.load_generator
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    plan = Plan(
        tool=tool,
        connections=args.connections,
        duration=args.duration,
        stats_requests=args.stats_requests,
        open_requests=args.open_requests,
        write_requests=args.write_requests,
        exports=args.exports,
        budget=args.baseline_budget,
        baseline_duration=args.baseline_duration,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / f"logs-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)

    servers: dict[str, Server] = {}
    results: dict = {}
    try:
        servers["nephthys"] = start_nephthys(
            database_url,
            args.nephthys_port or free_port(),
            log_dir,
            status_case=args.status_case,
            extra_env=dict(setting.split("=", 1) for setting in args.service_env),
        )
        if not args.skip_today:
            servers["today"] = start_today(database_url, free_port(), log_dir, unpack_ref(args.today_ref))
        if not args.skip_baseline:
            servers["baseline"] = start_baseline(database_url, args.baseline_port or free_port(), log_dir)
        for server in servers.values():
            wait_until_ready(server)
        log("checking both services' answers …")
        checks = check_answers(servers, facts)
        # Ours first, then the baseline: each measured while the other is idle.
        log("measuring nephthys …")
        results["nephthys"] = measure(servers["nephthys"], plan, facts, database_url, is_baseline=False)
        results["change"] = phase(
            "ticket changes, stored-JSON triggers on and off",
            servers["nephthys"],
            database_url,
            lambda: asyncio.run(change_cost(servers["nephthys"], database_url, args.change_requests)),
        )
        stop_server(servers["nephthys"])
        if "today" in servers:
            log(f"measuring today's code ({args.today_ref}) …")
            results["today"] = measure(
                servers["today"], plan, facts, database_url, is_baseline=False, exports=args.today_exports
            )
            stop_server(servers["today"])
        if "baseline" in servers:
            log("measuring the baseline (fewer repetitions: each request reads every ticket) …")
            results["baseline"] = measure(servers["baseline"], plan, facts, database_url, is_baseline=True)
    finally:
        for server in servers.values():
            stop_server(server)
    return {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started_at": stamp,
        "git_commit": git("rev-parse", "--short", "HEAD"),
        # The service runs from the working tree: say when it differs from the commit.
        "uncommitted_changes": git("status", "--porcelain", "--untracked-files=no", "nephthys").splitlines(),
        "machine": {"cpus": os.cpu_count(), "load_at_end": os.getloadavg()},
        "database": {"name": args.database, "data": "reused" if args.reuse else args.data, **facts},
        "today_ref": None
        if args.skip_today
        else f"{args.today_ref} ({git('rev-parse', '--short', args.today_ref)})",
        "load_generator": describe_tool(tool),
        "plan": {k: v for k, v in vars(plan).items() if k != "results"},
        "checks": checks,
        "results": results,
        "logs": str(log_dir.relative_to(ROOT)),
    }


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


def describe_tool(tool: str) -> str:
    if tool == "wrk":
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
        return f"wrk ({version.strip() or 'installed'})"
    reason = "wrk not found" if shutil.which("wrk") is None else "asked for"
    return f"python aiohttp load generator ({reason}; it competes with the server for the 2 cores)"


# ---------------------------------------------------------------- report


def headline(side: dict) -> dict:
    exports = side["export"]
    return {
        "stats_median_ms": side["stats"]["median_ms"],
        "stats_rps": side["throughput"]["requests_per_s"],
        "open_median_ms": side["open"]["median_ms"],
        "in_progress_median_ms": side.get("in_progress", {}).get("median_ms"),
        "export_tickets_per_s": statistics.median(e["tickets_per_s"] for e in exports),
        "export_counted_tickets_per_s": side["export_counted"]["tickets_per_s"],
        "export_rss_growth_mb": max(e["rss_growth_mb"] for e in [*exports, side["export_counted"]]),
        "stats_after_write_ms": side.get("stats_after_write", {}).get("median_ms"),
        "rss_after_active_mb": side.get("rss_after_active_mb"),
    }


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 1000 else f"{value / 1000:,.2f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.2f} {unit}" if value < 10 else f"{value:,.0f} {unit}"


def ratio(ours: float | None, theirs: float | None, higher_is_better: bool) -> str:
    if not ours or not theirs:
        return "—"
    times = ours / theirs if higher_is_better else theirs / ours
    return f"{times:,.1f}× {'better' if times >= 1 else 'worse'}"


ROWS = [
    ("stats_median_ms", "/api/stats_v2 median latency", "ms", False),
    ("stats_rps", "/api/stats_v2 throughput, 32 clients", "req/s", True),
    ("open_median_ms", "/api/tickets?status=open median", "ms", False),
    ("in_progress_median_ms", "/api/tickets?status=in_progress median", "ms", False),
    ("export_tickets_per_s", "full export rate", "tickets/s", True),
    ("export_counted_tickets_per_s", "full export rate, client counting tickets", "tickets/s", True),
    ("export_rss_growth_mb", "full export: server peak RSS growth", "MB", False),
    ("stats_after_write_ms", "/api/stats_v2 median, ticket changed first", "ms", False),
    ("rss_after_active_mb", "server RSS after status=open and in_progress", "MB", False),
]


def report(outcome: dict) -> str:
    ours = headline(outcome["results"]["nephthys"])
    base_side = outcome["results"].get("baseline")
    theirs = headline(base_side) if base_side else {}
    today_side = outcome["results"].get("today")
    today = headline(today_side) if today_side else {}
    if base_side:
        # The baseline has no cache: every request is a full recount, as after a change.
        theirs["stats_after_write_ms"] = theirs["stats_median_ms"]
    lines = [
        f"{'metric':<44} | {'target':<14} | {'nephthys':<20} | {'today':<12} | {'baseline':<12} | "
        "vs today | vs baseline",
        "-" * 140,
    ]
    for key, label, unit, higher in ROWS:
        target, meets = TARGETS.get(key, ("(info)", None))
        value = ours[key]
        mark = "" if meets is None or value is None else (" ✓" if meets(value) else " ✗")
        lines.append(
            f"{label:<44} | {target:<14} | {fmt(value, unit) + mark:<20} | {fmt(today.get(key), unit):<12} | "
            f"{fmt(theirs.get(key), unit):<12} | {ratio(value, today.get(key), higher)} | "
            f"{ratio(value, theirs.get(key), higher)}"
        )
    change = outcome["results"].get("change")
    if change:
        mark = " ✓" if change["added_p95_ms"] <= 1 else " ✗"
        lines.append(
            f"{'ticket change, p95 (triggers on vs off)':<44} | {'≤ +1 ms':<14} | "
            f"{fmt(change['on_p95_ms'], 'ms') + mark:<20} | {fmt(change['off_p95_ms'], 'ms'):<12} | "
            f"{'—':<12} | {change['added_p95_ms']:+.2f} ms | —"
        )
        lines.append(
            f"ticket changes: {change['changes']['on']} with the triggers on, {change['changes']['off']} off; "
            f"p50 {change['on_p50_ms']:.2f} vs {change['off_p50_ms']:.2f} ms; "
            f"reads that missed a committed change: {change['stale_reads']}; load before {change['load_before']:.2f}"
        )
        lines.append(
            f"status=open right after each change: p50 {change['open_after_change_p50_ms']:.1f} ms, "
            f"p95 {change['open_after_change_p95_ms']:.1f} ms"
        )
        if "statement_p95_ms" in change:
            lines.append(
                "… of which the UPDATE with its triggers, p50 / p95: "
                f"on {change['statement_p50_ms']['on']:.2f} / {change['statement_p95_ms']['on']:.2f} ms, "
                f"off {change['statement_p50_ms']['off']:.2f} / {change['statement_p95_ms']['off']:.2f} ms; "
                f"the COMMIT: on {change['commit_p50_ms']['on']:.2f} / {change['commit_p95_ms']['on']:.2f} ms, "
                f"off {change['commit_p50_ms']['off']:.2f} / {change['commit_p95_ms']['off']:.2f} ms"
            )
        cpu = change.get("database_cpu_mean_ms", {})
        if cpu.get("on") is not None and cpu.get("off") is not None:
            lines.append(
                f"database CPU per change (its backend), mean / p50 / p95: on {cpu['on']:.3f} / "
                f"{change['database_cpu_p50_ms']['on']:.3f} / {change['database_cpu_p95_ms']['on']:.3f} ms, "
                f"off {cpu['off']:.3f} / {change['database_cpu_p50_ms']['off']:.3f} / "
                f"{change['database_cpu_p95_ms']['off']:.3f} ms (mean added {cpu['on'] - cpu['off']:+.3f} ms); "
                f"load after {change['load_after']:.2f}"
            )
    loads = {
        name: side
        for name, side in (
            ("nephthys", outcome["results"]["nephthys"]),
            ("today", today_side),
            ("baseline", base_side),
        )
        if side
    }
    for name, side in loads.items():
        phases = [("export", side["export"][0]), ("open", side["open"])]
        if "in_progress" in side:
            phases.append(("in_progress", side["in_progress"]))
        phases += [("stats_v2", side["stats"]), ("throughput", side["throughput"])]
        lines.append(
            f"load average before each phase, {name}: "
            + ", ".join(f"{label} {result['load_before']:.2f}" for label, result in phases)
        )
    lines.append("")
    n, b = outcome["results"]["nephthys"], base_side or {}

    def counts(part: str) -> str:
        ours_n = n[part]["requests"]
        theirs_n = b.get(part, {}).get("requests", "—")
        reduced = " (baseline reduced to its time budget)" if b.get(part, {}).get("reduced") else ""
        return f"{ours_n} vs {theirs_n}{reduced}"

    lines.append(
        f"requests measured (nephthys vs baseline): stats_v2 {counts('stats')}; open {counts('open')}"
    )
    for name, side in (("nephthys", n), ("baseline", b)):
        for part in ("stats", "open", "stats_after_write"):
            statuses = side.get(part, {}).get("statuses", {})
            if statuses and set(statuses) != {"200"}:
                lines.append(
                    f"WARNING: {name} {part} answered statuses {statuses}: its figures are not valid"
                )
        for run_ in [*([side["export_counted"]] if side else []), *side.get("export", [])]:
            if run_["status"] != 200 or not run_["complete"]:
                lines.append(
                    f"WARNING: {name} export answered {run_['status']} with {run_['tickets']:,} of "
                    f"{run_['expected_tickets']:,} tickets: its figures are not valid"
                )
        if side and side["throughput"]["non_2xx"]:
            lines.append(
                f"WARNING: {name} throughput run had {side['throughput']['non_2xx']} non-2xx answers"
            )
    lines.append(
        f"exports: 1 counted + {len(n['export'])} timed vs 1 + {len(b.get('export', []))}; "
        f"{n['export'][0]['tickets']:,} tickets, {n['export'][0]['bytes'] / 1e6:,.0f} MB each "
        f"(complete: {all(e['complete'] for e in n['export'])}"
        + (f" / {all(e['complete'] for e in b['export'])}" if b else "")
        + f"); peak RSS from {n['export'][0]['peak_from']}"
    )
    t = n["throughput"]
    lines.append(
        f"load generator: {outcome['load_generator']}; nephthys {t['requests']:,} requests, "
        f"p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms, non-2xx {t['non_2xx']}, errors {t['socket_errors']}"
    )
    if b:
        bt = b["throughput"]
        lines.append(
            f"baseline throughput: {bt['requests']} requests in {outcome['plan']['baseline_duration']:g} s "
            f"(non-2xx {bt['non_2xx']}, errors {bt['socket_errors']})"
        )
    for name, side in (("nephthys", n), ("today", today_side or {}), ("baseline", b)):
        if side:
            lines.append(f"CPU per request, {name} (server + PostgreSQL): {cpu_summary(side)}")
    checks = outcome["checks"]
    for name in ("nephthys", "today", "baseline"):
        check = checks.get(f"{name}_open_tickets")
        if check:
            lines.append(
                f"{name} status=open: {check['returned']:,} returned of {check['expected']:,} open, "
                f"all open: {check['all_open']}, ordered: {check['ordered']}"
            )
    if "all_time_differences" in checks:
        differences = checks["all_time_differences"]
        lines.append(
            "all_time statistics: nephthys and baseline agree"
            if not differences
            else f"all_time statistics DIFFER: {json.dumps(differences, default=str)[:600]}"
        )
    lines.append(
        f"machine: {outcome['machine']['cpus']} cpus, load at end {outcome['machine']['load_at_end'][0]:.2f}; "
        f"commit {outcome['git_commit']}"
        + (
            f" plus uncommitted changes to {len(outcome['uncommitted_changes'])} files in nephthys/"
            if outcome["uncommitted_changes"]
            else ""
        )
    )
    return "\n".join(lines)


def cpu_summary(side: dict) -> str:
    parts = []
    labelled = [("export", side["export"][0]), ("open", side["open"])]
    if "in_progress" in side:
        labelled.append(("in_progress", side["in_progress"]))
    labelled.append(("stats_v2", side["stats"]))
    if "stats_after_write" in side:
        labelled.append(("stats_v2 after a change", side["stats_after_write"]))
    labelled.append(("stats_v2 under load", side["throughput"]))
    for label, result in labelled:
        if "server_cpu_ms_per_request" in result:
            parts.append(
                f"{label} {result['server_cpu_ms_per_request']:,.1f} + {result['postgres_cpu_ms_per_request']:,.1f} ms"
            )
    return "; ".join(parts) or "not measured"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Benchmark the JSON API against the load-everything baseline."
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--helpers", type=int, default=200)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the existing database, do not regenerate"
    )
    parser.add_argument("--server-url", default=generate.DEFAULT_SERVER_URL)
    parser.add_argument("--database", default=generate.DEFAULT_DATABASE)
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients for throughput")
    parser.add_argument("--duration", type=float, default=10, help="seconds of load for nephthys")
    parser.add_argument(
        "--baseline-duration", type=float, default=60, help="seconds of load for the baseline"
    )
    parser.add_argument("--stats-requests", type=int, default=200)
    parser.add_argument("--open-requests", type=int, default=30)
    parser.add_argument("--write-requests", type=int, default=50)
    parser.add_argument("--exports", type=int, default=3, help="full exports of nephthys (the baseline: 1)")
    parser.add_argument(
        "--baseline-budget", type=float, default=60, help="seconds per sequential baseline measurement"
    )
    parser.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--skip-today", action="store_true", help="do not measure today's code beside this tree"
    )
    parser.add_argument("--today-ref", default=TODAY_REF, help="git ref of today's code (before issue 14)")
    parser.add_argument("--today-exports", type=int, default=1, help="full exports of today's code")
    parser.add_argument("--change-requests", type=int, default=200, help="tickets changed to time a change")
    parser.add_argument(
        "--data",
        choices=["live", "compact"],
        default="live",
        help="when generating: a live-shaped table (default) or today's compact data",
    )
    parser.add_argument(
        "--status-case",
        choices=["lower", "upper"],
        default="lower",
        help="API_STATUS_CASE of the nephthys service (upper: statuses rewritten as they are served)",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the nephthys service (repeatable), e.g. bench/sla.py's SLA targets and calendar "
        "(see bench/README.md, SLA section) so a database with its clocks is served as filled",
    )
    parser.add_argument("--nephthys-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--baseline-port", type=int, default=0, help="0: any free port")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    outcome = run(args)
    text = report(outcome)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"api-{outcome['started_at']}-{outcome['database']['tickets']}.json"
    outcome["report"] = text.splitlines()
    path.write_text(json.dumps(outcome, indent=2, default=str))
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
