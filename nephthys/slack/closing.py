"""The closing message's surfaces: the Re-open and Give feedback buttons and the feedback modal.

Thin adapters (parse, authorise, call, reply): a click is acknowledged first and its work
runs in the background; the modal's submission is answered in its acknowledgement
(``response_action: errors`` keeps it open with the problem under the field, ``update``
turns it into a thank-you). State changes go through the lifecycle
(``flows.reopen``) and ``nephthys.tickets.feedback``.

A closing button's value is ``<ticket id>:<closure>``: it acts only on the closure it was
posted for. A forged or unreadable value, or one from an earlier closure, is answered
privately as out of date and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from nephthys.database.models import FeedbackRating
from nephthys.slack import flows, messages
from nephthys.slack.context import SlackContext
from nephthys.slack.instants import slack_instant
from nephthys.slack.payload_numbers import payload_id
from nephthys.tickets import feedback, lifecycle
from nephthys.tickets.lifecycle import Outcome

log = logging.getLogger(__name__)

AfterAck = Callable[[str, Callable[[], Awaitable[object]]], None]


@dataclass(frozen=True)
class Click:
    user: str
    channel: str | None
    thread_ts: str | None
    trigger_id: str | None
    value: tuple[int, int] | None  # (ticket id, closure), None when forged or unreadable
    action_ts: str | None = None  # when Slack says the click happened


def read_click(body: dict) -> Click | None:
    user = (body.get("user") or {}).get("id")
    if not user:
        return None
    container = body.get("container") or {}
    message = body.get("message") or {}
    actions = body.get("actions") or [{}]
    return Click(
        user=user,
        channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
        thread_ts=message.get("thread_ts") or container.get("thread_ts"),
        trigger_id=body.get("trigger_id"),
        value=messages.parse_closing_button_value(actions[0].get("value")),
        action_ts=actions[0].get("action_ts"),
    )


async def _answer(ctx: SlackContext, click: Click, key: str) -> None:
    if click.channel is None:
        return
    await flows.tell(
        ctx,
        user=click.user,
        channel=click.channel,
        thread_ts=click.thread_ts,
        text=ctx.transcript.text(key, user=messages.mention(click.user)),
    )


async def on_reopen_clicked(ctx: SlackContext, body: dict) -> None:
    """Re-open: the asker or a helper reopens exactly as ``?reopen`` does, for this closure only."""
    click = read_click(body)
    if click is None:
        return
    if click.value is None:
        await _answer(ctx, click, "button_out_of_date")
        return
    ticket_id, closure = click.value
    change = await flows.reopen(
        ctx,
        ticket_id=ticket_id,
        reopener=click.user,
        closure=closure,
        reply_channel=click.channel,
        reply_thread_ts=click.thread_ts,
        at=slack_instant(click.action_ts),
    )
    if change.outcome is Outcome.UNCHANGED:
        await _answer(ctx, click, "reopen_already_open")
    elif change.outcome in (Outcome.OUT_OF_DATE, Outcome.NOT_FOUND):
        await _answer(ctx, click, "button_out_of_date")


async def on_feedback_clicked(ctx: SlackContext, body: dict) -> None:
    """Give feedback: the asker's alone; opens the modal with the click's trigger_id (valid 3 s)."""
    click = read_click(body)
    if click is None:
        return
    ticket = await lifecycle.ticket_by_id(ctx.sessions, click.value[0]) if click.value else None
    if click.value is None or ticket is None or not ctx.settings.feedback:
        await _answer(ctx, click, "button_out_of_date")
        return
    if click.user != ticket.opened_by_slack_id:
        await _answer(ctx, click, "feedback_asker_only")
        return
    closure = lifecycle.closure_key(ticket.closed_at) if ticket.closed_at is not None else None
    if closure != click.value[1]:
        await _answer(ctx, click, "button_out_of_date")
        return
    if not click.trigger_id:
        return
    await ctx.client.web.views_open(
        trigger_id=click.trigger_id, view=messages.feedback_modal(ctx.transcript, ticket.id)
    )


@dataclass(frozen=True)
class Submission:
    """What the modal's acknowledgement says, and the team note to post after it (if any)."""

    errors: dict[str, str] | None = None
    thanks: dict | None = None
    team_note: Callable[[], Awaitable[None]] | None = None


