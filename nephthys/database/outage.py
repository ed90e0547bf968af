"""Telling a database outage from a refusal, and waiting an outage out.

An outage (the server unreachable, restarting, or the pool exhausted) may pass: the same work is
worth trying again. A refusal (a data exception, a constraint, text it cannot encode) will not:
sending the same thing again is refused again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

R = TypeVar("R")

# Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect
# now), 55000 (e.g. "database is not currently accepting connections").
CONNECTION_SQLSTATES = {"08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03", "55000"}

# Seconds between attempts at an acknowledged event while the database is unreachable (~1 minute).
DATABASE_RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15, 30)


def database_unavailable(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection (worth trying again)."""
    if isinstance(error, IntegrityError | DataError):
        return False
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or getattr(error.orig, "sqlstate", "") in CONNECTION_SQLSTATES
    return isinstance(error, OSError | TimeoutError)


def refused_for_content(error: BaseException) -> bool:
    """The database refused what it was given (a data exception, a constraint, text it cannot
    encode): sending the same thing again would be refused again."""
    if isinstance(error, DataError | IntegrityError | UnicodeError):
        return True
    original = getattr(error, "orig", None)
    if isinstance(original, UnicodeError):
        return True
    # SQLSTATE class 22: data exception (e.g. 22P05, a NUL in jsonb; 22021, bytes not in the encoding).
    return str(getattr(original, "sqlstate", "") or "").startswith("22")


async def retry_while_unavailable(what: str, step: Callable[[], Awaitable[R]]) -> R:
    """``step()``, tried again while the database is unavailable (DATABASE_RETRY_DELAYS, about a
    minute); any other failure, or the last one, is raised."""
    for delay in DATABASE_RETRY_DELAYS:
        try:
            return await step()
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("%s: database unavailable (%s); trying again in %s s", what, error, delay)
            await asyncio.sleep(delay)
    return await step()
