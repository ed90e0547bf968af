"""The Slack path's statements on the pooled asyncpg connection itself (issue 23).

A question or a thread reply is a handful of short statements, and on this path SQLAlchemy's
own work per statement (a Session or Connection, the compiled-cache key, the parameters, the
result object, a greenlet switch each way) cost more CPU than the round trip: measured on one
indexed look-up, 0.27 ms in an autocommit Connection, 0.6 ms in a Session with an ORM select,
0.12 ms here. So the hot path's ``text()`` statements run through :class:`RawConnection`:

- the connection is the engine's own (checked out of its pool, with the pool's checkout test
  and size), so nothing else changes about connections;
- each statement is compiled once by the engine's dialect (the same ``$n`` SQL SQLAlchemy would
  send) and run with asyncpg's ``fetch``, whose prepared statements asyncpg caches;
- a failure is raised as SQLAlchemy raises it (``DBAPIError`` and its subclasses, with the
  driver's ``sqlstate`` on ``.orig``), so the outage and deadlock handling
  (nephthys/database/outage.py, ``retried_on_conflict``) treat it the same; a connection that
  broke is invalidated, never given back to the pool;
- rows are tuples whose columns are also attributes, like SQLAlchemy's ``Row``.

Only ``text()`` statements without typed or expanding parameters run here (their parameters
and values are the driver's own either way); ORM statements stay on sessions.
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.util import greenlet_spawn

# Compiled statements, by the identity of their (module-level, long-lived) TextClause: the
# clause is kept beside its compiled form so an id is never reused while it is in here. Bounded:
# a caller building its text() per call would otherwise add an entry per call; past the bound
# the cache starts again (the hot path's few dozen statements are compiled again once).
_CACHED_AT_MOST = 512
_COMPILED: dict[int, tuple[TextClause, str, tuple[str, ...]]] = {}
_ROW_TYPES: dict[tuple[str, ...], Any] = {}


def _compiled(engine: AsyncEngine, clause: TextClause) -> tuple[str, tuple[str, ...]]:
    found = _COMPILED.get(id(clause))
    if found is None or found[0] is not clause:
        compiled = clause.compile(dialect=engine.dialect)
        if compiled._bind_processors:  # a typed parameter: not this module's kind of statement
            raise TypeError("raw statements take untyped parameters only")
        found = (clause, compiled.string, tuple(compiled.positiontup or ()))
        if len(_COMPILED) >= _CACHED_AT_MOST:
            _COMPILED.clear()
        _COMPILED[id(clause)] = found
    return found[1], found[2]


def _row_type(names: tuple[str, ...]) -> Any:
    row_type = _ROW_TYPES.get(names)
    if row_type is None:
        base = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        # SQLAlchemy's Row also reads as a mapping of its columns.
        row_type = type("Row", (base,), {"__slots__": (), "_mapping": property(base._asdict)})
        if len(_ROW_TYPES) >= _CACHED_AT_MOST:
            _ROW_TYPES.clear()
        _ROW_TYPES[names] = row_type
    return row_type


class Scalars(list):
    """The first column of each row, with ``ScalarResult``'s readers."""

    def all(self) -> list:
        return list(self)

    def first(self) -> Any:
        return self[0] if self else None

    def one(self) -> Any:
        if len(self) != 1:
            raise LookupError(f"expected one row, got {len(self)}")
        return self[0]

    def one_or_none(self) -> Any:
        if len(self) > 1:
            raise LookupError(f"expected at most one row, got {len(self)}")
        return self[0] if self else None


class RawResult:
    """A statement's rows, read with the ``Result`` methods the hot path uses."""

    __slots__ = ("rows",)

    def __init__(self, rows: list) -> None:
        self.rows = rows

    def __iter__(self) -> Iterator:
        return iter(self.rows)

    def all(self) -> list:
        return list(self.rows)

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def one_or_none(self) -> Any:
        if len(self.rows) > 1:
            raise LookupError(f"expected at most one row, got {len(self.rows)}")
        return self.rows[0] if self.rows else None

    def scalars(self) -> Scalars:
        return Scalars(row[0] for row in self.rows)

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.scalars().one()

    def scalar_one_or_none(self) -> Any:
        return self.scalars().one_or_none()


