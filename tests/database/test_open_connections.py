"""Opening a pool's connections at start-up (nephthys/database/engine.py, ``open_connections``)."""

from __future__ import annotations

import asyncpg

from nephthys.database.engine import create_engine, open_connections


async def _connections_named(db_url: str, name: str) -> int:
    connection = await asyncpg.connect(db_url)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
            name,
        )
    finally:
        await connection.close()


async def test_every_connection_of_the_pool_is_opened_and_kept_knowing_the_schemas_enums(db_url):
    engine = create_engine(db_url, pool_size=3, max_overflow=0, application_name="nephthys-warm-probe")
    try:
        assert await open_connections(engine, within=30) == 3
        pool = engine.sync_engine.pool
        assert pool.checkedin() == 3 and pool.checkedout() == 0  # type: ignore[attr-defined]
        assert await _connections_named(db_url, "nephthys-warm-probe") == 3
        # Each was given the schema's enums once, so a statement reading one needs no introspection:
        # asyncpg already has its codec on every connection.
        fairies = [await engine.raw_connection() for _ in range(3)]
        try:
            for fairy in fairies:
                driver = fairy.driver_connection
                oid = await driver.fetchval("""SELECT '"TicketStatus"'::regtype::oid""")
                assert driver._protocol.get_settings().get_data_codec(oid) is not None
        finally:
            for fairy in fairies:
                fairy.close()
    finally:
        await engine.dispose()


async def test_a_database_that_is_away_only_leaves_the_connections_for_later():
    # Nothing listens on port 1: every connection is refused at once.
    engine = create_engine("postgresql://postgres@127.0.0.1:1/nowhere", pool_size=2, max_overflow=0)
    try:
        assert await open_connections(engine, within=10) == 0
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
