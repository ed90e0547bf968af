"""Block Kit for team tags and question tags: the backend message's selects, the App Home
"Team tags" section and the create modals. Pure functions of what they show; texts from the transcript.
"""

from __future__ import annotations

from collections.abc import Sequence

from nephthys.database import raw
from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.payload_numbers import payload_id
from nephthys.tags import service
from nephthys.tags.service import MAX_NAME_LENGTH, MAX_OPTIONS, NameProblem, NameRejected, TagView
from nephthys.transcripts import Transcript

# action_ids and callback_ids the listeners in nephthys/slack/tags.py answer.
TEAM_TAGS_SELECT = "ticket_team_tags"
QUESTION_TAG_SELECT = "ticket_question_tag"
TICKET_TAGS_BLOCK = "ticket_tags"  # block_id prefix; the ticket id follows a colon
CREATE_TAG_BUTTON = "team_tag_create"
CREATE_QUESTION_TAG_BUTTON = "question_tag_create"
SUBSCRIBE_BUTTON = "team_tag_subscribe"
UNSUBSCRIBE_BUTTON = "team_tag_unsubscribe"
CREATE_TAG_MODAL = "team_tag_create_modal"
CREATE_QUESTION_TAG_MODAL = "question_tag_create_modal"
NAME_BLOCK = "name"
NAME_INPUT = "name_input"


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def option(tag: TagView) -> dict:
    """A select option for a tag: its name (within Slack's 75 characters) and its id as value."""
    return {"text": _plain(tag.name[:MAX_NAME_LENGTH]), "value": str(tag.id)}


def ticket_tags_block_id(ticket_id: int) -> str:
    return f"{TICKET_TAGS_BLOCK}:{ticket_id}"


def ticket_id_from_block_id(block_id: str | None) -> int | None:
    prefix, _, rest = (block_id or "").partition(":")
    return payload_id(rest) if prefix == TICKET_TAGS_BLOCK else None


def backend_tag_blocks(
    transcript: Transcript,
    *,
    ticket_id: int,
    ticket_tags: Sequence[TagView] = (),
    question_tag: TagView | None = None,
    question_tag_automatic: bool = False,
) -> list[dict]:
    """The backend message's tag controls: team tags and the question tag, both answered by the
    options endpoint (filtered by what the helper types, no limit on how many tags exist).
    A question tag the AI endpoint chose is also named above them, "(chosen automatically)".
    """
    team_select: dict = {
        "type": "multi_external_select",
        "action_id": TEAM_TAGS_SELECT,
        "placeholder": _plain(transcript.text("backend_team_tags_placeholder")),
        "min_query_length": 0,
    }
    if ticket_tags:
        team_select["initial_options"] = [option(tag) for tag in ticket_tags][:MAX_OPTIONS]
    question_select: dict = {
        "type": "external_select",
        "action_id": QUESTION_TAG_SELECT,
        "placeholder": _plain(transcript.text("backend_question_tag_placeholder")),
        "min_query_length": 0,
    }
    if question_tag is not None:
        question_select["initial_option"] = option(question_tag)
    blocks: list[dict] = []
    if ticket_tags:
        names = ", ".join(f"*{neutralise_mentions(tag.name)}*" for tag in ticket_tags)
        label = transcript.text("backend_team_tags_label")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{label}: {names}"}]})
    if question_tag is not None and question_tag_automatic:
        label = transcript.text("backend_question_tag_label")
        mark = transcript.text("backend_question_tag_automatic")
        shown = f"{label}: *{neutralise_mentions(question_tag.name)}* {mark}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": shown}]})
    blocks.append(
        {
            "type": "actions",
            "block_id": ticket_tags_block_id(ticket_id),
            "elements": [team_select, question_select],
        }
    )
    return blocks


async def backend_tag_blocks_for_ticket(
    session: raw.Executor, transcript: Transcript, *, ticket_id: int
) -> list[dict]:
    """``backend_tag_blocks`` with the ticket's current tags read from the database."""
    question_tag, automatic = await service.question_tag_and_mark(session, ticket_id=ticket_id)
    return backend_tag_blocks(
        transcript,
        ticket_id=ticket_id,
        ticket_tags=await service.tags_on_ticket(session, ticket_id=ticket_id),
        question_tag=question_tag,
        question_tag_automatic=automatic,
    )


def create_modal(transcript: Transcript, *, question_tag: bool) -> dict:
    """The modal that creates a team tag (or a question tag)."""
    return {
        "type": "modal",
        "callback_id": CREATE_QUESTION_TAG_MODAL if question_tag else CREATE_TAG_MODAL,
        "title": _plain(
            transcript.text("create_question_tag_modal_title" if question_tag else "create_tag_modal_title")
        ),
        "submit": _plain(transcript.text("modal_submit")),
        "blocks": [
            {
                "type": "input",
                "block_id": NAME_BLOCK,
                "label": _plain(transcript.text("modal_name_label")),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NAME_INPUT,
                    "max_length": MAX_NAME_LENGTH,
                },
            }
        ],
    }


def name_error(transcript: Transcript, rejected: NameRejected) -> str:
    """The modal's error text for a rejected name."""
    if rejected.problem is NameProblem.EMPTY:
        return transcript.text("tag_name_empty")
    if rejected.problem is NameProblem.TOO_LONG:
        return transcript.text("tag_name_too_long", max_length=str(rejected.max_length))
    return transcript.text("tag_name_taken", name=rejected.name)