class RawConnection:
    """A pooled connection's asyncpg connection, running ``text()`` statements (module docstring)."""

    def __init__(self, engine: AsyncEngine, fairy: Any) -> None:
        self._engine = engine
        self._fairy = fairy  # the pool's proxy: checked back in, or invalidated, when done
        self._adapted = fairy.dbapi_connection  # SQLAlchemy's adapter around asyncpg's connection
        self.driver = fairy.driver_connection
        self.broken = False

    async def execute(self, clause: TextClause, parameters: Mapping[str, Any] | None = None) -> RawResult:
        sql, names = _compiled(self._engine, clause)
        arguments = [parameters[name] for name in names] if parameters else []
        try:
            records = await self.driver.fetch(sql, *arguments)
        except Exception as error:
            raise self.translated(error, sql, parameters) from error
        if not records:
            return RawResult([])
        row_type, new = _row_type(tuple(records[0].keys())), tuple.__new__
        return RawResult([new(row_type, record) for record in records])  # no Python frame per row

    def translated(self, error: Exception, sql: str | None, parameters: Any) -> BaseException:
        """``error`` as SQLAlchemy would raise it from the same statement."""
        dialect = self._engine.dialect
        try:
            self._adapted._handle_exception(error)
        except Exception as dbapi_error:
            disconnect = dialect.is_disconnect(dbapi_error, self._adapted, None)  # type: ignore[arg-type]
            self.broken = self.broken or disconnect or self.driver.is_closed()
            return DBAPIError.instance(
                sql,
                parameters,
                dbapi_error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnect,
                dialect=dialect,
            )
        return error  # pragma: no cover (the adapter always raises)


# What the statements shared by the hot path and the rest run on.
Executor = AsyncSession | AsyncConnection | RawConnection


def _engine(sessions: async_sessionmaker[AsyncSession] | AsyncEngine) -> AsyncEngine:
    return sessions if isinstance(sessions, AsyncEngine) else sessions.kw["bind"]


def _connect_error(engine: AsyncEngine, error: Exception) -> BaseException:
    dialect = engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    if not isinstance(error, dbapi_error):
        return error
    disconnect = dialect.is_disconnect(error, None, None)  # type: ignore[arg-type]
    return DBAPIError.instance(
        None, None, error, dbapi_error, connection_invalidated=disconnect, dialect=dialect
    )


@contextlib.asynccontextmanager
async def _checked_out(
    sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
) -> AsyncIterator[RawConnection]:
    engine = _engine(sessions)
    try:
        fairy = await engine.raw_connection()
    except Exception as error:
        # Unlike Engine.connect(), raw_connection() raises the driver's error as it is: wrapped
        # here as Engine.connect() wraps it, so a database that is away reads as away.
        raise _connect_error(engine, error) from error
    connection = RawConnection(engine, fairy)
    try:
        yield connection
    except Exception:
        if connection.broken or connection.driver.is_closed():
            await greenlet_spawn(fairy.invalidate)
        else:
            await greenlet_spawn(fairy.close)
        raise
    except BaseException:
        # Cancelled, perhaps mid-statement: the connection may be mid-protocol, so it is closed
        # rather than given to the next caller.
        await greenlet_spawn(fairy.invalidate)
        raise
    else:
        await greenlet_spawn(fairy.close)  # back to the pool (nothing to roll back: no transaction is open)


@contextlib.asynccontextmanager
async def autocommit(
    sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
) -> AsyncIterator[RawConnection]:
    """A pooled connection on which each statement commits by itself."""
    async with _checked_out(sessions) as connection:
        yield connection


@contextlib.asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
) -> AsyncIterator[RawConnection]:
    """A pooled connection in one transaction: committed when the block ends, rolled back if it raises."""
    async with _checked_out(sessions) as connection:
        driver_transaction = connection.driver.transaction()
        try:
            await driver_transaction.start()
        except Exception as error:
            # asyncpg may count the failed BEGIN as its open transaction: never given back.
            connection.broken = True
            raise connection.translated(error, "BEGIN", None) from error
        try:
            yield connection
        except BaseException:
            try:
                # A broken connection is invalidated, not rolled back (a half-open socket would
                # hold the ROLLBACK for the whole command timeout).
                if not connection.broken and not connection.driver.is_closed():
                    await driver_transaction.rollback()
            except Exception:
                connection.broken = True  # still inside its transaction: never given to the next caller
            raise
        try:
            await driver_transaction.commit()
        except Exception as error:
            raise connection.translated(error, "COMMIT", None) from error
