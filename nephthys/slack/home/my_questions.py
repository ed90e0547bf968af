"""The "My questions" view: an asker's latest tickets, newest first, and how to ask."""

from __future__ import annotations

from collections.abc import Callable

from nephthys.database.models import TicketStatus
from nephthys.slack.home.common import context, header, mention, mrkdwn_section, quoted
from nephthys.tickets.lifecycle import AskedTicket
from nephthys.transcripts import Transcript

SHOWN = 20

STATUS_KEYS = {
    TicketStatus.OPEN: "app_home_status_open",
    TicketStatus.IN_PROGRESS: "app_home_status_in_progress",
    TicketStatus.CLOSED: "app_home_status_closed",
}


def blocks(
    transcript: Transcript,
    tickets: list[AskedTicket],
    *,
    help_channel: str,
    thread_link: Callable[[str], str],
) -> list[dict]:
    shown = [
        header(transcript.text("app_home_my_questions_title")),
        context(transcript.text("app_home_how_to_ask", channel=help_channel)),
    ]
    if not tickets:
        return [*shown, mrkdwn_section(transcript.text("app_home_my_questions_empty", channel=help_channel))]
    for ticket in tickets[:SHOWN]:
        text = transcript.text(
            "app_home_my_question_row",
            link=thread_link(ticket.msg_ts),
            title=quoted(ticket.title),
            status=transcript.text(STATUS_KEYS[ticket.status]),
            helper=(
                mention(ticket.helper_slack_id)
                if ticket.helper_slack_id
                else transcript.text("app_home_nobody_yet")
            ),
        )
        shown.append(mrkdwn_section(text, block_id=f"asked:{ticket.id}"))
        if ticket.status is TicketStatus.CLOSED:
            shown.append(context(transcript.text("app_home_reopen_hint")))
    return shown
