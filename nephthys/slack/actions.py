"""Interactivity: the Resolve button on the thread reply and on the backend message."""

from __future__ import annotations

import logging

from nephthys.slack import flows, messages
from nephthys.slack.context import SlackContext
from nephthys.slack.instants import slack_instant
from nephthys.slack.payload_numbers import payload_id

log = logging.getLogger(__name__)


def _clicked_action(body: dict) -> dict:
    actions = body.get("actions")
    return actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}


def clicked_ticket_id(body: dict) -> int | None:
    return payload_id(_clicked_action(body).get("value"))


async def on_resolve_clicked(ctx: SlackContext, body: dict) -> None:
    """The asker or a helper pressed Resolve; anyone else is told, privately, that they may not."""
    ticket_id = clicked_ticket_id(body)
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or (body.get("container") or {}).get("thread_ts")
    if user is None:
        log.warning("a Resolve click without a user was ignored")
        return
    if ticket_id is None:  # not a value the app wrote: said privately, nothing changes
        log.warning("a Resolve click whose value is not a ticket id was answered as out of date")
        if channel:
            text = ctx.transcript.text("button_unreadable", user=messages.mention(user))
            await flows.tell(ctx, user=user, channel=channel, thread_ts=thread_ts, text=text)
        return
    await flows.resolve(
        ctx,
        ticket_id=ticket_id,
        resolver=user,
        reply_channel=channel,
        reply_thread_ts=thread_ts,
        at=slack_instant(_clicked_action(body).get("action_ts")),  # the click, not our processing
    )
