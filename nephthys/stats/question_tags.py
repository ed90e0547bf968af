"""How often each recurring question (question tag) came up in a time range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.database.models import QuestionTag, Ticket


@dataclass(frozen=True)
class QuestionTagCount:
    id: int
    label: str
    count: int


async def question_tag_counts(
    session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None
) -> list[QuestionTagCount]:
    """Every question tag with the number of tickets created in [since, until) carrying it, most first.

    Tags with no ticket in the range are listed with 0, so a dashboard sees the whole set.
    """
    in_range = [Ticket.question_tag_id == QuestionTag.id]
    if since is not None:
        in_range.append(Ticket.created_at >= since)
    if until is not None:
        in_range.append(Ticket.created_at < until)
    count = func.count(Ticket.id)
    rows = await session.execute(
        select(QuestionTag.id, QuestionTag.label, count)
        .outerjoin(Ticket, and_(*in_range))
        .group_by(QuestionTag.id, QuestionTag.label)
        .order_by(count.desc(), func.lower(QuestionTag.label), QuestionTag.id)
    )
    return [QuestionTagCount(id=row[0], label=row[1], count=row[2]) for row in rows]
