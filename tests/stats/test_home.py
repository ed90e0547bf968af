"""The App Home's figures: the dashboard is /api/stats_v2's document, a helper's own figures and
ranks follow the leaderboards' definition, question tags are counted over 7 and 30 days and all time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nephthys.stats.home import (
    HomeFiguresMemo,
    current_question_tag_figures,
    dashboard_figures,
    dashboard_from_stats_v2,
    helper_figures,
    leaderboard,
    question_tag_figures,
)
from nephthys.stats.memo import StatsV2Memo, current_stats_v2
from nephthys.stats.overview import MessageLinks, stats_v2
from tests.api.data import add_ticket, add_user
from tests.support import postgres

LINKS = MessageLinks("https://hackclub.slack.com", "C0HELP0001")


def ago(**kwargs) -> datetime:
    return datetime.now(UTC) - timedelta(**kwargs)


async def build(url: str) -> dict[str, int]:
    h1 = await add_user(url, "UHELPER1", helper=True)
    h2 = await add_user(url, "UHELPER2", helper=True)
    await add_user(url, "UHELPER3", helper=True)  # closed nothing
    author = await add_user(url, "UAUTHOR")
    closed = dict(opened_by=author, status="CLOSED")
    # H1: two closed in the last day (hang 10 and 30 minutes), one 20 days ago (hang 20), one in progress (hang 60).
    await add_ticket(url, **closed, created_at=ago(hours=5), assigned_to=h1, assigned_at=ago(hours=5) + timedelta(minutes=10),
                     closed_by=h1, closed_at=ago(hours=4))  # fmt: skip
    await add_ticket(url, **closed, created_at=ago(hours=3), assigned_to=h1, assigned_at=ago(hours=3) + timedelta(minutes=30),
                     closed_by=h1, closed_at=ago(hours=2))  # fmt: skip
    await add_ticket(url, **closed, created_at=ago(days=20), assigned_to=h1, assigned_at=ago(days=20) + timedelta(minutes=20),
                     closed_by=h1, closed_at=ago(days=19))  # fmt: skip
    await add_ticket(url, opened_by=author, status="IN_PROGRESS", created_at=ago(hours=2), assigned_to=h1,
                     assigned_at=ago(hours=1))  # fmt: skip
    # H2: one closed 40 days ago.
    await add_ticket(url, **closed, created_at=ago(days=40), assigned_to=h2, assigned_at=ago(days=40),
                     closed_by=h2, closed_at=ago(days=40) + timedelta(hours=1))  # fmt: skip
    return {"h1": h1, "h2": h2}


async def test_a_helpers_own_figures_and_ranks(db_url, connection):
    await build(db_url)
    memo = StatsV2Memo()
    h1 = await helper_figures(connection, memo, LINKS, slack_id="UHELPER1")
    assert (h1.day.closed, h1.week.closed, h1.month.closed, h1.all_time.closed) == (2, 2, 3, 3)
    assert (h1.day.rank, h1.week.rank, h1.month.rank, h1.all_time.rank) == (1, 1, 1, 1)
    assert h1.in_progress == 1
    assert h1.mean_first_response_minutes is not None
    assert abs(h1.mean_first_response_minutes - (10 + 30 + 20 + 60) / 4) < 0.01
    h2 = await helper_figures(connection, memo, LINKS, slack_id="UHELPER2")
    assert (h2.day.rank, h2.week.rank, h2.month.rank, h2.all_time.rank) == (None, None, None, 2)
    assert h2.all_time.closed == 1 and h2.in_progress == 0
    h3 = await helper_figures(connection, memo, LINKS, slack_id="UHELPER3")
    assert h3.all_time.rank is None and h3.mean_first_response_minutes is None


async def test_the_dashboard_is_the_stats_v2_document_and_reuses_its_memo(db_url, connection):
    await build(db_url)
    memo = StatsV2Memo()
    computed, _ = await current_stats_v2(connection, memo, LINKS)  # as /api/stats_v2 computes it
    figures = await dashboard_figures(connection, memo, LINKS, viewer_slack_id="UHELPER2")
    assert memo.lookup(computed.raw.version, figures.now) is computed  # reused exactly, not recomputed
    document = await stats_v2(connection, figures.now, LINKS)
    assert figures == dashboard_from_stats_v2(document, figures.now, viewer_slack_id="UHELPER2")
    assert (figures.tickets_total, figures.tickets_closed, figures.tickets_in_progress) == (5, 4, 1)
    assert [(e.rank, e.slack_id, e.count) for e in figures.all_time_board.top] == [
        (1, "UHELPER1", 3),
        (2, "UHELPER2", 1),
    ]
    assert figures.all_time_board.viewer is not None and not figures.all_time_board.viewer_outside_top
    assert figures.week.closed == 2 and figures.week.closed_before == 0


def test_a_leaderboard_shows_the_viewer_below_its_top():
    entries = [{"id": i, "slack_id": f"U{i:03d}", "count": 100 - i} for i in range(1, 15)]
    board = leaderboard(entries, viewer_slack_id="U013", top=10)
    assert [e.rank for e in board.top] == list(range(1, 11))
    assert board.viewer is not None and (board.viewer.rank, board.viewer.count) == (13, 87)
    assert board.viewer_outside_top
    assert leaderboard(entries, viewer_slack_id="UNOBODY").viewer is None


async def test_question_tags_over_7_and_30_days_and_all_time(db_url, connection):
    author = await add_user(db_url, "UAUTHOR")
    [payout] = await postgres.fetch(
        db_url, 'INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', "Payout"
    )
    await postgres.fetch(db_url, 'INSERT INTO "QuestionTag" (label) VALUES ($1)', "Never asked")
    for age in (timedelta(days=1), timedelta(days=6), timedelta(days=20), timedelta(days=200)):
        ticket = await add_ticket(db_url, opened_by=author, created_at=ago() - age)
        await postgres.fetch(
            db_url, 'UPDATE "Ticket" SET "questionTagId" = $1 WHERE id = $2', payout["id"], ticket
        )
    counted = await question_tag_figures(connection, now=datetime.now(UTC))
    assert [(t.label, t.week, t.month, t.all_time) for t in counted] == [
        ("Payout", 2, 3, 4),
        ("Never asked", 0, 0, 0),
    ]


async def test_question_tag_counts_are_reused_exactly_and_only_while_nothing_changed(db_url, connection):
    author = await add_user(db_url, "UAUTHOR")
    [payout] = await postgres.fetch(
        db_url, 'INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', "Payout"
    )
    ticket = await add_ticket(db_url, opened_by=author, created_at=ago(days=2))
    await postgres.fetch(
        db_url, 'UPDATE "Ticket" SET "questionTagId" = $1 WHERE id = $2', payout["id"], ticket
    )
    memo = HomeFiguresMemo()
    first = await current_question_tag_figures(connection, memo)
    assert [(t.label, t.week, t.all_time) for t in first] == [("Payout", 1, 1)]
    assert await current_question_tag_figures(connection, memo) is first  # nothing changed: reused
    # A new question tag changes no ticket (no new version): the fingerprint sees it.
    await postgres.fetch(db_url, 'INSERT INTO "QuestionTag" (label) VALUES ($1)', "Brand new")
    second = await current_question_tag_figures(connection, memo)
    assert [t.label for t in second] == ["Payout", "Brand new"]
    # A ticket change is a new version: computed afresh.
    await postgres.fetch(db_url, 'UPDATE "Ticket" SET "questionTagId" = NULL WHERE id = $1', ticket)
    third = await current_question_tag_figures(connection, memo)
    assert [(t.label, t.all_time) for t in third] == [("Brand new", 0), ("Payout", 0)]


async def test_the_30_day_board_is_reused_until_a_closing_leaves_the_window(db_url, connection):
    await build(db_url)
    memo, figures_memo = StatsV2Memo(), HomeFiguresMemo()
    await helper_figures(connection, memo, LINKS, slack_id="UHELPER1", figures_memo=figures_memo)
    remembered = figures_memo.lookup(
        "month_board", version=memo._last.raw.version, fingerprint=None, now=memo._last.raw.now
    )
    assert remembered is not None
    # Valid until the oldest closing in the window (H1's, 19 days ago) is 30 days old.
    assert abs((remembered.valid_until - (ago(days=19) + timedelta(days=30))).total_seconds()) < 60
    assert (
        figures_memo.lookup(
            "month_board", version=memo._last.raw.version, fingerprint=None, now=remembered.valid_until
        )
        is None
    )
