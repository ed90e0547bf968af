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
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from nephthys.database.models import TicketStatus
from nephthys.memory import index as memory_index
from nephthys.memory import similar, surges
from nephthys.slack.client import PostTag
from nephthys.slack.context import SlackContext
from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.messages import mention, slack_date
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


async def post_similar_tickets(ctx: SlackContext, *, ticket_id: int, question: str) -> bool:
    """Post the past tickets most like ``question`` in the ticket's backend thread, once; nothing
    when none is similar enough. True when posted by this call. A failure is only logged: the
    similar tickets help, the ticket does not depend on them."""
    try:
        found = await similar.similar_tickets(ctx.sessions, question=question, own_ticket_id=ticket_id)
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
    links = await _ticket_links(ctx, state.ticket_ids)

    def render(current: surges.SurgeState) -> str:
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
            ts = await ctx.client.post_message(channel=team_channel, text=render(state), tag=PostTag(SURGE))
        except Exception:
            await surges.release_post(ctx.sessions, surge_id=state.id)
            raise
        await surges.posted(ctx.sessions, surge_id=state.id, channel_id=team_channel, ts=ts)
        # A ticket that joined while it was being posted is shown now.
        current = await surges.surge(ctx.sessions, surge_id=state.id)
        if current is not None and current.tickets != state.tickets:
            links.update(await _ticket_links(ctx, current.ticket_ids))
            await ctx.client.update_message(channel=team_channel, ts=ts, text=render(current))
        return
    await ctx.client.update_message(channel=state.channel_id or team_channel, ts=state.ts, text=render(state))


async def _ticket_links(ctx: SlackContext, ticket_ids: list[int]) -> dict[int, str]:
    found = {}
    for ticket_id in ticket_ids[-SURGE_LINKS_SHOWN:]:
        ticket = await lifecycle.ticket_by_id(ctx.sessions, ticket_id)
        if ticket is not None:
            found[ticket_id] = ctx.permalink(ctx.channels.help, ticket.msg_ts)
    return found
