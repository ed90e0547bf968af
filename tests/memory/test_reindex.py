"""The bulk reindex of tickets opened before migration 0024 (nephthys/memory/reindex.py): bounded
batches, resumable, exactly once, and the lifecycle's own rows left as they are. `nephthys db
upgrade` running it on an adopted database is in tests/database/test_adoption.py."""

from __future__ import annotations

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.memory import index as memory_index
from nephthys.memory import reindex, similar
from nephthys.tasks.memory_reindex import MemoryReindex
from tests.support.postgres import execute, fetch

TICKETS = 1_234


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def old_tickets(db_url: str, count: int = TICKETS) -> None:
    """Tickets as a database from before 0024 holds them: no memory row."""
    await execute(db_url, """INSERT INTO "User" ("slackId") VALUES ('UASKER0001')""")
    await execute(
        db_url,
        f"""INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgBy")
            SELECT 'Question ' || n, CASE WHEN n % 100 = 7 THEN 'invalid_token on my hackatime key ' || n
                                          ELSE 'something else entirely number ' || n END,
                   'OPEN', '1700000000.' || lpad(n::text, 6, '0'), 1, 'AUTHOR'
            FROM generate_series(1, {count}) n""",
    )
    await execute(db_url, 'DELETE FROM "TicketSearch"')


async def rows(db_url: str) -> int:
    return (await fetch(db_url, 'SELECT count(*) AS n FROM "TicketSearch"'))[0]["n"]


async def test_missing_rows_are_filled_in_batches_resumably_and_once(sessions, db_url):
    await old_tickets(db_url)
    assert await similar.search_tickets(sessions, words="invalid_token hackatime") == []
    assert await reindex.any_missing(sessions)

    # Stopped after three batches (a crash, a bound): what it did stays.
    first = await reindex.reindex_missing(sessions, batch=100, max_batches=3)
    assert (first.filled, first.batches, first.done) == (300, 3, False)
    assert await rows(db_url) == 300

    # Meanwhile the lifecycle writes a missing ticket's row itself (an edited question): it is kept.
    [edited] = await fetch(db_url, """SELECT id FROM "Ticket" WHERE title = 'Question 1000'""")
    async with sessions.begin() as session:
        await memory_index.question_changed(
            session, ticket_id=edited["id"], title="Question 1000", description="payout pending"
        )
    before = await fetch(
        db_url, 'SELECT document::text FROM "TicketSearch" WHERE "ticketId" = $1', edited["id"]
    )

    # Resumed from the start: the rest, once each.
    rest = await reindex.reindex_missing(sessions, batch=100)
    assert rest.done and rest.filled == TICKETS - 300 - 1
    assert await rows(db_url) == TICKETS and not await reindex.any_missing(sessions)
    after = await fetch(
        db_url, 'SELECT document::text FROM "TicketSearch" WHERE "ticketId" = $1', edited["id"]
    )
    assert after == before

    # Indexed as opening indexes: search finds them now.
    found = await similar.search_tickets(sessions, words="invalid_token hackatime", limit=50)
    assert len(found) == TICKETS // 100 + (1 if TICKETS % 100 >= 7 else 0)
    [one] = await fetch(
        db_url,
        """SELECT s.document::text AS document, s."questionTerms" AS terms, t.title, t.description
           FROM "TicketSearch" s JOIN "Ticket" t ON t.id = s."ticketId" WHERE t.title = 'Question 7'""",
    )
    document, question_terms = memory_index.question_document(one["title"], one["description"])
    assert one["terms"] == question_terms
    assert (
        one["document"] == (await fetch(db_url, "SELECT CAST($1 AS tsvector)::text AS d", document))[0]["d"]
    )

    # Again: nothing to do.
    again = await reindex.reindex_missing(sessions)
    assert again.done and again.filled == 0 and await rows(db_url) == TICKETS


async def test_one_run_at_a_time(sessions, db_url):
    await old_tickets(db_url, 10)
    engine = sessions.kw["bind"]
    async with engine.connect() as other:
        assert await other.scalar(
            reindex.text("SELECT pg_try_advisory_lock(:key)"), {"key": reindex.LOCK_KEY}
        )
        await other.commit()
        skipped = await reindex.reindex_missing(sessions)
        assert skipped.skipped and not skipped.done and await rows(db_url) == 0
        await other.execute(reindex.text("SELECT pg_advisory_unlock(:key)"), {"key": reindex.LOCK_KEY})
        await other.commit()
    assert (await reindex.reindex_missing(sessions)).filled == 10


async def test_the_job_goes_on_run_after_run_and_then_stops_looking(sessions, db_url):
    await old_tickets(db_url)
    job = MemoryReindex(sessions, batches_per_run=2, pause_seconds=0)
    assert await job.run(dry_run=True) == "some tickets lack a search row"
    said = [await job.run() for _ in range(3)]
    assert said[0] == f"filled {2 * reindex.BATCH}, up to ticket #{2 * reindex.BATCH}"
    assert said[1] == f"filled {TICKETS - 2 * reindex.BATCH}; none missing"
    assert said[2] == "none missing" and job.finished
    assert await rows(db_url) == TICKETS


async def test_an_answer_to_a_ticket_being_reindexed_is_kept(sessions, db_url):
    """The lifecycle found no row and inserts one with the answer just as the reindex inserted the
    question's: the answer is not lost."""
    await old_tickets(db_url, 1)
    await reindex.reindex_missing(sessions)
    await execute(db_url, """INSERT INTO "User" ("slackId") VALUES ('UHELPER001')""")
    async with sessions.begin() as session:
        await session.execute(
            memory_index._ANSWERED_NEW_ROW,
            {
                "ticket_id": 1,
                "helper_id": 2,
                "answer": "Regenerate the key in settings.",
                "ts": "1700000001.000000",
                "at": None,
                "answer_document": memory_index._answer_document("Regenerate the key in settings."),
                "question_document": memory_index.question_document("x", "y")[0],
                "question_terms": ["x"],
            },
        )
    [row] = await fetch(db_url, 'SELECT answer, "questionTerms" FROM "TicketSearch" WHERE "ticketId" = 1')
    assert row["answer"] == "Regenerate the key in settings." and row["questionTerms"] != ["x"]
    assert await similar.search_tickets(sessions, words="regenerate settings")
