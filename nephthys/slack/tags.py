"""Slack surfaces for team tags and question tags: thin adapters (parse, authorise, call, reply).

- the backend message's team-tags multi-select and question-tag external select (with its options);
- the App Home "Team tags" section (``views.publish``): subscribe / unsubscribe, create buttons;
- the create modals (``views.open``), whose submission shows a bad name as an error in the modal.

Only helpers change tags; anyone else gets an ephemeral explanation and nothing changes.
Register everything with ``register_tag_listeners(app, ...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nephthys.config import Settings
from nephthys.database.models import User
from nephthys.slack import tag_blocks
from nephthys.tags import flows, service
from nephthys.tags.service import NameRejected
from nephthys.tickets import lifecycle
from nephthys.transcripts import Transcript

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]
# Re-render a ticket's backend message (it shows the ticket's tags); given by the Slack app.
RefreshBackend = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class TagSurfaces:
    """What the tag listeners need, handed over once by the Slack app."""

    sessions: Sessions
    slack: Any  # nephthys.slack.client.SlackClient: post_message, post_ephemeral, .web
    settings: Settings
    transcript: Transcript
    refresh_backend: RefreshBackend | None = None

    async def publish_home(self, user_id: str) -> None:
        """Publish the App Home "Team tags" view for ``user_id``."""
        await self.slack.web.views_publish(
            user_id=user_id, view={"type": "home", "blocks": await self.home_blocks(user_id)}
        )

    async def home_blocks(self, user_id: str) -> list[dict]:
        async with self.sessions() as session:
            tags = await service.list_tags(session)
            user_id_row = await session.scalar(_user_id_query(user_id))
            subscribed = (
                await service.subscribed_tag_ids(session, user_id=user_id_row)
                if user_id_row is not None
                else set()
            )
        is_helper = await lifecycle.is_helper(self.sessions, slack_id=user_id)
        return tag_blocks.team_tags_home_blocks(
            self.transcript, tags=tags, subscribed_ids=subscribed, is_helper=is_helper
        )

    async def refresh(self, ticket_id: int) -> None:
        if self.refresh_backend is None:
            return
        try:
            await self.refresh_backend(ticket_id)
        except Exception:  # the change is committed; a stale backend message is cosmetic
            log.exception("could not refresh the backend message of ticket %s", ticket_id)


def _user_id_query(slack_id: str):
    return select(User.id).where(User.slack_id == slack_id)


def _selected_ids(options: list[dict] | None) -> list[int]:
    return [int(o["value"]) for o in options or [] if str(o.get("value", "")).isdigit()]


async def _tell(surfaces: TagSurfaces, body: dict, user_id: str, text: str) -> None:
    """An ephemeral note in the channel the click came from."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if not channel:
        return
    try:
        await surfaces.slack.post_ephemeral(channel=channel, user=user_id, text=text)
    except Exception:
        log.exception("could not post an ephemeral note to %s", user_id)


