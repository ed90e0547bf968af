"""A team tag's digest settings (``nephthys tags digest``) and what a digest lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.database.models import Tag
from nephthys.support_calendar import describe_days, parse_clock, parse_days


@dataclass(frozen=True)
class TagDigest:
    tag_id: int
    name: str
    at: time
    days: frozenset[int]


@dataclass(frozen=True)
class DigestTicket:
    id: int
    title: str
    msg_ts: str
    created_at: datetime


async def set_digest(
    session: AsyncSession, *, name: str, at: time | None, days: frozenset[int] | None
) -> bool:
    """Give the tag ``name`` a digest (``at`` on ``days``), or none (``at=None``); False if no such tag."""
    values = (
        {"digest_time": None, "digest_days": None}
        if at is None or days is None
        else {"digest_time": f"{at:%H:%M}", "digest_days": describe_days(days)}
    )
    result = await session.execute(update(Tag).where(Tag.name == name).values(**values).returning(Tag.id))
    return result.scalar_one_or_none() is not None


async def tag_digests(session: AsyncSession) -> list[TagDigest]:
    """Every tag that has a digest, by name."""
    rows = (
        await session.execute(
            select(Tag.id, Tag.name, Tag.digest_time, Tag.digest_days)
            .where(Tag.digest_time.is_not(None), Tag.digest_days.is_not(None))
            .order_by(Tag.name)
        )
    ).all()
    return [
        TagDigest(tag_id=r.id, name=r.name, at=parse_clock(r.digest_time), days=parse_days(r.digest_days))
        for r in rows
    ]


_OPEN_TAGGED = text(
    """SELECT t.id, t.title, t."msgTs" AS msg_ts, t."createdAt" AS created_at
       FROM tags_on_tickets tt JOIN "Ticket" t ON t.id = tt."ticketId"
       WHERE tt."tagId" = :tag_id AND t.status <> 'CLOSED'
       ORDER BY t."createdAt", t.id"""
)
_SUBSCRIBERS = text(
    """SELECT u."slackId" FROM user_tag_subscriptions s JOIN "User" u ON u.id = s."userId"
       WHERE s."tagId" = :tag_id ORDER BY u."slackId\""""
)


async def open_tickets_tagged(session: AsyncSession, *, tag_id: int) -> list[DigestTicket]:
    """The tag's tickets not closed, oldest first."""
    rows = (await session.execute(_OPEN_TAGGED, {"tag_id": tag_id})).all()
    return [DigestTicket(id=r.id, title=r.title, msg_ts=r.msg_ts, created_at=r.created_at) for r in rows]


async def subscribers(session: AsyncSession, *, tag_id: int) -> list[str]:
    """Slack ids of the tag's subscribers."""
    return list((await session.execute(_SUBSCRIBERS, {"tag_id": tag_id})).scalars())
