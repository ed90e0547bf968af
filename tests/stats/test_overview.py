"""Every statistic's definition, on hand-built tickets whose answers are worked out here.

The functions take ``now`` (and window bounds) explicitly, so edges are tested
to the millisecond.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nephthys.stats.overview import (
    MessageLinks,
    helpers_leaderboard,
    legacy_stats,
    oldest_unanswered_ticket,
    overall_stats,
    stats_v2,
    window_stats,
)
from tests.api.data import add_ticket, add_user

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=1), NOW
MS = timedelta(milliseconds=1)
LINKS = MessageLinks("https://hackclub.slack.com", "C0HELP0001")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def build_day(url: str) -> dict[str, int]:
    """The tickets of one day ``[START, END)`` and around it; see each line for where it counts."""
    h1 = await add_user(url, "UHELPER1", helper=True, username="Helper One")
    h2 = await add_user(url, "UHELPER2", helper=True)
    await add_user(url, "UHELPER3", helper=True)  # a helper who closed nothing
    non_helper = await add_user(url, "UNOTHELPER")
    author = await add_user(url, "UAUTHOR")
    ticket = lambda **kwargs: add_ticket(url, opened_by=author, **kwargs)  # noqa: E731
    ids = {
        # created on the window's first instant: in; closed by H2 inside; hang 10, resolution 70
        "t1": await ticket(created_at=START, status="CLOSED", assigned_to=h2, assigned_at=START + minutes(10),
                           closed_by=h2, closed_at=START + minutes(70)),
        # created on the last millisecond: in; open, never assigned
        "t2": await ticket(created_at=END - MS, msg_ts="1700000000.000002"),
        # created and closed on the window's end: out of everything in the window
        "t3": await ticket(created_at=END, status="CLOSED", closed_by=h1, closed_at=END),
        # created a millisecond before the window, closed inside by H1: closed_today, not from today
        "t4": await ticket(created_at=START - MS, status="CLOSED", assigned_to=h1,
                           assigned_at=START - MS + minutes(5), closed_by=h1, closed_at=START + minutes(120)),
        # in progress, created and assigned inside: hang 30
        "t5": await ticket(created_at=START + minutes(60), status="IN_PROGRESS", assigned_to=h1,
                           assigned_at=START + minutes(90)),
        # in progress, created earlier, assigned on the window's first instant: assigned_today_in_progress
        "t6": await ticket(created_at=START - timedelta(days=2), status="IN_PROGRESS", assigned_to=h1,
                           assigned_at=START),
        # in progress, assigned on the window's end: not assigned_today_in_progress
        "t7": await ticket(created_at=START - timedelta(days=2), status="IN_PROGRESS", assigned_to=h1,
                           assigned_at=END),
        # closed by someone who is not a helper: counted, but on no leaderboard; hang 20, resolution 60
        "t8": await ticket(created_at=START + minutes(120), status="CLOSED", assigned_to=h1,
                           assigned_at=START + minutes(140), closed_by=non_helper, closed_at=START + minutes(180)),
        # reopened: open again, its closure cleared, its first response kept (hang 40, unresolved);
        # its last word was a helper's, so it is not unanswered
        "t9": await ticket(created_at=START + minutes(180), status="OPEN", assigned_to=h1,
                           assigned_at=START + minutes(220), reopened_by=author,
                           last_msg_at=START + minutes(220), last_msg_by="HELPER"),
        # H1 and H2 both close two in the window: a tie, broken by user id
        "t10": await ticket(created_at=START + minutes(240), status="CLOSED", assigned_to=h1,
                            assigned_at=START + minutes(250), closed_by=h1, closed_at=START + minutes(300)),
        "t11": await ticket(created_at=START + minutes(300), status="CLOSED", assigned_to=h2,
                            assigned_at=START + minutes(315), closed_by=h2, closed_at=START + minutes(360)),
    }  # fmt: skip
    return {"h1": h1, "h2": h2, **ids}


async def test_a_window_counts_each_ticket_by_its_definition(db_url, connection):
    ids = await build_day(db_url)
    stats = await window_stats(connection, START, END)
    h1, h2 = ids["h1"], ids["h2"]
    assert stats == {
        "new_tickets_total": 7,  # t1 t2 t5 t8 t9 t10 t11
        "new_tickets_now_closed": 4,  # t1 t8 t10 t11
        "new_tickets_still_open": 2,  # t2 t9
        "new_tickets_in_progress": 1,  # t5
        "closed_today": 5,  # t1 t4 t8 t10 t11 (t3 closed on the end: out)
        "closed_today_from_today": 4,  # t1 t8 t10 t11
        "assigned_today_in_progress": 2,  # t5 t6 (t7 assigned on the end: out)
        "helpers_leaderboard": [  # tie at 2: lower user id first; the non-helper left out
            {"id": h1, "slack_id": "UHELPER1", "count": 2, "username": "Helper One"},
            {"id": h2, "slack_id": "UHELPER2", "count": 2, "username": None},
        ],
        "mean_hang_time_minutes_unresolved": (30 + 40) / 2,  # t5 t9
        "mean_hang_time_minutes_all": pytest.approx((10 + 30 + 20 + 40 + 10 + 15) / 6, rel=1e-12),
        "mean_resolution_time_minutes": (70 + 60 + 60 + 60) / 4,  # t1 t8 t10 t11
    }
    assert all(isinstance(stats[key], float) for key in stats if key.startswith("mean_"))


async def test_all_time_reads_the_trigger_kept_totals(db_url, connection):
    ids = await build_day(db_url)
    overall = await overall_stats(connection, NOW, LINKS)
    hangs = [10, 5, 30, 2 * 24 * 60, 3 * 24 * 60, 20, 40, 10, 15]  # t1 t4 t5 t6 t7 t8 t9 t10 t11
    resolutions = [70, 0, 120 + 1 / 60000, 60, 60, 60]  # t1 t3 t4 (120 min and 1 ms) t8 t10 t11
    assert overall == {
        "tickets_total": 11,
        "tickets_open": 2,  # t2 t9
        "tickets_closed": 6,  # t1 t3 t4 t8 t10 t11
        "tickets_in_progress": 3,  # t5 t6 t7
        "helpers_leaderboard": [  # H1: t3 t4 t10; H2: t1 t11; H3 closed nothing; t8's closer is no helper
            {"id": ids["h1"], "slack_id": "UHELPER1", "count": 3, "username": "Helper One"},
            {"id": ids["h2"], "slack_id": "UHELPER2", "count": 2, "username": None},
        ],
        "mean_hang_time_minutes_unresolved": pytest.approx((30 + 2880 + 4320 + 40) / 4, rel=1e-12),
        "mean_hang_time_minutes_all": pytest.approx(sum(hangs) / len(hangs), rel=1e-12),
        "mean_hang_time_minutes": pytest.approx(sum(hangs) / len(hangs), rel=1e-12),
        "mean_resolution_time_minutes": pytest.approx(sum(resolutions) / len(resolutions), rel=1e-12),
        # t2 is the only open ticket whose last word is not a helper's (t9's is); one millisecond old
        "oldest_unanswered_ticket": {
            "id": ids["t2"],
            "created_at": "2026-03-10T11:59:59.999+00:00",
            "age_minutes": pytest.approx(1 / 60000, rel=1e-9),
            "link": "https://hackclub.slack.com/archives/C0HELP0001/p1700000000000002",
        },
    }


async def test_an_empty_database_has_zeros_empty_leaderboards_and_nulls(connection):
    overall = await overall_stats(connection, NOW, LINKS)
    assert overall == {
        "tickets_total": 0,
        "tickets_open": 0,
        "tickets_closed": 0,
        "tickets_in_progress": 0,
        "helpers_leaderboard": [],
        "mean_hang_time_minutes_unresolved": None,
        "mean_hang_time_minutes_all": None,
        "mean_hang_time_minutes": None,
        "mean_resolution_time_minutes": None,
        "oldest_unanswered_ticket": None,
    }
    window = await window_stats(connection, START, END)
    assert window == {
        **{key: 0 for key in ["new_tickets_total", "new_tickets_now_closed", "new_tickets_still_open",
                              "new_tickets_in_progress", "closed_today", "closed_today_from_today",
                              "assigned_today_in_progress"]},
        "helpers_leaderboard": [],
        "mean_hang_time_minutes_unresolved": None,
        "mean_hang_time_minutes_all": None,
        "mean_resolution_time_minutes": None,
    }  # fmt: skip


async def test_tickets_without_helpers_leave_the_means_null(db_url, connection):
    author = await add_user(db_url, "UAUTHOR")
    await add_ticket(db_url, opened_by=author, created_at=NOW - minutes(30))  # open, never answered
    window = await window_stats(connection, START, END)
    assert window["new_tickets_still_open"] == 1
    assert window["mean_hang_time_minutes_all"] is None
    assert window["mean_hang_time_minutes_unresolved"] is None
    assert window["mean_resolution_time_minutes"] is None
    assert window["helpers_leaderboard"] == []


async def test_the_oldest_unanswered_ticket_is_the_one_waiting_longest_for_a_helper(db_url, connection):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    open_ticket = lambda **kwargs: add_ticket(db_url, opened_by=author, **kwargs)  # noqa: E731
    await open_ticket(created_at=NOW - minutes(300), last_msg_at=NOW - minutes(60))
    waiting = await open_ticket(
        created_at=NOW - minutes(120), last_msg_at=NOW - minutes(120), msg_ts="1700000000.123456"
    )
    # older, but a helper spoke last
    await open_ticket(created_at=NOW - minutes(600), last_msg_at=NOW - minutes(540), last_msg_by="HELPER")
    # older, but in progress
    await add_ticket(db_url, opened_by=author, created_at=NOW - minutes(1200), status="IN_PROGRESS",
                     assigned_to=helper, assigned_at=NOW - minutes(1100), last_msg_at=NOW - minutes(1200))  # fmt: skip
    # someone else (not a helper) spoke last: still unanswered, but it has waited less
    await open_ticket(created_at=NOW - minutes(100), last_msg_at=NOW - minutes(90), last_msg_by="OTHER")

    oldest = await oldest_unanswered_ticket(connection, NOW, LINKS)
    assert oldest == {
        "id": waiting,
        "created_at": "2026-03-10T10:00:00.000+00:00",
        "age_minutes": 120.0,
        "link": "https://hackclub.slack.com/archives/C0HELP0001/p1700000000123456",
    }
    # Without a help channel no message link can be built: the workspace's URL stands in.
    no_channel = await oldest_unanswered_ticket(connection, NOW, MessageLinks("https://x.slack.com", None))
    assert no_channel["link"] == "https://x.slack.com"


async def test_stats_v2_windows_are_half_open_and_end_at_now(db_url, connection):
    author = await add_user(db_url, "UAUTHOR")
    day, week = timedelta(days=1), timedelta(days=7)
    for created_at in [
        NOW - day,  # past_24h (its first instant), past_7d
        NOW - day - MS,  # past_24h_previous, past_7d
        NOW - 2 * day,  # past_24h_previous (first instant), past_7d
        NOW - 2 * day - MS,  # past_7d only
        NOW - week,  # past_7d (first instant)
        NOW - week - MS,  # past_7d_previous
        NOW - 2 * week,  # past_7d_previous (first instant)
        NOW - 2 * week - MS,  # no window
        NOW,  # the request's own instant: no window (they end before now)
    ]:
        await add_ticket(db_url, opened_by=author, created_at=created_at)
    stats = await stats_v2(connection, NOW, LINKS)
    assert set(stats) == {"all_time", "past_24h", "past_24h_previous", "past_7d", "past_7d_previous"}
    assert {name: section["new_tickets_total"] for name, section in stats.items() if name != "all_time"} == {
        "past_24h": 1,
        "past_24h_previous": 2,
        "past_7d": 5,
        "past_7d_previous": 2,
    }
    assert stats["all_time"]["tickets_total"] == 9
    assert stats["past_24h"] == await window_stats(connection, NOW - day, NOW)


async def test_leaderboards_can_be_asked_for_alone_and_cut_short(db_url, connection):
    ids = await build_day(db_url)
    assert await helpers_leaderboard(connection, top=1) == [
        {"id": ids["h1"], "slack_id": "UHELPER1", "count": 3, "username": "Helper One"}
    ]
    # From just after t1's close: H1 closed t4 and t10, H2 only t11.
    assert await helpers_leaderboard(connection, start=START + minutes(70) + MS, end=END) == [
        {"id": ids["h1"], "slack_id": "UHELPER1", "count": 2, "username": "Helper One"},
        {"id": ids["h2"], "slack_id": "UHELPER2", "count": 1, "username": None},
    ]
    # Closed exactly on the start: counted (t1 at +70 min).
    assert await helpers_leaderboard(connection, start=START + minutes(70), end=END) == [
        {"id": ids["h1"], "slack_id": "UHELPER1", "count": 2, "username": "Helper One"},
        {"id": ids["h2"], "slack_id": "UHELPER2", "count": 2, "username": None},
    ]


async def test_legacy_stats_keep_the_first_generation_keys(db_url, connection):
    ids = await build_day(db_url)
    legacy = await legacy_stats(connection, NOW)
    assert legacy == {
        "total_tickets": 11,
        "total_open": 2,
        "total_in_progress": 3,
        "total_closed": 6,
        "total_top_3_users_with_closed_tickets": [
            {
                "user_id": ids["h1"],
                "slack_id": "UHELPER1",
                "closed_ticket_count": 3,
                "username": "Helper One",
            },
            {"user_id": ids["h2"], "slack_id": "UHELPER2", "closed_ticket_count": 2, "username": None},
        ],
        # the first generation's hang time: unresolved tickets
        "average_hang_time_minutes": pytest.approx((30 + 2880 + 4320 + 40) / 4, rel=1e-12),
        "mean_resolution_time_minutes": pytest.approx((370 + 1 / 60000) / 6, rel=1e-12),
        "oldest_unanswered_ticket_age_minutes": pytest.approx(1 / 60000, rel=1e-9),
        "prev_day_total": 7,
        "prev_day_open": 2,
        "prev_day_in_progress": 1,
        "prev_day_closed": 4,
        "prev_day_top_3_users_with_closed_tickets": [
            {
                "user_id": ids["h1"],
                "slack_id": "UHELPER1",
                "closed_ticket_count": 2,
                "username": "Helper One",
            },
            {"user_id": ids["h2"], "slack_id": "UHELPER2", "closed_ticket_count": 2, "username": None},
        ],
        "prev_day_average_hang_time_minutes": 35.0,
    }
