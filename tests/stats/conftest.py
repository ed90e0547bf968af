from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from nephthys.database.engine import create_engine


@pytest.fixture
async def connection(db_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection to the test database (emptied for the test), for calling the stats functions."""
    engine = create_engine(db_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()
