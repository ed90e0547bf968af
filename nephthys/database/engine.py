"""Engines and sessions for PostgreSQL through asyncpg."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


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


def create_engine(url: str, *, pool_size: int = 10, **kwargs) -> AsyncEngine:
    return create_async_engine(
        asyncpg_url(url),
        pool_size=pool_size,
        max_overflow=kwargs.pop("max_overflow", 10),
        # A database restart leaves dead connections in the pool; test them on checkout.
        pool_pre_ping=True,
        connect_args={"server_settings": {"timezone": "UTC"}, "command_timeout": 60},
        **kwargs,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
