"""Engines and sessions for PostgreSQL through asyncpg."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from nephthys.config import Settings

# /health's own connection: a probe never waits behind the API's or the Slack side's pool.
HEALTH_CONNECTIONS = 1


def asyncpg_url(url: str) -> str:
    """Turn a libpq-style URL (postgres://, postgresql://) into SQLAlchemy's asyncpg form.

    ``sslmode`` becomes asyncpg's ``ssl``; managed PostgreSQL services hand out
    URLs with it.
    """
    parts = urlsplit(url)
    scheme = "postgresql+asyncpg"
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode":
            key = "ssl"
        query.append((key, value))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def create_engine(
    url: str, *, pool_size: int = 10, application_name: str = "nephthys", **kwargs
) -> AsyncEngine:
    engine = create_async_engine(
        asyncpg_url(url),
        pool_size=pool_size,
        max_overflow=kwargs.pop("max_overflow", 10),
        connect_args={
            # application_name: pg_stat_activity tells the pools apart. jit off: our statements are
            # index look-ups and bounded aggregates whose estimated cost can cross the JIT threshold
            # at 1M tickets; compiling them then costs more than running them (issue 23: the daily
            # series' cut-hour read took 350 ms with JIT, 120 ms without, on the same data).
            "server_settings": {"timezone": "UTC", "application_name": application_name, "jit": "off"},
            "command_timeout": 60,
        },
        **kwargs,
    )
    # A database restart leaves dead connections in the pool: each is tested on checkout.
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection, connection_record, connection_proxy) -> None:
    """A pooled connection whose server went away is replaced (the pool connects again).

    Instead of SQLAlchemy's ``pool_pre_ping``, which costs three round trips per checkout (BEGIN,
    an empty statement, ROLLBACK): a restarted or terminated server closes the socket, and asyncpg
    notes the close when it happens. A connection that dies unnoticed fails its first statement,
    as one dying right after a ping would: a disconnection the callers already retry.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the connection was closed by the server")


@dataclass(frozen=True)
class Pools:
    """The service's engines, each with a pool of its own, so no side waits on another's load.

    ``api``: the HTTP API (and its own jobs); ``slack``: Slack events, interactions and
    the Slack side's jobs; ``health``: /health's probe. Fixed sizes, no overflow: at most
    API_DATABASE_CONNECTIONS + SLACK_DATABASE_CONNECTIONS + 1 connections per instance.
    """

    api: AsyncEngine
    slack: AsyncEngine
    health: AsyncEngine

    async def dispose(self) -> None:
        for engine in (self.api, self.slack, self.health):
            await engine.dispose()


def open_pools(url: str, settings: Settings) -> Pools:
    """The three engines (connections are opened when first used)."""
    return Pools(
        api=create_engine(
            url, pool_size=settings.api_database_connections, max_overflow=0, application_name="nephthys-api"
        ),
        slack=create_engine(
            url,
            pool_size=settings.slack_database_connections,
            max_overflow=0,
            application_name="nephthys-slack",
        ),
        health=create_engine(
            url, pool_size=HEALTH_CONNECTIONS, max_overflow=0, application_name="nephthys-health"
        ),
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
