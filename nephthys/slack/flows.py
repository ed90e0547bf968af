"""Workflows that coordinate the ticket lifecycle with Slack.

The database change comes first (one lifecycle call, committed); the Slack side
effects follow and tolerate being repeated, so a redelivered event, a second
click or the repair job can run them again and nothing is posted twice:

- the backend message becomes ``ticketTs`` only if none is set (a surplus one is deleted);
- a thread reply is posted only if the ticket has no bot message in the help channel yet;
- reactions tolerate ``already_reacted`` / ``no_reaction``; deletes tolerate ``message_not_found``;
- every post is tagged (Slack message metadata: the ticket and the post's role), so when a
  post's answer was lost, a second pass (a redelivery, a reopen, the repair job) finds the
  message in Slack and adopts it instead of posting it again;
- a post is recorded with the retry the rest of the work gets while the database is away
  (``retry_while_unavailable``), so a post whose record failed is not left to a second post.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError

from nephthys.database import raw
from nephthys.database.models import TicketStatus, UserType
from nephthys.database.outage import retry_while_unavailable
from nephthys.memory.index import question_text
from nephthys.sla import clocks as sla_clocks
from nephthys.slack import memory, messages, tag_blocks
from nephthys.slack.client import PostTag, Profile, error_code
from nephthys.slack.context import SlackContext
from nephthys.slack.instants import slack_instant
from nephthys.slack.titles import first_words_title, generated_title
from nephthys.tags.service import TagView
from nephthys.tickets import lifecycle
from nephthys.tickets.lifecycle import Change, Outcome, TicketState

log = logging.getLogger(__name__)

OPEN_REACTION = "thinking_face"
CLOSED_REACTION = "white_check_mark"

# Slack error codes that mean "try again later" rather than "this will never work".
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def is_transient(error: Exception) -> bool:
    if isinstance(error, SlackApiError):
        status = error.response.status_code if error.response is not None else 200
        return status == 429 or status >= 500 or error_code(error) in TRANSIENT_ERRORS
    return True  # connection refused, timeouts: Slack may be back soon


def describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return f"Slack answered {error_code(error)!r}"
    return f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------- questions


async def open_ticket_for_question(ctx: SlackContext, *, ts: str, user: str, text: str) -> None:
    """A question in the help channel: store the ticket first, then give it its Slack side."""
    try:
        opened = await lifecycle.open_ticket(
            ctx.sessions,
            msg_ts=ts,
            asker_slack_id=user,
            description=text,
            title=first_words_title(text),
            at=slack_instant(ts),  # asked then, however late it reaches us
        )
    finally:
        ctx.questions_in_flight.stored(ts)
    if opened is None:  # the question was deleted meanwhile, and its ticket with it
        return
    if opened.created and ctx.settings.ai_enabled:
        # Bounded by AI_TIMEOUT_SECONDS; the ticket already exists with the first-words title.
        title = await generated_title(ctx.settings, text)
        if title:
            await lifecycle.set_ai_title(ctx.sessions, ticket_id=opened.ticket.id, title=title)
            opened = replace(opened, ticket=replace(opened.ticket, title=title))
    try:
        await finish_ticket(ctx, opened.ticket.id, opened=opened)
    except Exception as error:
        await ctx.alert(
            f":warning: Ticket #{opened.ticket.id} is stored but its Slack messages are not all posted "
            f"({describe(error)}); the repair job will finish it."
        )
    question = question_text(opened.ticket.title, opened.ticket.description)
    if opened.ticket.status is not TicketStatus.CLOSED:
        # After the backend message, never before it: posted once (a redelivery finds it claimed).
        # The question tag (AI endpoint configured) is asked for meanwhile, also once.
        await asyncio.gather(
            memory.post_similar_tickets(
                ctx, ticket_id=opened.ticket.id, question=question, just_opened=opened.created
            ),
            memory.choose_question_tag(ctx, ticket_id=opened.ticket.id, question=question),
        )
    if opened.created:
        # The question's own instant: a late delivery joins the surge it was part of.
        at = slack_instant(ts) or ctx.clock()
        await memory.note_surge(ctx, ticket_id=opened.ticket.id, question=question, at=at)
    if not opened.asker_has_username:
        await remember_username(ctx, user)


async def remember_username(ctx: SlackContext, user: str) -> None:
    """Fill in the asker's username (users.info) once; a failure only leaves it empty."""
    try:
        username = await ctx.client.username(user)
        if username:
            await lifecycle.set_username(ctx.sessions, slack_id=user, username=username)
    except Exception as error:
        log.warning("username of %s not stored: %s", user, describe(error))


