"""A private PostgreSQL for when no DATABASE_URL is given.

Uses the ``pgserver`` wheel (PostgreSQL shipped inside a Python package) when it
is installed, otherwise the ``initdb``/``pg_ctl`` found on the machine. The data
folder is kept, so a second start reuses it.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
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
    _stop: Callable[[], None]

    def stop(self) -> None:
        self._stop()


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


def _start_with_pgserver(pgdata: Path) -> EmbeddedDatabase:
    import pgserver  # type: ignore[import-untyped]

    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    # pgserver gives a libpq URL on a unix socket: postgresql://postgres:@/postgres?host=DIR
    url = server.get_uri()
    return EmbeddedDatabase(
        url=url,
        description=f"embedded PostgreSQL (pgserver) in {pgdata}",
        _stop=server.cleanup,
    )


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
    port = _free_port()
    logfile = pgdata / "server.log"
    subprocess.run(
        [bin_dir / "pg_ctl", "-D", pgdata, "-l", logfile, "-w", "-o",
         f"-p {port} -k {pgdata} -c listen_addresses=127.0.0.1", "start"],
        check=True,
        capture_output=True,
    )  # fmt: skip

    def stop() -> None:
        subprocess.run(
            [bin_dir / "pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )

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
