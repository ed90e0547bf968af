"""The `nephthys` command as an operator runs it: a real process, real HTTP, real PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from nephthys.database import embedded, migrate
from nephthys.utils.connections import GRACEFUL_SHUTDOWN_SECONDS
from tests.support import postgres
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[1]


def nephthys(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nephthys", *args],
        env={"PATH": os.environ["PATH"], **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_serving(*, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """``nephthys serve`` in the background, its output captured for ``stop``."""
    return subprocess.Popen(
        [sys.executable, "-m", "nephthys", "serve"],
        env={"PATH": os.environ["PATH"], **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_health(port: int, process: subprocess.Popen, timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nephthys exited early:\n{process.stderr.read()}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("nephthys did not answer /health in time")


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


def test_a_malformed_setting_stops_start_up_with_one_line(tmp_path):
    result = nephthys("serve", env={"PORT": "three thousand"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "nephthys: configuration error: PORT: expected a whole number, got 'three thousand'"
    )


def test_an_unreachable_database_gives_a_clear_message_not_a_traceback(tmp_path):
    port = free_port()  # nothing listens there
    result = nephthys(
        "db",
        "upgrade",
        env={"DATABASE_URL": f"postgresql://postgres:secret@127.0.0.1:{port}/x"},
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        f"nephthys: cannot reach the database at postgresql://postgres:***@127.0.0.1:{port}/x"
    )


async def test_db_upgrade_and_status_on_a_database(empty_database, tmp_path):
    env = {"DATABASE_URL": empty_database}
    status = nephthys("db", "status", env=env, cwd=tmp_path)
    assert status.returncode == 1 and "empty" in status.stdout
    upgrade = nephthys("db", "upgrade", env=env, cwd=tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "database at revision" in upgrade.stdout and "(was empty)" in upgrade.stdout
    assert "API_STATUS_CASE" not in upgrade.stdout  # an empty database is not adopted
    status = nephthys("db", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0 and "up to date" in status.stdout


async def test_serve_migrates_and_answers_health_on_a_database_url(empty_database, tmp_path):
    port = free_port()
    process = start_serving(env={"DATABASE_URL": empty_database, "PORT": str(port)}, cwd=tmp_path)
    try:
        response = wait_for_health(port, process)
        assert response.status_code == 200
        assert response.json() == {"healthy": True, "slack": False, "database": True}
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr
    assert "Slack is off" in stderr
    assert "database schema upgraded from nothing to" in stderr
    rows = await postgres.fetch(empty_database, "SELECT version_num FROM alembic_version")
    assert len(rows) == 1


@pytest.mark.skipif(
    os.geteuid() == 0 and importlib.util.find_spec("pgserver") is None,
    reason="initdb refuses to run as root; the embedded default needs pgserver there",
)
def test_serve_without_database_url_runs_an_embedded_postgresql_and_reuses_its_data(embedded_home):
    tmp_path = embedded_home
    pgdata = tmp_path / "pgdata"
    for attempt in ("first", "second"):
        port = free_port()
        process = start_serving(env={"PORT": str(port), "NEPHTHYS_PGDATA": str(pgdata)}, cwd=tmp_path)
        try:
            response = wait_for_health(port, process)
            assert response.json()["database"] is True, attempt
        finally:
            stderr = stop(process)
        assert process.returncode == 0, stderr
        assert "DATABASE_URL is not set; using embedded PostgreSQL (" in stderr
        assert f"in {pgdata}" in stderr
        assert "stopped the embedded PostgreSQL" in stderr
        if attempt == "first":
            assert "database schema upgraded from nothing to" in stderr
        else:
            assert "database schema is up to date" in stderr


# ---------------------------------------------------------------- stopping the embedded PostgreSQL

needs_embedded = pytest.mark.skipif(
    os.geteuid() == 0 and importlib.util.find_spec("pgserver") is None,
    reason="initdb refuses to run as root; the embedded default needs pgserver there",
)


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the PostgreSQL running on ``pgdata``, or None when none is."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def stop_leftover_postgresql(pgdata: Path) -> None:
    """Clean up after a failing test: stop the PostgreSQL it left (fast shutdown: SIGINT to it)."""
    pid = postmaster_pid(pgdata)
    if pid is not None:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while postmaster_pid(pgdata) is not None and time.monotonic() < deadline:
            time.sleep(0.1)


def serve_on_embedded(pgdata: Path, cwd: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = start_serving(env={"PORT": str(port), "NEPHTHYS_PGDATA": str(pgdata)}, cwd=cwd)
    assert wait_for_health(port, process).json()["database"] is True
    assert postmaster_pid(pgdata) is not None
    return process, port


def stop_with(process: subprocess.Popen, signum: int) -> str:
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


@needs_embedded
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_serve_stops_its_embedded_postgresql_on_each_stop_signal(embedded_home, signum):
    tmp_path = embedded_home
    pgdata = tmp_path / "pgdata"
    try:
        process, _ = serve_on_embedded(pgdata, tmp_path)
        stderr = stop_with(process, signum)
        assert process.returncode == 0, stderr
        assert "stopped the embedded PostgreSQL" in stderr
        assert "Traceback" not in stderr
        assert postmaster_pid(pgdata) is None, f"PostgreSQL still runs after {signum.name}:\n{stderr}"
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    finally:
        stop_leftover_postgresql(pgdata)


@needs_embedded
def test_serve_recovers_from_a_stale_handle_file_and_a_server_left_running(embedded_home):
    """A killed serve leaves its PostgreSQL running and its pid in pgserver's handle file; the next
    serve adopts that server and, when stopped, stops it (before, every later exit left it running)."""
    tmp_path = embedded_home
    pgdata = tmp_path / "pgdata"
    try:
        killed, _ = serve_on_embedded(pgdata, tmp_path)
        killed.kill()  # SIGKILL: no handler, no clean-up
        killed.communicate()
        left_running = postmaster_pid(pgdata)
        assert left_running is not None
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == [killed.pid]

        process, port = serve_on_embedded(pgdata, tmp_path)
        assert postmaster_pid(pgdata) == left_running  # adopted, not a second server
        stderr = stop_with(process, signal.SIGTERM)
        assert process.returncode == 0, stderr
        assert "forgot stale embedded PostgreSQL handles" in stderr
        assert "stopped the embedded PostgreSQL" in stderr
        assert postmaster_pid(pgdata) is None, stderr
    finally:
        stop_leftover_postgresql(pgdata)


@needs_embedded
async def test_demo_uses_a_throw_away_database_never_the_served_one(tmp_path, empty_database):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nephthys",
            "demo",
            "--no-walkthrough",
            "--port",
            str(port),
            "--slack-port",
            "0",
        ],
        # DATABASE_URL set, and the working folder where serve keeps ./.nephthys/pgdata: neither is used.
        env={"PATH": os.environ["PATH"], "DATABASE_URL": empty_database},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_health(port, process).json()["database"] is True
    finally:
        stderr = stop_with(process, signal.SIGTERM)
    assert process.returncode == 0, stderr
    [used] = [line for line in stderr.splitlines() if "throw-away embedded PostgreSQL" in line]
    pgdata = Path(used.split(" in ", 1)[1].split(", deleted on exit")[0])
    assert "DATABASE_URL is left alone" in used
    assert not (tmp_path / ".nephthys").exists()
    assert not pgdata.exists() and not pgdata.parent.exists(), "the throw-away folder outlived the demo"
    assert "stopped the embedded PostgreSQL" in stderr
    tables = await postgres.fetch(
        empty_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    assert tables == [], "the demo wrote into DATABASE_URL"


async def test_users_admin_grants_and_removes_admin_rights(empty_database, tmp_path):
    env = {"DATABASE_URL": empty_database}
    assert nephthys("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    granted = nephthys("users", "admin", "U0ADMIN001", env=env, cwd=tmp_path)
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.splitlines()[0] == f"using the database at {empty_database} (DATABASE_URL)"
    assert granted.stdout.strip().splitlines()[-1] == "U0ADMIN001 is now an admin"
    again = nephthys("users", "admin", "U0ADMIN001", env=env, cwd=tmp_path)
    assert again.stdout.strip().splitlines()[-1] == "U0ADMIN001 is already an admin"
    rows = await postgres.fetch(empty_database, 'SELECT admin FROM "User" WHERE "slackId" = $1', "U0ADMIN001")
    assert [row["admin"] for row in rows] == [True]
    removed = nephthys("users", "admin", "U0ADMIN001", "--remove", env=env, cwd=tmp_path)
    assert removed.stdout.strip().splitlines()[-1] == "U0ADMIN001 is now not an admin"
    rows = await postgres.fetch(empty_database, 'SELECT admin FROM "User" WHERE "slackId" = $1', "U0ADMIN001")
    assert [row["admin"] for row in rows] == [False]
    bad = nephthys("users", "admin", "not-a-user", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "SLACK_ID: expected a Slack user id" in bad.stderr


# ---------------------------------------------------------------- every command on serve's database


@needs_embedded
def test_every_database_command_uses_the_embedded_default_like_serve_and_says_so_first(embedded_home):
    """No DATABASE_URL: each command works on the embedded PostgreSQL serve would use (NEPHTHYS_PGDATA
    here, ./.nephthys/pgdata by default), started for it and stopped after; `--embedded` changes nothing."""
    tmp_path = embedded_home
    pgdata = tmp_path / "pgdata"
    env = {"NEPHTHYS_PGDATA": str(pgdata)}
    try:
        for args in (
            ["db", "upgrade"],
            ["db", "status"],
            ["api-keys", "create", "grafana"],
            ["api-keys", "list", "--embedded"],
            ["users", "admin", "U0ADMIN001"],
            ["tags", "create", "billing"],
            ["jobs", "list", "--embedded"],
        ):
            result = nephthys(*args, env=env, cwd=tmp_path)
            assert result.returncode == 0, (args, result.stderr)
            first = result.stdout.splitlines()[0]
            assert first.startswith("DATABASE_URL is not set; using embedded PostgreSQL ("), (args, first)
            assert first.endswith(f" in {pgdata.resolve()}"), (args, first)
            assert "stopped the embedded PostgreSQL" in result.stderr, args
            assert postmaster_pid(pgdata) is None, args
        assert "grafana" in nephthys("api-keys", "list", env=env, cwd=tmp_path).stdout
    finally:
        stop_leftover_postgresql(pgdata)


@needs_embedded
def test_a_command_shares_the_embedded_postgresql_of_a_running_serve_and_leaves_it_running(embedded_home):
    tmp_path = embedded_home
    pgdata = tmp_path / "pgdata"
    try:
        process, port = serve_on_embedded(pgdata, tmp_path)
        running = postmaster_pid(pgdata)
        created = nephthys(
            "api-keys", "create", "grafana", env={"NEPHTHYS_PGDATA": str(pgdata)}, cwd=tmp_path
        )
        assert created.returncode == 0, created.stderr
        assert created.stdout.splitlines()[0].startswith("DATABASE_URL is not set; using embedded PostgreSQL")
        assert "left the embedded PostgreSQL running for the other processes using it" in created.stderr
        assert postmaster_pid(pgdata) == running  # the same server, still up for serve
        key = created.stdout.strip().splitlines()[-1]
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/stats_v2", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert response.status_code == 200
        stderr = stop_with(process, signal.SIGTERM)
        assert process.returncode == 0, stderr
        assert "stopped the embedded PostgreSQL" in stderr
        assert postmaster_pid(pgdata) is None
    finally:
        stop_leftover_postgresql(pgdata)


def test_serve_with_slack_on_and_no_help_channel_stops_with_the_one_line_configuration_error(tmp_path):
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret", "PORT": str(free_port())}
    result = nephthys("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "nephthys: configuration error: SLACK_HELP_CHANNEL: expected a Slack channel id like C0123456789, "
        "got nothing"
    )
    assert not (tmp_path / ".nephthys").exists()  # refused before any database was started


async def test_removing_admin_rights_from_someone_unknown_creates_no_user(db_url, serve, tmp_path):
    env = {"DATABASE_URL": db_url}
    removed = nephthys("users", "admin", "UNKNOWN99", "--remove", env=env, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines()[-1] == "UNKNOWN99 is already not an admin"
    assert await postgres.fetch(db_url, 'SELECT * FROM "User"') == []
    async with serve() as client:
        assert (await client.get("/api/user", params={"id": "UNKNOWN99"})).status_code == 404


# ---------------------------------------------------------------- a bounded graceful stop


async def fill_with_tickets(url: str, count: int) -> None:
    """``count`` tickets of ~2 kB each, straight into the database (their API JSON by its triggers)."""
    await postgres.fetch(url, """INSERT INTO "User" ("slackId") VALUES ('U0ASKER001')""")
    await postgres.fetch(
        url,
        """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgAt",
               "lastMsgBy", "createdAt")
           SELECT 'Question ' || n, repeat('words of the question ', 100), 'OPEN'::"TicketStatus",
                  '1600000000.' || lpad(n::text, 6, '0'), 1, now(), 'AUTHOR'::"UserType",
                  TIMESTAMPTZ '2024-01-01 00:00:00+00' + n * INTERVAL '1 minute'
           FROM generate_series(1, $1) AS n""",
        count,
    )


def stalled_reader(port: int, path: str) -> socket.socket:
    """A client that asks for ``path``, reads the status line and then never reads again."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    client.connect(("127.0.0.1", port))
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert client.recv(12) == b"HTTP/1.1 200"
    return client