async def finish_ticket(
    ctx: SlackContext, ticket_id: int, *, opened: lifecycle.OpenedTicket | None = None
) -> None:
    """Post whatever the open ticket's Slack side still lacks: backend message, reaction, thread reply.

    Steps run in that order and stop at the first failure (it raises); the thread
    reply comes last, so its BotMessage row marks a finished ticket for the repair job.
    ``opened`` (the ticket as open_ticket just returned it) saves reading it again.
    """
    async with ctx.ticket_locks.hold(ticket_id) as waited:
        # Another worker held the ticket first (a second delivery of the question under another
        # event id): it may have posted already, so this one reads the ticket as it is now.
        await _finish_ticket(ctx, ticket_id, opened=None if waited else opened)


async def _finish_ticket(
    ctx: SlackContext, ticket_id: int, *, opened: lifecycle.OpenedTicket | None = None
) -> None:
    ticket: TicketState | None
    if opened is not None and opened.created:
        # Just created by this worker: nothing of its Slack side exists yet.
        ticket, previous, fresh = opened.ticket, opened.previous_tickets, True
    else:
        ticket, previous, fresh = await lifecycle.ticket_by_id(ctx.sessions, ticket_id), None, False
    if ticket is None or ticket.status is TicketStatus.CLOSED:
        return
    help_channel, tickets_channel = ctx.channels.help, ctx.channels.tickets
    backend_ts = ticket.ticket_ts
    if backend_ts is None:
        # A second pass: a backend message whose answer (or record) was lost may be in Slack already.
        ts = None if fresh else await _posted_before(ctx, ticket, channel=tickets_channel, role=BACKEND)
        if ts is None:
            if previous is None:
                previous = await lifecycle.previous_ticket_count(ctx.sessions, ticket_id=ticket.id)
            # A new ticket has no tags; a reopened or repaired one shows the ones it has.
            text, blocks = await _backend_message(
                ctx,
                ticket,
                previous_tickets=previous,
                with_tags=not fresh,
                with_clocks=not fresh or opened is None or opened.may_have_clocks,
            )
            ts = await ctx.client.post_message(
                channel=tickets_channel,
                text=text,
                blocks=blocks,
                tag=PostTag(BACKEND, ticket.id),
                speaking_as=await _asker(ctx, ticket),
            )
        if await _record(
            ctx,
            "backend message",
            lambda: lifecycle.record_backend_message(
                ctx.sessions, ticket_id=ticket.id, channel_id=tickets_channel, ts=ts
            ),
        ):
            backend_ts = ts
        else:
            # Another worker posted first, or the ticket closed or vanished meanwhile.
            fresh = False
            await ctx.client.delete_message(channel=tickets_channel, ts=ts)
            ticket = await lifecycle.ticket_by_id(ctx.sessions, ticket_id)
            if ticket is None or ticket.status is TicketStatus.CLOSED or ticket.ticket_ts is None:
                return
            backend_ts = ticket.ticket_ts

    await _react(ctx, ticket.msg_ts, add=OPEN_REACTION)

    if not fresh and await lifecycle.bot_messages(ctx.sessions, ticket_id=ticket.id, channel_id=help_channel):
        return
    ts = None if fresh else await _posted_before(ctx, ticket, channel=help_channel, role=THREAD_REPLY)
    if ts is None:
        if previous is None:
            previous = await lifecycle.previous_ticket_count(ctx.sessions, ticket_id=ticket.id)
        text, blocks = messages.thread_reply(
            ctx.transcript,
            ticket,
            first_time=previous == 0,
            backend_link=ctx.permalink(tickets_channel, backend_ts),
        )
        ts = await ctx.client.post_message(
            channel=help_channel,
            text=text,
            blocks=blocks,
            thread_ts=ticket.msg_ts,
            tag=PostTag(THREAD_REPLY, ticket.id),
        )
    if not await _record(
        ctx,
        "thread reply",
        lambda: lifecycle.record_bot_message(
            ctx.sessions, ticket_id=ticket.id, channel_id=help_channel, ts=ts
        ),
    ):
        await ctx.client.delete_message(channel=help_channel, ts=ts)


