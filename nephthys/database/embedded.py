"""A private PostgreSQL for when no DATABASE_URL is given.

Uses the ``pgserver`` wheel (PostgreSQL shipped inside a Python package) when it
is installed, otherwise the ``initdb``/``pg_ctl`` found on the machine. The data
folder is kept, so a second start reuses it.
"""

from __future__ import annotations

import atexit
import glob
import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedDatabaseError(RuntimeError):
    pass


@dataclass
class EmbeddedDatabase:
    url: str
    description: str
    # Stops the server; returns the ids of other live processes still using it (then it keeps running).
    _stop: Callable[[], list[int]]

    def stop(self) -> list[int]:
        """Stop the server, unless other processes use it too: their ids, or [] once it is stopped."""
        return self._stop()


# pgserver's record of the processes using the server in a data folder; it stops the server when
# the last of them exits.
HANDLE_FILE = ".handle_pids.json"


def _live_pids(pids: object, *, keep_own: bool = False) -> list[int]:
    import psutil  # installed with pgserver

    if not isinstance(pids, list):
        return []
    return [
        pid
        for pid in pids
        if isinstance(pid, int) and (pid != os.getpid() or keep_own) and psutil.pid_exists(pid)
    ]


def _forget_stale_handles(pgdata: Path) -> None:
    """Drop the handles of processes that are gone from pgserver's handle file.

    A process that ends without its exit handlers (SIGKILL, a crash, or SIGTERM before Nephthys
    handled it) stays listed, and from then on no exit stops the server: each one believes
    another process still uses it. Our own pid is dropped too: a process before us may have had
    it (pid 1 in every container).
    """
    from pgserver.postgres_server import PostgresServer  # type: ignore[import-untyped]

    path = pgdata / HANDLE_FILE
    # pgserver's own inter-process lock guards the file (it reads and writes it under that lock).
    with PostgresServer._lock:
        try:
            recorded = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except ValueError:
            recorded = None
        # This process's own handle is real when it already uses this server (get_server again).
        live = _live_pids(recorded, keep_own=pgdata in PostgresServer._instances)
        if live != recorded:
            path.write_text(json.dumps(live))
            log.info("forgot stale embedded PostgreSQL handles in %s (kept %s)", path, live or "none")


def _find_pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# pgserver gives `pg_ctl start` 10 s; a loaded machine (a CI run, a deploy beside other work) can take
# longer, and PostgreSQL is then usually up by the next look. Tries in all.
PG_CTL_START_TRIES = 3


def _get_server(pgdata: Path):
    """``pgserver.get_server``, tried again when its ``pg_ctl start`` ran out of time."""
    import pgserver  # type: ignore[import-untyped]
    from pgserver.postgres_server import PostgresServer  # type: ignore[import-untyped]

    for attempt in range(1, PG_CTL_START_TRIES + 1):
        try:
            return pgserver.get_server(pgdata, cleanup_mode="stop")
        except subprocess.TimeoutExpired:
            # The half-made handle stays registered: forget it, so the next try starts afresh.
            broken = PostgresServer._instances.pop(pgdata, None)
            if broken is not None:
                atexit.unregister(broken._cleanup)
            if attempt == PG_CTL_START_TRIES:
                raise
            log.warning("the embedded PostgreSQL did not start within pgserver's 10 s; looking again")
    raise AssertionError("unreachable")


def _start_with_pgserver(pgdata: Path) -> EmbeddedDatabase:

    pgdata.mkdir(exist_ok=True)
    _forget_stale_handles(pgdata)
    server = _get_server(pgdata)
    # pgserver gives a libpq URL on a unix socket: postgresql://postgres:@/postgres?host=DIR
    url = server.get_uri()

    def stop() -> list[int]:
        server.cleanup()
        try:
            return _live_pids(json.loads((pgdata / HANDLE_FILE).read_text()))
        except (FileNotFoundError, ValueError):
            return []

    return EmbeddedDatabase(
        url=url,
        description=f"embedded PostgreSQL (pgserver) in {pgdata}",
        _stop=stop,
    )


def _running_port(pgdata: Path) -> tuple[int, int] | None:
    """(pid, port) of the PostgreSQL running on ``pgdata``, from its postmaster.pid; None when none runs."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return pid, port


def _start_with_pg_ctl(pgdata: Path, bin_dir: Path) -> EmbeddedDatabase:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        raise EmbeddedDatabaseError(
            "initdb refuses to run as root; install the pgserver package or set DATABASE_URL"
        )
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [bin_dir / "initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
    running = _running_port(pgdata)
    if running is not None:
        # Another process (a running `nephthys serve`) started it: share it, and leave it to its owner.
        return EmbeddedDatabase(
            url=f"postgresql://postgres@127.0.0.1:{running[1]}/postgres",
            description=f"embedded PostgreSQL ({bin_dir}) in {pgdata}, already running (pid {running[0]})",
            _stop=lambda: [running[0]],
        )
    port = _free_port()
    logfile = pgdata / "server.log"
    subprocess.run(
        [bin_dir / "pg_ctl", "-D", pgdata, "-l", logfile, "-w", "-o",
         f"-p {port} -k {pgdata} -c listen_addresses=127.0.0.1", "start"],
        check=True,
        capture_output=True,
    )  # fmt: skip

    def stop() -> list[int]:
        subprocess.run(
            [bin_dir / "pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        return []

    return EmbeddedDatabase(
        url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        description=f"embedded PostgreSQL ({bin_dir}) in {pgdata}",
        _stop=stop,
    )


def start(pgdata: Path) -> EmbeddedDatabase:
    """Start (initialising on first use) a private PostgreSQL in ``pgdata``."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        import pgserver  # noqa: F401  # type: ignore[import-untyped]
    except ImportError:
        bin_dir = _find_pg_bin()
        if bin_dir is None:
            raise EmbeddedDatabaseError(
                "DATABASE_URL is not set and no embedded PostgreSQL is available "
                "(install the pgserver package, or PostgreSQL's initdb and pg_ctl)"
            ) from None
        return _start_with_pg_ctl(pgdata, bin_dir)
    return _start_with_pgserver(pgdata)


def start_throwaway() -> EmbeddedDatabase:
    """A private PostgreSQL in a new temporary folder, deleted when it stops (``nephthys demo``'s)."""
    folder = Path(tempfile.mkdtemp(prefix="nephthys-throwaway-"))
    try:
        server = start(folder / "pgdata")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def stop() -> list[int]:
        still_used_by = server.stop()
        if not still_used_by:
            shutil.rmtree(folder, ignore_errors=True)
        return still_used_by

    return EmbeddedDatabase(
        url=server.url,
        description=f"a throw-away {server.description}, deleted on exit",
        _stop=stop,
    )
