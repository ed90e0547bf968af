"""The team's memory in Slack: similar past tickets in a new ticket's backend thread, and the
search results ``?search`` and the App Home show. The look-ups are nephthys/memory's; this module
renders them and posts.

The similar tickets are looked up after the ticket's Slack side is posted, so the backend message
never waits for them. They are posted once per ticket: the post is claimed in the database
("TicketSearch"."similarPostedAt") before it is made and released if it fails, so a redelivered
question, a second worker or a retry never posts them twice.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from nephthys.database import raw
from nephthys.database.models import TicketStatus
from nephthys.memory import ai, draft, question_tag, similar, surges
from nephthys.memory import index as memory_index
from nephthys.slack.client import PostTag
from nephthys.slack.context import SlackContext
from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.messages import mention, slack_date
from nephthys.slack.payload_numbers import payload_id
from nephthys.tickets import lifecycle
from nephthys.transcripts import Transcript

log = logging.getLogger(__name__)

SIMILAR = "similar"  # the role of the similar-tickets post (its Slack message metadata)
SURGE = "surge"  # the role of a surge's message in the team channel
TITLE_MAX_CHARS = 150
SEARCH_LIMIT = 5
QUERY_MAX_CHARS = 200
STATUS_KEYS = {
    TicketStatus.OPEN: "app_home_status_open",
    TicketStatus.IN_PROGRESS: "app_home_status_in_progress",
    TicketStatus.CLOSED: "app_home_status_closed",
}


def inert(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """Someone's words inside our mrkdwn: cut, with no mention, link or formatting of their own."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return neutralise_mentions(text)


def similar_tickets_text(
    transcript: Transcript,
    found: list[similar.PastTicket],
    *,
    link,
    now: datetime,
    zone: ZoneInfo,
) -> str:
    """The backend thread's note: each past ticket linked, who closed it and when, its answer's
    first line. ``link(ticket)``: the past ticket's thread."""
    lines = [transcript.text("similar_tickets_header", count=str(len(found)))]
    for past in found:
        lines.append(
            transcript.text(
                "similar_ticket",
                link=link(past),
                title=inert(past.title),
                closer=mention(past.closed_by_slack_id),
                closed=slack_date(past.closed_at, now=now, zone=zone) if past.closed_at else "",
                answer=inert(similar.first_line(past.answer) or "", 200),
            )
        )
    return "\n".join(lines)


def search_results_text(transcript: Transcript, query: str, found: list[similar.PastTicket], *, link) -> str:
    """The answer to a search: each ticket linked, with its status; or that nothing matched."""
    shown = inert(query, QUERY_MAX_CHARS)
    if not found:
        return transcript.text("search_no_results", query=shown)
    lines = [transcript.text("search_results", query=shown, count=str(len(found)))]
    for past in found:
        lines.append(
            transcript.text(
                "search_result",
                link=link(past),
                title=inert(past.title),
                status=transcript.text(STATUS_KEYS[past.status]),
            )
        )
    return "\n".join(lines)


def thread_link(ctx: SlackContext):
    return lambda past: ctx.permalink(ctx.channels.help, past.msg_ts)


async def post_similar_tickets(
    ctx: SlackContext, *, ticket_id: int, question: str, just_opened: bool = False
) -> bool:
    """Post the past tickets most like ``question`` in the ticket's backend thread, once; nothing
    when none is similar enough. True when posted by this call. A failure is only logged: the
    similar tickets help, the ticket does not depend on them. ``just_opened``: the ticket was
    opened by this pass (it is the newest, or nearly)."""
    try:
        found = await similar.similar_tickets(
            ctx.sessions, question=question, own_ticket_id=ticket_id, own_is_newest=just_opened
        )
        if not found:
            return False
        ticket = await lifecycle.ticket_by_id(ctx.sessions, ticket_id)
        if ticket is None or ticket.ticket_ts is None or ticket.status is TicketStatus.CLOSED:
            return False
        if not await memory_index.claim_similar_post(ctx.sessions, ticket_id=ticket_id):
            return False  # posted (or being posted) by another pass
        text = similar_tickets_text(
            ctx.transcript,
            found,
            link=thread_link(ctx),
            now=ctx.clock(),
            zone=ZoneInfo(ctx.settings.timezone),
        )
        try:
            ts = await ctx.client.post_message(
                channel=ctx.channels.tickets,
                text=text,
                thread_ts=ticket.ticket_ts,
                tag=PostTag(SIMILAR, ticket_id),
            )
        except Exception:
            await memory_index.release_similar_post(ctx.sessions, ticket_id=ticket_id)
            raise
        # Recorded with the ticket's other messages: it goes with the backend message when the ticket closes.
        await lifecycle.record_bot_message(
            ctx.sessions, ticket_id=ticket_id, channel_id=ctx.channels.tickets, ts=ts
        )
        if ctx.settings.ai_enabled:
            await post_draft(ctx, ticket=ticket, question=question, found=found)
        return True
    except Exception as error:
        log.warning("ticket #%s: similar past tickets not posted: %s", ticket_id, error)
        return False


