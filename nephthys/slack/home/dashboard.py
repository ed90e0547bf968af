"""The "Dashboard" view: how the help channel is doing, from the same figures as /api/stats_v2."""

from __future__ import annotations

from nephthys.slack.home.common import (
    change,
    context,
    count,
    duration,
    header,
    mention,
    mrkdwn_section,
    quoted,
)
from nephthys.stats.home import DashboardFigures, Leaderboard, LeaderboardEntry, WindowFigures
from nephthys.transcripts import Transcript


def _window(transcript: Transcript, key: str, window: WindowFigures) -> str:
    return transcript.text(
        key,
        new=count(window.new_tickets),
        new_change=change(window.new_tickets, window.new_tickets_before),
        closed=count(window.closed),
        closed_change=change(window.closed, window.closed_before),
    )


def helper_name(entry: LeaderboardEntry) -> str:
    """The helper's name as the API gives it (made safe to show), or a mention of their id while none is known."""
    return quoted(entry.username, limit=80) if entry.username else mention(entry.slack_id)


def leaderboard_blocks(transcript: Transcript, title_key: str, board: Leaderboard) -> list[dict]:
    """A leaderboard's top entries, and the viewer's own place when it is below them."""
    blocks = [header(transcript.text(title_key))]
    if not board.top:
        return [*blocks, context(transcript.text("app_home_leaderboard_empty"))]
    rows = [
        transcript.text(
            "app_home_leaderboard_row",
            rank=str(entry.rank),
            user=helper_name(entry),
            count=count(entry.count),
        )
        for entry in board.top
    ]
    blocks.append(mrkdwn_section("\n".join(rows)))
    if board.viewer is not None and board.viewer_outside_top:
        you = transcript.text(
            "app_home_leaderboard_you", rank=str(board.viewer.rank), count=count(board.viewer.count)
        )
        blocks.append(context(you))
    return blocks


def blocks(transcript: Transcript, figures: DashboardFigures) -> list[dict]:
    oldest = figures.oldest_unanswered
    summary = [
        transcript.text(
            "app_home_dashboard_totals",
            total=count(figures.tickets_total),
            open=count(figures.tickets_open),
            in_progress=count(figures.tickets_in_progress),
            closed=count(figures.tickets_closed),
        ),
        _window(transcript, "app_home_dashboard_day", figures.day),
        _window(transcript, "app_home_dashboard_week", figures.week),
        transcript.text(
            "app_home_dashboard_means",
            hang=duration(figures.mean_hang_minutes),
            resolution=duration(figures.mean_resolution_minutes),
        ),
        (
            transcript.text("app_home_dashboard_oldest", link=oldest.link, age=duration(oldest.age_minutes))
            if oldest is not None
            else transcript.text("app_home_dashboard_no_oldest")
        ),
    ]
    return [
        mrkdwn_section("\n".join(summary), block_id="dashboard_summary"),
        *leaderboard_blocks(transcript, "app_home_leaderboard_all_time", figures.all_time_board),
        *leaderboard_blocks(transcript, "app_home_leaderboard_week", figures.week_board),
    ]
