"""Block Kit for the messages the bot posts for a ticket; every string comes from the transcript."""

from __future__ import annotations

from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.tag_blocks import backend_tag_blocks
from nephthys.tickets.lifecycle import TicketState
from nephthys.transcripts import Transcript

RESOLVE_ACTION = "resolve_ticket"
QUESTION_MAX_CHARS = 2500  # a section's text may hold 3,000 characters


def mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "someone"


def permalink(workspace_url: str, channel: str, ts: str, *, thread_ts: str | None = None) -> str:
    """A message's link, built like chat.getPermalink's (no API call needed)."""
    link = f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


def _quoted_question(text: str) -> str:
    text = neutralise_mentions(text.strip()) or "(no text)"
    if len(text) > QUESTION_MAX_CHARS:
        text = text[: QUESTION_MAX_CHARS - 1] + "…"
    return text


def resolve_button(transcript: Transcript, ticket_id: int) -> dict:
    return {
        "type": "button",
        "action_id": RESOLVE_ACTION,
        "text": {"type": "plain_text", "text": transcript.text("resolve_button"), "emoji": True},
        "value": str(ticket_id),
        "style": "primary",
    }


def backend_message(
    transcript: Transcript,
    ticket: TicketState,
    *,
    previous_tickets: int,
    thread_link: str,
    tag_blocks: list[dict] | None = None,
) -> tuple[str, list[dict]]:
    """The ticket's message in the tickets channel: the question, who asked, and a way to the thread.

    ``tag_blocks``: the ticket's tag controls showing its current tags (nephthys/slack/tags.py);
    by default the empty ones a new ticket has.
    """
    text = transcript.text(
        "backend_message",
        user=mention(ticket.opened_by_slack_id),
        title=neutralise_mentions(ticket.title),
        question=_quoted_question(ticket.description),
        previous_tickets=str(previous_tickets),
        thread_link=thread_link,
    )
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "block_id": f"ticket-{ticket.id}",
            "elements": [resolve_button(transcript, ticket.id)],
        },
        *(tag_blocks if tag_blocks is not None else backend_tag_blocks(transcript, ticket_id=ticket.id)),
    ]
    return text, blocks


def thread_reply(
    transcript: Transcript, ticket: TicketState, *, first_time: bool, backend_link: str
) -> tuple[str, list[dict]]:
    """The reply in the question's thread: a welcome, the Resolve button and a link to the backend message."""
    key = "first_ticket_created" if first_time else "ticket_created"
    welcome = transcript.text(key, user=mention(ticket.opened_by_slack_id))
    link = transcript.text("backend_link", backend_link=backend_link)
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": welcome}},
        {
            "type": "actions",
            "block_id": f"thread-{ticket.id}",
            "elements": [resolve_button(transcript, ticket.id)],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": link}]},
    ]
    return welcome, blocks


def resolved(transcript: Transcript, ticket: TicketState, *, resolver: str) -> str:
    return transcript.text("resolved", user=mention(ticket.opened_by_slack_id), closer=mention(resolver))


def reopened(transcript: Transcript, ticket: TicketState, *, reopener: str) -> str:
    return transcript.text("reopened", user=mention(ticket.opened_by_slack_id), reopener=mention(reopener))
