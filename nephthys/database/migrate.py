"""Bring a database to the newest schema, adopting one that Prisma created.

A database falls in one of three cases:

- it has an ``alembic_version`` table: upgrade it as usual;
- it has none of Nephthys's tables: build the schema from the first revision;
- it has Nephthys's tables and no ``alembic_version`` (made by ``prisma db push``):
  check it is whole, stamp it at the Prisma baseline (revision 0001), then
  upgrade; every row is kept. Its clients read ticket statuses in capitals:
  the upgrade says to set API_STATUS_CASE=upper (``adoption_note``).

Anything else (some tables but not all) is refused with a message saying what
is missing, and nothing is changed.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from nephthys.database.engine import create_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE_REVISION = "0001"
LEGACY_TABLES: dict[str, set[str]] = importlib.import_module(
    "nephthys.database.migrations.versions.0001_prisma_baseline"
).LEGACY_TABLES


class AdoptionError(RuntimeError):
    """The database holds part of a Nephthys schema that cannot be adopted safely."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    adoptable: bool

    @property
    def behind(self) -> bool:
        return self.current != self.head

    def describe(self) -> str:
        if self.adoptable:
            return (
                f"an existing Prisma-created Nephthys database (no migration history); "
                f"`nephthys db upgrade` adopts it and brings it to {self.head}"
            )
        if self.current is None:
            return f"empty: no Nephthys schema yet; newest is {self.head}"
        if self.behind:
            return f"at revision {self.current}, behind the newest ({self.head})"
        return f"at revision {self.current}, up to date"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def _inspect_state(connection: Connection) -> tuple[str | None, bool]:
    """(current revision, whether it is an adoptable Prisma database)."""
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None:
        return current, False
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    present = tables & set(LEGACY_TABLES)
    if not present:
        return None, False
    missing_tables = sorted(set(LEGACY_TABLES) - tables)
    if missing_tables:
        raise AdoptionError(
            "the database has some Nephthys tables but not "
            f"{', '.join(missing_tables)}; refusing to change it"
        )
    for table, columns in LEGACY_TABLES.items():
        found = {column["name"] for column in inspector.get_columns(table)}
        if columns - found:
            raise AdoptionError(
                f'table "{table}" lacks columns {", ".join(sorted(columns - found))}; refusing to change it'
            )
    return None, True


@dataclass(frozen=True)
class Upgraded:
    before: str | None
    after: str | None
    adopted: bool  # a Prisma-created database, taken over by this upgrade


def adoption_note(status_case: str) -> str:
    """What an operator adopting the existing Nephthys's database should know about its clients."""
    if status_case == "upper":
        return (
            "adopted a database of the existing Nephthys; API_STATUS_CASE=upper is set, so ticket "
            "statuses are served in capitals (OPEN, IN_PROGRESS, CLOSED) as its dashboards expect"
        )
    return (
        "adopted a database of the existing Nephthys: its dashboards read ticket statuses in capitals "
        "(OPEN, IN_PROGRESS, CLOSED); set API_STATUS_CASE=upper to serve them so "
        '(docs/deployment.md, "Switching from the existing Nephthys")'
    )


def _upgrade(connection: Connection) -> Upgraded:
    current, adoptable = _inspect_state(connection)
    config = alembic_config(connection)
    if adoptable:
        log.info("adopting an existing Prisma-created Nephthys database; every row is kept")
        command.stamp(config, BASELINE_REVISION)
    command.upgrade(config, "head")
    return Upgraded(current, MigrationContext.configure(connection).get_current_revision(), adoptable)


async def upgrade_database(database_url: str) -> Upgraded:
    """Upgrade the database to the newest revision, adopting a Prisma-created one."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            # One migrator at a time when several instances start together.
            await connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7315062209)")
            upgraded = await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()
    if upgraded.before == upgraded.after:
        log.info("database schema is up to date (revision %s)", upgraded.after)
    else:
        log.info("database schema upgraded from %s to %s", upgraded.before or "nothing", upgraded.after)
    return upgraded


async def upgrade(database_url: str) -> tuple[str | None, str | None]:
    """Upgrade the database to the newest revision; returns (before, after)."""
    upgraded = await upgrade_database(database_url)
    return upgraded.before, upgraded.after


async def status(database_url: str) -> SchemaStatus:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            current, adoptable = await connection.run_sync(_inspect_state)
    finally:
        await engine.dispose()
    return SchemaStatus(current=current, head=head_revision(), adoptable=adoptable)


async def rebuild_ticket_json(database_url: str) -> int:
    """Render every ticket's stored API JSON again (migration 0011); returns how many tickets.

    For a database loaded with the triggers that keep it disabled (a bulk load, a
    restore with ``session_replication_role = replica``); the tickets are locked
    against changes while it runs, reads go on.
    """
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql('SELECT "ticket_json_rebuild"()')
            result = await connection.exec_driver_sql(
                'SELECT (SELECT count(*) FROM "ActiveTicketJson") + (SELECT count(*) FROM "ClosedTicketJson")'
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()