async def _asker(ctx: SlackContext, ticket: TicketState) -> Profile | None:
    """The asker's name and avatar for their backend message; None (the bot speaks) if Slack won't say."""
    try:
        return await ctx.client.profile(ticket.opened_by_slack_id)
    except Exception as error:
        log.warning("the asker's profile is unknown, the bot speaks: %s", describe(error))
        return None


# The roles of a ticket's tagged posts (its Slack message metadata).
BACKEND = "backend"
THREAD_REPLY = "thread_reply"
NOTE = "note"
NUDGE = "nudge"  # the asker follow-up's question in the thread (nephthys/tasks/asker_follow_up.py)


async def _record(ctx: SlackContext, what: str, record) -> bool:
    """Record a post, tried again while the database is away: the post is made, and a record
    given up on too soon would leave it to a second post."""
    return await retry_while_unavailable(f"recording a {what}", record)


async def _posted_before(ctx: SlackContext, ticket: TicketState, *, channel: str, role: str) -> str | None:
    """A message of ``role`` for ``ticket`` that Slack has but the database does not know: one
    posted by an earlier pass whose answer, or record, was lost. Newest first; None if none."""
    known = {posted.ts for posted in await lifecycle.bot_messages(ctx.sessions, ticket_id=ticket.id)}
    found = await ctx.client.tagged_messages(
        channel=channel,
        # The backend message is top level in the tickets channel, posted after the question.
        thread_ts=ticket.msg_ts if channel == ctx.channels.help else None,
        oldest=ticket.msg_ts,
        match=lambda payload: payload.get("ticket_id") == ticket.id and payload.get("role") == role,
    )
    adoptable = [ts for ts in found if ts not in known]
    if adoptable:
        log.warning(
            "ticket #%s: its %s %s is already in Slack; adopted, not posted again",
            ticket.id,
            role,
            adoptable[0],
        )
    return adoptable[0] if adoptable else None


async def _backend_message(
    ctx: SlackContext,
    ticket: TicketState,
    *,
    previous_tickets: int | None = None,
    with_tags: bool = True,
    with_clocks: bool = True,
    tags_read: list[dict] | None = None,
    session: raw.Executor | None = None,
) -> tuple[str, list[dict]]:
    """The ticket's backend message as it reads now; ``with_tags=False``: the empty tag controls;
    ``with_clocks=False``: no SLA line (a ticket opened without clocks, like one opened without tags);
    ``tags_read``: the tag controls as the caller already rendered them from its own read.
    What it reads is read in ``session`` (None: a connection of its own, if anything is to be read)."""
    if session is None and (previous_tickets is None or with_tags or with_clocks):
        # Single-statement reads: autocommit on the pooled asyncpg connection (nephthys/database/raw.py).
        async with raw.autocommit(ctx.sessions) as own:
            return await _backend_message(
                ctx,
                ticket,
                previous_tickets=previous_tickets,
                with_tags=with_tags,
                with_clocks=with_clocks,
                session=own,
            )
    if previous_tickets is None:
        if session is None:  # unreachable: a connection is opened above when the count is missing
            raise AssertionError("no connection to count the asker's tickets on")
        previous_tickets = await lifecycle.previous_ticket_count_in(session, ticket_id=ticket.id)
    tags = tags_read
    if tags is None and with_tags and session is not None:
        tags = await tag_blocks.backend_tag_blocks_for_ticket(session, ctx.transcript, ticket_id=ticket.id)
    now = ctx.clock()
    stored = []
    if with_clocks and session is not None:
        stored = (await sla_clocks.stored_clocks(session, [ticket.id])).get(ticket.id, [])
    calendar = ctx.settings.support_calendar
    shown = sla_clocks.tightest([sla_clocks.clock_view(clock, now, calendar) for clock in stored])
    return messages.backend_message(
        ctx.transcript,
        ticket,
        previous_tickets=previous_tickets,
        thread_link=ctx.permalink(ctx.channels.help, ticket.msg_ts),
        now=now,
        zone=ZoneInfo(ctx.settings.timezone),
        tag_blocks=tags,
        sla_line=messages.sla_text(ctx.transcript, shown),
    )


