"""/api/stats_v2, /api/stats and /api/user over real HTTP, on the database's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.api.data import add_ticket, add_user, database_now
from tests.support import postgres

OVERALL_KEYS = {
    "tickets_total", "tickets_open", "tickets_closed", "tickets_in_progress", "helpers_leaderboard",
    "mean_hang_time_minutes_unresolved", "mean_hang_time_minutes_all", "mean_resolution_time_minutes",
    "oldest_unanswered_ticket", "mean_hang_time_minutes",
}  # fmt: skip
WINDOW_KEYS = {
    "new_tickets_total", "new_tickets_now_closed", "new_tickets_still_open", "new_tickets_in_progress",
    "closed_today", "closed_today_from_today", "assigned_today_in_progress", "helpers_leaderboard",
    "mean_hang_time_minutes_unresolved", "mean_hang_time_minutes_all", "mean_resolution_time_minutes",
}  # fmt: skip
HOUR = timedelta(hours=1)


async def seed(url: str) -> dict:
    """A few tickets hours away from every window edge, so the request's clock does not matter."""
    now = await database_now(url)
    helper = await add_user(url, "UHELPER", helper=True, username="Helper One")
    author = await add_user(url, "UAUTHOR")
    closed = await add_ticket(url, opened_by=author, created_at=now - 3 * HOUR, status="CLOSED",
                              assigned_to=helper, assigned_at=now - 2 * HOUR, closed_by=helper,
                              closed_at=now - HOUR)  # fmt: skip
    waiting = await add_ticket(url, opened_by=author, created_at=now - 30 * HOUR, msg_ts="1700000001.000200")
    in_progress = await add_ticket(url, opened_by=author, created_at=now - 10 * 24 * HOUR, status="IN_PROGRESS",
                                   assigned_to=helper, assigned_at=now - 10 * 24 * HOUR + HOUR)  # fmt: skip
    return {"now": now, "helper": helper, "author": author, "closed": closed, "waiting": waiting,
            "in_progress": in_progress}  # fmt: skip


async def test_stats_v2_has_every_key_of_the_contract_with_its_type(serve, db_url):
    ids = await seed(db_url)
    async with serve(
        slack_help_channel="C0HELP0001", slack_workspace_url="https://example.slack.com"
    ) as client:
        response = await client.get("/api/stats_v2")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"all_time", "past_24h", "past_24h_previous", "past_7d", "past_7d_previous"}
    overall = body["all_time"]
    assert set(overall) == OVERALL_KEYS
    for name in ["past_24h", "past_24h_previous", "past_7d", "past_7d_previous"]:
        assert set(body[name]) == WINDOW_KEYS, name
    assert (overall["tickets_total"], overall["tickets_open"], overall["tickets_closed"]) == (3, 1, 1)
    assert overall["tickets_in_progress"] == 1
    assert overall["helpers_leaderboard"] == [
        {"id": ids["helper"], "slack_id": "UHELPER", "count": 1, "username": "Helper One"}
    ]
    assert overall["mean_hang_time_minutes_all"] == overall["mean_hang_time_minutes"] == 60.0
    assert overall["mean_hang_time_minutes_unresolved"] == 60.0
    assert overall["mean_resolution_time_minutes"] == 120.0
    oldest = overall["oldest_unanswered_ticket"]
    assert oldest["id"] == ids["waiting"]
    # stored to the millisecond
    assert abs(datetime.fromisoformat(oldest["created_at"]) - (ids["now"] - 30 * HOUR)) <= timedelta(
        microseconds=500
    )
    assert oldest["created_at"].endswith("+00:00")
    assert 30 * 60 <= oldest["age_minutes"] < 31 * 60
    assert oldest["link"] == "https://example.slack.com/archives/C0HELP0001/p1700000001000200"
    assert body["past_24h"]["new_tickets_total"] == 1 and body["past_24h"]["closed_today"] == 1
    assert body["past_24h_previous"]["new_tickets_still_open"] == 1
    assert body["past_7d"]["new_tickets_total"] == 2
    assert body["past_7d_previous"]["new_tickets_in_progress"] == 1
    assert body["past_7d_previous"]["assigned_today_in_progress"] == 1
    assert body["past_24h_previous"]["mean_resolution_time_minutes"] is None


async def test_stats_v2_reflects_every_change_committed_before_the_request(serve, db_url):
    ids = await seed(db_url)
    async with serve() as client:
        first = (await client.get("/api/stats_v2")).json()
        assert (await client.get("/api/stats_v2")).json()["all_time"]["tickets_total"] == 3
        await add_ticket(db_url, opened_by=ids["author"], created_at=ids["now"] - 5 * HOUR)
        second = (await client.get("/api/stats_v2")).json()
        # A helper who stops helping leaves the leaderboards at once.
        await postgres.execute(db_url, 'UPDATE "User" SET helper = false WHERE id = $1', ids["helper"])
        third = (await client.get("/api/stats_v2")).json()
        # A helper's reply takes the ticket off "unanswered".
        await postgres.execute(db_url, """UPDATE "Ticket" SET "lastMsgBy" = 'HELPER' WHERE status = 'OPEN'""")
        fourth = (await client.get("/api/stats_v2")).json()
    assert first["all_time"]["tickets_total"] == 3
    assert second["all_time"]["tickets_total"] == 4 and second["past_24h"]["new_tickets_total"] == 2
    assert second["all_time"]["helpers_leaderboard"] != []
    assert third["all_time"]["helpers_leaderboard"] == [] and third["past_24h"]["helpers_leaderboard"] == []
    assert fourth["all_time"]["oldest_unanswered_ticket"] is None


