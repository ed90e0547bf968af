"""/api/stats/range, /api/stats/daily and /api/stats/distribution over real HTTP: shapes, defaults, errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.api.data import add_ticket, add_user, database_now
from tests.api.test_stats_routes import WINDOW_KEYS

HOUR = timedelta(hours=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def seed_january(url: str) -> dict:
    helper = await add_user(url, "UHELPER", helper=True, username="Helper One")
    author = await add_user(url, "UAUTHOR")
    jan = utc(2026, 1, 10, 12)
    closed = await add_ticket(url, opened_by=author, created_at=jan, status="CLOSED", assigned_to=helper,
                              assigned_at=jan + HOUR, closed_by=helper, closed_at=jan + 3 * HOUR)  # fmt: skip
    waiting = await add_ticket(url, opened_by=author, created_at=jan + 24 * HOUR)
    return {"helper": helper, "author": author, "closed": closed, "waiting": waiting}


async def test_range_is_a_stats_v2_window_over_since_until(serve, db_url):
    ids = await seed_january(db_url)
    async with serve() as client:
        response = await client.get("/api/stats/range", params={"since": "2026-01-10", "until": "2026-01-11"})
        alias = await client.get("/api/stats/range", params={"after": "2026-01-10", "before": "2026-01-11"})
        later = await client.get("/api/stats/range", params={"since": "2026-01-10T12:00:00.001Z"})
        everything = await client.get("/api/stats/range")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"stats", "since", "until"} and set(body["stats"]) == WINDOW_KEYS
    assert (body["since"], body["until"]) == (
        "2026-01-10T00:00:00.000+00:00",
        "2026-01-11T00:00:00.000+00:00",
    )
    stats = body["stats"]
    assert (stats["new_tickets_total"], stats["new_tickets_now_closed"], stats["closed_today"]) == (1, 1, 1)
    assert stats["closed_today_from_today"] == 1 and stats["new_tickets_still_open"] == 0
    assert stats["mean_hang_time_minutes_all"] == 60.0 and stats["mean_resolution_time_minutes"] == 180.0
    assert stats["helpers_leaderboard"] == [
        {"id": ids["helper"], "slack_id": "UHELPER", "count": 1, "username": "Helper One"}
    ]
    assert alias.json() == body
    # [since, until): the closed ticket was created 1 ms before since, but closed inside.
    later_stats = later.json()["stats"]
    assert (later_stats["new_tickets_total"], later_stats["closed_today"]) == (1, 1)
    assert later_stats["new_tickets_still_open"] == 1
    # Defaults: the epoch to now.
    whole = everything.json()
    assert whole["since"] == "1970-01-01T00:00:00.000+00:00"
    assert datetime.fromisoformat(whole["until"]) <= await database_now(db_url)
    assert whole["stats"]["new_tickets_total"] == 2


async def test_daily_follows_the_zone_asked_for_and_defaults_to_30_days_to_today(serve, db_url):
    author = await add_user(db_url, "UAUTHOR")
    # 2026-03-09 03:30 UTC is the 8th in New York (EDT, -4) and the 9th in UTC.
    await add_ticket(db_url, opened_by=author, created_at=utc(2026, 3, 9, 3, 30))
    now = await database_now(db_url)
    await add_ticket(db_url, opened_by=author, created_at=now - timedelta(minutes=1))
    async with serve() as client:
        new_york = await client.get(
            "/api/stats/daily",
            params={"since": "2026-03-08", "until": "2026-03-09", "tz": "America/New_York"},
        )
        in_utc = await client.get("/api/stats/daily", params={"since": "2026-03-08", "until": "2026-03-09"})
        default = await client.get("/api/stats/daily")
    assert new_york.status_code == 200
    assert new_york.json()["tz"] == "America/New_York"
    assert [d["new_tickets"] for d in new_york.json()["days"]] == [1, 0]
    assert in_utc.json()["tz"] == "UTC"
    assert [d["new_tickets"] for d in in_utc.json()["days"]] == [0, 1]
    entry = in_utc.json()["days"][1]
    assert list(entry) == ["date", "new_tickets", "closed_tickets", "unresolved_at_end", "hang_time_minutes",
                           "resolution_time_minutes"]  # fmt: skip
    assert entry["hang_time_minutes"] == {"p50": None, "p90": None, "p95": None}
    days = default.json()["days"]
    # The minute-old ticket is today's unless the day turned in between (then yesterday's).
    assert len(days) == 30 and days[-1]["date"] in {
        now.date().isoformat(),
        (now.date() + timedelta(1)).isoformat(),
    }
    assert sum(d["new_tickets"] for d in days[-2:]) == 1


async def test_daily_uses_the_timezone_setting_by_default(serve, db_url):
    async with serve(timezone="Asia/Kolkata") as client:
        body = (
            await client.get("/api/stats/daily", params={"since": "2026-01-01", "until": "2026-01-01"})
        ).json()
    assert body["tz"] == "Asia/Kolkata" and len(body["days"]) == 1


async def test_a_year_and_a_day_is_the_longest_series(serve, db_url):
    async with serve() as client:
        longest = await client.get("/api/stats/daily", params={"since": "2024-01-01", "until": "2024-12-31"})
        too_long = await client.get("/api/stats/daily", params={"since": "2024-01-01", "until": "2025-01-01"})
    assert longest.status_code == 200 and len(longest.json()["days"]) == 366  # 2024 is a leap year
    assert too_long.status_code == 400 and "366" in too_long.json()["error"]


async def test_distribution_over_the_api(serve, db_url):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    start = utc(2026, 6, 1)
    for minutes in (10, 70):
        await add_ticket(db_url, opened_by=author, created_at=start, status="CLOSED", closed_by=helper,
                         closed_at=start + timedelta(minutes=minutes))  # fmt: skip
    async with serve() as client:
        response = await client.get("/api/stats/distribution", params={"metric": "resolution"})
        empty = await client.get("/api/stats/distribution", params={"metric": "hang", "until": "2026-06-01"})
    body = response.json()
    assert list(body) == ["metric", "count", "percentiles", "buckets"]
    assert (body["metric"], body["count"]) == ("resolution", 2)
    assert body["percentiles"]["p50"] == 40.0
    assert [b["count"] for b in body["buckets"]] == [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert body["buckets"][-1] == {"up_to_minutes": None, "count": 0}
    assert empty.json()["count"] == 0 and empty.json()["percentiles"]["p99"] is None


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/api/stats/range?since=yesterday", ["since", "'yesterday'"]),
        ("/api/stats/range?until=2026-13-01", ["until", "'2026-13-01'"]),
        ("/api/stats/range?after=2026-01-01T25:00", ["after"]),
        ("/api/stats/range?since=2026-02-01&until=2026-01-01", ["since", "after until"]),
        ("/api/stats/range?since=2026%00", ["since", "control"]),
        ("/api/stats/daily?since=2026-01-01T00:00:00", ["since", "expected a date"]),
        ("/api/stats/daily?until=2026-02-30", ["until", "'2026-02-30'"]),
        ("/api/stats/daily?since=20260101", ["since"]),
        ("/api/stats/daily?tz=Mars/Olympus_Mons", ["tz", "'Mars/Olympus_Mons'"]),
        ("/api/stats/daily?tz=../../etc/passwd", ["tz"]),
        ("/api/stats/daily?tz=/etc/localtime", ["tz"]),
        ("/api/stats/daily?tz=America", ["tz"]),  # a folder of the zone database
        # Files of the zone database that are not canonical IANA zones (each another key for the kept days).
        ("/api/stats/daily?tz=posix/Europe/Berlin", ["tz", "'posix/Europe/Berlin'"]),
        ("/api/stats/daily?tz=right/UTC", ["tz", "'right/UTC'"]),
        ("/api/stats/daily?tz=Factory", ["tz", "'Factory'"]),
        ("/api/stats/daily?tz=localtime", ["tz", "'localtime'"]),
        ("/api/stats/daily?tz=posixrules", ["tz", "'posixrules'"]),
        ("/api/stats/daily?since=2026-02-01&until=2026-01-01", ["since", "after until"]),
        ("/api/stats/daily?since=2000-01-01", ["since", "366"]),  # to today: far too long
        ("/api/stats/daily?since=8999-12-31", ["since", "after until"]),  # after today
        ("/api/stats/daily?since=0001-01-01&until=0001-01-02&tz=Europe/Berlin", ["since", "out of range"]),
        ("/api/stats/daily?since=9999-12-30&until=9999-12-31", ["since", "out of range"]),
        ("/api/stats/distribution", ["metric", "nothing"]),
        ("/api/stats/distribution?metric=wait", ["metric", "'wait'"]),
        ("/api/stats/distribution?metric=HANG", ["metric", "'HANG'"]),
        ("/api/stats/distribution?metric=hang&since=soon", ["since", "'soon'"]),
        ("/api/stats/distribution?metric=hang&since=2026-02-01&until=2026-01-01", ["since", "after until"]),
    ],
)
async def test_every_bad_parameter_is_a_400_naming_it(serve, path, names):
    async with serve() as client:
        response = await client.get(path)
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    for name in names:
        assert name in error, error


async def test_kept_days_stay_within_their_bound_least_recently_used_zone_first(serve, db_url):
    """Issue 18: anonymous series over far years and many zones grew "DailyFigures" without end."""
    from nephthys.database.engine import create_engine
    from nephthys.stats.daily import daily_stats
    from tests.support import postgres

    helper = await add_user(db_url, "UHELPER", helper=True)
    author = await add_user(db_url, "UAUTHOR")
    for day in range(2, 31, 4):
        created = utc(2026, 1, day, 9)
        closed = created + (day % 3) * 20 * HOUR if day % 5 else None
        await add_ticket(db_url, opened_by=author, created_at=created, status="CLOSED" if closed else "OPEN",
                         assigned_to=helper, assigned_at=created + day * 7 * timedelta(minutes=1),
                         closed_by=helper if closed else None, closed_at=closed)  # fmt: skip
    await add_ticket(db_url, opened_by=author, created_at=utc(2025, 12, 28, 9))  # so no January day is empty
    engine = create_engine(db_url, pool_size=1)

    async def kept() -> dict[str, int]:
        rows = await postgres.fetch(db_url, 'SELECT "zone", count(*) AS n FROM "DailyFigures" GROUP BY 1')
        return {row["zone"]: row["n"] for row in rows}

    async def exact(client, since: str, until: str, tz: str) -> None:
        """The answer is a direct computation's, whatever is kept."""
        response = await client.get("/api/stats/daily", params={"since": since, "until": until, "tz": tz})
        assert response.status_code == 200, response.text
        zone = ZoneInfo(tz)
        async with engine.connect() as connection:
            direct = await daily_stats(connection, date.fromisoformat(since), date.fromisoformat(until), zone)
        assert response.json()["days"] == direct, (since, until, tz)

    try:
        async with serve(daily_figures_kept=40) as client:
            # Far from the data (and from today): computed, never stored.
            for tz in ("UTC", "Asia/Tokyo", "America/New_York", "Pacific/Auckland"):
                await exact(client, "1500-01-01", "1500-12-31", tz)
                await exact(client, "8000-01-01", "8000-12-31", tz)
            assert await kept() == {}
            # Near the data: stored up to the cap, then computed.
            await exact(client, "2026-01-01", "2026-01-31", "UTC")
            assert await kept() == {"UTC": 31}
            await exact(client, "2026-01-01", "2026-01-31", "Asia/Tokyo")
            assert await kept() == {"UTC": 31, "Asia/Tokyo": 9}  # what fitted: the days nearest the present
            await exact(client, "2026-01-01", "2026-01-31", "America/New_York")
            assert await kept() == {"UTC": 31, "Asia/Tokyo": 9}  # nothing idle to forget
            await exact(client, "2026-01-02", "2026-01-30", "UTC")  # read from the kept days
            # Idle zones are forgotten, the least recently used first.
            await postgres.execute(
                db_url,
                """UPDATE "DailyFiguresZone" SET "lastUsedAt" = now() - CASE "zone" WHEN 'UTC' THEN
                   interval '2 hours' ELSE interval '1 hour' END""",
            )
            await exact(client, "2026-01-01", "2026-01-20", "Pacific/Auckland")
            assert await kept() == {"Asia/Tokyo": 9, "Pacific/Auckland": 20}
            await exact(client, "2026-01-01", "2026-01-31", "UTC")
            await exact(client, "2026-01-01", "2026-01-31", "Asia/Tokyo")
            assert sum((await kept()).values()) <= 40
    finally:
        await engine.dispose()
