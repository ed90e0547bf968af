"""The "Question tags" view: how often each recurring question came up; helpers create, admins merge and delete."""

from __future__ import annotations

from collections.abc import Sequence

from nephthys.slack import tag_blocks
from nephthys.slack.home.common import (
    Page,
    View,
    button,
    count,
    header,
    mrkdwn_section,
    pager_blocks,
    plain,
    quoted,
)
from nephthys.slack.home.team_tags import admin_actions
from nephthys.stats.home import QuestionTagFigures
from nephthys.tags.service import MAX_NAME_LENGTH
from nephthys.transcripts import Transcript

PAGE_SIZE = 20
MERGE_BUTTON = "question_tag_merge"
DELETE_BUTTON = "question_tag_delete"
MERGE_MODAL = "question_tag_merge_modal"
MERGE_BLOCK = "merge_target"


def blocks(
    transcript: Transcript, tags: Sequence[QuestionTagFigures], *, helper: bool, admin: bool, page: Page
) -> list[dict]:
    shown: list[dict] = [header(transcript.text("app_home_question_tags_title"))]
    if helper or admin:
        create = button(
            transcript.text("app_home_create_question_tag_button"), tag_blocks.CREATE_QUESTION_TAG_BUTTON
        )
        shown.append({"type": "actions", "block_id": "question_tags_create", "elements": [create]})
    if not tags:
        return [*shown, mrkdwn_section(transcript.text("app_home_no_question_tags"))]
    for tag in tags[page.offset : page.offset + page.size]:
        text = transcript.text(
            "app_home_question_tag_row",
            label=quoted(tag.label, MAX_NAME_LENGTH),
            week=count(tag.week),
            month=count(tag.month),
            all_time=count(tag.all_time),
        )
        shown.append(mrkdwn_section(text, block_id=f"question_tag:{tag.id}"))
        if admin:
            merge = button(transcript.text("app_home_merge_button"), MERGE_BUTTON, value=str(tag.id))
            shown.append(
                admin_actions(
                    transcript,
                    block_id=f"question_tag_admin:{tag.id}",
                    edit=merge,
                    delete_action=DELETE_BUTTON,
                    value=str(tag.id),
                    name=tag.label,
                )
            )
    return [*shown, *pager_blocks(transcript, View.QUESTION_TAGS, page)]


def merge_modal(transcript: Transcript, *, source_id: int, label: str) -> dict:
    """The modal that folds question tag ``source_id`` into another, chosen from the tag options."""
    return {
        "type": "modal",
        "callback_id": MERGE_MODAL,
        "private_metadata": str(source_id),
        "title": plain(transcript.text("merge_question_tag_modal_title")),
        "submit": plain(transcript.text("merge_modal_submit")),
        "blocks": [
            {
                "type": "input",
                "block_id": MERGE_BLOCK,
                "label": plain(transcript.text("merge_modal_label", label=quoted(label, MAX_NAME_LENGTH))),
                # The question-tag select's own options endpoint answers this one too.
                "element": {
                    "type": "external_select",
                    "action_id": tag_blocks.QUESTION_TAG_SELECT,
                    "min_query_length": 0,
                    "placeholder": plain(transcript.text("backend_question_tag_placeholder")),
                },
            }
        ],
    }
