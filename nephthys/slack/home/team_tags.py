"""The "Team tags" view: each tag with its subscribers; helpers subscribe, admins create, rename, delete.

Buttons a person may not use are not shown (the listeners refuse them anyway when forged).
"""

from __future__ import annotations

from collections.abc import Sequence

from nephthys.sla.policy import CLOCKS, MAX_TARGET_MINUTES, MIN_TARGET_MINUTES, SlaTargets
from nephthys.slack import tag_blocks
from nephthys.slack.home.common import (
    Page,
    View,
    button,
    header,
    mention,
    mrkdwn_section,
    pager_blocks,
    plain,
    quoted,
)
from nephthys.tags.service import MAX_NAME_LENGTH, TagWithSubscribers
from nephthys.transcripts import Transcript

# Two blocks a tag (its line, and an admin's buttons): 20 a page stays far inside 100 blocks.
PAGE_SIZE = 20
RENAME_BUTTON = "team_tag_rename"
DELETE_BUTTON = "team_tag_delete"
RENAME_MODAL = "team_tag_rename_modal"
SLA_BUTTON = "team_tag_sla"
SLA_MODAL = "team_tag_sla_modal"
# The SLA modal's inputs: one block and number input per clock (nephthys/sla/policy.py's names).
SLA_INPUTS = {clock: (f"sla_{clock}", f"sla_{clock}_input") for clock in CLOCKS}
SUBSCRIBERS_SHOWN = 15


def confirm(transcript: Transcript, name: str) -> dict:
    return {
        "title": plain(transcript.text("app_home_confirm_title")),
        "text": {"type": "mrkdwn", "text": transcript.text("app_home_delete_confirm", name=quoted(name, 75))},
        "confirm": plain(transcript.text("app_home_confirm_yes")),
        "deny": plain(transcript.text("app_home_confirm_no")),
        "style": "danger",
    }


def admin_actions(
    transcript: Transcript,
    *,
    block_id: str,
    edit: dict,
    delete_action: str,
    value: str,
    name: str,
    more: Sequence[dict] = (),
) -> dict:
    """An admin's row under a tag: ``edit`` (rename or merge), ``more``, then Delete behind a confirmation."""
    delete = button(transcript.text("app_home_delete_button"), delete_action, value=value, style="danger")
    delete["confirm"] = confirm(transcript, name)
    return {"type": "actions", "block_id": block_id, "elements": [edit, *more, delete]}


def _subscribers(transcript: Transcript, slack_ids: Sequence[str]) -> str:
    if not slack_ids:
        return transcript.text("app_home_tag_no_subscribers")
    shown = ", ".join(mention(slack_id) for slack_id in slack_ids[:SUBSCRIBERS_SHOWN])
    hidden = len(slack_ids) - SUBSCRIBERS_SHOWN
    return transcript.text("app_home_tag_subscribers", users=shown + (f" +{hidden}" if hidden > 0 else ""))


def blocks(
    transcript: Transcript,
    tags: Sequence[TagWithSubscribers],
    *,
    viewer_slack_id: str,
    helper: bool,
    admin: bool,
    page: Page,
) -> list[dict]:
    shown: list[dict] = [header(transcript.text("app_home_team_tags_title"))]
    if admin:
        create = button(
            transcript.text("app_home_create_tag_button"), tag_blocks.CREATE_TAG_BUTTON, style="primary"
        )
        shown.append({"type": "actions", "block_id": "team_tags_create", "elements": [create]})
    if not tags:
        return [*shown, mrkdwn_section(transcript.text("app_home_no_team_tags"))]
    for entry in tags[page.offset : page.offset + page.size]:
        tag, subscribers = entry.tag, entry.subscriber_slack_ids
        subscribed = viewer_slack_id in subscribers
        text = f"*{quoted(tag.name, MAX_NAME_LENGTH)}*" + ("  :bell:" if subscribed else "")
        text += "\n" + _subscribers(transcript, subscribers)
        if entry.sla.any:
            text += "\n" + transcript.text("app_home_tag_sla", targets=entry.sla.describe())
        accessory = None
        if helper:
            accessory = button(
                transcript.text("app_home_unsubscribe_button" if subscribed else "app_home_subscribe_button"),
                tag_blocks.UNSUBSCRIBE_BUTTON if subscribed else tag_blocks.SUBSCRIBE_BUTTON,
                value=str(tag.id),
            )
        shown.append(mrkdwn_section(text, block_id=f"team_tag:{tag.id}", accessory=accessory))
        if admin:
            rename = button(transcript.text("app_home_rename_button"), RENAME_BUTTON, value=str(tag.id))
            sla = button(transcript.text("app_home_tag_sla_button"), SLA_BUTTON, value=str(tag.id))
            shown.append(
                admin_actions(
                    transcript,
                    block_id=f"team_tag_admin:{tag.id}",
                    edit=rename,
                    delete_action=DELETE_BUTTON,
                    value=str(tag.id),
                    name=tag.name,
                    more=[sla],
                )
            )
    return [*shown, *pager_blocks(transcript, View.TEAM_TAGS, page)]


def rename_modal(transcript: Transcript, *, tag_id: int, name: str) -> dict:
    """The modal that renames team tag ``tag_id`` (its id rides in private_metadata)."""
    return {
        "type": "modal",
        "callback_id": RENAME_MODAL,
        "private_metadata": str(tag_id),
        "title": plain(transcript.text("rename_tag_modal_title")),
        "submit": plain(transcript.text("rename_modal_submit")),
        "blocks": [
            {
                "type": "input",
                "block_id": tag_blocks.NAME_BLOCK,
                "label": plain(transcript.text("modal_name_label")),
                "element": {
                    "type": "plain_text_input",
                    "action_id": tag_blocks.NAME_INPUT,
                    "max_length": MAX_NAME_LENGTH,
                    "initial_value": name,
                },
            }
        ],
    }


def sla_modal(transcript: Transcript, *, tag_id: int, name: str, targets: SlaTargets) -> dict:
    """The modal that sets team tag ``tag_id``'s own SLA targets (each optional; all empty: none)."""
    inputs = []
    for clock, target in zip(CLOCKS, targets.as_tuple(), strict=True):
        block_id, action_id = SLA_INPUTS[clock]
        element: dict = {
            "type": "number_input",
            "action_id": action_id,
            "is_decimal_allowed": False,
            "min_value": str(MIN_TARGET_MINUTES),
            "max_value": str(MAX_TARGET_MINUTES),
        }
        if target is not None:
            element["initial_value"] = str(target)
        inputs.append(
            {
                "type": "input",
                "block_id": block_id,
                "optional": True,
                "label": plain(transcript.text(f"sla_modal_{clock}_label")),
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": SLA_MODAL,
        "private_metadata": str(tag_id),
        "title": plain(transcript.text("sla_modal_title")),
        "submit": plain(transcript.text("rename_modal_submit")),
        "blocks": [
            mrkdwn_section(transcript.text("sla_modal_help", name=quoted(name, MAX_NAME_LENGTH))),
            *inputs,
        ],
    }