async def refresh_backend_message(ctx: SlackContext, ticket: TicketState | None) -> None:
    """Re-render the ticket's backend message (question edited, tags changed); a no-op once it is closed."""
    if ticket is None or ticket.ticket_ts is None or ticket.status is TicketStatus.CLOSED:
        return
    text, blocks = await _backend_message(ctx, ticket)
    await ctx.client.update_message(
        channel=ctx.channels.tickets, ts=ticket.ticket_ts, text=text, blocks=blocks
    )


async def show_wait(ctx: SlackContext, ticket_id: int) -> None:
    """A message changed whom the ticket waits on: its backend message says so (chat.update).

    Called only when the lifecycle reports a change (``waiting_changed``), so a message that
    changes nothing costs no Slack call. Under the ticket's lock and from the ticket as it is
    now, so when two changes race, the last update shows the last state; a closed ticket (its
    backend message gone) is left alone. A failure is only logged: the next change, tag or
    edit renders the message again.
    """
    try:
        async with ctx.ticket_locks.hold(ticket_id):
            # The ticket and what its message shows, on the pooled asyncpg connection in autocommit
            # (nephthys/database/raw.py: every reply that moves the wait pays these reads, so no
            # BEGIN and COMMIT round trips; under the ticket's lock, a change made between two reads
            # is shown by that change's own update), given back before the Slack call.
            async with raw.autocommit(ctx.sessions) as session:
                view = await lifecycle.backend_view(session, ticket_id)
                ticket = None if view is None else view.ticket
                if (
                    view is None
                    or ticket is None
                    or ticket.ticket_ts is None
                    or ticket.status is TicketStatus.CLOSED
                ):
                    return
                shown_tags = tag_blocks.backend_tag_blocks(
                    ctx.transcript,
                    ticket_id=ticket.id,
                    ticket_tags=[TagView(id=tag_id, name=name) for tag_id, name in view.tags],
                    question_tag=None if view.question_tag is None else TagView(*view.question_tag),
                    question_tag_automatic=view.question_tag_automatic,
                )
                text, blocks = await _backend_message(
                    ctx, ticket, previous_tickets=view.previous_tickets, tags_read=shown_tags, session=session
                )
            await ctx.client.update_message(
                channel=ctx.channels.tickets, ts=ticket.ticket_ts, text=text, blocks=blocks
            )
    except Exception as error:
        log.warning(
            "ticket #%s: its backend message does not show its wait yet: %s", ticket_id, describe(error)
        )


async def _react(
    ctx: SlackContext, msg_ts: str, *, add: str | None = None, remove: str | None = None
) -> None:
    """Swap reactions on the question; a permanent refusal (not a transient one) is only logged."""
    try:
        if remove is not None:
            await ctx.client.remove_reaction(channel=ctx.channels.help, ts=msg_ts, name=remove)
        if add is not None:
            await ctx.client.add_reaction(channel=ctx.channels.help, ts=msg_ts, name=add)
    except SlackApiError as error:
        if is_transient(error):
            raise
        log.warning("reaction on %s not changed: %s", msg_ts, describe(error))


async def question_edited(ctx: SlackContext, *, msg_ts: str, text: str) -> None:
    """The asker edited the question: the ticket and its backend message follow."""
    ticket = await lifecycle.update_description(ctx.sessions, msg_ts=msg_ts, description=text)
    await refresh_backend_message(ctx, ticket)


async def question_deleted(ctx: SlackContext, *, msg_ts: str, tombstone: bool = False) -> None:
    """The asker deleted the question: the ticket goes, unless someone's work is in its thread.

    ``tombstone``: the question had replies (Slack keeps it as "This message was deleted."),
    so the thread is read to see who wrote in it. A kept ticket keeps its status, assignee
    and credit, and its backend message says the question was deleted.
    """
    ticket = await lifecycle.ticket_by_msg_ts(ctx.sessions, msg_ts)
    if ticket is None:
        return
    others_wrote = await _others_wrote(ctx, ticket) if tombstone else False
    result = await lifecycle.question_deleted(ctx.sessions, msg_ts=msg_ts, others_wrote=others_wrote)
    if isinstance(result, lifecycle.KeptTicket):
        if result.newly_marked:
            async with ctx.ticket_locks.hold(result.ticket.id):
                await refresh_backend_message(ctx, result.ticket)
        return
    if result is None:
        return
    for posted in result.bot_messages:
        try:
            await ctx.client.delete_message(channel=posted.channel_id, ts=posted.ts)
        except Exception as error:
            await ctx.alert(
                f":warning: Ticket #{result.ticket_id} was deleted but its message {posted.ts} in "
                f"<#{posted.channel_id}> was not ({describe(error)})."
            )


