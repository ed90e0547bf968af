"""Events API listeners: messages in the help channel and membership of the team channel.

Each function here is the slow part of handling an event; it runs after Slack has
its acknowledgement (see app.py) and calls the lifecycle through ``flows``.
"""

from __future__ import annotations

import logging

from nephthys.slack import flows, macros
from nephthys.slack.context import SlackContext
from nephthys.tickets import lifecycle

log = logging.getLogger(__name__)

# Message subtypes a person's question or reply can have; everything else (joins,
# bot messages, channel topic changes…) is not someone asking or answering.
PERSON_SUBTYPES = {None, "file_share", "me_message", "thread_broadcast"}


def from_a_bot(ctx: SlackContext, message: dict) -> bool:
    return bool(
        message.get("bot_id")
        or message.get("bot_profile")
        or message.get("subtype") == "bot_message"
        or (ctx.identity.user_id is not None and message.get("user") == ctx.identity.user_id)
    )


def well_formed(message: dict) -> bool:
    """Does a person's message carry what every handler reads: a string ``ts`` and ``user``, and a
    string ``thread_ts`` and ``text`` or none? Slack's always do; a signed body built by hand may
    not, and is ignored rather than failing half-way (a KeyError, a heartbeat traceback)."""
    return (
        _is_text(message.get("ts"))
        and _is_text(message.get("user"))
        and isinstance(message.get("thread_ts"), str | None)
        and isinstance(message.get("text"), str | None)
    )


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def is_thread_reply(message: dict) -> bool:
    thread_ts = message.get("thread_ts")
    return thread_ts is not None and thread_ts != message.get("ts")


def is_question(ctx: SlackContext, event: dict) -> bool:
    """A person's top-level message in the help channel: what opens a ticket."""
    return (
        event.get("channel") == ctx.channels.help
        and event.get("subtype") in PERSON_SUBTYPES
        and not from_a_bot(ctx, event)
        and well_formed(event)
        and not is_thread_reply(event)
    )


def expect_question(ctx: SlackContext, event: dict) -> None:
    """Called as the event is acknowledged: replies handled before this question's ticket exists wait for it."""
    if is_question(ctx, event):
        ctx.questions_in_flight.expect(event["ts"])


async def on_message(ctx: SlackContext, event: dict) -> None:
    if event.get("channel") != ctx.channels.help:
        return
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        deleted_ts = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
        if isinstance(deleted_ts, str) and deleted_ts:
            await flows.question_deleted(ctx, msg_ts=deleted_ts)
        return
    if subtype == "message_changed":
        await on_message_changed(ctx, event)
        return
    if subtype not in PERSON_SUBTYPES or from_a_bot(ctx, event) or not event.get("user"):
        return
    if not well_formed(event):
        log.warning("a message event without a string ts or user was ignored")
        return
    user, ts, text = event["user"], event["ts"], event.get("text") or ""
    if is_thread_reply(event):
        thread_ts = event["thread_ts"]
        # A reply can overtake its question (two events handled at once): let the ticket exist first.
        await ctx.questions_in_flight.wait_for(thread_ts)
        if await macros.dispatch(ctx, thread_ts=thread_ts, ts=ts, user=user, text=text):
            return
        await flows.thread_reply(
            ctx,
            thread_ts=thread_ts,
            ts=ts,
            user=user,
            broadcast=subtype == "thread_broadcast",
            text=text,
        )
        return
    await flows.open_ticket_for_question(ctx, ts=ts, user=user, text=text)


async def on_message_changed(ctx: SlackContext, event: dict) -> None:
    changed = event.get("message") or {}
    if is_thread_reply(changed) or from_a_bot(ctx, changed) or not _is_text(changed.get("ts")):
        return
    if changed.get("subtype") == "tombstone":
        # A question with replies that is deleted stays as a "This message was deleted." tombstone.
        await flows.question_deleted(ctx, msg_ts=changed["ts"], tombstone=True)
        return
    previous = event.get("previous_message") or {}
    if isinstance(changed.get("text"), str) and changed.get("text") != previous.get("text"):
        await flows.question_edited(ctx, msg_ts=changed["ts"], text=changed["text"])


async def on_member_joined(ctx: SlackContext, event: dict) -> None:
    if event.get("channel") != ctx.channels.bts or not _is_text(event.get("user")):
        return
    if event["user"] == ctx.identity.user_id:
        return
    await lifecycle.set_helper(ctx.sessions, slack_id=event["user"], helper=True)


async def on_member_left(ctx: SlackContext, event: dict) -> None:
    if event.get("channel") != ctx.channels.bts or not _is_text(event.get("user")):
        return
    await lifecycle.set_helper(ctx.sessions, slack_id=event["user"], helper=False)
