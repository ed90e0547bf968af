"""Block Kit for the messages the bot posts for a ticket; every string comes from the transcript."""

from __future__ import annotations

from datetime import datetime, tzinfo

from nephthys.database.models import FeedbackRating, WaitingOn
from nephthys.sla.clocks import CLOCK_NAMES, ClockView
from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.payload_numbers import INT64_MAX, payload_number_pair
from nephthys.slack.tag_blocks import backend_tag_blocks
from nephthys.tickets.feedback import COMMENT_MAX_CHARS
from nephthys.tickets.lifecycle import TicketState, closure_key
from nephthys.transcripts import Transcript
from nephthys.transcripts.keys import TEXT_PLACEHOLDERS

RESOLVE_ACTION = "resolve_ticket"
# The closing message's buttons and the feedback modal.
REOPEN_ACTION = "closing_reopen"
FEEDBACK_ACTION = "closing_feedback"
FEEDBACK_MODAL = "feedback_modal"
FEEDBACK_RATING_BLOCK = "feedback_rating"
FEEDBACK_RATING_INPUT = "rating"
FEEDBACK_COMMENT_BLOCK = "feedback_comment"
FEEDBACK_COMMENT_INPUT = "comment"
CLOSING_ACTIONS_BLOCK = "closing-actions"
# The asker follow-up's nudge (nephthys/slack/follow_up.py).
FOLLOW_UP_YES_ACTION = "follow_up_yes"
FOLLOW_UP_HELP_ACTION = "follow_up_help"
FOLLOW_UP_ACTIONS_BLOCK = "follow-up-actions"
RATING_TEXT_KEYS = {
    FeedbackRating.NOT_GOOD: "feedback_rating_not_good",
    FeedbackRating.OKAY: "feedback_rating_okay",
    FeedbackRating.GREAT: "feedback_rating_great",
}
QUESTION_MAX_CHARS = 2500  # a section's text may hold 3,000 characters
WAITING_BLOCK = "waiting"  # the backend message's line saying whom the ticket waits on
SLA_BLOCK = "sla"  # the backend message's line about the ticket's tightest SLA clock
WAITING_KEYS = {
    WaitingOn.HELPERS: "backend_waiting_on_helpers",
    WaitingOn.ASKER: "backend_waiting_on_asker",
}


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


def slack_date(at: datetime, *, now: datetime, zone: tzinfo) -> str:
    """``at`` as Slack's date token: each reader sees it in their own time zone, as "today at 14:02",
    "yesterday at 14:02" or "Mar 3 at 14:02" relative to when they read it, so a message that is
    not edited again stays right on the days after. Clients that cannot render the token show the
    fallback: the time in ``zone`` (the desk's TIMEZONE), with the date unless it is ``now``'s day there.
    """
    local = at.astimezone(zone)
    fallback = (
        f"{local:%H:%M %Z}" if local.date() == now.astimezone(zone).date() else f"{local:%Y-%m-%d %H:%M %Z}"
    )
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def waiting_text(transcript: Transcript, ticket: TicketState, *, now: datetime, zone: tzinfo) -> str | None:
    """The line "Waiting on the asker since …" of an open ticket; None when it waits on nobody (closed)."""
    if ticket.waiting_on is None or ticket.waiting_since is None:
        return None
    since = slack_date(ticket.waiting_since, now=now, zone=zone)
    return transcript.text(WAITING_KEYS[ticket.waiting_on], since=since)


