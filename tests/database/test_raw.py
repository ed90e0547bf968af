"""The hot path's raw statements (nephthys/database/raw.py): bounded caches, transactions that end."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from nephthys.database import raw
from nephthys.database.engine import create_engine


@pytest.fixture
async def engine(db_url):
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_statements_built_per_call_keep_the_compiled_cache_bounded(engine):
    async with raw.autocommit(engine) as connection:
        for n in range(raw._CACHED_AT_MOST + 50):
            # A new clause (and a new column name) each time, as a careless caller would build it.
            result = await connection.execute(text(f"SELECT CAST(:n AS int) AS c{n}"), {"n": n})
            assert result.scalar() == n
    assert len(raw._COMPILED) <= raw._CACHED_AT_MOST
    assert len(raw._ROW_TYPES) <= raw._CACHED_AT_MOST


async def test_a_failed_transaction_is_rolled_back_and_its_connection_serves_the_next_caller(engine):
    await _execute(engine, "CREATE TABLE raw_probe (id int PRIMARY KEY)")
    with pytest.raises(Exception, match="duplicate key"):
        async with raw.transaction(engine) as connection:
            await connection.execute(text("INSERT INTO raw_probe VALUES (1)"))
            await connection.execute(text("INSERT INTO raw_probe VALUES (1)"))
    # The pool holds one connection: the next caller gets it, outside any transaction.
    async with raw.transaction(engine) as connection:
        assert (await connection.execute(text("SELECT count(*) FROM raw_probe"))).scalar() == 0
        await connection.execute(text("INSERT INTO raw_probe VALUES (2)"))
    async with raw.autocommit(engine) as connection:
        rows = (await connection.execute(text("SELECT id FROM raw_probe"))).scalars().all()
    assert rows == [2]


async def _execute(engine, sql: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(sql))


async def test_a_held_lock_whose_block_fails_is_freed_with_its_connection(engine, db_url):
    from nephthys.database.locks import held_session_lock

    with pytest.raises(RuntimeError):
        async with held_session_lock(engine, 424242) as locked:
            assert locked
            raise RuntimeError("the run failed")
    other = create_engine(db_url, pool_size=1, max_overflow=0)
    try:
        async with held_session_lock(other, 424242) as locked_again:
            assert locked_again  # nobody kept it: neither the failed block nor a pooled connection
        async with held_session_lock(engine, 424242) as locked_here:
            assert locked_here
            async with held_session_lock(other, 424242) as taken:
                assert not taken  # held by the block above
    finally:
        await other.dispose()
