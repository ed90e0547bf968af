"""The stored ticket JSON (migrations 0011, 0013, 0016, 0020) is byte for byte what the request-time renderer writes.

The reference is nephthys.api.ticket_json (both of its encodings, with and
without descriptions), run over the benchmark's live-shaped data (pasted text:
quotes, backslashes, tabs, emoji, other scripts; every status; reopened
tickets), then again after each kind of change the triggers must follow: users
and tags renamed, every status change, tags added, removed and deleted,
tickets edited, created and deleted, whom they wait on and their minutes changed
(by a session whatever its float digits). A database whose triggers were off during
a change is made whole by `nephthys db rebuild-ticket-json`.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest
from alembic import command

from bench.generate import Shape, generate
from nephthys.api import stored_tickets
from nephthys.api.ticket_json import Encoding, TicketRenderer, float8_json
from nephthys.database import migrate
from nephthys.database.engine import create_engine
from tests.support import postgres

SHAPE = Shape(tickets=1200, users=150, helpers=12, tags=6, question_tags=4, days=120, live=True)

STORED_SQL = f"""SELECT j."ticketId", {{column}} AS json FROM (
    SELECT "ticketId", json, "descriptionAt", "descriptionLength" FROM {stored_tickets.ACTIVE}
    UNION ALL
    SELECT "ticketId", json, "descriptionAt", "descriptionLength" FROM {stored_tickets.CLOSED}) j"""


@pytest.fixture
async def generated(pg_server: str):
    name = f"nephthys_json_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = await generate(
        SHAPE, server_url=pg_server, database=name, now=datetime.now(UTC), log=lambda *_: None
    )
    yield url
    await postgres.drop_database(pg_server, url)


# The members migration 0020 added, as a ticket without them (or a database before it) has them.
NO_WAIT = b',"waiting_on":null,"waiting_since":null,"first_response_minutes":null,"resolution_minutes":null}'


async def reference(
    connection: asyncpg.Connection,
    encoding: Encoding,
    descriptions: bool,
    *,
    question_titles: bool | None = None,
    before_0020: bool = False,
) -> dict[int, bytes]:
    """Every ticket as the request-time renderer writes it (``before_0020``: without 0020's members)."""
    columns = encoding.columns(
        descriptions=descriptions, question_titles=question_titles, waiting=not before_0020
    )
    rows = await connection.fetch(f'SELECT {columns}, t.id AS ticket_id FROM "Ticket" t ORDER BY t.id')
    renderer = TicketRenderer(connection, encoding, descriptions=descriptions)
    rendered = {row["ticket_id"]: await renderer.render([row]) for row in rows}
    if before_0020:
        assert all(json.endswith(NO_WAIT) for json in rendered.values())
        rendered = {ticket: json[: -len(NO_WAIT)] + b"}" for ticket, json in rendered.items()}
    return rendered


async def stored(connection: asyncpg.Connection, descriptions: bool) -> dict[int, bytes]:
    rows = await connection.fetch(STORED_SQL.format(column=stored_tickets.json_bytes(descriptions)))
    assert len({row["ticketId"] for row in rows}) == len(rows), "a ticket stored twice"
    return {row["ticketId"]: row["json"] for row in rows}


async def assert_stored_equals_rendered(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        statuses = dict(await connection.fetch('SELECT "ticketId", status::text FROM "ActiveTicketJson"'))
        expected_statuses = dict(
            await connection.fetch("""SELECT id, status::text FROM "Ticket" WHERE status <> 'CLOSED'""")
        )
        assert statuses == expected_statuses  # the active table holds exactly the active tickets
        for descriptions in (True, False):
            kept = await stored(connection, descriptions)
            for encoding in Encoding:
                rendered = await reference(connection, encoding, descriptions)
                assert kept.keys() == rendered.keys()
                different = [ticket for ticket in rendered if kept[ticket] != rendered[ticket]]
                assert not different, (encoding, descriptions, kept[different[0]], rendered[different[0]])
        return len(kept)
    finally:
        await connection.close()


async def one(url: str, sql: str, *args):
    return (await postgres.fetch(url, sql, *args))[0][0]


async def test_stored_json_follows_every_change(generated):
    url = generated
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets
    # The data has what makes escaping hard, in every status, and reopened tickets.
    assert await one(
        url, """SELECT count(*) FROM "Ticket" WHERE position('\\' in description) > 0 AND description ~ '"'"""
    )
    assert await one(url, """SELECT count(*) FROM "Ticket" WHERE description ~ '[😅🙏]'""")
    assert await one(url, 'SELECT count(DISTINCT status) FROM "Ticket"') == 3
    assert await one(url, 'SELECT count(*) FROM "Ticket" WHERE "reopenedAt" IS NOT NULL')

    # Renames: Slack ids and usernames (to odd text and to null) of helpers and askers; tags.
    await postgres.execute(
        url,
        """UPDATE "User" SET "slackId" = "slackId" || 'X',
                             username = CASE WHEN id % 2 = 0 THEN E'Zoë "z" \\\\ 🚀\\t' END
           WHERE id IN (1, 2, 3, (SELECT "openedById" FROM "Ticket" ORDER BY id LIMIT 1))""",
    )
    await postgres.execute(url, """UPDATE "Tag" SET name = name || E' «ü» "q"\\\\' WHERE id IN (1, 2)""")
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets

    # Every status change, and the columns that go with it.
    picks = [
        row["id"] for row in await postgres.fetch(url, """SELECT id FROM "Ticket" ORDER BY id LIMIT 6""")
    ]
    transitions = [
        ("IN_PROGRESS", """"assignedToId" = 4, "assignedAt" = "createdAt" + interval '1 minute'"""),
        ("CLOSED", """"closedById" = 5, "closedAt" = "createdAt" + interval '2 hours'"""),
        (
            "OPEN",
            """"closedById" = NULL, "closedAt" = NULL, "reopenedById" = "openedById",
                    "reopenedAt" = "createdAt" + interval '3 hours'""",
        ),
        ("CLOSED", """"closedById" = 6, "closedAt" = "createdAt" + interval '4 hours'"""),
        ("IN_PROGRESS", """"closedById" = NULL, "closedAt" = NULL"""),
        ("OPEN", """"assignedToId" = NULL, "assignedAt" = NULL"""),
    ]
    for ticket in picks:
        for status, columns in transitions:
            await postgres.execute(
                url, f"""UPDATE "Ticket" SET status = '{status}', {columns} WHERE id = $1""", ticket
            )
            await assert_one_ticket_matches(url, ticket)
    # Tags added, removed, and a tag deleted (its links go with it).
    await postgres.execute(
        url,
        """INSERT INTO tags_on_tickets ("ticketId", "tagId") SELECT $1, id FROM "Tag" ON CONFLICT DO NOTHING""",
        picks[0],
    )
    await postgres.execute(url, 'DELETE FROM tags_on_tickets WHERE "ticketId" = $1 AND "tagId" = 3', picks[0])
    await postgres.execute(url, 'DELETE FROM "Tag" WHERE id = 4')
    # Edits with control characters; a new ticket; a deleted one.
    await postgres.execute(
        url,
        """UPDATE "Ticket" SET title = E'T\\u0001\\u0007\\u2028 "x"', description = E'a\\rb\\u001fc\\\\'
           WHERE id = $1""",
        picks[1],
    )
    await postgres.execute(
        url,
        """INSERT INTO "Ticket" (title, description, "msgTs", "openedById") VALUES ('New', E'\\\\n', '9.000001', 7)""",
    )
    await postgres.execute(url, 'DELETE FROM "BotMessage" WHERE "ticketId" = $1', picks[2])
    await postgres.execute(url, 'DELETE FROM tags_on_tickets WHERE "ticketId" = $1', picks[2])
    await postgres.execute(url, 'DELETE FROM "Ticket" WHERE id = $1', picks[2])
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets

    # Whom tickets wait on, since when, and their minutes (the lifecycle writes them; here any values,
    # as another tool might), in every status: whole, tiny, huge and fractional minutes, written by a
    # session whose float8 text would be rounded (extra_float_digits 0).
    await postgres.execute(
        url,
        """SET extra_float_digits = 0;
           UPDATE "Ticket" SET
             "waitingOn" = (ARRAY['HELPERS', 'ASKER', NULL])[id % 3 + 1]::"WaitingOn",
             "waitingSince" = CASE WHEN id % 3 <> 2 THEN "createdAt" + (id % 7) * interval '1 minute 0.125 second' END,
             "firstResponseMinutes" = CASE id % 5 WHEN 0 THEN NULL WHEN 1 THEN 60 WHEN 2 THEN 0
                 WHEN 3 THEN id / 60000.0 ELSE id * 1234.5678 / 7 END,
             "resolutionMinutes" = CASE id % 4 WHEN 0 THEN NULL WHEN 1 THEN id * 1e13
                 WHEN 2 THEN 1.0 / 3 ELSE 2.5e-7 * id END
           WHERE id % 11 <> 0""",
    )
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets
    connection = await asyncpg.connect(url)
    try:
        columns = {
            row["id"]: row
            for row in await connection.fetch(
                'SELECT id, status::text, "waitingOn"::text, "firstResponseMinutes" FROM "Ticket"'
            )
        }
        shown = {ticket: orjson.loads(json) for ticket, json in (await stored(connection, False)).items()}
    finally:
        await connection.close()
    for ticket, row in columns.items():
        keys = list(shown[ticket])
        assert keys[-6:] == ["message_ts", "waiting_on", "waiting_since", "first_response_minutes",
                             "resolution_minutes", "sla"]  # fmt: skip
        assert shown[ticket]["sla"] is None  # no SLA targets here (the member is 0028's, last)
        waits = row["waitingOn"] if row["status"] != "CLOSED" else None  # a closed ticket waits on nobody
        assert shown[ticket]["waiting_on"] == (waits.lower() if waits else None)
        assert (shown[ticket]["waiting_since"] is None) is (waits is None)
        assert shown[ticket]["first_response_minutes"] == row["firstResponseMinutes"]
    assert {"helpers", "asker", None} == {json["waiting_on"] for json in shown.values()}
    # Each of the four columns alone renders the ticket again.
    ticket = picks[3]
    for change in (
        """"waitingOn" = 'ASKER'""",
        """"waitingSince" = "createdAt" + interval '90 seconds'""",
        """"firstResponseMinutes" = 1.5""",
        """"resolutionMinutes" = 1e-5""",
    ):
        await postgres.execute(url, f'UPDATE "Ticket" SET {change} WHERE id = $1', ticket)
        await assert_one_ticket_matches(url, ticket)

    # What the JSON does not show is not rendered again (every Slack message moves lastMsgAt).
    before = await one(url, 'SELECT xmin::text FROM "ActiveTicketJson" ORDER BY "ticketId" LIMIT 1')
    await postgres.execute(
        url,
        """UPDATE "Ticket" SET "lastMsgAt" = now(), "lastMsgBy" = 'HELPER'
           WHERE id = (SELECT "ticketId" FROM "ActiveTicketJson" ORDER BY "ticketId" LIMIT 1)""",
    )
    assert await one(url, 'SELECT xmin::text FROM "ActiveTicketJson" ORDER BY "ticketId" LIMIT 1') == before


async def test_a_change_is_rendered_by_its_generic_plan_on_a_long_lived_connection(generated):
    """The single ticket's render runs with a generic plan (migration 0038): planned once per
    connection instead of again for each of the plan cache's first five runs. Changes on one
    connection, past those five and again after an invalidation of what the render reads (an
    ANALYZE, as autovacuum runs), render exactly what the request-time renderer writes."""
    url = generated
    settings = await one(url, """SELECT proconfig FROM pg_proc WHERE proname = 'ticket_json_on_ticket'""")
    assert sorted(settings) == ["extra_float_digits=1", "plan_cache_mode=force_generic_plan"]
    # The set renders keep their custom plans (their sets' sizes matter to the plan).
    for name in ("ticket_json_refresh", "ticket_json_rebuild"):
        assert await one(url, "SELECT proconfig FROM pg_proc WHERE proname = $1", name) == [
            "extra_float_digits=1"
        ]
    tickets = [
        row["id"]
        for row in await postgres.fetch(
            url, """SELECT id FROM "Ticket" WHERE status = 'OPEN' ORDER BY id LIMIT 4"""
        )
    ]
    connection = await asyncpg.connect(url)
    try:
        for round_ in range(2):
            for ticket in tickets:
                for status, assigned in (("IN_PROGRESS", 3 + round_), ("OPEN", None)):
                    await connection.execute(
                        """UPDATE "Ticket" SET status = $2::"TicketStatus", "assignedToId" = $3,
                               "assignedAt" = CASE WHEN $3::int IS NULL THEN NULL ELSE "createdAt" END
                           WHERE id = $1""",
                        ticket,
                        status,
                        assigned,
                    )
                    await assert_one_ticket_matches(url, ticket)
            await connection.execute('ANALYZE "Ticket", "ActiveTicketJson", "TicketSlaClock"')
    finally:
        await connection.close()
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets


async def test_minutes_are_written_as_postgresql_writes_a_float8(db_url):
    """The Python encoding's minutes (float8_json) are PostgreSQL's float8 text, on realistic minutes:
    whole, tiny (exponent form), fractional, up to a century."""
    shuffled = random.Random(20)
    values = [0.0, 60.0, 1.5, 1e-4, 9.99e-5, 1 / 60000, 1e15, 1e15 + 0.5, 999999999999999.9, 52596000.0]
    values += [shuffled.randint(0, 3_155_760_000_000) / 60000 for _ in range(20000)]  # ms over a century
    values += [shuffled.uniform(0, 10**k) for k in range(-6, 16) for _ in range(500)]
    connection = await asyncpg.connect(db_url)
    try:
        rows = await connection.fetch(
            "SELECT v, to_json(v)::text AS text FROM unnest($1::float8[]) v", values
        )
    finally:
        await connection.close()
    different = [(row["v"], row["text"]) for row in rows if float8_json(row["v"]) != row["text"]]
    assert not different, different[:5]
    assert [float8_json(v) for v in (60.0, 1 / 60000, 1e15)] == ["60", "1.6666666666666667e-05", "1e+15"]


async def assert_one_ticket_matches(url: str, ticket: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        kept = (await stored(connection, True))[ticket]
        rows = await connection.fetch(
            f'SELECT {Encoding.PYTHON.columns()} FROM "Ticket" t WHERE t.id = $1', ticket
        )
        assert kept == await TicketRenderer(connection, Encoding.PYTHON).render(rows)
    finally:
        await connection.close()


async def test_the_rebuild_command_mends_a_database_changed_with_triggers_off(generated, tmp_path):
    url = generated
    # A load or restore with triggers off (as pg_restore --disable-triggers, or replica mode).
    await postgres.execute(
        url,
        """SET session_replication_role = replica;
           UPDATE "Ticket" SET status = 'CLOSED', "closedById" = 1, "closedAt" = "createdAt" + interval '1 day'
           WHERE status = 'OPEN';
           UPDATE "User" SET username = 'renamed ' || id;
           INSERT INTO "Ticket" (title, description, "msgTs", "openedById") VALUES ('Loaded', 'd', '8.000001', 7);""",
    )
    with pytest.raises(AssertionError):
        await assert_stored_equals_rendered(url)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "nephthys", "db", "rebuild-ticket-json"],
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "DATABASE_URL": url},
        cwd=tmp_path,  # no developer .env
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"rendered the stored JSON of {SHAPE.tickets + 1} tickets" in result.stdout
    blocks = await postgres.fetch(url, 'SELECT count(*) AS n FROM "TicketJsonBlock"')
    assert blocks[0]["n"] >= 1 and f"built {blocks[0]['n']} export blocks" in result.stdout
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets + 1


async def _migrate(url: str, revision: str, *, down: bool) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            move = command.downgrade if down else command.upgrade
            await connection.run_sync(lambda sync: move(migrate.alembic_config(sync), revision))
    finally:
        await engine.dispose()


async def test_description_offsets_move_between_characters_and_octets(generated):
    """0013 turns 0011's character offsets into octets and back, on data with other scripts and emoji."""
    url = generated
    # Before 0013, the cut was a text overlay at character offsets.
    await _migrate(url, "0011", down=True)
    connection = await asyncpg.connect(url)
    try:
        in_characters = dict(
            await connection.fetch(
                STORED_SQL.format(
                    column="""overlay(j.json PLACING '' FROM j."descriptionAt" + 1 FOR j."descriptionLength")"""
                )
            )
        )
        # Before 0016 a title was never hidden (and "titleFromAi" does not exist yet).
        expected = await reference(
            connection, Encoding.PYTHON, descriptions=False, question_titles=True, before_0020=True
        )
        assert {ticket: text.encode() for ticket, text in in_characters.items()} == expected
        # The data has objects whose characters and octets differ before and within the description.
        assert await connection.fetchval(
            f"""SELECT count(*) FROM ({STORED_SQL.format(column="j.json")}) s
                WHERE octet_length(json) <> length(json)"""
        )
    finally:
        await connection.close()
    await _migrate(url, "head", down=False)
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets
    # A ticket changed after the upgrade is rendered with octet offsets too.
    await postgres.execute(
        url,
        """UPDATE "Ticket" SET title = 'Überraschung 😅 ' || title, description = 'ä€😅 ' || description
           WHERE id IN (SELECT id FROM "Ticket" ORDER BY id LIMIT 50)""",
    )
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets


async def test_a_title_from_the_question_is_hidden_with_the_description(generated):
    """0016: without descriptions a title made of the question's words is null, an AI-written one
    stays; the stored cuts are moved in place on upgrade and back on downgrade; a change of
    "titleFromAi" alone is rendered again."""
    url = generated
    await _migrate(url, "0014", down=True)
    await _migrate(url, "head", down=False)  # existing rows: their cuts are moved in place
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets
    await postgres.execute(url, 'UPDATE "Ticket" SET "titleFromAi" = true WHERE id % 3 = 0')
    assert await assert_stored_equals_rendered(url) == SHAPE.tickets
    connection = await asyncpg.connect(url)
    try:
        titles = dict(await connection.fetch('SELECT id, title FROM "Ticket"'))
        for descriptions in (False, True):
            for ticket_id, kept in (await stored(connection, descriptions)).items():
                shown = orjson.loads(kept)
                assert ("description" in shown) is descriptions
                hidden = not descriptions and ticket_id % 3 != 0
                assert shown["title"] == (None if hidden else titles[ticket_id])
                assert list(shown)[:2] == ["id", "title"]
    finally:
        await connection.close()
    await _migrate(url, "0014", down=True)
    connection = await asyncpg.connect(url)
    try:
        expected = await reference(
            connection, Encoding.PYTHON, descriptions=False, question_titles=True, before_0020=True
        )
        assert await stored(connection, False) == expected
    finally:
        await connection.close()
