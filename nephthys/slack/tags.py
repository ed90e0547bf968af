"""Slack surfaces for team tags and question tags: thin adapters (parse, authorise, call, reply).

- the backend message's team-tags multi-select and question-tag select, with their options;
- the App Home "Team tags" view (``views.publish``): subscribe / unsubscribe, create buttons;
- the create modals (``views.open``), whose submission shows a bad name as an error in the modal.

Only helpers change tags or create them; anyone else gets an ephemeral explanation and
nothing changes. ``register(app, ctx)`` attaches every listener to the Bolt app.
Clicks are acknowledged first and their work runs in the background (like the
Resolve button); options and modal submissions answer in the acknowledgement itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from sqlalchemy import select

from nephthys.database.models import User
from nephthys.slack import flows, messages, tag_blocks
from nephthys.slack.context import SlackContext
from nephthys.tags import flows as tag_flows
from nephthys.tags import service
from nephthys.tags.service import NameRejected
from nephthys.tickets import lifecycle

log = logging.getLogger(__name__)

# Runs an acknowledged click's work in the background (SlackService.after_ack).
AfterAck = Callable[[str, Callable[[], Awaitable[object]]], None]


# ---------------------------------------------------------------- rendering


async def refresh_backend_message(ctx: SlackContext, ticket_id: int) -> None:
    """Re-render the ticket's backend message with its current tags (a no-op once it is closed)."""
    await flows.refresh_backend_message(ctx, await lifecycle.ticket_by_id(ctx.sessions, ticket_id))


async def home_blocks(ctx: SlackContext, user_id: str) -> list[dict]:
    """The "Team tags" section of ``user_id``'s App Home."""
    async with ctx.sessions() as session:
        tags = await service.list_tags(session)
        user_row = await session.scalar(select(User.id).where(User.slack_id == user_id))
        subscribed = (
            await service.subscribed_tag_ids(session, user_id=user_row) if user_row is not None else set()
        )
    is_helper = await lifecycle.is_helper(ctx.sessions, slack_id=user_id)
    return tag_blocks.team_tags_home_blocks(
        ctx.transcript, tags=tags, subscribed_ids=subscribed, is_helper=is_helper
    )


async def publish_home(ctx: SlackContext, user_id: str) -> None:
    """Publish ``user_id``'s App Home (the Team tags view)."""
    await ctx.client.web.views_publish(
        user_id=user_id, view={"type": "home", "blocks": await home_blocks(ctx, user_id)}
    )


async def on_app_home_opened(ctx: SlackContext, event: dict) -> None:
    """The Events API listener for ``app_home_opened`` (Home tab only)."""
    if event.get("tab", "home") == "home" and event.get("user"):
        await publish_home(ctx, event["user"])


# ---------------------------------------------------------------- click handling (after the ack)


def _selected_ids(options: list[dict] | None) -> list[int]:
    return [int(o["value"]) for o in options or [] if str(o.get("value", "")).isdigit()]


