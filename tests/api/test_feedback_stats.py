"""GET /api/stats/feedback over real HTTP, against rows written straight to PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support import postgres
from tests.tags.helpers import add_ticket, add_user


async def add_feedback(db_url, *, ticket: int, by: int, rating: str, created_at: datetime, text=None):
    await postgres.execute(
        db_url,
        'INSERT INTO "Feedback" ("ticketId", "createdById", rating, text, "createdAt") '
        'VALUES ($1, $2, $3::"FeedbackRating", $4, $5)',
        ticket,
        by,
        rating,
        text,
        created_at,
    )


async def close(db_url, ticket: int, *, by: int, at: datetime) -> None:
    await postgres.execute(
        db_url,
        """UPDATE "Ticket" SET status = 'CLOSED', "closedById" = $1, "closedAt" = $2 WHERE id = $3""",
        by,
        at,
        ticket,
    )


def day(n: int) -> datetime:
    return datetime(2026, 1, n, 12, tzinfo=UTC)


async def seed(db_url) -> dict[str, int]:
    asker = await add_user(db_url, "UASKER", helper=False)
    other_asker = await add_user(db_url, "UASKER2", helper=False)
    ada = await add_user(db_url, "UADA")
    bob = await add_user(db_url, "UBOB")
    tickets = [await add_ticket(db_url, opened_by=asker, msg_ts=f"1700000{n:03d}.000100") for n in range(6)]
    # Closed in January: t0 (Ada), t1 (Ada), t2 (Bob), t3 (Bob); t4 closed in February; t5 reopened (open).
    for ticket, helper, at in [
        (tickets[0], ada, day(2)),
        (tickets[1], ada, day(3)),
        (tickets[2], bob, day(4)),
        (tickets[3], bob, day(5)),
        (tickets[4], bob, datetime(2026, 2, 2, tzinfo=UTC)),
    ]:
        await close(db_url, ticket, by=helper, at=at)
    await add_feedback(db_url, ticket=tickets[0], by=asker, rating="GREAT", created_at=day(2), text="thanks!")
    await add_feedback(db_url, ticket=tickets[1], by=asker, rating="NOT_GOOD", created_at=day(3))
    await add_feedback(db_url, ticket=tickets[2], by=asker, rating="GREAT", created_at=day(6))
    await add_feedback(
        db_url, ticket=tickets[4], by=asker, rating="OKAY", created_at=datetime(2026, 2, 3, tzinfo=UTC)
    )
    # Feedback on a ticket that is open again counts in the ratings but for no helper.
    await add_feedback(db_url, ticket=tickets[5], by=other_asker, rating="OKAY", created_at=day(7))
    return {"ada": ada, "bob": bob}


async def test_counts_shares_response_rate_and_helpers(serve, db_url):
    users = await seed(db_url)
    async with serve() as client:
        everything = (await client.get("/api/stats/feedback")).json()
        january = (
            await client.get("/api/stats/feedback", params={"since": "2026-01-01", "until": "2026-02-01"})
        ).json()
        aliases = (
            await client.get("/api/stats/feedback", params={"after": "2026-02-01", "before": "2026-03-01"})
        ).json()

    assert everything["total"] == 5
    assert everything["ratings"] == {
        "not_good": {"count": 1, "share": 0.2},
        "okay": {"count": 2, "share": 0.4},
        "great": {"count": 2, "share": 0.4},
    }
    # Five tickets closed, four of them with feedback.
    assert (everything["closed_tickets"], everything["closed_tickets_with_feedback"]) == (5, 4)
    assert everything["response_rate"] == 0.8
    assert everything["helpers"] == [
        {"id": users["ada"], "slack_id": "UADA", "total": 2, "not_good": 1, "okay": 0, "great": 1},
        {"id": users["bob"], "slack_id": "UBOB", "total": 2, "not_good": 0, "okay": 1, "great": 1},
    ]
    assert "thanks!" not in str(everything)  # comments are never in the API

    assert january["total"] == 4 and january["ratings"]["okay"] == {"count": 1, "share": 0.25}
    assert (january["closed_tickets"], january["closed_tickets_with_feedback"]) == (4, 3)
    assert january["response_rate"] == 0.75
    assert [(h["slack_id"], h["total"]) for h in january["helpers"]] == [("UADA", 2), ("UBOB", 1)]

    assert aliases["total"] == 1 and aliases["ratings"]["okay"]["count"] == 1
    assert aliases["response_rate"] == 1.0


async def test_no_feedback_gives_nulls_not_errors(serve):
    async with serve() as client:
        answer = (await client.get("/api/stats/feedback")).json()
    assert answer == {
        "total": 0,
        "ratings": {name: {"count": 0, "share": None} for name in ("not_good", "okay", "great")},
        "closed_tickets": 0,
        "closed_tickets_with_feedback": 0,
        "response_rate": None,
        "helpers": [],
    }


async def test_bad_dates_are_400s(serve):
    async with serve() as client:
        malformed = await client.get("/api/stats/feedback", params={"since": "yesterday"})
        backwards = await client.get(
            "/api/stats/feedback", params={"since": "2026-02-01", "until": "2026-01-01"}
        )
    assert malformed.status_code == 400 and malformed.json()["error"].startswith("since:")
    assert backwards.status_code == 400 and backwards.json() == {"error": "since: must not be after until"}
