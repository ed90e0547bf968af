"""Interactivity: the Resolve button on the thread reply and on the backend message."""

from __future__ import annotations

import logging

from nephthys.slack import flows
from nephthys.slack.context import SlackContext

log = logging.getLogger(__name__)


def clicked_ticket_id(body: dict) -> int | None:
    try:
        return int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


async def on_resolve_clicked(ctx: SlackContext, body: dict) -> None:
    """The asker or a helper pressed Resolve; anyone else is told, privately, that they may not."""
    ticket_id = clicked_ticket_id(body)
    user = (body.get("user") or {}).get("id")
    if ticket_id is None or user is None:
        log.warning("a Resolve click without a ticket id or user was ignored")
        return
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or (body.get("container") or {}).get("thread_ts")
    await flows.resolve(
        ctx, ticket_id=ticket_id, resolver=user, reply_channel=channel, reply_thread_ts=thread_ts
    )
