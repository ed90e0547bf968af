"""GET /api/stats/question_tags over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support import postgres
from tests.tags.helpers import add_ticket, add_user


async def seed(db_url) -> None:
    asker = await add_user(db_url, "UASKER", helper=False)
    labels = ["What's the payout range?", "When does my order ship?", "Never asked"]
    ids = []
    for label in labels:
        rows = await postgres.fetch(
            db_url, 'INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', label
        )
        ids.append(rows[0]["id"])
    plan = [
        (ids[0], datetime(2026, 1, 5, tzinfo=UTC)),
        (ids[1], datetime(2026, 1, 6, tzinfo=UTC)),
        (ids[1], datetime(2026, 1, 7, tzinfo=UTC)),
        (ids[0], datetime(2026, 2, 1, tzinfo=UTC)),
        (ids[0], datetime(2026, 2, 2, tzinfo=UTC)),
        (None, datetime(2026, 1, 8, tzinfo=UTC)),
    ]
    for n, (question_tag, created_at) in enumerate(plan):
        ticket = await add_ticket(
            db_url, opened_by=asker, msg_ts=f"1700000{n:03d}.000100", created_at=created_at
        )
        await postgres.execute(
            db_url, 'UPDATE "Ticket" SET "questionTagId" = $1 WHERE id = $2', question_tag, ticket
        )


async def test_counts_most_first_in_the_range(serve, db_url):
    await seed(db_url)
    async with serve() as client:
        everything = await client.get("/api/stats/question_tags")
        january = await client.get(
            "/api/stats/question_tags", params={"since": "2026-01-01", "until": "2026-02-01"}
        )
        aliases = await client.get(
            "/api/stats/question_tags", params={"after": "2026-02-01T00:00:00Z", "before": "2026-03-01"}
        )
    assert everything.status_code == 200
    assert [(row["label"], row["count"]) for row in everything.json()] == [
        ("What's the payout range?", 3),
        ("When does my order ship?", 2),
        ("Never asked", 0),
    ]
    assert set(everything.json()[0]) == {"id", "label", "count"}
    assert [(row["label"], row["count"]) for row in january.json()] == [
        ("When does my order ship?", 2),
        ("What's the payout range?", 1),
        ("Never asked", 0),
    ]
    assert [(row["label"], row["count"]) for row in aliases.json()] == [
        ("What's the payout range?", 2),
        ("Never asked", 0),
        ("When does my order ship?", 0),
    ]


async def test_bad_dates_are_json_errors(serve, db_url):
    async with serve() as client:
        garbage = await client.get("/api/stats/question_tags", params={"since": "last tuesday"})
        backwards = await client.get(
            "/api/stats/question_tags", params={"since": "2026-02-01", "until": "2026-01-01"}
        )
        empty = await client.get("/api/stats/question_tags")
    assert garbage.status_code == 400 and "since" in garbage.json()["error"]
    assert backwards.status_code == 400 and "since" in backwards.json()["error"]
    assert empty.status_code == 200 and empty.json() == []
