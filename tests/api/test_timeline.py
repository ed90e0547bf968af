"""GET /api/ticket/timeline: one ticket's events, in order, with /api/ticket's errors and access rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.data import add_ticket, add_user
from tests.api.test_keys import bearer, make_key
from tests.support import postgres

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


async def add_event(
    url: str, ticket_id: int, kind: str, at: datetime, actor: int | None, msg_ts=None
) -> None:
    await postgres.execute(
        url,
        """INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
           VALUES ($1, $2::"TicketEventKind", $3, $4, $5)""",
        ticket_id,
        kind,
        at,
        actor,
        msg_ts,
    )


async def test_the_events_in_order_of_their_instant_then_as_recorded(serve, db_url):
    asker = await add_user(db_url, "UASKER", username='Ask "er" ✓')
    helper = await add_user(db_url, "UHELPER", helper=True)
    ticket = await add_ticket(db_url, opened_by=asker, created_at=JAN)
    other = await add_ticket(db_url, opened_by=asker, created_at=JAN)
    # Written out of order: the route orders by at, then id (ASSIGNED recorded after its message).
    await add_event(db_url, ticket, "CLOSED", JAN + timedelta(hours=1), None)
    await add_event(db_url, ticket, "OPENED", JAN, asker, "1768046400.000100")
    await add_event(
        db_url, ticket, "HELPER_MESSAGE", JAN + timedelta(minutes=5, milliseconds=7), helper, "2.1"
    )
    await add_event(db_url, ticket, "ASSIGNED", JAN + timedelta(minutes=5, milliseconds=7), helper, "2.1")
    await add_event(db_url, other, "OPENED", JAN, asker, "9.9")
    async with serve() as client:
        response = await client.get("/api/ticket/timeline", params={"id": ticket})
        empty = await add_ticket(db_url, opened_by=asker, created_at=JAN)
        none_yet = await client.get("/api/ticket/timeline", params={"id": empty})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    asker_json = {"id": asker, "slack_id": "UASKER", "username": 'Ask "er" ✓'}
    helper_json = {"id": helper, "slack_id": "UHELPER", "username": None}
    assert response.json() == [
        {"kind": "OPENED", "at": "2026-01-10T12:00:00.000+00:00", "by": asker_json},
        {"kind": "HELPER_MESSAGE", "at": "2026-01-10T12:05:00.007+00:00", "by": helper_json},
        {"kind": "ASSIGNED", "at": "2026-01-10T12:05:00.007+00:00", "by": helper_json},
        {"kind": "CLOSED", "at": "2026-01-10T13:00:00.000+00:00", "by": None},  # the bot
    ]
    assert (none_yet.status_code, none_yet.json()) == (200, [])


async def test_a_deleted_ticket_takes_its_events_with_it(serve, db_url):
    asker = await add_user(db_url, "UASKER")
    ticket = await add_ticket(db_url, opened_by=asker, created_at=JAN)
    await add_event(db_url, ticket, "OPENED", JAN, asker, "1.1")
    await postgres.execute(db_url, 'DELETE FROM "Ticket" WHERE id = $1', ticket)
    assert await postgres.fetch(db_url, 'SELECT 1 FROM "TicketEvent"') == []
    async with serve() as client:
        response = await client.get("/api/ticket/timeline", params={"id": ticket})
    assert (response.status_code, response.json()) == (404, {"error": "ticket_not_found"})


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("", 400, "missing_ticket_id"),
        ("?id=", 400, "invalid_ticket_id"),
        ("?id=abc", 400, "invalid_ticket_id"),
        ("?id=1.5", 400, "invalid_ticket_id"),
        ("?id=%D9%A1%D9%A2", 400, "invalid_ticket_id"),  # Arabic-Indic digits
        ("?id=2147483648", 400, "invalid_ticket_id"),
        ("?id=2147483647", 404, "ticket_not_found"),
        ("?id=-5", 404, "ticket_not_found"),
        ("?id=12345&id=abc", 404, "ticket_not_found"),  # the first of repeated parameters
    ],
)
async def test_timeline_errors_are_the_tickets(serve, query, status, error):
    async with serve() as client:
        timeline = await client.get("/api/ticket/timeline" + query)
        ticket = await client.get("/api/ticket" + query)
    assert (timeline.status_code, timeline.json()) == (status, {"error": error})
    assert (ticket.status_code, ticket.json()) == (status, {"error": error})


async def test_with_keys_required_the_timeline_needs_one_as_the_ticket_does(serve, db_url):
    asker = await add_user(db_url, "UASKER")
    ticket = await add_ticket(db_url, opened_by=asker, created_at=JAN)
    await add_event(db_url, ticket, "OPENED", JAN, asker, "1.1")
    key = await make_key(db_url, "reader")
    async with serve(api_access="keys") as client:
        refused = await client.get("/api/ticket/timeline", params={"id": ticket})
        answered = await client.get("/api/ticket/timeline", params={"id": ticket}, headers=bearer(key))
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    assert answered.status_code == 200 and [event["kind"] for event in answered.json()] == ["OPENED"]
