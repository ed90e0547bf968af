"""A real PostgreSQL for the tests: TEST_DATABASE_URL when set, otherwise an embedded one."""

from __future__ import annotations

import asyncio
import importlib
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from nephthys.database import embedded

_0019 = importlib.import_module("nephthys.database.migrations.versions.0019_waiting_and_response_spans")
_0023 = importlib.import_module("nephthys.database.migrations.versions.0023_sla_targets")

ROOT = Path(__file__).resolve().parents[2]


def server_url() -> tuple[str, embedded.EmbeddedDatabase | None]:
    """The URL of a PostgreSQL server to create test databases on.

    TEST_DATABASE_URL when set; otherwise an embedded server in TEST_PGDATA (default
    ./.nephthys/test-pgdata): a run under a faked clock starts its own there, so its
    PostgreSQL reads the same clock as the tests.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url, None
    server = embedded.start(Path(os.environ.get("TEST_PGDATA") or ROOT / ".nephthys" / "test-pgdata"))
    asyncio.run(_without_durability(server.url))
    return server.url, server


async def _without_durability(url: str) -> None:
    """The tests' own server need not survive a power cut: no fsync, no full-page images.

    Each test database is created and dropped, and a drop waits for a checkpoint; with the data
    flushed to disk on every commit and checkpoint, the workers queued behind each other's.
    """
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        for setting in ("fsync", "full_page_writes", "synchronous_commit"):
            await connection.execute(f"ALTER SYSTEM SET {setting} = off")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (handles pgserver's socket URLs too)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(server: str, prefix: str = "nephthys_test") -> str:
    """Create an empty database with a unique name; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(_asyncpg_dsn(server))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(server, name)


async def drop_database(server: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    connection = await asyncpg.connect(_asyncpg_dsn(server))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def execute(url: str, sql: str, *args) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(sql, *args)
    finally:
        await connection.close()


async def fetch(url: str, sql: str, *args) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


ALWAYS_CALENDAR = f"""{_0019.ALWAYS_FUNCTION};
{_0023.ALWAYS_ADD_FUNCTION};
UPDATE "SupportCalendarInUse" SET key = 'none' WHERE id = 1;
UPDATE "SlaPolicyInUse" SET key = 'none', "firstResponseMinutes" = NULL, "nextResponseMinutes" = NULL,
    "resolutionMinutes" = NULL, "warnAt" = 0.75, "recomputeKey" = NULL, "recomputeStartedAt" = NULL,
    "recomputeActiveAfter" = 0, "recomputeActiveDoneAt" = NULL, "recomputeAfter" = 0, "recomputedTickets" = 0
    WHERE id = 1"""

# Every table a test may write to; emptied before each test that uses the database.
TABLES = [
    "Surge",
    "TicketSearch",
    "TicketSlaClock",
    "TicketSpan",
    "TicketEvent",
    "Feedback",
    "BotMessage",
    "tags_on_tickets",
    "user_tag_subscriptions",
    "Ticket",
    "QuestionTag",
    "Tag",
    "User",
    "SlackEvent",
    "ApiKey",
    "JobRun",
    "TicketHourFigures",
    "TicketClosedByPeriod",
    "TicketHourDurations",
    "TicketFiguresPending",
    "FeedbackByPeriod",
    "ResponseTimeCounts",
    "ResponseTimeTagValues",
    "ResponseTimePending",
]


async def truncate_all(url: str) -> None:
    quoted = ", ".join(f'"{table}"' for table in TABLES)
    await execute(url, f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    # Each test starts with the support calendar a fresh migration leaves (a service it starts
    # installs its own), not the one an earlier test's service installed.
    await execute(url, ALWAYS_CALENDAR)


def database_name(url: str) -> str:
    """The database a URL points at (handles pgserver's socket URLs, whose query names a directory)."""
    return urlsplit(url).path.lstrip("/")
