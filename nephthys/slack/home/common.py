"""What every App Home view shares: the view names, the header, paging and small formatters."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime

from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.payload_numbers import payload_number
from nephthys.transcripts import Transcript

# Slack refuses a view of more than 100 blocks.
MAX_BLOCKS = 100
# A page button's number beyond this is not one the Home wrote (a page is shown as 1).
MAX_PAGE = 999_999

# action_ids (a prefix and a colon where one block holds several buttons of a kind).
VIEW_BUTTON = "home_view"  # home_view:<view>
PAGE_BUTTON = "home_page"  # home_page:previous / home_page:next, value "<view>:<page>"
RETRY_BUTTON = "home_retry"  # value "<view>:<page>"
RESOLVE_BUTTON = "home_resolve"  # value: the ticket id
HEADER_BLOCK = "home_header"
NOTICE_BLOCK = "home_notice"


class View(enum.StrEnum):
    DASHBOARD = "dashboard"
    ASSIGNED = "assigned"
    TEAM_TAGS = "team_tags"
    QUESTION_TAGS = "question_tags"
    MY_STATS = "my_stats"
    MY_QUESTIONS = "my_questions"


HELPER_VIEWS = (View.DASHBOARD, View.ASSIGNED, View.TEAM_TAGS, View.QUESTION_TAGS, View.MY_STATS)
ASKER_VIEWS = (View.MY_QUESTIONS,)


def views_for(*, helper: bool, admin: bool) -> tuple[View, ...]:
    """The views a person may open: helpers' (and admins') desk, or an asker's own questions."""
    return HELPER_VIEWS if helper or admin else ASKER_VIEWS


def view_named(name: str | None) -> View | None:
    try:
        return View(name) if name else None
    except ValueError:
        return None


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn_section(text: str, *, block_id: str | None = None, accessory: dict | None = None) -> dict:
    block: dict = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def header(text: str) -> dict:
    return {"type": "header", "text": plain(text[:150])}


def button(text: str, action_id: str, *, value: str | None = None, style: str | None = None) -> dict:
    element: dict = {"type": "button", "action_id": action_id, "text": plain(text[:75])}
    if value is not None:
        element["value"] = value
    if style:
        element["style"] = style
    return element


VIEW_TEXT_KEYS = {
    View.DASHBOARD: "app_home_view_dashboard",
    View.ASSIGNED: "app_home_view_assigned",
    View.TEAM_TAGS: "app_home_view_team_tags",
    View.QUESTION_TAGS: "app_home_view_question_tags",
    View.MY_STATS: "app_home_view_my_stats",
    View.MY_QUESTIONS: "app_home_view_my_questions",
}


def header_blocks(
    transcript: Transcript,
    *,
    title: str,
    views: tuple[View, ...],
    current: View,
    notice: str | None = None,
    extra: dict | None = None,
) -> list[dict]:
    """The app's title and one button per view (the current one highlighted), ``extra`` (a helper's
    Search button) under them, then a notice."""
    buttons = [
        button(
            transcript.text(VIEW_TEXT_KEYS[view]),
            f"{VIEW_BUTTON}:{view.value}",
            value=view.value,
            style="primary" if view is current else None,
        )
        for view in views
    ]
    blocks = [header(title), {"type": "actions", "block_id": HEADER_BLOCK, "elements": buttons}]
    if extra is not None:
        blocks.append(extra)
    if notice:
        blocks.append({**context(notice), "block_id": NOTICE_BLOCK})
    blocks.append({"type": "divider"})
    return blocks


# ---------------------------------------------------------------- paging


@dataclass(frozen=True)
class Page:
    """Page ``number`` (1-based) of ``pages``, showing items ``[offset, offset + size)``."""

    number: int
    pages: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_of(requested: int, *, total: int, size: int) -> Page:
    """The requested page, kept within 1 and the last page (a forged number lands on a real page)."""
    pages = max(1, math.ceil(total / size))
    return Page(number=min(max(requested, 1), pages), pages=pages, size=size)


def pager_blocks(transcript: Transcript, view: View, page: Page) -> list[dict]:
    """ "Page n of m" with previous and next buttons; nothing when everything fits on one page."""
    if page.pages <= 1:
        return []
    buttons = []
    if page.number > 1:
        buttons.append(
            button(
                transcript.text("app_home_previous_button"),
                f"{PAGE_BUTTON}:previous",
                value=f"{view.value}:{page.number - 1}",
            )
        )
    if page.number < page.pages:
        buttons.append(
            button(
                transcript.text("app_home_next_button"),
                f"{PAGE_BUTTON}:next",
                value=f"{view.value}:{page.number + 1}",
            )
        )
    return [
        context(transcript.text("app_home_page", page=str(page.number), pages=str(page.pages))),
        {"type": "actions", "block_id": "home_pager", "elements": buttons},
    ]


def parse_view_and_page(value: str | None) -> tuple[View | None, int]:
    """``"<view>:<page>"`` from a button's value; an unknown view is None, a bad page is 1."""
    name, _, page = (value or "").partition(":")
    return view_named(name), payload_number(page, maximum=MAX_PAGE) or 1


# ---------------------------------------------------------------- formatting


def quoted(text: str, limit: int = 150) -> str:
    """Someone's words (a ticket's title) made safe to repeat: no pings, no broken link syntax."""
    cleaned = neutralise_mentions(" ".join(text.split()))
    cleaned = cleaned.replace("<", "‹").replace(">", "›").replace("|", "¦")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def mention(slack_id: str) -> str:
    return f"<@{slack_id}>"


def duration(minutes: float | None) -> str:
    """A span as people say it: 45m, 3h 20m, 2d 4h; "–" when there is none."""
    if minutes is None:
        return "–"
    total = max(0, round(minutes))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def age(since: datetime, now: datetime) -> str:
    return duration((now - since).total_seconds() / 60)


def change(current: int, before: int) -> str:
    """The change against the window before: +3, −2, ±0."""
    delta = current - before
    if delta > 0:
        return f"+{delta}"
    if delta < 0:
        return f"−{-delta}"
    return "±0"


def count(number: int) -> str:
    return f"{number:,}"