def _submitted_values(body: dict) -> tuple[str | None, str | None, str | None]:
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    rating = (
        (values.get(messages.FEEDBACK_RATING_BLOCK) or {}).get(messages.FEEDBACK_RATING_INPUT) or {}
    ).get("selected_option") or {}
    comment = (
        (values.get(messages.FEEDBACK_COMMENT_BLOCK) or {}).get(messages.FEEDBACK_COMMENT_INPUT) or {}
    ).get("value")
    return view.get("private_metadata"), rating.get("value"), comment if isinstance(comment, str) else None


async def feedback_submitted(ctx: SlackContext, body: dict) -> Submission:
    """Validate and store a feedback submission; nothing is stored when it answers errors."""
    transcript = ctx.transcript
    user = (body.get("user") or {}).get("id") or ""
    metadata, rating_value, comment = _submitted_values(body)
    rating = feedback.parse_rating(rating_value)
    comment = feedback.clean_comment(comment)
    errors: dict[str, str] = {}
    for problem in feedback.problems(rating, comment):
        if problem is feedback.FeedbackProblem.RATING_MISSING:
            errors[messages.FEEDBACK_RATING_BLOCK] = transcript.text("feedback_rating_missing")
        else:
            errors[messages.FEEDBACK_COMMENT_BLOCK] = transcript.text(
                "feedback_comment_too_long", max_length=str(feedback.COMMENT_MAX_CHARS)
            )
    if errors:
        return Submission(errors=errors)
    assert rating is not None
    ticket_id = payload_id(metadata)
    if ticket_id is None:
        return Submission(errors={messages.FEEDBACK_RATING_BLOCK: transcript.text("feedback_ticket_gone")})
    recorded = await feedback.record_feedback(
        ctx.sessions, ticket_id=ticket_id, asker_slack_id=user, rating=rating, comment=comment
    )
    if recorded.outcome is Outcome.NOT_FOUND:
        return Submission(errors={messages.FEEDBACK_RATING_BLOCK: transcript.text("feedback_ticket_gone")})
    if recorded.outcome is Outcome.NOT_ALLOWED:
        return Submission(
            errors={
                messages.FEEDBACK_RATING_BLOCK: transcript.text(
                    "feedback_asker_only", user=messages.mention(user)
                )
            }
        )
    ticket = recorded.ticket
    note = None
    if ticket is not None and ctx.channels.bts and (rating is FeedbackRating.NOT_GOOD or comment):
        text = messages.feedback_team_note(
            transcript,
            ticket,
            rating=rating,
            comment=comment,
            thread_link=ctx.permalink(ctx.channels.help, ticket.msg_ts),
        )
        bts = ctx.channels.bts

        async def post_team_note() -> None:
            await ctx.client.post_message(channel=bts, text=text)

        note = post_team_note
    return Submission(thanks=messages.feedback_thanks_view(transcript, rating), team_note=note)


def register(app: AsyncApp, ctx: SlackContext, after_ack: AfterAck) -> None:
    """Attach the closing message's listeners to the Bolt app."""

    @app.action(messages.REOPEN_ACTION)
    async def reopen_clicked(ack, body: dict) -> None:
        await ack()
        after_ack("A Re-open click", lambda: on_reopen_clicked(ctx, body))

    @app.action(messages.FEEDBACK_ACTION)
    async def feedback_clicked(ack, body: dict) -> None:
        await ack()
        after_ack("A Give feedback click", lambda: on_feedback_clicked(ctx, body))

    @app.view(messages.FEEDBACK_MODAL)
    async def feedback_modal_submitted(ack, body: dict) -> None:
        submission = await feedback_submitted(ctx, body)
        if submission.errors:
            await ack(response_action="errors", errors=submission.errors)
            return
        await ack(response_action="update", view=submission.thanks)
        if submission.team_note is not None:
            after_ack("A feedback note", submission.team_note)