async def _others_wrote(ctx: SlackContext, ticket: TicketState) -> bool:
    """Whether anyone but the asker and bots wrote in the question's thread, as Slack shows it.

    If the thread cannot be read, the answer is yes: keeping a ticket loses nothing.
    """
    try:
        thread = await ctx.client.thread_messages(ctx.channels.help, ticket.msg_ts)
    except Exception as error:
        log.warning("thread of %s unreadable (%s); its ticket is kept", ticket.msg_ts, describe(error))
        return True
    return any(
        message.get("user") not in (None, ticket.opened_by_slack_id, ctx.identity.user_id)
        and not message.get("bot_id")
        and message.get("subtype") != "tombstone"
        for message in thread
        if message.get("ts") != ticket.msg_ts
    )


# ---------------------------------------------------------------- replies


async def thread_reply(
    ctx: SlackContext, *, thread_ts: str, ts: str, user: str, broadcast: bool, text: str | None = None
) -> lifecycle.ReplyRecorded | None:
    """A reply in a ticket's thread: who spoke last; a helper's reply takes the ticket.

    A non-helper's reply also sent to the channel is removed there (with the user
    token) and its sender told why.
    """
    recorded = await lifecycle.record_reply(
        ctx.sessions, thread_ts=thread_ts, author_slack_id=user, ts=ts, at=slack_instant(ts), text=text
    )
    if recorded is None:
        return None
    if recorded.assigned or recorded.by is UserType.AUTHOR:
        ctx.ticket_changed(recorded.ticket.assigned_to_slack_id)  # a new assignment, or the asker spoke
    ctx.ticket_changed(recorded.previous_assignee_slack_id)  # taken over from another helper
    if recorded.waiting_changed:
        await show_wait(ctx, recorded.ticket.id)
    if broadcast and recorded.by is not UserType.HELPER:
        await remove_broadcast(ctx, ts=ts, thread_ts=thread_ts, user=user)
    return recorded


async def remove_broadcast(ctx: SlackContext, *, ts: str, thread_ts: str, user: str) -> None:
    if ctx.client.user_web is None:
        log.warning("a broadcast reply stays in the channel: SLACK_USER_TOKEN is not set")
        return
    try:
        await ctx.client.delete_message(channel=ctx.channels.help, ts=ts, as_user=True)
        await ctx.client.post_ephemeral(
            channel=ctx.channels.help,
            user=user,
            thread_ts=thread_ts,
            text=ctx.transcript.text("broadcast_removed", user=messages.mention(user)),
        )
    except Exception as error:
        log.warning("broadcast reply %s not removed: %s", ts, describe(error))


# ---------------------------------------------------------------- resolve / reopen


