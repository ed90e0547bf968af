"""/api/tickets and /api/ticket: the Ticket object, filters, errors, streaming and keyset pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.data import add_tag, add_ticket, add_user
from tests.support import postgres

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


async def test_a_ticket_is_the_contracts_object(serve, db_url):
    author = await add_user(db_url, "UAUTHOR", username="Author Person")
    helper = await add_user(db_url, "UHELPER", helper=True)
    closer = await add_user(db_url, "UCLOSER", helper=True)
    ticket_id = await add_ticket(
        db_url, opened_by=author, created_at=JAN + timedelta(milliseconds=7), status="CLOSED",
        assigned_to=helper, assigned_at=JAN + timedelta(minutes=5), closed_by=closer,
        closed_at=JAN + timedelta(hours=1), reopened_by=author, msg_ts="1768046400.000100",
        title='Quotes " and \\ backslashes', description="Line one\nline two ✓",
    )  # fmt: skip
    await add_tag(db_url, "zeta", ticket_id)
    await add_tag(db_url, "alpha", ticket_id)
    bare = await add_ticket(db_url, opened_by=author, created_at=JAN + timedelta(hours=2))
    expected = {
        "id": ticket_id,
        "title": 'Quotes " and \\ backslashes',
        "description": "Line one\nline two ✓",
        "status": "closed",
        "opened_by": {"id": author, "slack_id": "UAUTHOR", "username": "Author Person"},
        "closed_by": {"id": closer, "slack_id": "UCLOSER", "username": None},
        "assigned_to": {"id": helper, "slack_id": "UHELPER", "username": None},
        "reopened_by": {"id": author, "slack_id": "UAUTHOR", "username": "Author Person"},
        "tags": ["alpha", "zeta"],
        "team_tags": ["alpha", "zeta"],
        "created_at": "2026-01-10T12:00:00.007+00:00",
        "closed_at": "2026-01-10T13:00:00.000+00:00",
        "message_ts": "1768046400.000100",
        "waiting_on": None,  # a closed ticket waits on nobody
        "waiting_since": None,
        "first_response_minutes": 5,
        "resolution_minutes": 42.5,
        "sla": None,  # no SLA target applies (issue 21 §3; migration 0028 adds it last)
    }
    async with serve() as client:
        # What the lifecycle's timeline keeps (nephthys/tickets/timeline.py), written as it would
        # (after the service's start, which folds these event-less tickets' timelines).
        await postgres.execute(
            db_url,
            """UPDATE "Ticket" SET "firstResponseMinutes" = 5, "resolutionMinutes" = 42.5 WHERE id = $1""",
            ticket_id,
        )
        await postgres.execute(
            db_url,
            """UPDATE "Ticket" SET "waitingOn" = 'HELPERS', "waitingSince" = "createdAt" WHERE id = $1""",
            bare,
        )
        one = await client.get("/api/ticket", params={"id": ticket_id})
        listed = await client.get("/api/tickets", params={"since": "2026-01-01"})
        other = await client.get("/api/ticket", params={"id": bare})
    assert one.status_code == 200 and one.headers["content-type"] == "application/json"
    assert one.json() == expected
    assert list(one.json()) == list(expected)  # the document's key order
    assert listed.json()[0] == expected
    assert other.json()["closed_by"] is None and other.json()["assigned_to"] is None
    assert (
        other.json()["reopened_by"] is None
        and other.json()["tags"] == other.json()["team_tags"] == []
        and other.json()["status"] == "open"
        and other.json()["closed_at"] is None
    )
    assert list(other.json())[-5:] == [
        "waiting_on",
        "waiting_since",
        "first_response_minutes",
        "resolution_minutes",
        "sla",
    ]
    assert other.json()["waiting_on"] == "helpers"
    assert other.json()["waiting_since"] == "2026-01-10T14:00:00.000+00:00"
    assert other.json()["first_response_minutes"] is None and other.json()["resolution_minutes"] is None


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("", 400, "missing_ticket_id"),
        ("?id=", 400, "invalid_ticket_id"),
        ("?id=abc", 400, "invalid_ticket_id"),
        ("?id=1.5", 400, "invalid_ticket_id"),
        ("?id=1e3", 400, "invalid_ticket_id"),
        ("?id=%D9%A1%D9%A2", 400, "invalid_ticket_id"),  # Arabic-Indic digits
        ("?id=99999999999", 400, "invalid_ticket_id"),
        ("?id=2147483648", 400, "invalid_ticket_id"),
        ("?id=" + "9" * 5000, 400, "invalid_ticket_id"),
        ("?id=2147483647", 404, "ticket_not_found"),
        ("?id=-5", 404, "ticket_not_found"),
        ("?id=0", 404, "ticket_not_found"),
        ("?id=12345&id=abc", 404, "ticket_not_found"),  # the first of repeated parameters
        ("?ID=1", 400, "missing_ticket_id"),
    ],
)
async def test_ticket_errors(serve, query, status, error):
    async with serve() as client:
        response = await client.get("/api/ticket" + query)
    assert (response.status_code, response.json()) == (status, {"error": error})


async def make_timeline(url: str) -> dict[str, int]:
    author = await add_user(url, "UAUTHOR")
    helper = await add_user(url, "UHELPER", helper=True)
    t = lambda at, **kw: add_ticket(url, opened_by=author, created_at=at, **kw)  # noqa: E731
    return {
        "dec31": await t(datetime(2025, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        "jan1": await t(datetime(2026, 1, 1, tzinfo=UTC), status="IN_PROGRESS", assigned_to=helper,
                        assigned_at=datetime(2026, 1, 1, 1, tzinfo=UTC)),
        "jan5a": await t(datetime(2026, 1, 5, 8, tzinfo=UTC), status="CLOSED", closed_by=helper,
                         closed_at=datetime(2026, 1, 5, 9, tzinfo=UTC)),
        "jan5b": await t(datetime(2026, 1, 5, 8, tzinfo=UTC)),  # same instant: after jan5a by id
        "jan31": await t(datetime(2026, 1, 31, tzinfo=UTC)),
        "jan31b": await t(datetime(2026, 1, 31, tzinfo=UTC) + MS),
    }  # fmt: skip


def ids_of(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [ticket["id"] for ticket in response.json()]


async def test_filters_by_status_in_any_case_and_by_inclusive_dates(serve, db_url):
    ids = await make_timeline(db_url)
    async with serve() as client:
        get = lambda **params: client.get("/api/tickets", params=params)  # noqa: E731
        assert ids_of(await get(status="open")) == [ids["dec31"], ids["jan5b"], ids["jan31"], ids["jan31b"]]
        assert ids_of(await get(status="OPEN")) == ids_of(await get(status="Open"))
        assert ids_of(await get(status="In_Progress")) == [ids["jan1"]]
        # since and until both inclusive; a date is its midnight, UTC unless it says otherwise
        assert ids_of(await get(since="2026-01-01", until="2026-01-31")) == [
            ids["jan1"], ids["jan5a"], ids["jan5b"], ids["jan31"],
        ]  # fmt: skip
        assert ids_of(await get(after="2026-01-01T00:00:00.001", before="2026-01-31T00:00:00.001")) == [
            ids["jan5a"], ids["jan5b"], ids["jan31"], ids["jan31b"],
        ]  # fmt: skip
        assert ids_of(await get(since="2026-01-01T01:00:00+01:00", until="2026-01-01T00:00:00Z")) == [
            ids["jan1"]
        ]
        assert ids_of(await get(status="closed", since="2026-01-02")) == [ids["jan5a"]]
        # since wins over after, and the first of repeated parameters counts
        assert ids_of(await get(since="2026-01-31", after="2000-01-01")) == [ids["jan31"], ids["jan31b"]]
        repeated = await client.get("/api/tickets?status=in_progress&status=open&unknown=1")
        assert ids_of(repeated) == [ids["jan1"]]
        assert ids_of(await get(since="2026-02-01")) == []
        assert ids_of(await get(since="2026-02-01", until="2026-01-01")) == []


@pytest.mark.parametrize("query", ["", "?status=closed", "?status=", "?status=CLOSED&since=", "?unknown=1"])
async def test_too_broad_filters_are_refused(serve, query):
    async with serve() as client:
        response = await client.get("/api/tickets" + query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Provided filters are too broad" and body["tip"]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?status=pending", ["status", "'pending'"]),
        ("?waiting_on=nobody", ["waiting_on", "'nobody'"]),
        ("?status=open&waiting_on=helper", ["waiting_on", "'helper'"]),
        ("?waiting_on=" + "x" * 5000, ["waiting_on", "too long"]),
        ("?status=open&since=yesterday", ["since", "'yesterday'"]),
        ("?after=2026-13-01", ["after", "'2026-13-01'"]),
        ("?status=open&until=2026-01-01T25:00", ["until", "'2026-01-01T25:00'"]),
        ("?status=open&before=0001-01-01T00:00:00%2B01:00", ["before"]),
        ("?status=open&limit=0", ["limit", "'0'"]),
        ("?status=open&limit=1001", ["limit", "'1001'"]),
        ("?status=open&limit=ten", ["limit", "'ten'"]),
        ("?status=open&limit=%EF%BC%95", ["limit"]),  # a full-width digit
        ("?status=open&cursor=not-a-cursor", ["cursor", "'not-a-cursor'"]),
        ("?status=open&cursor=WzEsMiwzXQ", ["cursor"]),  # valid base64 of [1,2,3]
        ("?status=" + "x" * 5000, ["status", "too long"]),
        ("?status=open&since=2026%00", ["since", "control"]),
        # A malformed alias is refused even when the other alias, given and well-formed, wins.
        ("?status=open&until=2026-01-01&before=junk", ["before", "'junk'"]),
        ("?status=open&since=2026-01-01&after=junk", ["after", "'junk'"]),
        ("?status=open&before=2026-01-01&until=junk", ["until", "'junk'"]),
    ],
)
async def test_malformed_parameters_are_named_in_a_400(serve, query, names):
    async with serve() as client:
        response = await client.get("/api/tickets" + query)
    assert response.status_code == 400
    error = response.json()["error"]
    for name in names:
        assert name in error, error


async def test_a_bad_waiting_on_is_the_same_error_as_a_bad_status(serve):
    async with serve() as client:
        status = await client.get("/api/tickets?status=pending")
        waiting = await client.get("/api/tickets?waiting_on=pending&since=2026-01-01")
        alone = await client.get("/api/tickets?waiting_on=asker")  # narrow enough on its own
    assert (status.status_code, waiting.status_code) == (400, 400)
    assert status.json() == {"error": "status: expected open, closed or in_progress, got 'pending'"}
    assert waiting.json() == {"error": "waiting_on: expected helpers or asker, got 'pending'"}
    assert (alone.status_code, alone.json()) == (200, [])


async def test_a_long_stream_is_whole_and_in_order(serve, db_url):
    author = await add_user(db_url, "UAUTHOR")
    count = 4123  # many COPY chunks
    # Creation times out of id order, with ties, so the order is the query's, not the table's.
    await postgres.execute(
        db_url,
        """INSERT INTO "Ticket" (title, description, "msgTs", "openedById", "createdAt")
           SELECT 'Question ' || g, 'Details', 'ts' || g, $1,
                  $2::timestamptz + make_interval(secs => (g * 7919) % 1000)
           FROM generate_series(1, $3) g""",
        author,
        JAN,
        count,
    )
    async with serve() as client:
        response = await client.get("/api/tickets", params={"status": "open"})
    tickets = response.json()
    assert len(tickets) == count
    keys = [(ticket["created_at"], ticket["id"]) for ticket in tickets]
    assert keys == sorted(keys)
    assert len({ticket["id"] for ticket in tickets}) == count


async def test_an_empty_stream_is_an_empty_array(serve):
    async with serve() as client:
        response = await client.get("/api/tickets?status=open")
    assert (response.status_code, response.content) == (200, b"[]")


def next_link(response) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


async def test_pages_walk_every_ticket_once_even_with_tickets_added_mid_walk(serve, db_url):
    author = await add_user(db_url, "UAUTHOR")
    for i in range(25):
        await add_ticket(db_url, opened_by=author, created_at=JAN + i * timedelta(minutes=1))
    for _ in range(2):  # two more at the 10th ticket's instant: ties go by id
        await add_ticket(db_url, opened_by=author, created_at=JAN + 9 * timedelta(minutes=1))
    expected = [
        row["id"] for row in await postgres.fetch(db_url, 'SELECT id FROM "Ticket" ORDER BY "createdAt", id')
    ]
    assert expected != sorted(expected)  # the ties make creation order differ from id order

    seen: list[int] = []
    pages = 0
    async with serve() as client:
        url: str | None = "/api/tickets?status=open&limit=7&unknown=kept"
        while url is not None:
            response = await client.get(url)
            assert response.status_code == 200
            page = ids_of(response)
            assert 1 <= len(page) <= 7
            seen += page
            pages += 1
            url = next_link(response)
            if url is not None:
                assert "status=open" in url and "limit=7" in url
            if pages == 2:
                # Mid-walk: one ticket after everything (will be seen), one before the cursor (will not),
                # and a closed one (filtered out).
                late = await add_ticket(db_url, opened_by=author, created_at=JAN + timedelta(days=1))
                await add_ticket(db_url, opened_by=author, created_at=JAN - timedelta(days=1))
                await add_ticket(
                    db_url, opened_by=author, created_at=JAN + timedelta(days=2), status="CLOSED"
                )
    assert seen == expected + [late]
    assert len(set(seen)) == len(seen)
    assert pages == 4  # 27 + 1 tickets, 7 a page


async def test_a_page_size_that_divides_the_tickets_ends_with_an_empty_page_or_none(serve, db_url):
    author = await add_user(db_url, "UAUTHOR")
    for i in range(4):
        await add_ticket(db_url, opened_by=author, created_at=JAN + i * MS)
    async with serve() as client:
        first = await client.get("/api/tickets?since=2026-01-01&limit=2")
        second = await client.get(next_link(first))
        alone = await client.get("/api/tickets?since=2026-01-01&limit=4")
        broad = await client.get("/api/tickets?limit=1000")  # a page is bounded: no date needed
    assert len(first.json()) == 2 and len(second.json()) == 2
    assert next_link(second) is None and next_link(alone) is None
    assert len(broad.json()) == 4


async def test_every_way_of_reading_a_ticket_writes_the_same_object(serve, db_url):
    """Open tickets are written by orjson, long exports partly by PostgreSQL: the JSON must not tell."""
    author = await add_user(db_url, 'U"QUOTED\\', username='Name "with" \\ ✓')
    helper = await add_user(db_url, "UHELPER", helper=True)
    tricky = 'tab\t nl\n cr\r nul-free \x01\x1f del\x7f quote" slash/ back\\ é ✓ 🎉 \u2028'
    ticket_id = await add_ticket(db_url, opened_by=author, created_at=JAN, status="IN_PROGRESS",
                                 assigned_to=helper, assigned_at=JAN + MS, title=tricky, description=tricky * 3,
                                 msg_ts="1768046400.000001",
                                 closed_at=JAN + timedelta(days=400, milliseconds=5))  # fmt: skip
    await add_tag(db_url, "Ünïcode tag", ticket_id)
    await add_tag(db_url, 'tag "two"', ticket_id)
    async with serve() as client:
        # Answered 1 ms after the question (a tiny number, written in exponent form), waiting on the asker
        # (after the service's start, which folds this event-less ticket's timeline).
        await postgres.execute(
            db_url,
            """UPDATE "Ticket" SET "waitingOn" = 'ASKER', "waitingSince" = "createdAt" + interval '1 millisecond',
                   "firstResponseMinutes" = 1 / 60000.0 WHERE id = $1""",
            ticket_id,
        )
        answers = [
            (await client.get("/api/tickets?status=in_progress")).json()[0],  # the service's copy
            (await client.get("/api/tickets?since=2026-01-01")).json()[0],  # the export's rows
            (await client.get("/api/tickets?status=in_progress&limit=5")).json()[0],
            (await client.get("/api/tickets?since=2026-01-01&limit=5")).json()[0],
            (await client.get(f"/api/ticket?id={ticket_id}")).json(),
            (await client.get("/api/tickets?waiting_on=asker")).json()[0],
            (await client.get("/api/tickets?waiting_on=asker&limit=5")).json()[0],
        ]
    expected = {
        "id": ticket_id, "title": tricky, "description": tricky * 3, "status": "in_progress",
        "opened_by": {"id": author, "slack_id": 'U"QUOTED\\', "username": 'Name "with" \\ ✓'},
        "closed_by": None, "assigned_to": {"id": helper, "slack_id": "UHELPER", "username": None},
        "reopened_by": None, "tags": sorted(["Ünïcode tag", 'tag "two"']),
        "team_tags": sorted(["Ünïcode tag", 'tag "two"']), "created_at": "2026-01-10T12:00:00.000+00:00",
        "closed_at": "2027-02-14T12:00:00.005+00:00", "message_ts": "1768046400.000001",
        "waiting_on": "asker", "waiting_since": "2026-01-10T12:00:00.001+00:00",
        "first_response_minutes": 1 / 60000, "resolution_minutes": None, "sla": None,
    }  # fmt: skip
    for answer in answers:
        assert answer == expected
        assert list(answer) == list(expected)


async def test_the_next_page_link_never_comes_from_the_host_header(serve, db_url):
    author = await add_user(db_url, "UAUTHOR")
    for i in range(3):
        await add_ticket(db_url, opened_by=author, created_at=JAN + i * MS)
    query = "/api/tickets?status=open&limit=1"
    async with serve() as client:
        relative = next_link(await client.get(query, headers={"Host": "evil.example"}))
    async with serve(base_url="https://desk.example.org/nephthys/") as client:
        based = next_link(await client.get(query, headers={"Host": "evil.example"}))
        followed = await client.get(based.removeprefix("https://desk.example.org/nephthys"))
    assert relative.startswith("/api/tickets?status=open&limit=1&cursor=")
    assert based.startswith("https://desk.example.org/nephthys/api/tickets?status=open&limit=1&cursor=")
    assert "evil.example" not in relative + based
    assert followed.status_code == 200 and len(followed.json()) == 1
