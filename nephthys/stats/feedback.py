"""What askers said about their resolved questions: ratings, response rate, per helper.

Definitions (docs/api.md says the same in prose):

- Feedback in a range: ``Feedback`` rows whose ``createdAt`` is in ``[since, until)``
  (a bound left out is open). One row per ticket and asker; a later submission replaces
  the earlier one and takes its own ``createdAt``.
- ``ratings``: the count of each rating, and its share of all feedback in the range
  (``None`` when there is none).
- ``response_rate``: tickets now closed whose ``closedAt`` is in the range and that have
  feedback, divided by all tickets now closed whose ``closedAt`` is in the range
  (``None`` when none closed).
- ``helpers``: feedback in the range counted per rating by the ticket's ``closedById``
  (the credited helper), most feedback first, ties by user id; feedback on a ticket that
  is not closed now (reopened) counts for nobody.
- One helper's ratings (``helper_ratings``, the App Home's My stats): their entry in
  ``helpers``, from the same statement narrowed to their Slack id (all zeros when they
  have none). There is no per-helper response rate: ``response_rate`` is defined over
  all closed tickets only.
- Comments are never part of a statistic.

The figures are sums over what triggers keep (migration 0025): feedback per rating and
credited helper in hour, day and 32-day periods, and closed tickets with and without
feedback per hour of their ``closedAt``; the parts of an hour at a range's two ends are
read from "Feedback" and "Ticket". ``direct_feedback_stats`` and ``direct_helper_ratings``
read every row instead: the reference the tests compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from nephthys.database.models import FeedbackRating
from nephthys.stats.hourly import bounds_parameters, in_edges, kept_periods

Executor = AsyncSession | AsyncConnection


@dataclass(frozen=True)
class HelperFeedback:
    id: int
    slack_id: str
    counts: dict[FeedbackRating, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class FeedbackStats:
    counts: dict[FeedbackRating, int]
    closed_tickets: int
    closed_tickets_with_feedback: int
    helpers: list[HelperFeedback]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, rating: FeedbackRating) -> float | None:
        return self.counts[rating] / self.total if self.total else None

    @property
    def response_rate(self) -> float | None:
        return self.closed_tickets_with_feedback / self.closed_tickets if self.closed_tickets else None


_IN_RANGE = """(CAST(:since AS timestamptz) IS NULL OR {column} >= :since)
               AND (CAST(:until AS timestamptz) IS NULL OR {column} < :until)"""

_RATINGS = text(
    f"""SELECT f.rating, count(*) AS n FROM "Feedback" f
        WHERE {_IN_RANGE.format(column='f."createdAt"')}
        GROUP BY f.rating"""
)
_RESPONSE = text(
    f"""SELECT count(*) AS closed,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM "Feedback" f WHERE f."ticketId" = t.id)) AS answered
        FROM "Ticket" t
        WHERE t.status = 'CLOSED' AND {_IN_RANGE.format(column='t."closedAt"')}"""
)
# The one definition of a helper's feedback: every helper's (``:closed_by`` NULL, the API's
# ``helpers``) or one helper's (the App Home), so the two can never count differently. One
# helper is named by user id, a value the planner can weigh (a busy helper closed many
# tickets, so their recent feedback is best found through "Feedback"."createdAt").
_PER_HELPER = text(
    f"""SELECT u.id, u."slackId" AS slack_id, f.rating, count(*) AS n
        FROM "Feedback" f
        JOIN "Ticket" t ON t.id = f."ticketId"
        JOIN "User" u ON u.id = t."closedById"
        WHERE t.status = 'CLOSED' AND {_IN_RANGE.format(column='f."createdAt"')}
          AND (CAST(:closed_by AS integer) IS NULL OR t."closedById" = :closed_by)
        GROUP BY u.id, u."slackId", f.rating"""
)

_USER_ID = text('SELECT id FROM "User" WHERE "slackId" = :slack_id')


def _no_counts() -> dict[FeedbackRating, int]:
    return {rating: 0 for rating in FeedbackRating}


async def direct_feedback_stats(
    executor: Executor, *, since: datetime | None = None, until: datetime | None = None
) -> FeedbackStats:
    """``feedback_stats`` by reading every feedback and closed ticket of the range (the reference the
    tests and bench/figures.py compare the kept sums with)."""
    bounds = {"since": since, "until": until}
    counts = _no_counts()
    for row in await executor.execute(_RATINGS, bounds):
        counts[FeedbackRating(row.rating)] = row.n
    response = (await executor.execute(_RESPONSE, bounds)).one()
    helpers: dict[int, HelperFeedback] = {}
    for row in await executor.execute(_PER_HELPER, {**bounds, "closed_by": None}):
        helper = helpers.setdefault(
            row.id, HelperFeedback(id=row.id, slack_id=row.slack_id, counts=_no_counts())
        )
        helper.counts[FeedbackRating(row.rating)] = row.n
    return FeedbackStats(
        counts=counts,
        closed_tickets=response.closed,
        closed_tickets_with_feedback=response.answered,
        helpers=sorted(helpers.values(), key=lambda h: (-h.total, h.id)),
    )


async def direct_helper_ratings(
    executor: Executor, *, slack_id: str, since: datetime | None = None, until: datetime | None = None
) -> dict[FeedbackRating, int]:
    """``helper_ratings`` by reading every feedback of the helper's closed tickets (the reference)."""
    counts = _no_counts()
    user_id = (await executor.execute(_USER_ID, {"slack_id": slack_id})).scalar_one_or_none()
    if user_id is None:
        return counts
    bounds = {"since": since, "until": until, "closed_by": user_id}
    for row in await executor.execute(_PER_HELPER, bounds):
        counts[FeedbackRating(row.rating)] = row.n
    return counts


