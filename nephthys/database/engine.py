"""Engines and sessions for PostgreSQL through asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from nephthys.database import raw

if TYPE_CHECKING:
    from nephthys.config import Settings

log = logging.getLogger(__name__)

# /health's own connection: a probe never waits behind the API's or the Slack side's pool.
HEALTH_CONNECTIONS = 1
# The Slack events' claims (the one statement before each acknowledgement) have their own: an
# acknowledgement does not queue for a connection behind the events being handled, whose work (up
# to 16 at once, some waiting on a surge's lock) can hold the whole Slack pool during a burst. A
# claim holds its connection for one round trip; when all are busy it uses the Slack pool
# (nephthys/slack/app.py, ``_claim_sessions``).
CLAIM_CONNECTIONS = 4


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
    the Slack side's jobs; ``claims``: the Slack events' claims, before their acknowledgement;
    ``health``: /health's probe. Fixed sizes, no overflow: at most API_DATABASE_CONNECTIONS +
    SLACK_DATABASE_CONNECTIONS + CLAIM_CONNECTIONS + 1 connections per instance.
    """

    api: AsyncEngine
    slack: AsyncEngine
    claims: AsyncEngine
    health: AsyncEngine

    async def dispose(self) -> None:
        for engine in (self.api, self.slack, self.claims, self.health):
            await engine.dispose()


def open_pools(url: str, settings: Settings) -> Pools:
    """The four engines (connections are opened when first used, or by :func:`open_connections`)."""
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
        claims=create_engine(
            url, pool_size=CLAIM_CONNECTIONS, max_overflow=0, application_name="nephthys-slack-claims"
        ),
        health=create_engine(
            url, pool_size=HEALTH_CONNECTIONS, max_overflow=0, application_name="nephthys-health"
        ),
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# The schema's own types (its enums, and arrays of them) as one row, built from the catalogue so a
# new enum needs no change here.
_OWN_TYPES = """SELECT string_agg(format('NULL::%1$s, NULL::%1$s[]', t.oid::regtype), ', ' ORDER BY t.oid)
                FROM pg_type t WHERE t.typtype = 'e' AND t.typnamespace = current_schema()::regnamespace"""


async def open_connections(engine: AsyncEngine, *, within: float) -> int:
    """Open all of the pool's connections now, each knowing the schema's own types; how many opened.

    A pool opens its connections when first needed, so without this a burst's first fraction of a
    second opened the Slack pool's: each a connection (about 2.5 ms of this process's CPU: the TLS
    context asyncpg builds for ``sslmode=prefer``, the handshake, SQLAlchemy's codec set-up) and, at
    its first statement reading an enum, asyncpg's type introspection (one more query, ~15 ms). The
    acknowledgements of that fraction of a second waited on them (issue 23). Done at start-up, once
    per connection; the pool keeps them (fixed size, no recycling). A database that is away or slow
    only leaves the rest to be opened when needed, as before: never an error, never longer than
    ``within`` seconds.
    """
    count = engine.sync_engine.pool.size()  # type: ignore[attr-defined]
    try:
        async with asyncio.timeout(within), contextlib.AsyncExitStack() as held:
            # All held at once, so each checkout opens a connection of its own; given back together.
            checked_out = await asyncio.gather(
                *(held.enter_async_context(raw.autocommit(engine)) for _ in range(count)),
                return_exceptions=True,
            )
            connections = [c for c in checked_out if isinstance(c, raw.RawConnection)]
            if connections:
                types = await connections[0].driver.fetchval(_OWN_TYPES)
                if types:
                    await asyncio.gather(*(c.driver.fetch(f"SELECT {types}") for c in connections))
    except Exception as error:  # TimeoutError included: what opened is kept
        log.warning("database pool: connections not all opened at start (%r); opened when needed", error)
        return 0
    if len(connections) < count:
        failure = next(c for c in checked_out if not isinstance(c, raw.RawConnection))
        log.warning(
            "database pool: %d of %d connections opened at start (%r)", len(connections), count, failure
        )
    return len(connections)
