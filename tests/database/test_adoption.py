"""`nephthys db upgrade` adopts a database that `prisma db push` created, keeping every row."""

import importlib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command

from nephthys.database import migrate
from nephthys.database.engine import create_engine
from tests.database.schema_check import differences
from tests.support import postgres
from tests.test_cli import nephthys

FIXTURE = Path(__file__).with_name("fixtures") / "prisma_db_push.sql"


# Tables this project added after the Prisma database the fixture was dumped from.
NEWER_THAN_PRISMA = {
    "SlackEvent", "Feedback", "ApiKey", "JobRun", "TicketEvent", "TicketSpan",
    # kept by triggers from "Ticket" and "Feedback" (migration 0025)
    "TicketHourFigures", "TicketClosedByPeriod", "TicketHourDurations", "TicketFiguresPending", "FeedbackByPeriod",
    "TicketSearch", "Surge", "TicketSlaClock",
    # kept by triggers from the spans, tickets and tags (migration 0027)
    "ResponseTimeCounts", "ResponseTimeTagValues", "ResponseTimePending",
}  # fmt: skip


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
    using, first, note, reindexed = adopting.stdout.strip().splitlines()
    assert using.startswith("using the database at ")  # every database command says which first
    assert first.startswith("database at revision") and "(was empty)" in first
    assert "existing Nephthys" in note and "set API_STATUS_CASE=upper" in note
    # Its tickets (opened before the memory existed) get their search rows.
    assert reindexed.startswith(
        "memory reindex: filled the search rows of tickets opened before 0024: 2 rows"
    )
    # Adopted once: a later upgrade has nothing to say about it, nor anything to reindex.
    again = nephthys("db", "upgrade", env={"DATABASE_URL": prisma_database}, cwd=tmp_path)
    assert again.returncode == 0 and "API_STATUS_CASE" not in again.stdout
    assert "memory reindex" not in again.stdout


