"""Whom a ticket waits on and its response minutes in ticket objects, and ``?waiting_on=`` (issue 20).

Tickets are driven through the lifecycle by signed Slack requests (the fake Slack): a question,
replies by a helper, the asker and a stranger, a Resolve click, each dated by its Slack ts or
action_ts. The objects' new members follow them, every way of reading a ticket writes the same
object, and the filter narrows to the open and in-progress tickets waiting on that side.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import orjson

from nephthys.api import stored_tickets
from nephthys.api.ticket_json import Encoding, TicketRenderer
from nephthys.database.engine import create_engine, session_factory
from nephthys.slack import messages
from nephthys.slack.instants import slack_instant
from nephthys.tasks.ticket_json import keep_blocks
from tests.api.data import every_page
from tests.slack.conftest import ASKER, HELPER, STRANGER
from tests.slack.test_timeline import ask_at, click, minutes_ago
from tests.support import postgres

NEW_KEYS = ["waiting_on", "waiting_since", "first_response_minutes", "resolution_minutes"]


def later(ts: str, minutes: int) -> str:
    """The Slack ts ``minutes`` after ``ts`` (same sub-second part)."""
    seconds, _, fraction = ts.partition(".")
    return f"{int(seconds) + minutes * 60}.{fraction}"


def iso(ts: str) -> str:
    at = slack_instant(ts)
    assert isinstance(at, datetime)
    return at.isoformat(timespec="milliseconds")


def waiting(ticket: dict) -> tuple:
    assert list(ticket)[-6:] == ["message_ts", *NEW_KEYS, "sla"]  # after every existing key (sla: issue 21)
    return tuple(ticket[key] for key in NEW_KEYS)


async def ids(client, **params) -> list[int]:
    response = await client.get("/api/tickets", params=params)
    assert response.status_code == 200, response.text
    return [ticket["id"] for ticket in response.json()]


async def test_waiting_and_minutes_follow_the_lifecycle_and_the_filter_follows_them(desk, team, serve):
    async with desk() as d:
        t0 = minutes_ago(120)
        asked, ticket = await ask_at(d, t0)
        first = ticket["id"]
        # A question only the asker has spoken on waits on the helpers; nothing is known yet.
        assert waiting(await d.api_ticket(first)) == ("helpers", iso(t0), None, None)
        other_asked, other = await ask_at(d, later(t0, 1), user=STRANGER)
        second = other["id"]

        await d.reply(asked, HELPER, "here is how", ts=later(t0, 10))
        assert waiting(await d.api_ticket(first)) == ("asker", iso(later(t0, 10)), 10, None)
        assert await ids(d.client, waiting_on="asker") == [first]
        assert await ids(d.client, waiting_on="helpers") == [second]
        # Someone else's message changes nothing.
        await d.reply(asked, STRANGER, "me too", ts=later(t0, 12))
        assert waiting(await d.api_ticket(first)) == ("asker", iso(later(t0, 10)), 10, None)

        # The asker answers: back on the helpers, since the first of the asker's messages.
        await d.reply(asked, ASKER, "still broken", ts=later(t0, 25))
        await d.reply(asked, ASKER, "any idea?", ts=later(t0, 27))
        assert waiting(await d.api_ticket(first)) == ("helpers", iso(later(t0, 25)), 10, None)
        assert await ids(d.client, waiting_on="helpers") == [first, second]
        assert await ids(d.client, waiting_on="HELPERS") == [first, second]  # any case, as status
        assert await ids(d.client, waiting_on="asker") == []
        # Combined with the other filters: status (the ticket answered is in progress), dates, pages.
        assert await ids(d.client, waiting_on="helpers", status="in_progress") == [first]
        assert await ids(d.client, waiting_on="helpers", status="open") == [second]
        assert await ids(d.client, waiting_on="helpers", status="closed") == []
        assert await ids(d.client, waiting_on="helpers", since=iso(later(t0, 1))) == [second]
        assert await ids(d.client, waiting_on="helpers", until=iso(t0)) == [first]
        assert [t["id"] for t in await every_page(d.client, limit=1, waiting_on="helpers")] == [first, second]
        assert [
            t["id"] for t in await every_page(d.client, limit=1, waiting_on="helpers", status="open")
        ] == [second]

        await d.reply(asked, HELPER, "try this", ts=later(t0, 30))
        assert waiting(await d.api_ticket(first)) == ("asker", iso(later(t0, 30)), 10, None)

        # Closed while it waited on the asker: it waits on nobody; the resolution is the time it
        # waited on the helpers, 0-10 and 25-30 (the asker's turns do not count).
        await click(
            d,
            HELPER,
            d.thread_reply_message(asked),
            messages.RESOLVE_ACTION,
            str(first),
            action_ts=later(t0, 40),
        )
        closed = await d.api_ticket(first)
        assert closed["status"] == "closed"
        assert waiting(closed) == (None, None, 10, 15)
        assert await ids(d.client, waiting_on="helpers") == [second]
        assert await ids(d.client, waiting_on="asker") == []
        assert await ids(d.client, waiting_on="asker", status="closed") == []
        assert waiting(await d.api_ticket(second)) == ("helpers", iso(later(t0, 1)), None, None)
        assert other_asked["ts"] == later(t0, 1)

        await assert_every_path_writes_the_same_objects(d, serve, [first, second])


async def assert_every_path_writes_the_same_objects(d, serve, tickets: list[int]) -> None:
    """/api/ticket, the copy, pages, the export (rows, then blocks), the stored bytes and both request-time
    encodings agree on every ticket; a client that may not see descriptions gets the same new members."""
    client = d.client
    since = {"since": "2000-01-01"}
    single = {ticket: (await client.get("/api/ticket", params={"id": ticket})).content for ticket in tickets}
    by_id = {ticket: orjson.loads(json) for ticket, json in single.items()}
    expected = [by_id[ticket] for ticket in tickets]
    assert (await client.get("/api/tickets", params=since)).json() == expected  # the export's rows
    assert await every_page(client, limit=1, **since) == expected
    open_ones = [t for t in expected if t["status"] != "closed"]
    assert (await client.get("/api/tickets", params={"status": "open"})).json() == open_ones  # the copy
    assert (await client.get("/api/tickets", params={"waiting_on": "helpers"})).json() == open_ones
    closed = [t for t in expected if t["status"] == "closed"]
    assert (await client.get("/api/tickets", params={"status": "closed", **since})).json() == closed

    engine = create_engine(d.db_url)
    try:  # the export's blocks: every ticket is settled at once here
        assert (await keep_blocks(session_factory(engine), per_block=1, settled_after=timedelta(0))).built
    finally:
        await engine.dispose()
    assert (await postgres.fetch(d.db_url, 'SELECT count(*) AS n FROM "TicketJsonBlock"'))[0]["n"] == len(
        tickets
    )
    assert (await client.get("/api/tickets", params=since)).json() == expected

    connection = await asyncpg.connect(d.db_url)
    try:
        stored = dict(
            await connection.fetch(
                f"""SELECT j."ticketId", {stored_tickets.json_bytes(True)} FROM (
                        SELECT "ticketId", json FROM {stored_tickets.ACTIVE} UNION ALL
                        SELECT "ticketId", json FROM {stored_tickets.CLOSED}) j"""
            )
        )
        for encoding in Encoding:
            rows = await connection.fetch(
                f'SELECT {encoding.columns()} FROM "Ticket" t WHERE t.id = ANY($1::int[]) ORDER BY t.id',
                tickets,
            )
            rendered = await TicketRenderer(connection, encoding).render(rows)
            assert rendered == b",".join(stored[ticket] for ticket in sorted(tickets)), encoding
    finally:
        await connection.close()
    for ticket in tickets:
        assert stored[ticket] == single[ticket]  # byte for byte

    # Without description access (API_DESCRIPTIONS=keys, no key): no description, a title of the
    # question's words hidden, the new members all there.
    async with serve(api_descriptions="keys") as hidden:
        for ticket in tickets:
            shown = (await hidden.get("/api/ticket", params={"id": ticket})).json()
            assert "description" not in shown and shown["title"] is None
            assert {key: shown[key] for key in NEW_KEYS} == {key: by_id[ticket][key] for key in NEW_KEYS}
            assert list(shown) == [key for key in by_id[ticket] if key != "description"]
        listed = (await hidden.get("/api/tickets", params=since)).json()  # from the blocks' own column
        assert [waiting(t) for t in listed] == [waiting(t) for t in expected]
        waits = (await hidden.get("/api/tickets", params={"waiting_on": "helpers"})).json()
        assert [waiting(t) for t in waits] == [waiting(t) for t in open_ones]
