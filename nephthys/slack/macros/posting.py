"""Posting a macro's reply in the ticket's thread, recorded as the ticket's bot message."""

from __future__ import annotations

from nephthys.slack.context import SlackContext
from nephthys.tickets import lifecycle
from nephthys.tickets.lifecycle import TicketState


async def reply_in_thread(ctx: SlackContext, ticket: TicketState, text: str) -> str:
    """Post ``text`` in the question's thread; recorded so ``?thread`` or a deletion removes it."""
    ts = await ctx.client.post_message(channel=ctx.channels.help, text=text, thread_ts=ticket.msg_ts)
    await lifecycle.record_bot_message(ctx.sessions, ticket_id=ticket.id, channel_id=ctx.channels.help, ts=ts)
    return ts
