"""Resolving without the closing message, for macros whose own reply already closes the thread."""

from __future__ import annotations

from datetime import datetime

from nephthys.slack import flows
from nephthys.slack.context import SlackContext
from nephthys.tickets.lifecycle import Change


async def resolve_quietly(
    ctx: SlackContext, *, ticket_id: int, resolver: str, at: datetime | None = None, msg_ts: str | None = None
) -> Change:
    """``flows.resolve`` minus the closing message: the backend message goes, ✅ replaces 🤔."""
    return await flows.resolve(
        ctx, ticket_id=ticket_id, resolver=resolver, announce=False, at=at, msg_ts=msg_ts
    )
