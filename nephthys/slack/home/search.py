"""The App Home's Search button and its modal: a helper types words, the modal shows the best
matches among all tickets (nephthys/memory), linked, with their status, and stays open for the
next search. Only the helper who searched sees them."""

from __future__ import annotations

from nephthys.slack.home.common import button, mrkdwn_section, plain
from nephthys.transcripts import Transcript

SEARCH_BUTTON = "home_search"
SEARCH_BLOCK = "home_search"
SEARCH_MODAL = "home_search_modal"
WORDS_BLOCK = "search_words"
WORDS_INPUT = "words"
RESULTS_BLOCK = "search_results"
WORDS_MAX_CHARS = 200


def search_actions(transcript: Transcript) -> dict:
    """The Home's Search button, in its own actions block under the view buttons."""
    return {
        "type": "actions",
        "block_id": SEARCH_BLOCK,
        "elements": [button(transcript.text("app_home_search_button"), SEARCH_BUTTON)],
    }


def search_modal(transcript: Transcript, *, words: str = "", results: str | None = None) -> dict:
    """The modal: the words input (kept as typed) and, after a search, its results."""
    words_input: dict = {
        "type": "plain_text_input",
        "action_id": WORDS_INPUT,
        "max_length": WORDS_MAX_CHARS,
    }
    if words:
        words_input["initial_value"] = words[:WORDS_MAX_CHARS]
    blocks: list[dict] = [
        {
            "type": "input",
            "block_id": WORDS_BLOCK,
            "label": plain(transcript.text("search_modal_label")),
            "element": words_input,
        }
    ]
    if results is not None:
        blocks.append(mrkdwn_section(results[:3000], block_id=RESULTS_BLOCK))
    return {
        "type": "modal",
        "callback_id": SEARCH_MODAL,
        "title": plain(transcript.text("search_modal_title")),
        "submit": plain(transcript.text("search_modal_submit")),
        "blocks": blocks,
    }


def submitted_words(body: dict) -> str:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    value = ((values.get(WORDS_BLOCK) or {}).get(WORDS_INPUT) or {}).get("value")
    return value[:WORDS_MAX_CHARS] if isinstance(value, str) else ""