def backend_message(
    transcript: Transcript,
    ticket: TicketState,
    *,
    previous_tickets: int,
    thread_link: str,
    now: datetime,
    zone: tzinfo,
    tag_blocks: list[dict] | None = None,
    sla_line: str | None = None,
) -> tuple[str, list[dict]]:
    """The ticket's message in the tickets channel: the question, who asked, whom it waits on since
    when, its tightest SLA clock (``sla_line``, nephthys/sla/clocks.py), and a way to the thread.

    ``now`` and ``zone``: the desk's clock and TIMEZONE, for the wait's fallback text (``slack_date``).
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
    waiting = waiting_text(transcript, ticket, now=now, zone=zone)
    if waiting is not None:
        line = {
            "type": "context",
            "block_id": WAITING_BLOCK,
            "elements": [{"type": "mrkdwn", "text": waiting}],
        }
        blocks.insert(1, line)
    if sla_line is not None:
        at = 2 if waiting is not None else 1
        blocks.insert(
            at, {"type": "context", "block_id": SLA_BLOCK, "elements": [{"type": "mrkdwn", "text": sla_line}]}
        )
    if ticket.question_deleted:
        deleted = transcript.text("backend_question_deleted", user=mention(ticket.opened_by_slack_id))
        blocks.insert(1, {"type": "context", "elements": [{"type": "mrkdwn", "text": deleted}]})
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


def closing_text(transcript: Transcript, ticket: TicketState, key: str, *, resolver: str | None) -> str:
    """The closing text ``key`` (``resolved``, ``resolved_stale``…) with whichever of the
    asker (``{user}``) and the resolver (``{closer}``) it takes."""
    known = {"user": mention(ticket.opened_by_slack_id), "closer": mention(resolver)}
    return transcript.text(key, **{name: known[name] for name in TEXT_PLACEHOLDERS[key] if name in known})


def closing_button_value(ticket: TicketState) -> str:
    """``<ticket id>:<closure>``: a closing message's buttons act on the closure they were posted for."""
    if ticket.closed_at is None:
        raise ValueError(f"ticket {ticket.id} is not closed")
    return f"{ticket.id}:{closure_key(ticket.closed_at)}"


def parse_closing_button_value(value: object) -> tuple[int, int] | None:
    """(ticket id, closure) from a closing button's value; None when it is not one of ours."""
    return payload_number_pair(value, second_maximum=INT64_MAX)


def closing_message(
    transcript: Transcript, ticket: TicketState, *, text: str, feedback: bool = True
) -> tuple[str, list[dict]]:
    """The closing note in the thread: ``text``, then Re-open and (when ``feedback``) Give feedback."""
    value = closing_button_value(ticket)
    buttons: list[dict] = [
        {
            "type": "button",
            "action_id": REOPEN_ACTION,
            "text": {"type": "plain_text", "text": transcript.text("closing_reopen_button"), "emoji": True},
            "value": value,
        }
    ]
    if feedback:
        buttons.append(
            {
                "type": "button",
                "action_id": FEEDBACK_ACTION,
                "text": {
                    "type": "plain_text",
                    "text": transcript.text("closing_feedback_button"),
                    "emoji": True,
                },
                "value": value,
            }
        )
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": CLOSING_ACTIONS_BLOCK, "elements": buttons},
    ]
    return text, blocks


def has_closing_buttons(message: dict) -> bool:
    """Whether a message (as Slack returns it) still carries a closing message's buttons."""
    return any(
        element.get("action_id") in (REOPEN_ACTION, FEEDBACK_ACTION)
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements") or []
    )


def without_closing_buttons(message: dict) -> list[dict]:
    """A closing message's blocks with its buttons taken off (once the ticket is reopened)."""
    return [
        block
        for block in message.get("blocks") or []
        if not (block.get("type") == "actions" and has_closing_buttons({"blocks": [block]}))
    ]


def follow_up_button_value(ticket_id: int, wait: int) -> str:
    """``<ticket id>:<wait>``: a nudge's buttons answer the wait on the asker it was posted for."""
    return f"{ticket_id}:{wait}"


def parse_follow_up_button_value(value: object) -> tuple[int, int] | None:
    """(ticket id, wait) from a nudge button's value; None when it is not one of ours."""
    return payload_number_pair(value, second_maximum=INT64_MAX)


def follow_up_message(
    transcript: Transcript, *, ticket_id: int, asker_slack_id: str, wait: int, answered: bool = False
) -> tuple[str, list[dict]]:
    """The nudge in the question's thread: did this answer it? Yes, close it / I still need help.

    ``answered``: the same question without its buttons (once answered, or closed unanswered).
    """
    text = transcript.text("follow_up_question", user=mention(asker_slack_id))
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if not answered:
        value = follow_up_button_value(ticket_id, wait)
        blocks.append(
            {
                "type": "actions",
                "block_id": FOLLOW_UP_ACTIONS_BLOCK,
                "elements": [
                    {
                        "type": "button",
                        "action_id": FOLLOW_UP_YES_ACTION,
                        "text": _plain(transcript.text("follow_up_yes_button")),
                        "value": value,
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "action_id": FOLLOW_UP_HELP_ACTION,
                        "text": _plain(transcript.text("follow_up_help_button")),
                        "value": value,
                    },
                ],
            }
        )
    return text, blocks


