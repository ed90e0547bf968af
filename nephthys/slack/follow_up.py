"""The asker follow-up's nudge in the question's thread: its Yes, close it and I still need help.

Thin adapters (parse, call the lifecycle, reply): a click is acknowledged first and its work runs
in the background. Both buttons are the asker's alone (the lifecycle says so: anyone else is
answered privately) and carry ``<ticket id>:<wait>``, the wait on the asker the nudge was posted
for (nephthys/tickets/follow_up.py):

- Yes, close it: the resolve a Resolve click by the asker is (``flows.resolve``: the credit rule,
  the closing message with its Re-open button, ✅), unless the ticket was reopened since.
- I still need help: the ticket waits on the helpers again (the lifecycle logs the asker's answer
  as their message, at the click's ``action_ts``) and its assignee is told in the thread.

Once answered (or out of date) the nudge loses its buttons, so it offers nothing that does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from nephthys.database.models import TicketStatus
from nephthys.slack import flows, messages
from nephthys.slack.context import SlackContext
from nephthys.slack.instants import slack_instant
from nephthys.tickets import lifecycle
from nephthys.tickets.lifecycle import Outcome, TicketState
from nephthys.transcripts import Transcript

log = logging.getLogger(__name__)

AfterAck = Callable[[str, Callable[[], Awaitable[object]]], None]


@dataclass(frozen=True)
class NudgeClick:
    user: str
    channel: str | None
    thread_ts: str | None
    message: dict | None  # the nudge as Slack holds it (absent from an ephemeral's click)
    value: tuple[int, int] | None  # (ticket id, wait), None when forged or unreadable
    action_ts: str | None  # when Slack says the click happened


def read_click(body: dict) -> NudgeClick | None:
    user = (body.get("user") or {}).get("id")
    if not user:
        return None
    container = body.get("container") or {}
    message = body.get("message") if isinstance(body.get("message"), dict) else None
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    return NudgeClick(
        user=user,
        channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
        thread_ts=(message or {}).get("thread_ts") or container.get("thread_ts"),
        message=message,
        value=messages.parse_follow_up_button_value(action.get("value")),
        action_ts=action.get("action_ts"),
    )


async def _tell(ctx: SlackContext, click: NudgeClick, key: str) -> None:
    if click.channel is None:
        return
    text = ctx.transcript.text(key, user=messages.mention(click.user))
    await flows.tell(ctx, user=click.user, channel=click.channel, thread_ts=click.thread_ts, text=text)


async def _retire_buttons(ctx: SlackContext, click: NudgeClick) -> None:
    """Take the clicked nudge's buttons off (chat.update); a failure only leaves them there."""
    message = click.message
    if click.channel is None or not message or not message.get("ts"):
        return
    blocks = messages.without_follow_up_buttons(message)
    if len(blocks) == len(message.get("blocks") or []):
        return  # already without them
    try:
        await ctx.client.update_message(
            channel=click.channel, ts=message["ts"], text=message.get("text") or "", blocks=blocks
        )
    except Exception as error:
        log.warning("the nudge %s kept its buttons: %s", message["ts"], flows.describe(error))


async def on_yes_clicked(ctx: SlackContext, body: dict) -> None:
    """Yes, close it: the asker resolves, exactly as with the Resolve button."""
    click = read_click(body)
    if click is None:
        return
    if click.value is None:
        await _tell(ctx, click, "button_unreadable")
        return
    ticket_id, wait = click.value
    change = await flows.resolve(
        ctx,
        ticket_id=ticket_id,
        resolver=click.user,
        reply_channel=click.channel,
        reply_thread_ts=click.thread_ts,
        at=slack_instant(click.action_ts),  # the click, not our processing
        nudged_wait=wait,
        refusal_key="follow_up_asker_only",
    )
    if change.outcome is Outcome.NOT_ALLOWED:
        return  # told by flows.resolve; the buttons stay for the asker
    if change.outcome in (Outcome.NOT_FOUND, Outcome.OUT_OF_DATE):
        await _tell(ctx, click, "button_out_of_date")
    await _retire_buttons(ctx, click)


def still_needs_help_note(transcript: Transcript, ticket: TicketState) -> str:
    user = messages.mention(ticket.opened_by_slack_id)
    if ticket.assigned_to_slack_id is None:
        return transcript.text("follow_up_still_needs_help_unassigned", user=user)
    return transcript.text(
        "follow_up_still_needs_help", user=user, assignee=messages.mention(ticket.assigned_to_slack_id)
    )


async def on_help_clicked(ctx: SlackContext, body: dict) -> None:
    """I still need help: the ticket waits on the helpers again, and its assignee hears so.

    The assignee is told by a mention in the question's thread, not a DM: the thread is where the
    answer goes and what their Slack already follows, the asker sees that the team was told, and
    it is one post (a DM is two calls, and one more channel the rest of the team cannot see).
    """
    click = read_click(body)
    if click is None:
        return
    if click.value is None:
        await _tell(ctx, click, "button_unreadable")
        return
    ticket_id, wait = click.value
    change = await lifecycle.asker_needs_help(
        ctx.sessions,
        ticket_id=ticket_id,
        asker_slack_id=click.user,
        nudged_wait=wait,
        at=slack_instant(click.action_ts),
    )
    if change.outcome is Outcome.NOT_ALLOWED:
        await _tell(ctx, click, "follow_up_asker_only")
        return
    if change.outcome is Outcome.NOT_FOUND:
        await _tell(ctx, click, "button_out_of_date")
        return
    if change.outcome is Outcome.OUT_OF_DATE:
        closed = change.ticket is not None and change.ticket.status is TicketStatus.CLOSED
        await _tell(ctx, click, "follow_up_closed" if closed else "button_out_of_date")
    if change.changed:
        ticket = change.found_ticket
        ctx.ticket_changed(ticket.assigned_to_slack_id)  # the App Home's live refresh: it waits on them
        try:
            await flows.reply_in_thread(ctx, ticket, still_needs_help_note(ctx.transcript, ticket))
        except Exception as error:
            await ctx.alert(
                f":warning: Ticket #{ticket.id}: the asker still needs help, but the thread was not "
                f"told ({flows.describe(error)})."
            )
    await _retire_buttons(ctx, click)


def register(app: AsyncApp, ctx: SlackContext, after_ack: AfterAck) -> None:
    """Attach the nudge's listeners to the Bolt app."""

    @app.action(messages.FOLLOW_UP_YES_ACTION)
    async def yes_clicked(ack, body: dict) -> None:
        await ack()
        after_ack("A nudge's Yes click", lambda: on_yes_clicked(ctx, body))

    @app.action(messages.FOLLOW_UP_HELP_ACTION)
    async def help_clicked(ack, body: dict) -> None:
        await ack()
        after_ack("A nudge's I still need help click", lambda: on_help_clicked(ctx, body))
