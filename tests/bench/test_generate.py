"""The benchmark's data generator keeps its promises: proportions, consistent stories, a migrated schema."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from bench.generate import Shape, generate
from nephthys.database import migrate
from tests.support import postgres

SHAPE = Shape(tickets=2000, users=300, helpers=20, tags=5, question_tags=4, days=365, bot_messages=True)

# Each names a broken invariant and counts the tickets breaking it; all must be 0.
VIOLATIONS = {
    "closed without closedAt or closedById": """
        status = 'CLOSED' AND ("closedAt" IS NULL OR "closedById" IS NULL)""",
    "not closed yet has closedAt or closedById": """
        status <> 'CLOSED' AND ("closedAt" IS NOT NULL OR "closedById" IS NOT NULL)""",
    "in progress without an assignment": """
        status = 'IN_PROGRESS' AND ("assignedAt" IS NULL OR "assignedToId" IS NULL)""",
    "assignedAt and assignedToId disagree": """("assignedAt" IS NULL) <> ("assignedToId" IS NULL)""",
    "open and assigned without a reopening": """
        status = 'OPEN' AND "assignedAt" IS NOT NULL AND "reopenedAt" IS NULL""",
    "reopenedAt and reopenedById disagree": """("reopenedAt" IS NULL) <> ("reopenedById" IS NULL)""",
    "closed before the reopening it follows": """"closedAt" < "reopenedAt\"""",
    "time runs backwards": """
        "assignedAt" < "createdAt" OR "closedAt" < "createdAt" OR "closedAt" < "assignedAt"
        OR "reopenedAt" < "createdAt" OR "lastMsgAt" < "createdAt\"""",
    "last message after the closure": """"lastMsgAt" > "closedAt\"""",
    "in the future": """greatest("createdAt", "assignedAt", "closedAt", "reopenedAt", "lastMsgAt") > $1""",
    "older than the span": """"createdAt" < $1::timestamptz - interval '365 days'""",
    "closed by a non-helper": """
        "closedById" IS NOT NULL AND NOT (SELECT helper FROM "User" WHERE id = "closedById")""",
    "assigned to a non-helper": """
        "assignedToId" IS NOT NULL AND NOT (SELECT helper FROM "User" WHERE id = "assignedToId")""",
    "opened by a helper": """(SELECT helper FROM "User" WHERE id = "openedById")""",
    "closed and waiting, or open and waiting on nobody": """(status = 'CLOSED') = ("waitingOn" IS NOT NULL)""",
    "waitingOn and waitingSince disagree": """("waitingOn" IS NULL) <> ("waitingSince" IS NULL)""",
    "waiting on the asker though the asker spoke last": """
        "waitingOn" = 'ASKER' AND "lastMsgBy" <> 'HELPER'""",
    "waiting since before it was asked or after now": """
        "waitingSince" < "createdAt" OR "waitingSince" > $1""",
}


@pytest.fixture(scope="module", params=["live", "compact"])
async def generated(pg_server: str, request):
    """The same story written both ways: as a live table's history, and as final rows (today's data)."""
    shape = dataclasses.replace(SHAPE, live=request.param == "live")
    now = datetime.now(UTC)
    name = f"nephthys_bench_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = await generate(shape, server_url=pg_server, database=name, now=now, log=lambda *_: None)
    yield url, now
    await postgres.drop_database(pg_server, url)


async def scalar(url: str, sql: str, *args):
    return (await postgres.fetch(url, sql, *args))[0][0]


async def test_tickets_come_in_the_issue_proportions(generated) -> None:
    url, _ = generated
    counts = {row["status"]: row["count"] for row in await postgres.fetch(
        url, 'SELECT status::text AS status, count(*) FROM "Ticket" GROUP BY status'
    )}  # fmt: skip
    assert sum(counts.values()) == SHAPE.tickets
    # The seed is fixed, so these are exact for this shape; the bounds say what is meant (~3%, ~5%).
    assert 0.015 <= counts["OPEN"] / SHAPE.tickets <= 0.05
    assert 0.03 <= counts["IN_PROGRESS"] / SHAPE.tickets <= 0.075
    assert counts["CLOSED"] == SHAPE.tickets - counts["OPEN"] - counts["IN_PROGRESS"]
    reopened = await scalar(url, 'SELECT count(*) FROM "Ticket" WHERE "reopenedAt" IS NOT NULL')
    assert 0 < reopened < 0.05 * SHAPE.tickets
    tagged = await scalar(url, 'SELECT count(DISTINCT "ticketId") FROM tags_on_tickets')
    assert 0.35 <= tagged / SHAPE.tickets <= 0.55
    assert await scalar(url, "SELECT count(*) FROM tags_on_tickets") > tagged  # some carry two
    assert 0 < await scalar(url, 'SELECT count(*) FROM "Ticket" WHERE "questionTagId" IS NOT NULL')
    assert await scalar(url, 'SELECT count(*) FROM "User" WHERE helper') == SHAPE.helpers
    assert await scalar(url, 'SELECT count(*) FROM "User"') == SHAPE.users
    assert await scalar(url, 'SELECT count(*) FROM "Tag"') == SHAPE.tags
    assert await scalar(url, 'SELECT count(*) FROM "BotMessage"') > SHAPE.tickets
    assert await scalar(url, "SELECT count(*) FROM user_tag_subscriptions") > 0