async def test_db_upgrade_fills_the_search_rows_of_an_adopted_databases_tickets(prisma_database, tmp_path):
    """Adopted tickets have no memory row (they predate 0024): `db upgrade` fills them, in bounded
    batches, once; until then search cannot find them."""
    from nephthys.database.engine import session_factory
    from nephthys.memory import similar

    env = {"DATABASE_URL": prisma_database}
    migrated = nephthys("db", "upgrade", "--no-reindex", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    # More old tickets than a batch, as a database from before 0024 would hold them.
    await postgres.execute(
        prisma_database,
        """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgBy")
           SELECT 'Sticker order ' || n, 'my sticker order number ' || n || ' has not shipped', 'OPEN',
                  '1750000000.' || lpad(n::text, 6, '0'), 1, 'AUTHOR'
           FROM generate_series(1, 25) n""",
    )
    await postgres.execute(prisma_database, 'DELETE FROM "TicketSearch"')
    engine = create_engine(prisma_database)
    sessions = session_factory(engine)
    try:
        assert await similar.search_tickets(sessions, words="sticker") == []
        filled = nephthys("db", "upgrade", "--batch", "10", env=env, cwd=tmp_path)
        assert filled.returncode == 0, filled.stderr
        assert "filled the search rows of tickets opened before 0024: 27 rows" in filled.stdout
        rows = await postgres.fetch(prisma_database, 'SELECT "ticketId" FROM "TicketSearch" ORDER BY 1')
        tickets = await postgres.fetch(prisma_database, 'SELECT id FROM "Ticket" ORDER BY 1')
        assert [r["ticketId"] for r in rows] == [t["id"] for t in tickets]
        # Their helpers' answers were never stored: each thread is to be read by the memory-answers
        # job, once its ticket is closed.
        fetch = await postgres.fetch(
            prisma_database,
            'SELECT s."answerFetch", t.status::text FROM "TicketSearch" s JOIN "Ticket" t ON t.id = s."ticketId"',
        )
        assert len(fetch) == 27 and {row["status"] for row in fetch} >= {"OPEN", "CLOSED"}
        assert all(row["answerFetch"] == ("DUE" if row["status"] == "CLOSED" else "WAITING") for row in fetch)
        found = await similar.search_tickets(sessions, words="sticker shipped", limit=50)
        assert len(found) == 26  # the 25, and the adopted 'I ordered a sticker a month ago'
        [adopted] = [f for f in found if f.msg_ts == "1740819600.000100"]
        assert adopted.title == "Where is my order?"
        # Once: the command run again (or reindex-memory) finds nothing missing.
        again = nephthys("db", "reindex-memory", env=env, cwd=tmp_path)
        assert again.returncode == 0 and "memory reindex" not in again.stdout
        assert len(await postgres.fetch(prisma_database, 'SELECT 1 FROM "TicketSearch"')) == 27
    finally:
        await engine.dispose()


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


EVENTS_SQL = """SELECT t."msgTs", e.kind::text AS kind, e.at, u."slackId" AS actor, e."msgTs" AS event_msg_ts
                FROM "TicketEvent" e JOIN "Ticket" t ON t.id = e."ticketId"
                LEFT JOIN "User" u ON u.id = e."actorId" ORDER BY e."ticketId", e.at, e.id"""


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_adopting_backfills_each_tickets_timeline_from_its_columns(prisma_database):
    """`nephthys db upgrade` gives adopted tickets the events their columns know (migration 0018)."""
    await migrate.upgrade(prisma_database)
    events = [tuple(row.values()) for row in await postgres.fetch(prisma_database, EVENTS_SQL)]
    assert events == [
        ("1740819600.000100", "OPENED", _at("2025-03-01 09:00:00.250"), "U0ASKER01", "1740819600.000100"),
        ("1740819600.000100", "ASSIGNED", _at("2025-03-01 10:30:00"), "U0HELPER1", None),
        ("1740819600.000100", "CLOSED", _at("2025-03-01 11:00:00.500"), "U0HELPER1", None),
        ("1740823200.000300", "OPENED", _at("2025-03-01 10:00:00"), "U0ASKER01", "1740823200.000300"),
        ("1740823200.000300", "REOPENED", _at("2025-03-02 08:00:00"), "U0ADMIN01", None),
    ]


async def test_the_backfill_on_an_older_database_is_idempotent(empty_database):
    """A database at 0017 with tickets gets their events on upgrade; the backfill run again adds none."""
    url = empty_database
    await _migrate_to(url, "0017")
    await postgres.execute(
        url,
        """INSERT INTO "User" ("slackId", helper) VALUES ('U0ASK', false), ('U0HLP', true);
           INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "assignedToId",
                                 "assignedAt", "closedById", "closedAt", "createdAt") VALUES
             ('a', 'd', 'CLOSED', '1700000000.000100', 1, 2, '2023-11-14 22:20:00+00', 2,
              '2023-11-14 23:00:00+00', '2023-11-14 22:13:20+00'),
             ('b', 'd', 'OPEN', '1700000100.000100', 1, NULL, NULL, NULL, NULL, '2023-11-14 22:15:00+00')""",
    )
    await migrate.upgrade(url)
    first = await postgres.fetch(url, EVENTS_SQL)
    assert [(row["msgTs"], row["kind"], row["actor"]) for row in first] == [
        ("1700000000.000100", "OPENED", "U0ASK"),
        ("1700000000.000100", "ASSIGNED", "U0HLP"),
        ("1700000000.000100", "CLOSED", "U0HLP"),
        ("1700000100.000100", "OPENED", "U0ASK"),
    ]
    backfill = importlib.import_module("nephthys.database.migrations.versions.0018_ticket_events").BACKFILL
    await postgres.execute(url, backfill)
    assert await postgres.fetch(url, EVENTS_SQL) == first


async def _migrate_to(url: str, revision: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(migrate.alembic_config(sync), revision))
    finally:
        await engine.dispose()


async def test_the_first_start_folds_adopted_tickets_and_counts_their_minutes(prisma_database):
    """After `nephthys db upgrade`, the service's first start gives every ticket its wait and spans
    (nephthys/tickets/support_minutes.py); a second start with the same calendar changes nothing."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from nephthys.support_calendar import SupportCalendar
    from nephthys.tickets.support_minutes import install_calendar

    await migrate.upgrade(prisma_database)
    engine = create_engine(prisma_database)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        calendar = SupportCalendar(ZoneInfo("UTC"))
        assert await install_calendar(sessions, calendar) is True
        assert await install_calendar(sessions, calendar) is False
    finally:
        await engine.dispose()
    tickets = {
        row["msgTs"]: (
            row["waitingOn"],
            row["waitingSince"],
            row["firstResponseMinutes"],
            row["resolutionMinutes"],
        )
        for row in await postgres.fetch(prisma_database, 'SELECT * FROM "Ticket"')
    }
    # Opened 09:00:00.250, assigned 10:30 (the backfill's stand-in for the first answer), then waiting
    # on the asker until closed at 11:00:00.5: resolution is the wait for that answer alone.
    answered_after = (89 * 60 + 59.75) / 60
    assert tickets["1740819600.000100"] == (None, None, answered_after, answered_after)
    # Only its opening and last reopen are known (no closure): waiting on the helpers since it opened.
    assert tickets["1740823200.000300"] == ("HELPERS", _at("2025-03-01 10:00:00"), None, None)