async def search_text(ctx: SlackContext, query: str) -> str:
    """The ephemeral answer to ``?search`` and the App Home's search: the best SEARCH_LIMIT matches."""
    if not query.strip():
        return ctx.transcript.text("search_usage")
    found = await similar.search_tickets(
        ctx.sessions, words=query[: similar.SEARCH_WORDS_MAX_CHARS], limit=SEARCH_LIMIT
    )
    return search_results_text(ctx.transcript, query, found, link=thread_link(ctx))


# ---------------------------------------------------------------- the drafted answer (AI endpoint configured)

DRAFT = "draft"  # the role of the drafted answer's message in the backend thread
DRAFT_SEND_ACTION = "memory_send_draft"
DRAFT_TEXT_BLOCK = "draft_text"
DRAFT_ACTIONS_BLOCK = "draft_actions"
_CITATION = re.compile(r"\[(\d{1,2})\]")


def draft_blocks(transcript: Transcript, ticket_id: int, draft: str, *, link) -> tuple[str, list[dict]]:
    """The draft message: the draft (its [n] citations linked to the past tickets' threads; our
    own words escaped) and the Send to the asker button."""
    text = _CITATION.sub(
        lambda m: f"<{link(int(m.group(1)))}|[{m.group(1)}]>" if link(int(m.group(1))) else m.group(0),
        inert(draft, 2900),
    )
    header = transcript.text("draft_header")
    return f"{header}\n{text}", [
        {"type": "section", "text": {"type": "mrkdwn", "text": header}},
        {"type": "section", "block_id": DRAFT_TEXT_BLOCK, "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "block_id": DRAFT_ACTIONS_BLOCK,
            "elements": [
                {
                    "type": "button",
                    "action_id": DRAFT_SEND_ACTION,
                    "text": {"type": "plain_text", "text": transcript.text("draft_send_button")},
                    "value": str(ticket_id),
                    "style": "primary",
                }
            ],
        },
    ]


async def post_draft(ctx: SlackContext, *, ticket, question: str, found: list[similar.PastTicket]) -> None:
    """Draft an answer from the similar tickets' answers and post it for the helpers; a timeout or
    an error drafts nothing, and says so once in the heartbeat channel (until a draft succeeds)."""
    try:
        drafted = await draft.drafted_answer(ctx.settings, question, found)
    except draft.DraftFailed as error:
        if "draft" not in ctx.ai_failing:
            ctx.ai_failing.add("draft")
            await ctx.alert(
                f":warning: No answer was drafted for ticket #{ticket.id}: the AI endpoint failed ({error}). "
                "Said once; drafts resume when it answers."
            )
        return
    ctx.ai_failing.discard("draft")
    links = [ctx.permalink(ctx.channels.help, past.msg_ts) for past in found]
    text, blocks = draft_blocks(
        ctx.transcript, ticket.id, drafted, link=lambda n: links[n - 1] if 1 <= n <= len(links) else None
    )
    ts = await ctx.client.post_message(
        channel=ctx.channels.tickets,
        text=text,
        blocks=blocks,
        thread_ts=ticket.ticket_ts,
        tag=PostTag(DRAFT, ticket.id),
    )
    await lifecycle.record_bot_message(
        ctx.sessions, ticket_id=ticket.id, channel_id=ctx.channels.tickets, ts=ts
    )


def _draft_text(message: dict) -> str | None:
    for block in message.get("blocks") or []:
        if block.get("block_id") == DRAFT_TEXT_BLOCK:
            value = (block.get("text") or {}).get("text")
            return value if isinstance(value, str) and value.strip() else None
    return None


