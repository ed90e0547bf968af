"""Shared fixtures: a real PostgreSQL, a migrated database per session, a live server."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from nephthys.config import Settings
from nephthys.database import migrate
from nephthys.utils.clock import Clock, utc_now
from nephthys.utils.starlette import create_app
from tests.support import postgres
from tests.support.server import running

# The longest tests, started first: xdist hands tests out in collection order, so these overlap
# the rest of the run instead of ending it one by one (the fixed-instant runs take a minute each).
SLOWEST_FIRST = (
    "tests/test_fixed_instants.py",
    "tests/test_cli.py",
    "tests/tasks/test_jobs_command.py",
    "tests/api/test_schemathesis.py",
    "tests/api/test_keys.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return SLOWEST_FIRST.index(path) if path in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def pg_server() -> str:
    url, embedded_server = postgres.server_url()
    yield url
    if embedded_server is not None:
        embedded_server.stop()


@pytest.fixture(scope="session")
async def migrated_url(pg_server: str) -> AsyncIterator[str]:
    """One migrated database for the whole session; tests empty it with ``db_url``."""
    url = await postgres.create_database(pg_server)
    await migrate.upgrade(url)
    yield url
    await postgres.drop_database(pg_server, url)


@pytest.fixture
async def db_url(migrated_url: str) -> str:
    """The session's migrated database, emptied for this test."""
    await postgres.truncate_all(migrated_url)
    return migrated_url


@pytest.fixture
async def empty_database(pg_server: str) -> AsyncIterator[str]:
    """A brand-new database with nothing in it, dropped after the test."""
    url = await postgres.create_database(pg_server, prefix="nephthys_blank")
    yield url
    await postgres.drop_database(pg_server, url)


@pytest.fixture
def embedded_home() -> Iterator[Path]:
    """A new folder for an embedded PostgreSQL's data, outside pytest's temporary tree, removed after.

    pgserver runs PostgreSQL as its own user and opens the folder's parents to it; pytest closes
    its tree's root again (0700) whenever a worker starts, which under xdist cuts a running server off.
    """
    folder = Path(tempfile.mkdtemp(prefix="nephthys-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def make_settings(**overrides) -> Settings:
    """Settings as a test wants them: nothing read from the machine's environment or .env."""
    base = Settings.from_env({}, dotenv_path=None)
    # The daily summary stays off unless a test turns it on: it would post at start-up.
    overrides.setdefault("daily_summary", False)
    return dataclasses.replace(base, **overrides)


def make_app(settings: Settings, *, clock: Clock = utc_now, run_jobs: bool = False) -> Starlette:
    """The app as a test runs it: its schedulers stopped unless the test runs them (``run_jobs``),
    so no job works for the machine's real hour; ``clock`` is "now" for the jobs."""
    assert settings.database_url is not None
    return create_app(settings, database_url=settings.database_url, clock=clock, run_jobs=run_jobs)


@pytest.fixture
def serve(db_url: str) -> Callable:
    """``async with serve(**settings) as client`` runs the app under uvicorn on the test database."""

    def factory(**overrides):
        app = make_app(make_settings(database_url=db_url, **overrides))

        class _Serving:
            async def __aenter__(self) -> httpx.AsyncClient:
                self._running = running(app)
                base_url = await self._running.__aenter__()
                self._client = httpx.AsyncClient(base_url=base_url, timeout=30)
                return self._client

            async def __aexit__(self, *exc) -> None:
                await self._client.aclose()
                await self._running.__aexit__(*exc)

        return _Serving()

    return factory