def _click_channel(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


async def _refuse(ctx: SlackContext, body: dict, user_id: str, ticket_id: int) -> None:
    """Not a helper: say so privately and put the selects back to the ticket's real tags."""
    channel = _click_channel(body)
    if channel:
        await flows.tell(
            ctx,
            user=user_id,
            channel=channel,
            thread_ts=None,
            text=ctx.transcript.text("helpers_only", user=messages.mention(user_id)),
        )
    await refresh_backend_message(ctx, ticket_id)


async def team_tags_selected(ctx: SlackContext, body: dict) -> None:
    """The backend message's team-tags select changed: the ticket's tags become the selection."""
    action = body["actions"][0]
    user_id = body["user"]["id"]
    ticket_id = tag_blocks.ticket_id_from_block_id(action.get("block_id"))
    if ticket_id is None:
        return
    if not await lifecycle.is_helper(ctx.sessions, slack_id=user_id):
        await _refuse(ctx, body, user_id, ticket_id)
        return
    changed = await tag_flows.set_tags(
        ctx.sessions,
        ctx.client,
        ctx.transcript,
        ctx.settings,
        ticket_id=ticket_id,
        tag_ids=_selected_ids(action.get("selected_options")),
        by_slack_id=user_id,
    )
    if changed.changed:
        await refresh_backend_message(ctx, ticket_id)


async def question_tag_selected(ctx: SlackContext, body: dict) -> None:
    """The backend message's question-tag select changed (or was cleared)."""
    action = body["actions"][0]
    user_id = body["user"]["id"]
    ticket_id = tag_blocks.ticket_id_from_block_id(action.get("block_id"))
    if ticket_id is None:
        return
    if not await lifecycle.is_helper(ctx.sessions, slack_id=user_id):
        await _refuse(ctx, body, user_id, ticket_id)
        return
    selected = _selected_ids([action["selected_option"]] if action.get("selected_option") else [])
    async with ctx.sessions.begin() as session:
        changed = await service.set_question_tag(
            session, ticket_id=ticket_id, question_tag_id=selected[0] if selected else None
        )
    if changed:
        await refresh_backend_message(ctx, ticket_id)


async def create_clicked(ctx: SlackContext, body: dict, *, question_tag: bool) -> None:
    """An App Home create button: open the modal (helpers only; the Home shows it to them only)."""
    if not await lifecycle.is_helper(ctx.sessions, slack_id=body["user"]["id"]):
        return
    await ctx.client.web.views_open(
        trigger_id=body["trigger_id"], view=tag_blocks.create_modal(ctx.transcript, question_tag=question_tag)
    )


async def subscription_clicked(ctx: SlackContext, body: dict, *, subscribe: bool) -> None:
    user_id = body["user"]["id"]
    value = str(body["actions"][0].get("value") or "")
    if not value.isdigit():
        return
    user_row = await lifecycle.upsert_user(ctx.sessions, slack_id=user_id)
    async with ctx.sessions.begin() as session:
        if subscribe:
            await service.subscribe(session, user_id=user_row, tag_id=int(value))
        else:
            await service.unsubscribe(session, user_id=user_row, tag_id=int(value))
    await publish_home(ctx, user_id)


async def name_submitted(ctx: SlackContext, body: dict, *, question_tag: bool) -> dict | None:
    """A create modal was submitted: None when created, else the modal's ``errors``."""
    user_id = body["user"]["id"]
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    name = ((values.get(tag_blocks.NAME_BLOCK) or {}).get(tag_blocks.NAME_INPUT) or {}).get("value")
    if not await lifecycle.is_helper(ctx.sessions, slack_id=user_id):
        return {tag_blocks.NAME_BLOCK: ctx.transcript.text("helpers_only", user=messages.mention(user_id))}
    async with ctx.sessions.begin() as session:
        if question_tag:
            result = await service.create_question_tag(session, label=name)
        else:
            result = await service.create_tag(session, name=name)
    if isinstance(result, NameRejected):
        return {tag_blocks.NAME_BLOCK: tag_blocks.name_error(ctx.transcript, result)}
    return None


# ---------------------------------------------------------------- Bolt wiring


def register(app: AsyncApp, ctx: SlackContext, after_ack: AfterAck) -> None:
    """Attach every tag listener to the Bolt app; ``after_ack(kind, work)`` runs a click's work."""

    def in_background(kind: str, work: Callable[[dict], Awaitable[None]]):
        async def listener(ack, body: dict) -> None:
            await ack()
            after_ack(kind, lambda: work(body))

        return listener

    app.action(tag_blocks.TEAM_TAGS_SELECT)(
        in_background("A team tags select", lambda body: team_tags_selected(ctx, body))
    )
    app.action(tag_blocks.QUESTION_TAG_SELECT)(
        in_background("A question tag select", lambda body: question_tag_selected(ctx, body))
    )
    app.action(tag_blocks.CREATE_TAG_BUTTON)(
        in_background("A create tag button", lambda body: create_clicked(ctx, body, question_tag=False))
    )
    app.action(tag_blocks.CREATE_QUESTION_TAG_BUTTON)(
        in_background(
            "A create question tag button", lambda body: create_clicked(ctx, body, question_tag=True)
        )
    )
    app.action(tag_blocks.SUBSCRIBE_BUTTON)(
        in_background("A subscribe button", lambda body: subscription_clicked(ctx, body, subscribe=True))
    )
    app.action(tag_blocks.UNSUBSCRIBE_BUTTON)(
        in_background("An unsubscribe button", lambda body: subscription_clicked(ctx, body, subscribe=False))
    )

    @app.options(tag_blocks.TEAM_TAGS_SELECT)
    async def team_tag_options(ack, body: dict) -> None:
        async with ctx.sessions() as session:
            found = await service.tag_options(session, typed=body.get("value") or "")
        await ack(options=[tag_blocks.option(tag) for tag in found])

    @app.options(tag_blocks.QUESTION_TAG_SELECT)
    async def question_tag_options(ack, body: dict) -> None:
        async with ctx.sessions() as session:
            found = await service.question_tag_options(session, typed=body.get("value") or "")
        await ack(options=[tag_blocks.option(tag) for tag in found])

    async def submitted(ack, body: dict, *, question_tag: bool) -> None:
        errors = await name_submitted(ctx, body, question_tag=question_tag)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        after_ack("An App Home refresh", lambda: publish_home(ctx, body["user"]["id"]))

    @app.view(tag_blocks.CREATE_TAG_MODAL)
    async def create_tag_submitted(ack, body: dict) -> None:
        await submitted(ack, body, question_tag=False)

    @app.view(tag_blocks.CREATE_QUESTION_TAG_MODAL)
    async def create_question_tag_submitted(ack, body: dict) -> None:
        await submitted(ack, body, question_tag=True)