def register_tag_listeners(app: AsyncApp, surfaces: TagSurfaces) -> None:
    """Attach every tag listener to the Bolt app."""
    transcript = surfaces.transcript

    @app.action(tag_blocks.TEAM_TAGS_SELECT)
    async def team_tags_selected(ack, body: dict, action: dict) -> None:
        await ack()
        user_id = body["user"]["id"]
        ticket_id = tag_blocks.ticket_id_from_block_id(action.get("block_id"))
        if ticket_id is None:
            return
        if not await lifecycle.is_helper(surfaces.sessions, slack_id=user_id):
            await _tell(surfaces, body, user_id, transcript.text("helpers_only", user=f"<@{user_id}>"))
            await surfaces.refresh(ticket_id)  # put the select back to the ticket's real tags
            return
        changed = await flows.set_tags(
            surfaces.sessions,
            surfaces.slack,
            transcript,
            surfaces.settings,
            ticket_id=ticket_id,
            tag_ids=_selected_ids(action.get("selected_options")),
            by_slack_id=user_id,
        )
        if changed.changed:
            await surfaces.refresh(ticket_id)

    @app.action(tag_blocks.QUESTION_TAG_SELECT)
    async def question_tag_selected(ack, body: dict, action: dict) -> None:
        await ack()
        user_id = body["user"]["id"]
        ticket_id = tag_blocks.ticket_id_from_block_id(action.get("block_id"))
        if ticket_id is None:
            return
        if not await lifecycle.is_helper(surfaces.sessions, slack_id=user_id):
            await _tell(surfaces, body, user_id, transcript.text("helpers_only", user=f"<@{user_id}>"))
            await surfaces.refresh(ticket_id)
            return
        selected = _selected_ids([action["selected_option"]] if action.get("selected_option") else [])
        async with surfaces.sessions.begin() as session:
            changed = await service.set_question_tag(
                session, ticket_id=ticket_id, question_tag_id=selected[0] if selected else None
            )
        if changed:
            await surfaces.refresh(ticket_id)

    @app.options(tag_blocks.QUESTION_TAG_SELECT)
    async def question_tag_options(ack, body: dict) -> None:
        async with surfaces.sessions() as session:
            options = await service.question_tag_options(session, typed=body.get("value") or "")
        await ack(options=[tag_blocks.option(tag) for tag in options])

    async def open_create_modal(ack, body: dict, *, question_tag: bool) -> None:
        await ack()
        user_id = body["user"]["id"]
        if not await lifecycle.is_helper(surfaces.sessions, slack_id=user_id):
            return  # the button is only shown to helpers; a stale Home shows nothing more
        await surfaces.slack.web.views_open(
            trigger_id=body["trigger_id"], view=tag_blocks.create_modal(transcript, question_tag=question_tag)
        )

    @app.action(tag_blocks.CREATE_TAG_BUTTON)
    async def create_tag_clicked(ack, body: dict) -> None:
        await open_create_modal(ack, body, question_tag=False)

    @app.action(tag_blocks.CREATE_QUESTION_TAG_BUTTON)
    async def create_question_tag_clicked(ack, body: dict) -> None:
        await open_create_modal(ack, body, question_tag=True)

    async def submit_name(ack, body: dict, view: dict, *, question_tag: bool) -> None:
        user_id = body["user"]["id"]
        values = (view.get("state") or {}).get("values") or {}
        name = ((values.get(tag_blocks.NAME_BLOCK) or {}).get(tag_blocks.NAME_INPUT) or {}).get("value")
        if not await lifecycle.is_helper(surfaces.sessions, slack_id=user_id):
            await ack(
                response_action="errors",
                errors={tag_blocks.NAME_BLOCK: transcript.text("helpers_only", user=f"<@{user_id}>")},
            )
            return
        async with surfaces.sessions.begin() as session:
            if question_tag:
                result = await service.create_question_tag(session, label=name)
            else:
                result = await service.create_tag(session, name=name)
        if isinstance(result, NameRejected):
            await ack(
                response_action="errors",
                errors={tag_blocks.NAME_BLOCK: tag_blocks.name_error(transcript, result)},
            )
            return
        await ack()
        if not question_tag:
            await surfaces.publish_home(user_id)

    @app.view(tag_blocks.CREATE_TAG_MODAL)
    async def create_tag_submitted(ack, body: dict, view: dict) -> None:
        await submit_name(ack, body, view, question_tag=False)

    @app.view(tag_blocks.CREATE_QUESTION_TAG_MODAL)
    async def create_question_tag_submitted(ack, body: dict, view: dict) -> None:
        await submit_name(ack, body, view, question_tag=True)

    async def change_subscription(ack, body: dict, action: dict, *, subscribe: bool) -> None:
        await ack()
        user_id = body["user"]["id"]
        value = str(action.get("value") or "")
        if not value.isdigit():
            return
        user_row = await lifecycle.upsert_user(surfaces.sessions, slack_id=user_id)
        async with surfaces.sessions.begin() as session:
            if subscribe:
                await service.subscribe(session, user_id=user_row, tag_id=int(value))
            else:
                await service.unsubscribe(session, user_id=user_row, tag_id=int(value))
        await surfaces.publish_home(user_id)

    @app.action(tag_blocks.SUBSCRIBE_BUTTON)
    async def subscribe_clicked(ack, body: dict, action: dict) -> None:
        await change_subscription(ack, body, action, subscribe=True)

    @app.action(tag_blocks.UNSUBSCRIBE_BUTTON)
    async def unsubscribe_clicked(ack, body: dict, action: dict) -> None:
        await change_subscription(ack, body, action, subscribe=False)
