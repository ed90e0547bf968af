"""status=open / in_progress come from the service's copy, and every committed change is in the next answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nephthys.database.engine import create_engine, session_factory
from nephthys.tasks.ticket_json import prune_ticket_json_changes
from tests.api.data import add_tag, add_ticket, add_user, every_page
from tests.slack.conftest import eventually
from tests.support import postgres

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


async def from_the_database(client, status: str, **params) -> list[dict]:
    """The same tickets read by keyset pages: straight from the stored rows, no copy involved."""
    return await every_page(client, limit=2, status=status, **params)


async def assert_answers_are_current(client, **params) -> None:
    for status in ("open", "in_progress"):
        answer = await client.get("/api/tickets", params={"status": status, **params})
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.json() == await from_the_database(client, status, **params), (status, params)


async def test_every_kind_of_change_is_in_the_next_answer(serve, db_url):
    asker = await add_user(db_url, "UASKER", username="Asker")
    helper = await add_user(db_url, "UHELPER", helper=True, username="Helper")
    first = await add_ticket(db_url, opened_by=asker, created_at=JAN, description='quotes " and \\ ✓')
    second = await add_ticket(db_url, opened_by=asker, created_at=JAN + timedelta(hours=1))
    # The same creation instant: ordered by id.
    third = await add_ticket(db_url, opened_by=asker, created_at=JAN + timedelta(hours=1))
    tag = await add_tag(db_url, "billing", first)

    def change(sql: str, *args):
        return lambda: postgres.execute(db_url, sql, *args)

    changes = [
        change('UPDATE "Ticket" SET status = \'IN_PROGRESS\', "assignedToId" = $1 WHERE id = $2', helper, first),
        change('UPDATE "User" SET username = \'Asker, renamed "quoted"\' WHERE id = $1', asker),
        change('UPDATE "Tag" SET name = \'payments\' WHERE id = $1', tag),
        change('INSERT INTO tags_on_tickets ("ticketId", "tagId") VALUES ($1, $2)', second, tag),
        change('UPDATE "Ticket" SET status = \'CLOSED\', "closedById" = $1, "closedAt" = $2 WHERE id = $3',
               helper, JAN + timedelta(hours=2), second),
        change('UPDATE "Ticket" SET status = \'OPEN\', "reopenedById" = $1, "closedAt" = NULL WHERE id = $2',
               asker, second),
        change('UPDATE "Ticket" SET status = \'OPEN\', "assignedToId" = NULL WHERE id = $1', first),
        change('DELETE FROM "Ticket" WHERE id = $1', third),
        lambda: add_ticket(db_url, opened_by=asker, created_at=JAN - timedelta(days=1), title="An older one"),
    ]  # fmt: skip
    async with serve() as client:
        await assert_answers_are_current(client)
        for make_change in changes:
            await make_change()
            await assert_answers_are_current(client)
            await assert_answers_are_current(client, since="2026-01-10T12:30:00Z")
            await assert_answers_are_current(client, until="2026-01-10T13:00:00Z")
        # Everything gone at once (a TRUNCATE notes one change for every ticket), then back.
        await postgres.truncate_all(db_url)
        await assert_answers_are_current(client)
        asker = await add_user(db_url, "UASKER")
        await add_ticket(db_url, opened_by=asker, created_at=JAN)
        await assert_answers_are_current(client)
        assert len((await client.get("/api/tickets", params={"status": "open"})).json()) == 1


async def test_hidden_descriptions_come_from_the_same_copy(serve, db_url):
    asker = await add_user(db_url, "UASKER")
    await add_ticket(db_url, opened_by=asker, created_at=JAN, description='secret ✓ "quoted"')
    ticket = await add_ticket(db_url, opened_by=asker, created_at=JAN + timedelta(minutes=1))
    async with serve(api_descriptions="keys") as client:
        for _ in range(2):  # read whole, then from the copy
            hidden = (await client.get("/api/tickets", params={"status": "open"})).json()
            assert [sorted(t) for t in hidden] == [sorted(t) for t in await from_the_database(client, "open")]
            assert all("description" not in t for t in hidden) and len(hidden) == 2
        await postgres.execute(db_url, "UPDATE \"Ticket\" SET title = 'Edited' WHERE id = $1", ticket)
        hidden = (await client.get("/api/tickets", params={"status": "open"})).json()
        # Not AI-written: the question's own words, hidden like the description (issue 18 §5).
        assert hidden[1]["title"] is None and "description" not in hidden[1]
        await postgres.execute(db_url, 'UPDATE "Ticket" SET "titleFromAi" = true WHERE id = $1', ticket)
        hidden = (await client.get("/api/tickets", params={"status": "open"})).json()
        assert hidden[1]["title"] == "Edited" and "description" not in hidden[1]
        assert hidden == await from_the_database(client, "open")


async def test_a_copy_older_than_the_forgotten_notes_is_read_whole(serve, db_url):
    await forget_earlier_tests_notes(db_url)
    asker = await add_user(db_url, "UASKER")
    ticket = await add_ticket(db_url, opened_by=asker, created_at=JAN)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        async with serve() as client:
            await assert_answers_are_current(client)
            await postgres.execute(db_url, "UPDATE \"Ticket\" SET title = 'Changed' WHERE id = $1", ticket)
            await no_transaction_older_than_the_notes_runs(db_url)
            # Two prunes: the first marks the change's transaction as ended, the second forgets its note.
            assert await prune_ticket_json_changes(sessions, period_seconds=0) is not None
            assert await prune_ticket_json_changes(sessions, period_seconds=0) is not None
            assert (
                await postgres.fetch(db_url, 'SELECT 1 FROM "TicketJsonChange" WHERE "ticketId" = $1', ticket)
                == []
            )
            [open_ticket] = (await client.get("/api/tickets", params={"status": "open"})).json()
            assert open_ticket["title"] == "Changed"
    finally:
        await engine.dispose()


async def test_a_prune_forgets_only_notes_a_period_old_and_runs_once_a_period(db_url):
    await forget_earlier_tests_notes(db_url)
    asker = await add_user(db_url, "UASKER")
    ticket = await add_ticket(db_url, opened_by=asker, created_at=JAN)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        await no_transaction_older_than_the_notes_runs(db_url)
        # The first run forgets nothing (nothing was marked) and marks the ticket's insert.
        assert await prune_ticket_json_changes(sessions, period_seconds=0) == 0
        await postgres.execute(db_url, "UPDATE \"Ticket\" SET title = 'Changed' WHERE id = $1", ticket)
        notes = await postgres.fetch(
            db_url, 'SELECT xid FROM "TicketJsonChange" WHERE "ticketId" = $1', ticket
        )
        assert len(notes) == 2  # the insert's and the update's
        inserted, updated = sorted(n["xid"] for n in notes)
        assert await prune_ticket_json_changes(sessions, period_seconds=0) >= 1
        left = await postgres.fetch(
            db_url, 'SELECT xid FROM "TicketJsonChange" WHERE "ticketId" = $1', ticket
        )
        assert [n["xid"] for n in left] == [updated]  # the insert's note is forgotten
        [horizon] = await postgres.fetch(db_url, 'SELECT * FROM "TicketJsonChangeHorizon"')
        assert inserted < horizon["prunedBelow"] <= updated
        # Within the period, another instance's run does nothing.
        assert await prune_ticket_json_changes(sessions, period_seconds=3600) is None
    finally:
        await engine.dispose()


async def forget_earlier_tests_notes(db_url: str) -> None:
    """Start the change log afresh: the notes and prunes of earlier tests (whose ticket ids restart
    at 1 too) would otherwise count in this test's, in whatever order the tests run."""
    await postgres.execute(
        db_url,
        'DELETE FROM "TicketJsonChange"; '
        'UPDATE "TicketJsonChangeHorizon" SET "prunedBelow" = 0, "pruneNextBelow" = 0, "prunedAt" = now()',
    )


