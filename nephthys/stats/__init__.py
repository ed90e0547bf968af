"""Every ticket statistic, as SQL, in one place: the API, the App Home and the daily summary call these.

Each function takes an ``AsyncSession`` or ``AsyncConnection`` and the instant
``now`` (or a window's ``start``/``end``), so callers choose the clock. The
definitions are in ``nephthys.stats.overview`` and docs/api.md.
"""

from nephthys.stats.daily import daily_stats, local_day_edges
from nephthys.stats.distribution import duration_distribution
from nephthys.stats.feedback import FeedbackStats, feedback_stats
from nephthys.stats.overview import (
    MessageLinks,
    helpers_leaderboard,
    legacy_stats,
    oldest_unanswered_ticket,
    overall_stats,
    stats_v2,
    window_stats,
)

__all__ = [
    "FeedbackStats",
    "feedback_stats",
    "MessageLinks",
    "daily_stats",
    "duration_distribution",
    "local_day_edges",
    "helpers_leaderboard",
    "legacy_stats",
    "oldest_unanswered_ticket",
    "overall_stats",
    "stats_v2",
    "window_stats",
]