def without_follow_up_buttons(message: dict) -> list[dict]:
    """A nudge's blocks (as Slack returns them) with its buttons taken off."""
    return [
        block
        for block in message.get("blocks") or []
        if not (block.get("type") == "actions" and block.get("block_id") == FOLLOW_UP_ACTIONS_BLOCK)
    ]


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def feedback_modal(transcript: Transcript, ticket_id: int) -> dict:
    """The feedback modal: a required rating of three, an optional comment (at most 2,000 characters)."""
    options = [
        {"text": _plain(transcript.text(key)), "value": rating.value}
        for rating, key in RATING_TEXT_KEYS.items()
    ]
    return {
        "type": "modal",
        "callback_id": FEEDBACK_MODAL,
        "private_metadata": str(ticket_id),
        "title": _plain(transcript.text("feedback_modal_title")),
        "submit": _plain(transcript.text("feedback_modal_submit")),
        "close": _plain(transcript.text("feedback_modal_close")),
        "blocks": [
            {
                "type": "input",
                "block_id": FEEDBACK_RATING_BLOCK,
                "label": _plain(transcript.text("feedback_rating_label")),
                "element": {"type": "radio_buttons", "action_id": FEEDBACK_RATING_INPUT, "options": options},
            },
            {
                "type": "input",
                "block_id": FEEDBACK_COMMENT_BLOCK,
                "optional": True,
                "label": _plain(transcript.text("feedback_comment_label")),
                "element": {
                    "type": "plain_text_input",
                    "action_id": FEEDBACK_COMMENT_INPUT,
                    "multiline": True,
                    "max_length": COMMENT_MAX_CHARS,
                    "placeholder": _plain(transcript.text("feedback_comment_placeholder")),
                },
            },
        ],
    }


def feedback_thanks_view(transcript: Transcript, rating: FeedbackRating) -> dict:
    """What the modal becomes once submitted; a NOT_GOOD rating also says the thread can be reopened."""
    key = "feedback_thanks_not_good" if rating is FeedbackRating.NOT_GOOD else "feedback_thanks"
    return {
        "type": "modal",
        "callback_id": FEEDBACK_MODAL,
        "title": _plain(transcript.text("feedback_modal_title")),
        "close": _plain(transcript.text("feedback_modal_close")),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": transcript.text(key)}}],
    }


def feedback_team_note(
    transcript: Transcript,
    ticket: TicketState,
    *,
    rating: FeedbackRating,
    comment: str | None,
    thread_link: str,
) -> str:
    """The team channel's note about feedback worth learning from: rating, comment, thread."""
    note = transcript.text(
        "feedback_team_note",
        user=mention(ticket.opened_by_slack_id),
        rating=transcript.text(RATING_TEXT_KEYS[rating]),
        closer=mention(ticket.closed_by_slack_id),
        thread_link=thread_link,
    )
    if comment:
        quoted = neutralise_mentions(comment).replace("\n", "\n>")
        note += "\n" + transcript.text("feedback_team_comment", comment=quoted)
    return note


def reopened(transcript: Transcript, ticket: TicketState, *, reopener: str) -> str:
    return transcript.text("reopened", user=mention(ticket.opened_by_slack_id), reopener=mention(reopener))


def sla_text(transcript: Transcript, view: ClockView | None) -> str | None:
    """The backend message's SLA line: the tightest running clock's time left (or that it is past its
    target), else a paused clock's time left; None when no clock of the ticket runs or is paused."""
    if view is None:
        return None
    clock = transcript.text(f"sla_clock_{CLOCK_NAMES[view.kind]}")
    if view.state == "breached":
        return transcript.text("sla_backend_breached", clock=clock)
    left = _support_time(view.minutes_left or 0.0)
    key = "sla_backend_paused" if view.state == "paused" else "sla_backend_due"
    return transcript.text(key, clock=clock, left=left)


def _support_time(minutes: float) -> str:
    """``12m``, ``3h 05m``, ``2d 4h`` (as the summary writes durations)."""
    total = max(0, round(minutes))
    if total < 60:
        return f"{total}m"
    hours, rest = divmod(total, 60)
    if hours < 48:
        return f"{hours}h {rest:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