async def resolve(
    ctx: SlackContext,
    *,
    ticket_id: int,
    resolver: str,
    reply_channel: str | None = None,
    reply_thread_ts: str | None = None,
    announce: bool = True,
    at: datetime | None = None,
    msg_ts: str | None = None,
    nudged_wait: int | None = None,
    refusal_key: str = "not_allowed_to_resolve",
) -> Change:
    """Close a ticket (button, macro, backend message, a nudge's Yes); a closed ticket stays as it
    is, silently.

    ``announce=False`` skips the closing message (a macro whose own reply closes the thread).
    ``at``: when Slack says it was closed (the click's ``action_ts``, the macro's ts as ``msg_ts``).
    ``nudged_wait``: the asker follow-up's Yes (the asker's alone; see ``resolve_ticket``), whose
    refusal says ``refusal_key``. A helper whose resolve credits someone else (the assignee of an
    active thread) is told whom.
    """
    change = await lifecycle.resolve_ticket(
        ctx.sessions,
        ticket_id=ticket_id,
        resolver_slack_id=resolver,
        credit_window=timedelta(hours=ctx.settings.resolve_credit_hours),
        at=at,
        msg_ts=msg_ts,
        nudged_wait=nudged_wait,
    )
    channel = reply_channel or ctx.channels.help
    thread_ts = reply_thread_ts if reply_channel else (change.ticket.msg_ts if change.ticket else None)
    if change.changed:
        ctx.ticket_changed(change.found_ticket.assigned_to_slack_id)  # the App Home's live refresh
    if change.outcome is Outcome.NOT_ALLOWED:
        await tell(
            ctx,
            user=resolver,
            channel=channel,
            thread_ts=thread_ts,
            text=ctx.transcript.text(refusal_key, user=messages.mention(resolver)),
        )
    if change.changed:
        ticket = change.found_ticket
        async with ctx.ticket_locks.hold(ticket_id):
            await after_resolve(ctx, ticket, resolver=resolver, announce=announce)
        if change.actor_is_helper and ticket.closed_by_slack_id not in (None, resolver):
            await tell(
                ctx,
                user=resolver,
                channel=channel,
                thread_ts=thread_ts,
                text=ctx.transcript.text(
                    "resolve_credited_to",
                    user=messages.mention(resolver),
                    assignee=messages.mention(ticket.closed_by_slack_id),
                ),
            )
    return change


async def after_resolve(
    ctx: SlackContext,
    ticket: TicketState,
    *,
    resolver: str | None,
    announce: bool = True,
    text_key: str = "resolved",
) -> None:
    """The closed ticket's Slack side: backend message removed, closing message, ✅ for 🤔.

    ``text_key``: the closing text (``resolved`` names the resolver; the stale-tickets job passes
    ``resolved_stale``, with the credited assignee or None as ``resolver``). The closing message carries Re-open and, with FEEDBACK on, Give
    feedback, both bound to this closure. Call it with the ticket's lock held, after the
    lifecycle's resolve committed; ``ticket`` is the state that resolve returned.
    """
    # What is not removed now, the repair job removes later.
    problems = await remove_bot_messages(ctx, ticket.id, channel_id=ctx.channels.tickets)
    try:
        if announce:
            text = messages.closing_text(ctx.transcript, ticket, text_key, resolver=resolver)
            text, blocks = messages.closing_message(
                ctx.transcript, ticket, text=text, feedback=ctx.settings.feedback
            )
            await reply_in_thread(ctx, ticket, text, blocks=blocks)
    except Exception as error:
        problems.append(f"closing message not posted ({describe(error)})")
    try:
        await _react(ctx, ticket.msg_ts, remove=OPEN_REACTION, add=CLOSED_REACTION)
    except Exception as error:
        problems.append(f"reaction not changed ({describe(error)})")
    if problems:
        await ctx.alert(f":warning: Ticket #{ticket.id} was resolved, but: " + "; ".join(problems))


async def remove_bot_messages(
    ctx: SlackContext, ticket_id: int, *, channel_id: str | None = None
) -> list[str]:
    """Delete the bot's messages for a ticket (in one channel when given) and forget them.

    Returns what could not be deleted, described; the rest is deleted anyway.
    """
    problems: list[str] = []
    for posted in await lifecycle.bot_messages(ctx.sessions, ticket_id=ticket_id, channel_id=channel_id):
        try:
            await ctx.client.delete_message(channel=posted.channel_id, ts=posted.ts)
            await lifecycle.forget_bot_message(ctx.sessions, channel_id=posted.channel_id, ts=posted.ts)
        except Exception as error:
            problems.append(f"message {posted.ts} in <#{posted.channel_id}> not removed ({describe(error)})")
    return problems