# ---------------------------------------------------------------- from the kept sums (migration 0025)

# Feedback per credited user (0: nobody) and rating: the kept periods of the range's whole hours,
# and its two ends' parts of an hour from "Feedback" itself. :closed_by narrows to one user.
_CREDITED = f"""
SELECT user_id, rating, sum(n)::bigint AS n FROM (
    SELECT k."userId" AS user_id, k.rating, k."count" AS n
    FROM {kept_periods('"FeedbackByPeriod"', "k", 'AND (CAST(:closed_by AS integer) IS NULL OR k."userId" = :closed_by)')}
    UNION ALL
    SELECT CASE WHEN t.status = 'CLOSED' AND t."closedById" IS NOT NULL THEN t."closedById" ELSE 0 END,
           f.rating, 1
    FROM "Feedback" f JOIN "Ticket" t ON t.id = f."ticketId"
    WHERE {in_edges('f."createdAt"')}
      AND (CAST(:closed_by AS integer) IS NULL OR (t.status = 'CLOSED' AND t."closedById" = :closed_by))
) counted
GROUP BY user_id, rating"""
_FAST_PER_USER = text(
    f"""SELECT c.user_id, u."slackId" AS slack_id, c.rating, c.n
        FROM ({_CREDITED}) c LEFT JOIN "User" u ON u.id = c.user_id AND c.user_id <> 0
        WHERE c.n <> 0"""
)
# Tickets now closed with closedAt in the range, and those of them with feedback.
_FAST_RESPONSE = text(
    f"""SELECT
        (SELECT coalesce(sum("closedNowClosed"), 0) FROM "TicketHourFigures"
         WHERE "hour" >= coalesce(CAST(:s_h AS timestamptz), '-infinity')
           AND "hour" < coalesce(CAST(:u_h AS timestamptz), 'infinity'))
        + (SELECT count(*) FROM "Ticket" t WHERE t.status = 'CLOSED' AND {in_edges('t."closedAt"')}) AS closed,
        (SELECT coalesce(sum("closedNowClosedRated"), 0) FROM "TicketHourFigures"
         WHERE "hour" >= coalesce(CAST(:s_h AS timestamptz), '-infinity')
           AND "hour" < coalesce(CAST(:u_h AS timestamptz), 'infinity'))
        + (SELECT count(*) FROM "Ticket" t WHERE t.status = 'CLOSED' AND {in_edges('t."closedAt"')}
           AND EXISTS (SELECT 1 FROM "Feedback" f WHERE f."ticketId" = t.id)) AS answered"""
)


async def feedback_stats(
    executor: Executor, *, since: datetime | None = None, until: datetime | None = None
) -> FeedbackStats:
    """Feedback created in ``[since, until)`` (open bounds when None); see the module's definitions.

    Summed from the trigger-kept periods (nephthys.stats.hourly): the same answer as
    ``direct_feedback_stats`` in a few thousand rows whatever the number of ratings.
    """
    parameters = {**bounds_parameters(since, until), "closed_by": None}
    counts = _no_counts()
    helpers: dict[int, HelperFeedback] = {}
    for row in await executor.execute(_FAST_PER_USER, parameters):
        rating = FeedbackRating(row.rating)
        counts[rating] += row.n
        if row.user_id != 0:
            helper = helpers.setdefault(
                row.user_id, HelperFeedback(id=row.user_id, slack_id=row.slack_id, counts=_no_counts())
            )
            helper.counts[rating] = row.n
    response = (await executor.execute(_FAST_RESPONSE, parameters)).one()
    return FeedbackStats(
        counts=counts,
        closed_tickets=int(response.closed),
        closed_tickets_with_feedback=int(response.answered),
        helpers=sorted(helpers.values(), key=lambda h: (-h.total, h.id)),
    )


async def helper_ratings(
    executor: Executor, *, slack_id: str, since: datetime | None = None, until: datetime | None = None
) -> dict[FeedbackRating, int]:
    """One helper's feedback in ``[since, until)`` per rating: their entry in ``feedback_stats().helpers``."""
    counts = _no_counts()
    user_id = (await executor.execute(_USER_ID, {"slack_id": slack_id})).scalar_one_or_none()
    if user_id is None:
        return counts
    parameters = {**bounds_parameters(since, until), "closed_by": user_id}
    for row in await executor.execute(_FAST_PER_USER, parameters):
        counts[FeedbackRating(row.rating)] = row.n
    return counts