async def send_draft_clicked(ctx: SlackContext, body: dict) -> None:
    """Send to the asker: the draft goes in the question's thread as the clicking helper's answer
    (posted with their name and avatar; on the timeline, assignment, credit and the wait, it is
    their message). Once: the first click claims it; others are told it was sent."""
    from nephthys.slack import flows  # flows imports this module

    user = body["user"]["id"]
    action = (body.get("actions") or [{}])[0]
    ticket_id = payload_id(str(action.get("value") or ""))
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or ctx.channels.tickets
    text = _draft_text(message)
    ticket = await lifecycle.ticket_by_id(ctx.sessions, ticket_id) if ticket_id is not None else None
    if ticket is None or text is None:
        return
    if not await lifecycle.is_helper(ctx.sessions, slack_id=user):
        await flows.tell(
            ctx,
            user=user,
            channel=channel,
            thread_ts=message.get("thread_ts"),
            text=ctx.transcript.text("helpers_only", user=mention(user)),
        )
        return
    if not await memory_index.claim_draft_send(ctx.sessions, ticket_id=ticket.id):
        return  # sent by an earlier click
    try:
        ts = await ctx.client.post_message(
            channel=ctx.channels.help,
            text=text,
            thread_ts=ticket.msg_ts,
            speaking_as=await ctx.client.profile(user),
            tag=PostTag(DRAFT, ticket.id),
        )
    except Exception:
        await memory_index.release_draft_send(ctx.sessions, ticket_id=ticket.id)
        raise
    await flows.thread_reply(ctx, thread_ts=ticket.msg_ts, ts=ts, user=user, broadcast=False, text=text)
    sent = ctx.transcript.text("draft_sent", user=mention(user))
    blocks = [block for block in message.get("blocks") or [] if block.get("block_id") != DRAFT_ACTIONS_BLOCK]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sent}]})
    if message.get("ts"):
        await ctx.client.update_message(
            channel=channel, ts=message["ts"], text=message.get("text") or sent, blocks=blocks
        )


def register(app, ctx: SlackContext, after_ack) -> None:
    """The draft's Send to the asker button."""

    async def clicked(ack, body: dict) -> None:
        await ack()
        after_ack("A Send to the asker click", lambda: send_draft_clicked(ctx, body))

    app.action(DRAFT_SEND_ACTION)(clicked)


# ---------------------------------------------------------------- the question tag (AI endpoint configured)


async def choose_question_tag(ctx: SlackContext, *, ticket_id: int, question: str) -> bool:
    """Ask the AI endpoint for the new ticket's question tag among the existing ones and set it,
    marked as chosen automatically, when the model is confident (nephthys/memory/question_tag.py).
    Run after the backend message; once per ticket (claimed in the database). Nothing is sent when
    the endpoint is off, AI_QUESTION_TAGS is false or no question tag exists; nothing is set on an
    unknown label, a low confidence, an answer not in the shape asked for, a timeout or an error
    (the last two said once in the heartbeat channel, until a choice succeeds), nor when a helper
    chose a tag first. True when set by this call."""
    settings = ctx.settings
    if not settings.ai_enabled or not settings.ai_question_tags:
        return False
    try:
        async with ctx.sessions() as session:
            labels = await question_tag.offered_labels(session)
        if not labels or not await memory_index.claim_question_tag(ctx.sessions, ticket_id=ticket_id):
            return False
        try:
            choice = await question_tag.ask(settings, question, labels)
        except ai.AIFailed as error:
            if "question_tag" not in ctx.ai_failing:
                ctx.ai_failing.add("question_tag")
                await ctx.alert(
                    f":warning: No question tag was chosen for ticket #{ticket_id}: the AI endpoint "
                    f"failed ({error}). Said once; choices resume when it answers."
                )
            return False
        except question_tag.NoChoice as error:
            ctx.ai_failing.discard("question_tag")
            log.info("ticket #%s: the model's question tag is unusable: %s", ticket_id, error)
            return False
        ctx.ai_failing.discard("question_tag")
        chosen = question_tag.chosen_label(choice, labels, min_confidence=settings.ai_question_tag_confidence)
        if chosen is None:
            log.info(
                "ticket #%s: no question tag chosen (model said %r at %.2f)",
                ticket_id,
                choice.tag,
                choice.confidence,
            )
            return False
        if not await lifecycle.set_automatic_question_tag(
            ctx.sessions, ticket_id=ticket_id, question_tag_id=chosen.id
        ):
            return False  # a helper chose one meanwhile, or the ticket closed or the tag went
        from nephthys.slack import flows  # flows imports this module

        await flows.refresh_backend_message(ctx, await lifecycle.ticket_by_id(ctx.sessions, ticket_id))
        return True
    except Exception as error:
        log.warning("ticket #%s: question tag not chosen: %s", ticket_id, error)
        return False


