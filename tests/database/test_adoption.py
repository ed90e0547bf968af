"""`nephthys db upgrade` adopts a database that `prisma db push` created, keeping every row."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nephthys.database import migrate
from tests.database.schema_check import differences
from tests.support import postgres
from tests.test_cli import nephthys

FIXTURE = Path(__file__).with_name("fixtures") / "prisma_db_push.sql"


# Tables this project added after the Prisma database the fixture was dumped from.
NEWER_THAN_PRISMA = {"SlackEvent", "Feedback", "ApiKey", "JobRun"}


@pytest.fixture
async def prisma_database(empty_database):
    await postgres.execute(empty_database, FIXTURE.read_text())
    return empty_database


async def test_status_recognises_a_prisma_database(prisma_database):
    status = await migrate.status(prisma_database)
    assert status.adoptable and status.current is None
    assert "Prisma" in status.describe()


async def test_a_prisma_database_is_adopted_with_every_row_kept(prisma_database):
    before = {
        table: len(await postgres.fetch(prisma_database, f'SELECT 1 FROM "{table}"'))
        for table in postgres.TABLES
        if table not in NEWER_THAN_PRISMA
    }
    assert all(count > 0 for count in before.values())

    assert await migrate.upgrade(prisma_database) == (None, migrate.head_revision())

    assert await differences(prisma_database) == []
    after = {
        table: len(await postgres.fetch(prisma_database, f'SELECT 1 FROM "{table}"')) for table in before
    }
    assert after == before

    [ticket] = await postgres.fetch(
        prisma_database, 'SELECT * FROM "Ticket" WHERE "msgTs" = $1', "1740819600.000100"
    )
    # TIMESTAMP(3) values were UTC; as timestamptz they are the same instants.
    assert ticket["createdAt"] == datetime(2025, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)
    assert ticket["closedAt"] == datetime(2025, 3, 1, 11, 0, 0, 500000, tzinfo=UTC)
    assert ticket["status"] == "CLOSED" and ticket["closedById"] == 2 and ticket["questionTagId"] == 1
    [user] = await postgres.fetch(prisma_database, 'SELECT * FROM "User" WHERE "slackId" = $1', "U0ASKER01")
    assert user["createdAt"] == datetime(2025, 3, 1, 9, 0, 0, 123000, tzinfo=UTC)
    [link] = await postgres.fetch(prisma_database, 'SELECT * FROM "tags_on_tickets"')
    assert link["assignedAt"] == datetime(2025, 3, 1, 10, 45, tzinfo=UTC)

    # The stored API JSON (migration 0011) is built for the adopted tickets.
    stored = await postgres.fetch(
        prisma_database,
        'SELECT "ticketId" FROM "ActiveTicketJson" UNION ALL SELECT "ticketId" FROM "ClosedTicketJson"',
    )
    assert sorted(row["ticketId"] for row in stored) == [
        row["id"] for row in await postgres.fetch(prisma_database, 'SELECT id FROM "Ticket" ORDER BY id')
    ]

    # Managed by migrations from now on: a second upgrade is a no-op.
    assert await migrate.upgrade(prisma_database) == (migrate.head_revision(), migrate.head_revision())
    # New rows get their ids after the adopted ones.
    await postgres.execute(
        prisma_database,
        """INSERT INTO "Ticket" ("title", "description", "msgTs", "openedById") VALUES ('t', 'd', '1.2', 1)""",
    )
    [row] = await postgres.fetch(prisma_database, 'SELECT max(id) AS id FROM "Ticket"')
    assert row["id"] == 3


async def test_db_upgrade_says_to_set_api_status_case_upper_when_it_adopts(prisma_database, tmp_path):
    adopting = nephthys("db", "upgrade", env={"DATABASE_URL": prisma_database}, cwd=tmp_path)
    assert adopting.returncode == 0, adopting.stderr
    using, first, note = adopting.stdout.strip().splitlines()
    assert using.startswith("using the database at ")  # every database command says which first
    assert first.startswith("database at revision") and "(was empty)" in first
    assert "existing Nephthys" in note and "set API_STATUS_CASE=upper" in note
    # Adopted once: a later upgrade has nothing to say about it.
    again = nephthys("db", "upgrade", env={"DATABASE_URL": prisma_database}, cwd=tmp_path)
    assert again.returncode == 0 and "API_STATUS_CASE" not in again.stdout


async def test_adopting_with_api_status_case_upper_already_set_says_so(prisma_database, tmp_path):
    env = {"DATABASE_URL": prisma_database, "API_STATUS_CASE": "upper"}
    adopting = nephthys("db", "upgrade", env=env, cwd=tmp_path)
    assert adopting.returncode == 0, adopting.stderr
    assert "API_STATUS_CASE=upper is set" in adopting.stdout


async def test_a_partial_nephthys_database_is_refused_and_left_alone(empty_database):
    await postgres.execute(empty_database, 'CREATE TABLE "Ticket" (id serial primary key)')
    with pytest.raises(migrate.AdoptionError, match="BotMessage"):
        await migrate.upgrade(empty_database)
    tables = await postgres.fetch(
        empty_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )
    assert [row["tablename"] for row in tables] == ["Ticket"]