@pytest.mark.parametrize("violation", VIOLATIONS)
async def test_every_ticket_tells_a_consistent_story(generated, violation: str) -> None:
    url, now = generated
    condition = VIOLATIONS[violation]
    args = [now] if "$1" in condition else []
    broken = await scalar(url, f'SELECT count(*) FROM "Ticket" WHERE {condition}', *args)
    assert broken == 0, violation


async def test_ids_follow_creation_time(generated) -> None:
    url, _ = generated
    out_of_order = await scalar(
        url,
        """SELECT count(*) FROM (
               SELECT "createdAt" < lag("createdAt") OVER (ORDER BY id) AS earlier FROM "Ticket"
           ) AS pairs WHERE earlier""",
    )
    assert out_of_order == 0


async def test_the_database_is_migrated_and_usable_after_loading(generated) -> None:
    url, _ = generated
    assert await scalar(url, "SELECT version_num FROM alembic_version") == migrate.head_revision()
    # Explicit ids were loaded: the serials must hand out fresh ones. (Rolled back: other tests count rows.)
    connection = await asyncpg.connect(url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        user_id = await connection.fetchval(
            """INSERT INTO "User" ("slackId") VALUES ('UNEWUSER01') RETURNING id"""
        )
        ticket_id = await connection.fetchval(
            """INSERT INTO "Ticket" (title, description, "msgTs", "openedById")
               VALUES ('t', 'd', '1.000001', $1) RETURNING id""",
            user_id,
        )
    finally:
        await transaction.rollback()
        await connection.close()
    assert user_id == SHAPE.users + 1
    assert ticket_id == SHAPE.tickets + 1


async def test_derived_tables_the_migrations_keep_are_exact(generated) -> None:
    """Rows were inserted with triggers on, so a recount from scratch changes nothing."""
    url, _ = generated
    if not await scalar(url, "SELECT count(*) FROM pg_proc WHERE proname = 'ticket_totals_rebuild'"):
        pytest.skip("no migration keeps derived ticket totals")
    totals_sql = "SELECT to_jsonb(t) - 'version' FROM \"TicketTotals\" t"
    closers_sql = 'SELECT coalesce(jsonb_object_agg("userId", "count"), \'{}\') FROM "UserClosedCount"'
    loaded = [json.loads(await scalar(url, sql)) for sql in (totals_sql, closers_sql)]
    await postgres.execute(url, 'SELECT "ticket_totals_rebuild"()')
    assert [json.loads(await scalar(url, sql)) for sql in (totals_sql, closers_sql)] == loaded
    assert loaded[0]["closed"] > 0 and loaded[1]


async def test_live_data_holds_a_live_tables_history_and_pasted_text(generated) -> None:
    """Rows were updated after their insertion (dead or moved row versions) and descriptions vary."""
    url, _ = generated
    live = await scalar(url, """SELECT count(*) FROM "Ticket" WHERE description ~ '[😅🙏]'""") > 0
    lengths = await postgres.fetch(
        url, 'SELECT min(length(description)), max(length(description)) FROM "Ticket"'
    )
    moved = await scalar(
        url,
        """SELECT count(*) FROM (SELECT id, (ctid::text::point)[0] AS page,
                                        lag((ctid::text::point)[0]) OVER (ORDER BY id) AS previous
                                 FROM "Ticket") pages WHERE page < previous""",
    )
    if live:
        assert lengths[0][0] < 40 and lengths[0][1] > 600  # a few words to a few paragraphs
        assert await scalar(url, """SELECT count(*) FROM "Ticket" WHERE position('\\' in description) > 0""")
        # Updated rows left their insertion page: the heap is far from id order (~35% here).
        assert moved > 0.1 * SHAPE.tickets
    else:
        assert moved < 0.02 * SHAPE.tickets  # rows written in their final state, in id order
    # The stored JSON (migration 0011) covers every ticket, whichever way it was written.
    stored = await scalar(
        url, 'SELECT (SELECT count(*) FROM "ActiveTicketJson") + (SELECT count(*) FROM "ClosedTicketJson")'
    )
    assert stored == SHAPE.tickets