@needs_embedded
async def test_serve_stops_within_its_bound_despite_a_stalled_reader_and_stops_its_postgresql(embedded_home):
    """SIGTERM while a client holds an export it does not read: the server waits for requests in
    flight GRACEFUL_SHUTDOWN_SECONDS, then cancels them and stops (before, it waited for ever),
    and the embedded PostgreSQL is stopped as on any stop."""
    tmp_path = embedded_home
    pgdata = tmp_path / "pgdata"
    # 20,000 tickets, ~45 MB of export: more than every socket buffer between the server and us.
    prepared = embedded.start(pgdata)
    try:
        await migrate.upgrade(prepared.url)
        await fill_with_tickets(prepared.url, 20_000)
    finally:
        prepared.stop()
    client = None
    try:
        process, port = serve_on_embedded(pgdata, tmp_path)
        client = stalled_reader(port, "/api/tickets?since=2000-01-01")
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=GRACEFUL_SHUTDOWN_SECONDS + 50)  # generous
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            raise AssertionError(
                f"still running {GRACEFUL_SHUTDOWN_SECONDS + 50} s after SIGTERM:\n{stderr}"
            ) from None
        assert process.returncode == 0, stderr
        assert "timeout graceful shutdown exceeded" in stderr
        assert "stopped the embedded PostgreSQL" in stderr
        assert postmaster_pid(pgdata) is None, stderr
    finally:
        if client is not None:
            client.close()
        stop_leftover_postgresql(pgdata)
