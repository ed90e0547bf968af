"""The "Assigned to me" view: a helper's open and in-progress tickets, a page at a time: those
waiting on them first, then the others, the longest wait first within each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from nephthys.database.models import UserType, WaitingOn
from nephthys.slack.home.common import (
    RESOLVE_BUTTON,
    Page,
    View,
    age,
    button,
    context,
    count,
    header,
    mention,
    mrkdwn_section,
    pager_blocks,
    quoted,
)
from nephthys.tickets.lifecycle import AssignedTicket
from nephthys.transcripts import Transcript

# Two blocks a ticket: 15 a page keeps a view (with its header and pager) far inside 100 blocks.
PAGE_SIZE = 15

LAST_SPOKE_KEYS = {
    UserType.AUTHOR: "app_home_last_spoke_asker",
    UserType.HELPER: "app_home_last_spoke_helper",
    UserType.OTHER: "app_home_last_spoke_other",
}
# Whom the ticket waits on decides its line, as it decides its place in the list: others'
# messages change nothing, and a helper's macro answers the asker.
WAITING_KEYS = {
    WaitingOn.HELPERS: LAST_SPOKE_KEYS[UserType.AUTHOR],
    WaitingOn.ASKER: LAST_SPOKE_KEYS[UserType.HELPER],
}


def last_spoke_key(ticket: AssignedTicket) -> str:
    if ticket.waiting_on is not None:
        return WAITING_KEYS[ticket.waiting_on]
    return LAST_SPOKE_KEYS[ticket.last_msg_by or UserType.AUTHOR]  # a ticket from before the timeline


def ticket_blocks(
    transcript: Transcript, ticket: AssignedTicket, *, now: datetime, thread_link: Callable[[str], str]
) -> list[dict]:
    text = transcript.text(
        "app_home_assigned_ticket",
        link=thread_link(ticket.msg_ts),
        title=quoted(ticket.title),
        asker=mention(ticket.asker_slack_id),
        age=age(ticket.created_at, now),
        last_spoke=transcript.text(last_spoke_key(ticket)),
    )
    resolve = button(transcript.text("resolve_button"), RESOLVE_BUTTON, value=str(ticket.id), style="primary")
    blocks = [mrkdwn_section(text, block_id=f"assigned:{ticket.id}", accessory=resolve)]
    if ticket.tags:
        tags = ", ".join(f"*{quoted(tag, 75)}*" for tag in ticket.tags)
        blocks.append(context(transcript.text("app_home_assigned_tags", tags=tags)))
    return blocks


def blocks(
    transcript: Transcript,
    tickets: list[AssignedTicket],
    *,
    total: int,
    page: Page,
    now: datetime,
    thread_link: Callable[[str], str],
) -> list[dict]:
    shown = [header(transcript.text("app_home_assigned_title", count=count(total)))]
    if not tickets:
        return [*shown, mrkdwn_section(transcript.text("app_home_assigned_empty"))]
    for ticket in tickets:
        shown += ticket_blocks(transcript, ticket, now=now, thread_link=thread_link)
    return [*shown, *pager_blocks(transcript, View.ASSIGNED, page)]
