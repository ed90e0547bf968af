"""The "My stats" view: what the viewer closed, where they rank, how fast they answer, how it was rated."""

from __future__ import annotations

from nephthys.database.models import FeedbackRating
from nephthys.slack.home.common import count, duration, header, mrkdwn_section
from nephthys.stats.home import BoardPlace, HelperFigures, HelperRatings
from nephthys.transcripts import Transcript

RATINGS_BLOCK = "my_stats_ratings"


def _rank(transcript: Transcript, place: BoardPlace) -> str:
    return f"#{place.rank}" if place.rank is not None else transcript.text("app_home_unranked")


def _rating_counts(counts: dict[FeedbackRating, int]) -> dict[str, str]:
    return {
        "great": count(counts[FeedbackRating.GREAT]),
        "okay": count(counts[FeedbackRating.OKAY]),
        "not_good": count(counts[FeedbackRating.NOT_GOOD]),
        "total": count(sum(counts.values())),
    }


def ratings_text(transcript: Transcript, ratings: HelperRatings) -> str:
    """All time and the last 30 days, or a friendly line while nobody has rated the viewer's work."""
    if ratings.total == 0:
        return transcript.text("app_home_my_stats_no_ratings")
    return "\n".join(
        [
            transcript.text("app_home_my_stats_ratings_all_time", **_rating_counts(ratings.all_time)),
            transcript.text("app_home_my_stats_ratings_month", **_rating_counts(ratings.month)),
        ]
    )


def blocks(transcript: Transcript, figures: HelperFigures, *, feedback_offered: bool = True) -> list[dict]:
    """The view; with ``FEEDBACK`` off (``feedback_offered`` False) ratings from before still show,
    but nobody is promised any while none exist."""
    places = {"day": figures.day, "week": figures.week, "month": figures.month, "all_time": figures.all_time}
    lines = [
        transcript.text("app_home_my_stats_closed", **{k: count(p.closed) for k, p in places.items()}),
        transcript.text("app_home_my_stats_ranks", **{k: _rank(transcript, p) for k, p in places.items()}),
        transcript.text(
            "app_home_my_stats_first_response", minutes=duration(figures.mean_first_response_minutes)
        ),
        transcript.text("app_home_my_stats_in_progress", count=count(figures.in_progress)),
    ]
    shown = [
        header(transcript.text("app_home_my_stats_title")),
        mrkdwn_section("\n".join(lines), block_id="my_stats"),
    ]
    if feedback_offered or figures.ratings.total:
        shown.append(mrkdwn_section(ratings_text(transcript, figures.ratings), block_id=RATINGS_BLOCK))
    return shown