async def reopen(
    ctx: SlackContext,
    *,
    ticket_id: int,
    reopener: str,
    closure: int | None = None,
    reply_channel: str | None = None,
    reply_thread_ts: str | None = None,
    at: datetime | None = None,
    msg_ts: str | None = None,
) -> Change:
    """Reopen a closed ticket: open again, a message in the thread, a new backend message, 🤔 again.

    ``at``: when Slack says it was reopened (the click's ``action_ts``, the macro's ts as ``msg_ts``).

    ``closure``: from a closing message's Re-open button, which acts only on the closure it
    was posted for (otherwise OUT_OF_DATE; the caller answers UNCHANGED and OUT_OF_DATE).
    """
    # The ticket's lock is taken before the reopen commits, so a resolve that follows it
    # does its Slack side after this one (else this one could take its ✅ away).
    async with ctx.ticket_locks.hold(ticket_id):
        change = await lifecycle.reopen_ticket(
            ctx.sessions,
            ticket_id=ticket_id,
            reopener_slack_id=reopener,
            closure=closure,
            at=at,
            msg_ts=msg_ts,
        )
        if change.changed:
            ctx.ticket_changed(change.found_ticket.assigned_to_slack_id)  # the App Home's live refresh
        if change.changed:
            await _after_reopen(ctx, change.found_ticket, reopener=reopener)
    if change.outcome is Outcome.NOT_ALLOWED:
        await tell(
            ctx,
            user=reopener,
            channel=reply_channel or ctx.channels.help,
            thread_ts=reply_thread_ts if reply_channel else change.found_ticket.msg_ts,
            text=ctx.transcript.text("asker_or_helpers_only", user=messages.mention(reopener)),
        )
    return change


async def retire_closing_buttons(ctx: SlackContext, ticket: TicketState) -> int:
    """Take the Re-open / Give feedback buttons off the thread's closing messages (chat.update).

    Run once the ticket is reopened, so the thread never offers a Re-open that does nothing.
    Returns how many messages were updated; safe to repeat (a message without buttons is left).
    """
    updated = 0
    for message in await ctx.client.thread_messages(ctx.channels.help, ticket.msg_ts):
        if not message.get("bot_id") or not messages.has_closing_buttons(message):
            continue
        if ctx.identity.bot_id is not None and message.get("bot_id") != ctx.identity.bot_id:
            continue
        await ctx.client.update_message(
            channel=ctx.channels.help,
            ts=message["ts"],
            text=message.get("text") or "",
            blocks=messages.without_closing_buttons(message),
        )
        updated += 1
    return updated


async def _after_reopen(ctx: SlackContext, ticket: TicketState, *, reopener: str) -> None:
    """The reopened ticket's Slack side (the ticket's lock held): a note, ✅ removed, then ``_finish_ticket``."""
    # Each step is tried even when one before it failed: the repair job posts a missing
    # backend message and 🤔, but it would never take the ✅ away.
    problems: list[str] = []
    try:
        await reply_in_thread(ctx, ticket, messages.reopened(ctx.transcript, ticket, reopener=reopener))
    except Exception as error:
        problems.append(f"reopening message not posted ({describe(error)})")
    try:
        await _react(ctx, ticket.msg_ts, remove=CLOSED_REACTION)
    except Exception as error:
        problems.append(f"reaction not changed ({describe(error)})")
    try:
        await retire_closing_buttons(ctx, ticket)
    except Exception as error:
        problems.append(f"the closing message's buttons not removed ({describe(error)})")
    try:
        await _finish_ticket(ctx, ticket.id)
    except Exception as error:
        problems.append(f"Slack side unfinished ({describe(error)}); the repair job will finish it")
    if problems:
        await ctx.alert(f":warning: Ticket #{ticket.id} was reopened, but: " + "; ".join(problems))


async def reply_in_thread(
    ctx: SlackContext, ticket: TicketState, text: str, *, blocks: list[dict] | None = None
) -> str:
    """Post ``text`` in the question's thread; recorded so ``?thread`` or a deletion removes it."""
    ts = await ctx.client.post_message(
        channel=ctx.channels.help,
        text=text,
        blocks=blocks,
        thread_ts=ticket.msg_ts,
        tag=PostTag(NOTE, ticket.id),
    )
    await _record(
        ctx,
        "thread message",
        lambda: lifecycle.record_bot_message(
            ctx.sessions, ticket_id=ticket.id, channel_id=ctx.channels.help, ts=ts
        ),
    )
    return ts


async def tell(ctx: SlackContext, *, user: str, channel: str, thread_ts: str | None, text: str) -> None:
    """An ephemeral answer to one person; losing it is not worth an alert."""
    try:
        await ctx.client.post_ephemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
    except Exception as error:
        log.warning("ephemeral to %s not posted: %s", user, describe(error))