# ---------------------------------------------------------------- surges

SURGE_LINKS_SHOWN = 20


def surge_text(transcript: Transcript, state: surges.SurgeState, *, window_minutes: int, link) -> str:
    """The team channel's one message of a surge: how many, like what, each ticket linked (the
    newest SURGE_LINKS_SHOWN)."""
    lines = [
        transcript.text(
            "surge_message", count=str(state.tickets), title=inert(state.title), minutes=str(window_minutes)
        )
    ]
    for ticket_id in state.ticket_ids[-SURGE_LINKS_SHOWN:]:
        lines.append(transcript.text("surge_ticket", link=link(ticket_id), id=str(ticket_id)))
    return "\n".join(lines)


async def note_surge(ctx: SlackContext, *, ticket_id: int, question: str, at: datetime) -> None:
    """A new ticket: if it makes or grows a surge, the team channel's one message for it says so
    (posted once across instances, then updated). A failure is only logged."""
    settings = ctx.settings
    if not settings.surge_min_tickets or ctx.channels.bts is None:
        return
    try:
        state = await surges.join_surge(
            ctx.sessions,
            ticket_id=ticket_id,
            question=question,
            at=at,
            window=timedelta(minutes=settings.surge_window_minutes),
            min_tickets=settings.surge_min_tickets,
        )
        if state is None:
            return
        await _show_surge(ctx, state)
    except Exception as error:
        log.warning("ticket #%s: surge not told: %s", ticket_id, error)


async def _show_surge(ctx: SlackContext, state: surges.SurgeState) -> None:
    team_channel = ctx.channels.bts
    if team_channel is None:  # note_surge checked it; the type checker cannot see that
        return

    async def render(current: surges.SurgeState) -> str:
        links = await _ticket_links(ctx, current.ticket_ids)
        return surge_text(
            ctx.transcript,
            current,
            window_minutes=ctx.settings.surge_window_minutes,
            link=lambda ticket_id: links.get(ticket_id, ""),
        )

    if state.ts is None:
        if not await surges.claim_post(ctx.sessions, surge_id=state.id):
            return  # another pass posts it, from the surge as it is then
        try:
            ts = await ctx.client.post_message(
                channel=team_channel, text=await render(state), tag=PostTag(SURGE)
            )
        except Exception:
            await surges.release_post(ctx.sessions, surge_id=state.id)
            raise
        await surges.posted(ctx.sessions, surge_id=state.id, channel_id=team_channel, ts=ts)
        # A ticket that joined while it was being posted is shown now.
        current = await surges.surge(ctx.sessions, surge_id=state.id)
        if current is not None and current.tickets != state.tickets:
            await ctx.client.update_message(channel=team_channel, ts=ts, text=await render(current))
        return

    async def show(current: surges.SurgeState) -> None:
        if current.ts is not None:
            await ctx.client.update_message(
                channel=current.channel_id or team_channel, ts=current.ts, text=await render(current)
            )

    async def show_again() -> None:
        current = await surges.surge(ctx.sessions, surge_id=state.id)
        if current is not None:
            await show(current)

    # In a burst, one update at a time per surge and at most one a second (Slack limits
    # chat.update to about that per message anyway): the tickets that join meanwhile are shown
    # together by one more, from the surge as it is then.
    await ctx.surge_updates.run(state.id, lambda: show(state), show_again)


async def _ticket_links(ctx: SlackContext, ticket_ids: list[int]) -> dict[int, str]:
    """The questions' links of the newest SURGE_LINKS_SHOWN tickets (a deleted ticket has none)."""
    shown = ticket_ids[-SURGE_LINKS_SHOWN:]
    if not shown:
        return {}
    async with raw.autocommit(ctx.sessions) as connection:
        rows = (await connection.execute(_QUESTION_TS, {"ids": shown})).all()
    return {row.id: ctx.permalink(ctx.channels.help, row.msg_ts) for row in rows}


_QUESTION_TS = text('SELECT id, "msgTs" AS msg_ts FROM "Ticket" WHERE id = ANY(CAST(:ids AS int[]))')
