"""Shared fixtures: a real PostgreSQL, a migrated database per session, a live server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from nephthys.config import Settings
from nephthys.database import migrate
from nephthys.utils.starlette import create_app
from tests.support import postgres
from tests.support.server import running


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


def make_settings(**overrides) -> Settings:
    """Settings as a test wants them: nothing read from the machine's environment or .env."""
    base = Settings.from_env({}, dotenv_path=None)
    # The daily summary stays off unless a test turns it on: it would post at start-up.
    overrides.setdefault("daily_summary", False)
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def serve(db_url: str) -> Callable:
    """``async with serve(**settings) as client`` runs the app under uvicorn on the test database."""

    def factory(**overrides):
        settings = make_settings(database_url=db_url, **overrides)
        app = create_app(settings, database_url=db_url)

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
