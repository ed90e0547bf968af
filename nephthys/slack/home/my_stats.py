"""The "My stats" view: what the viewer closed, where they rank, how fast they answer.

The ratings their closed tickets received come once the Feedback table exists.
"""

from __future__ import annotations

from nephthys.slack.home.common import count, duration, header, mrkdwn_section
from nephthys.stats.home import BoardPlace, HelperFigures
from nephthys.transcripts import Transcript


def _rank(transcript: Transcript, place: BoardPlace) -> str:
    return f"#{place.rank}" if place.rank is not None else transcript.text("app_home_unranked")


def blocks(transcript: Transcript, figures: HelperFigures) -> list[dict]:
    places = {"day": figures.day, "week": figures.week, "month": figures.month, "all_time": figures.all_time}
    lines = [
        transcript.text("app_home_my_stats_closed", **{k: count(p.closed) for k, p in places.items()}),
        transcript.text("app_home_my_stats_ranks", **{k: _rank(transcript, p) for k, p in places.items()}),
        transcript.text(
            "app_home_my_stats_first_response", minutes=duration(figures.mean_first_response_minutes)
        ),
        transcript.text("app_home_my_stats_in_progress", count=count(figures.in_progress)),
    ]
    return [
        header(transcript.text("app_home_my_stats_title")),
        mrkdwn_section("\n".join(lines), block_id="my_stats"),
    ]
