"""The asker's feedback on a resolved ticket: one row per ticket and asker, the latest wins.

Like the lifecycle, one transaction per change, returning what changed; the Slack side
(the modal's answer, the note to the team) comes after the commit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from nephthys.database.models import Feedback, FeedbackRating, Ticket, User
from nephthys.tickets.core import Outcome, Sessions, TicketState, _state, retried_on_conflict

COMMENT_MAX_CHARS = 2000


class FeedbackProblem(enum.StrEnum):
    RATING_MISSING = "rating_missing"
    COMMENT_TOO_LONG = "comment_too_long"


def parse_rating(value: object) -> FeedbackRating | None:
    """The rating a submitted value names, or None (missing or forged)."""
    if not isinstance(value, str):
        return None
    try:
        return FeedbackRating(value)
    except ValueError:
        return None


def problems(rating: FeedbackRating | None, comment: str | None) -> list[FeedbackProblem]:
    """What is wrong with a submission (empty when it may be stored)."""
    found: list[FeedbackProblem] = []
    if rating is None:
        found.append(FeedbackProblem.RATING_MISSING)
    if comment is not None and len(comment) > COMMENT_MAX_CHARS:
        found.append(FeedbackProblem.COMMENT_TOO_LONG)
    return found


def clean_comment(comment: str | None) -> str | None:
    """A comment as stored: stripped, and None when nothing is left."""
    if comment is None:
        return None
    comment = comment.strip()
    return comment or None


@dataclass(frozen=True)
class FeedbackRecorded:
    outcome: Outcome  # CHANGED (stored), NOT_FOUND (no such ticket), NOT_ALLOWED (not its asker)
    ticket: TicketState | None = None


@retried_on_conflict
async def record_feedback(
    sessions: Sessions,
    *,
    ticket_id: int,
    asker_slack_id: str,
    rating: FeedbackRating,
    comment: str | None,
) -> FeedbackRecorded:
    """Store the asker's rating and comment for the ticket, replacing any earlier one of theirs."""
    comment = clean_comment(comment)
    if problems(rating, comment):
        raise ValueError(f"feedback refused: {', '.join(problems(rating, comment))}")
    async with sessions.begin() as session:
        # The ticket's row lock orders this against its deletion (the foreign key would fail).
        opener_id = await session.scalar(
            select(Ticket.opened_by_id).where(Ticket.id == ticket_id).with_for_update()
        )
        if opener_id is None:
            return FeedbackRecorded(Outcome.NOT_FOUND)
        asker_id = await session.scalar(select(User.id).where(User.slack_id == asker_slack_id))
        if asker_id != opener_id:
            return FeedbackRecorded(Outcome.NOT_ALLOWED, await _state(session, Ticket.id == ticket_id))
        statement = insert(Feedback).values(
            ticket_id=ticket_id, created_by_id=asker_id, rating=rating, text=comment
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Feedback.ticket_id, Feedback.created_by_id],
            set_={
                Feedback.__table__.c.rating: statement.excluded.rating,
                Feedback.__table__.c.text: statement.excluded.text,
                Feedback.__table__.c.createdAt: func.now(),
            },
        )
        await session.execute(statement)
        ticket = await _state(session, Ticket.id == ticket_id)
    return FeedbackRecorded(Outcome.CHANGED, ticket)
