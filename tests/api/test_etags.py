"""ETag and If-None-Match on /api/stats_v2 and the aggregates: an empty 304 while nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.data import add_ticket, add_user, database_now
from tests.support import postgres

AGGREGATES = [
    "/api/stats/daily?since=2026-01-01&until=2026-01-31&tz=Europe/Berlin",
    "/api/stats/distribution?metric=hang",
    "/api/stats/distribution?metric=resolution&since=2026-01-01&until=2026-02-01",
    "/api/stats/range?since=2026-01-01&until=2026-02-01",
]


async def _closed_ticket(url: str, author: int, helper: int, created_at: datetime, minutes: int) -> int:
    return await add_ticket(url, opened_by=author, created_at=created_at, status="CLOSED", assigned_to=helper,
                            assigned_at=created_at + timedelta(minutes=minutes // 2), closed_by=helper,
                            closed_at=created_at + timedelta(minutes=minutes))  # fmt: skip


@pytest.mark.parametrize("path", AGGREGATES)
async def test_an_aggregate_round_trip(serve, db_url, path):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    jan = datetime(2026, 1, 10, 12, tzinfo=UTC)
    await _closed_ticket(db_url, author, helper, jan, 30)
    async with serve() as client:
        first = await client.get(path)
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('"') and len(etag) > 10
        again = await client.get(path, headers={"If-None-Match": etag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
        listed = await client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert listed.status_code == 304  # weak comparison, any tag of the list
        assert (await client.get(path, headers={"If-None-Match": "*"})).status_code == 304
        assert (await client.get(path, headers={"If-None-Match": '"other"'})).status_code == 200

        # A change that moves no figure (a new data version): recomputed, the same answer, the same tag.
        await postgres.execute(db_url, 'UPDATE "Ticket" SET "lastMsgAt" = "lastMsgAt"')
        assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 304

        # A ticket change the figures show: a new tag, and the new figures at once.
        await _closed_ticket(db_url, author, helper, jan + timedelta(hours=1), 90)
        changed = await client.get(path, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert changed.content != first.content
        fresh = await client.get(path, headers={"If-None-Match": changed.headers["etag"]})
        assert fresh.status_code == 304


async def test_the_remembered_answer_is_never_stale(serve, db_url):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    jan = datetime(2026, 1, 10, 12, tzinfo=UTC)
    path = "/api/stats/distribution?metric=resolution"
    async with serve() as client:
        counts = []
        for minutes in (10, 20, 30):
            await _closed_ticket(db_url, author, helper, jan, minutes)
            counts.append((await client.get(path)).json()["count"])
            counts.append((await client.get(path)).json()["count"])  # the remembered one
    assert counts == [1, 1, 2, 2, 3, 3]


async def test_stats_v2_round_trip(serve, db_url):
    now = await database_now(db_url)
    author = await add_user(db_url, "UAUTHOR")
    # An open ticket: age_minutes moves with every request, yet the tag holds.
    await add_ticket(db_url, opened_by=author, created_at=now - timedelta(hours=30))
    async with serve() as client:
        first = await client.get("/api/stats_v2")
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('W/"')
        second = await client.get("/api/stats_v2")
        assert second.headers["etag"] == etag
        assert second.json()["all_time"]["oldest_unanswered_ticket"]["age_minutes"] > 30 * 60
        cached = await client.get("/api/stats_v2", headers={"If-None-Match": etag})
        assert (cached.status_code, cached.content, cached.headers["etag"]) == (304, b"", etag)
        strong_form = await client.get("/api/stats_v2", headers={"If-None-Match": etag.removeprefix("W/")})
        assert strong_form.status_code == 304

        await add_ticket(db_url, opened_by=author, created_at=now - timedelta(hours=2))
        changed = await client.get("/api/stats_v2", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert changed.json()["past_24h"]["new_tickets_total"] == 1
