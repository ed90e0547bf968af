"""Team-tag workflows: change a ticket's tags in one transaction, then tell Slack.

The database change commits first; the DMs to subscribers go out after, one per
subscriber and newly added tag. A repeated request adds nothing, so it sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nephthys.config import Settings
from nephthys.database.models import Ticket, User
from nephthys.slack.mentions import neutralise_mentions
from nephthys.stats import MessageLinks
from nephthys.tags import service
from nephthys.tags.service import TagsChanged
from nephthys.transcripts import Transcript

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]


class PostsMessages(Protocol):
    """What the flows need of a Slack client: posting a plain text (a DM when ``channel`` is a user)."""

    async def post_message(self, *, channel: str, text: str) -> str: ...


async def add_tags(
    sessions: Sessions,
    slack: PostsMessages,
    transcript: Transcript,
    settings: Settings,
    *,
    ticket_id: int,
    tag_ids: Iterable[int],
    by_slack_id: str,
    at: datetime | None = None,
) -> TagsChanged:
    """Add tags to a ticket and DM the new tags' subscribers (not the tagger; only while open)."""
    async with sessions.begin() as session:
        changed = await service.add_tags_to_ticket(
            session, ticket_id=ticket_id, tag_ids=tag_ids, added_by_slack_id=by_slack_id, at=at
        )
    await notify_subscribers(sessions, slack, transcript, settings, changed=changed, by_slack_id=by_slack_id)
    return changed


async def set_tags(
    sessions: Sessions,
    slack: PostsMessages,
    transcript: Transcript,
    settings: Settings,
    *,
    ticket_id: int,
    tag_ids: Iterable[int],
    by_slack_id: str,
    at: datetime | None = None,
) -> TagsChanged:
    """Make the ticket's tags exactly ``tag_ids`` (the backend message's multi-select)."""
    async with sessions.begin() as session:
        changed = await service.set_ticket_tags(
            session, ticket_id=ticket_id, tag_ids=tag_ids, set_by_slack_id=by_slack_id, at=at
        )
    await notify_subscribers(sessions, slack, transcript, settings, changed=changed, by_slack_id=by_slack_id)
    return changed


async def notify_subscribers(
    sessions: Sessions,
    slack: PostsMessages,
    transcript: Transcript,
    settings: Settings,
    *,
    changed: TagsChanged,
    by_slack_id: str,
) -> int:
    """Send the DMs ``changed`` asks for; returns how many went out (failures are logged)."""
    if not changed.notifications:
        return 0
    async with sessions() as session:
        row = (
            await session.execute(
                select(Ticket.msg_ts, Ticket.title, User.slack_id)
                .join(User, User.id == Ticket.opened_by_id)
                .where(Ticket.id == changed.ticket_id)
            )
        ).one_or_none()
    if row is None:  # deleted meanwhile
        return 0
    msg_ts, title, asker_slack_id = row
    link = MessageLinks(settings.slack_workspace_url, settings.slack_help_channel).question(msg_ts)

    async def send(notification: service.TagNotification) -> bool:
        text = transcript.text(
            "tag_notification",
            # The title is the asker's words and a tag name a helper's: quoted, they must ping no one.
            tag=neutralise_mentions(notification.tag.name),
            question_link=link,
            title=neutralise_mentions(title),
            user=f"<@{asker_slack_id}>",
            tagger=f"<@{by_slack_id}>",
        )
        try:
            # A user id as the channel posts in the app's DM with that user.
            await slack.post_message(channel=notification.slack_id, text=text)
        except Exception:  # one subscriber's failure must not stop the others
            log.exception("could not DM %s about tag %s", notification.slack_id, notification.tag.name)
            return False
        return True

    sent = await asyncio.gather(*(send(n) for n in changed.notifications))
    return sum(sent)
