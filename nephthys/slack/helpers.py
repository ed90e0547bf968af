"""Helpers are the members of SLACK_BTS_CHANNEL, minus the bot itself."""

from __future__ import annotations

import logging

from nephthys.slack.context import SlackContext
from nephthys.tickets import lifecycle

log = logging.getLogger(__name__)


async def sync_helpers(ctx: SlackContext) -> tuple[int, int]:
    """Make the team channel's members (conversations.members, every page) exactly the helpers."""
    if ctx.channels.bts is None:
        return 0, 0
    members = await ctx.client.channel_members(ctx.channels.bts)
    members.discard(ctx.identity.user_id)
    added, removed = await lifecycle.sync_helpers(ctx.sessions, member_ids=members)
    log.info(
        "helpers synced from %s: %d members, %d added, %d removed",
        ctx.channels.bts,
        len(members),
        added,
        removed,
    )
    return added, removed
