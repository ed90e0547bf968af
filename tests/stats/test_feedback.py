"""One helper's ratings (the App Home's My stats) are their entry in /api/stats/feedback's helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nephthys.database.models import FeedbackRating
from nephthys.stats.feedback import feedback_stats, helper_ratings
from tests.api.test_feedback_stats import seed

RANGES = [
    (None, None),
    (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
    (datetime(2026, 2, 1, tzinfo=UTC), None),
    (None, datetime(2026, 1, 4, tzinfo=UTC)),
    (datetime(2030, 1, 1, tzinfo=UTC), None),  # nothing
]


@pytest.mark.parametrize(("since", "until"), RANGES)
async def test_one_helpers_ratings_are_their_entry_among_all_helpers(db_url, connection, since, until):
    await seed(db_url)
    stats = await feedback_stats(connection, since=since, until=until)
    entries = {helper.slack_id: helper.counts for helper in stats.helpers}
    nothing = {rating: 0 for rating in FeedbackRating}
    # UASKER and UASKER2 closed nothing; UNOBODY is no user at all.
    for slack_id in ("UADA", "UBOB", "UASKER", "UASKER2", "UNOBODY"):
        own = await helper_ratings(connection, slack_id=slack_id, since=since, until=until)
        assert own == entries.get(slack_id, nothing), slack_id


async def test_one_helpers_ratings_worked_out(db_url, connection):
    await seed(db_url)
    # Ada closed t0 (great) and t1 (not good); Bob closed t2 (great, Jan 6) and t4 (okay, Feb 3);
    # t5's okay is on a reopened ticket: nobody's.
    assert await helper_ratings(connection, slack_id="UADA") == {
        FeedbackRating.GREAT: 1,
        FeedbackRating.OKAY: 0,
        FeedbackRating.NOT_GOOD: 1,
    }
    assert await helper_ratings(connection, slack_id="UBOB", since=datetime(2026, 2, 1, tzinfo=UTC)) == {
        FeedbackRating.GREAT: 0,
        FeedbackRating.OKAY: 1,
        FeedbackRating.NOT_GOOD: 0,
    }