async def no_transaction_older_than_the_notes_runs(db_url: str) -> None:
    """Wait until no transaction older than the newest note runs anywhere in the cluster.

    A prune marks what the next may forget below the cluster's oldest running transaction, in any
    database: another test's, when tests run in parallel.
    """
    [newest] = await postgres.fetch(db_url, 'SELECT max(xid) AS xid FROM "TicketJsonChange"')

    async def passed() -> bool:
        [row] = await postgres.fetch(
            db_url, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin"
        )
        return row["xmin"] > newest["xid"]

    await eventually(passed, within=60)


async def test_a_change_notes_its_ticket_in_its_own_transaction(db_url):
    asker = await add_user(db_url, "UASKER")
    ticket = await add_ticket(db_url, opened_by=asker, created_at=JAN)
    rows = await postgres.fetch(
        db_url,
        """WITH changed AS (UPDATE "Ticket" SET status = 'CLOSED', "closedAt" = $2 WHERE id = $1 RETURNING id)
           SELECT pg_current_xact_id()::text::bigint AS xid FROM changed""",
        ticket,
        JAN + timedelta(hours=1),
    )
    notes = await postgres.fetch(
        db_url, 'SELECT "ticketId", "createdAt" FROM "TicketJsonChange" WHERE xid = $1', rows[0]["xid"]
    )
    # Deleted from the active table, written to the closed one: both noted.
    assert [tuple(n) for n in notes] == [(ticket, JAN), (ticket, JAN)]