async def test_stats_v2_on_an_empty_database(serve):
    async with serve() as client:
        body = (await client.get("/api/stats_v2")).json()
    assert body["all_time"]["tickets_total"] == 0
    assert body["all_time"]["oldest_unanswered_ticket"] is None
    assert body["all_time"]["mean_hang_time_minutes"] is None
    assert body["past_7d"]["helpers_leaderboard"] == []


async def test_legacy_stats_over_http(serve, db_url):
    ids = await seed(db_url)
    async with serve() as client:
        body = (await client.get("/api/stats")).json()
    assert body["total_tickets"] == 3 and body["total_closed"] == 1 and body["total_open"] == 1
    assert body["total_top_3_users_with_closed_tickets"] == [
        {"user_id": ids["helper"], "slack_id": "UHELPER", "closed_ticket_count": 1, "username": "Helper One"}
    ]
    assert body["prev_day_total"] == 1 and body["prev_day_closed"] == 1
    assert body["average_hang_time_minutes"] == 60.0  # the in-progress ticket: 1 hour
    assert 30 * 60 <= body["oldest_unanswered_ticket_age_minutes"] < 31 * 60


async def test_user_counts_opened_and_closed_not_counting_their_own(serve, db_url):
    ids = await seed(db_url)
    # The helper asks a question and closes it themselves: opened, but not "closed" for them.
    await add_ticket(db_url, opened_by=ids["helper"], created_at=ids["now"] - HOUR, status="CLOSED",
                     closed_by=ids["helper"], closed_at=ids["now"])  # fmt: skip
    async with serve() as client:
        helper = await client.get("/api/user", params={"id": "UHELPER"})
        author = await client.get("/api/user", params={"id": "UAUTHOR"})
        missing = await client.get("/api/user", params={"id": "UNOBODY"})
        no_id = await client.get("/api/user")
        blank = await client.get("/api/user?id=")
        control = await client.get("/api/user?id=U%00X")
        repeated = await client.get("/api/user?id=UAUTHOR&id=UHELPER")
    assert helper.json() == {"tickets_opened": 1, "tickets_closed": 1, "helper": True}
    assert author.json() == {"tickets_opened": 3, "tickets_closed": 0, "helper": False}
    assert (missing.status_code, missing.json()) == (404, {"error": "user_not_found"})
    assert (no_id.status_code, no_id.json()) == (400, {"error": "missing_user_id"})
    assert (blank.status_code, blank.json()) == (400, {"error": "missing_user_id"})
    assert control.status_code == 400 and control.json()["error"] == "invalid_user_id"
    assert repeated.json() == author.json()  # the first of repeated parameters


async def test_every_leaderboard_carries_the_helpers_current_username(serve, db_url):
    ids = await seed(db_url)
    unnamed = await add_user(db_url, "UUNNAMED", helper=True)
    await add_ticket(db_url, opened_by=ids["author"], created_at=ids["now"] - 3 * HOUR, status="CLOSED",
                     closed_by=unnamed, closed_at=ids["now"] - 2 * HOUR)  # fmt: skip

    def boards(v2: dict, legacy: dict, in_range: dict) -> list[list[tuple]]:
        """(slack_id, username) of every leaderboard of every stats route."""
        every = [v2[name]["helpers_leaderboard"] for name in ("all_time", "past_24h", "past_7d")]
        every.append(in_range["stats"]["helpers_leaderboard"])
        every += [legacy[f"{name}_top_3_users_with_closed_tickets"] for name in ("total", "prev_day")]
        for entry in (entry for board in every for entry in board):  # username right after the count
            assert list(entry)[-2:] in (["count", "username"], ["closed_ticket_count", "username"])
        return [[(entry["slack_id"], entry["username"]) for entry in board] for board in every]

    async with serve() as client:

        async def everything() -> tuple[httpx.Response, httpx.Response, list[list[tuple]]]:
            v2 = await client.get("/api/stats_v2")
            in_range = await client.get("/api/stats/range", params={"since": "2000-01-01"})
            legacy = (await client.get("/api/stats")).json()
            return v2, in_range, boards(v2.json(), legacy, in_range.json())

        v2, in_range, before = await everything()
        assert before == [[("UHELPER", "Helper One"), ("UUNNAMED", None)]] * 6
        # A rename shows at once: the remembered answers are not reused for it (a new data version).
        await postgres.execute(
            db_url, 'UPDATE "User" SET username = $1 WHERE id = $2', "Helper 1", ids["helper"]
        )
        await postgres.execute(db_url, 'UPDATE "User" SET username = $1 WHERE id = $2', "Named", unnamed)
        renamed_v2, renamed_range, after = await everything()
        assert after == [[("UHELPER", "Helper 1"), ("UUNNAMED", "Named")]] * 6
        assert renamed_v2.headers["etag"] != v2.headers["etag"]
        assert renamed_range.headers["etag"] != in_range.headers["etag"]
        stale = await client.get("/api/stats_v2", headers={"If-None-Match": v2.headers["etag"]})
        assert stale.status_code == 200
