"""PostgreSQL advisory locks held across many transactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


@contextlib.asynccontextmanager
async def held_session_lock(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    """Try the session-level advisory lock ``key`` on a connection of its own and hold it for the
    block: yields False when another session holds it. The holder's connection keeps no
    transaction open, so the block's own short transactions (on other connections) are what run;
    PostgreSQL frees the lock itself if the process dies."""
    async with engine.connect() as holder:
        known_free = False  # this connection surely holds no lock: it may go back to the pool
        try:
            locked = bool(await holder.scalar(_TRY_LOCK, {"key": key}))
            await holder.commit()
            known_free = not locked
            yield locked
            if locked:
                await holder.execute(_UNLOCK, {"key": key})
                await holder.commit()
                known_free = True
        finally:
            if not known_free:
                # Cancelled or failed while it may hold the lock: a pooled connection must never
                # keep it (a rollback does not free it), so it is closed, which frees it.
                await holder.invalidate()
