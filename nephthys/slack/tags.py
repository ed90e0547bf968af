"""Slack surfaces for team tags and question tags: thin adapters (parse, authorise, call, reply).

- the backend message's team-tags multi-select and question-tag select, with their options;
- the App Home's subscribe / unsubscribe and create buttons (the views are nephthys/slack/home);
- the create modals (``views.open``), whose submission shows a bad name as an error in the modal.

Only helpers change a ticket's tags, subscribe, or create question tags; only admins create
team tags. Anyone else is told so (an ephemeral, a notice on their Home, an error in the
modal) and nothing changes. ``register(app, ctx)`` attaches every listener to the Bolt app.
Clicks are acknowledged first and their work runs in the background (like the
Resolve button); options and modal submissions answer in the acknowledgement itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp

from nephthys.slack import flows, messages, tag_blocks
from nephthys.slack.context import SlackContext
from nephthys.slack.instants import slack_instant
from nephthys.slack.payload_numbers import payload_id
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


async def publish_home(ctx: SlackContext, user_id: str, *, notice: str | None = None) -> None:
    """Publish ``user_id``'s App Home (the view they are on; see nephthys/slack/home)."""
    if ctx.home is not None:
        await ctx.home.show(user_id, notice=notice)


async def is_admin(ctx: SlackContext, user_id: str) -> bool:
    """``User.admin``, or the maintainer (SLACK_MAINTAINER_ID)."""
    viewer = await lifecycle.viewer(
        ctx.sessions, slack_id=user_id, maintainer_id=ctx.settings.slack_maintainer_id
    )
    return viewer.admin


# ---------------------------------------------------------------- click handling (after the ack)


def _selected_ids(options: object) -> list[int] | None:
    """The selected options' tag ids; None when any value is not an id the app wrote."""
    if not isinstance(options, list):
        return None if options is not None else []
    ids = [payload_id(o.get("value")) if isinstance(o, dict) else None for o in options]
    return None if None in ids else ids  # type: ignore[return-value]  # no None left


def _click_channel(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


async def _refuse(
    ctx: SlackContext, body: dict, user_id: str, ticket_id: int | None, *, key: str = "helpers_only"
) -> None:
    """Not a helper (or a value the app did not write): say so privately and put the selects
    back to the ticket's real tags."""
    channel = _click_channel(body)
    if channel:
        await flows.tell(
            ctx,
            user=user_id,
            channel=channel,
            thread_ts=None,
            text=ctx.transcript.text(key, user=messages.mention(user_id)),
        )
    if ticket_id is not None:
        await refresh_backend_message(ctx, ticket_id)


async def team_tags_selected(ctx: SlackContext, body: dict) -> None:
    """The backend message's team-tags select changed: the ticket's tags become the selection."""
    action = body["actions"][0]
    user_id = body["user"]["id"]
    ticket_id = tag_blocks.ticket_id_from_block_id(action.get("block_id"))
    tag_ids = _selected_ids(action.get("selected_options"))
    if ticket_id is None or tag_ids is None:
        await _refuse(ctx, body, user_id, ticket_id, key="button_unreadable")
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
        tag_ids=tag_ids,
        by_slack_id=user_id,
        at=slack_instant(action.get("action_ts")),
    )
    if changed.changed:
        await refresh_backend_message(ctx, ticket_id)


async def question_tag_selected(ctx: SlackContext, body: dict) -> None:
    """The backend message's question-tag select changed (or was cleared)."""
    action = body["actions"][0]
    user_id = body["user"]["id"]
    ticket_id = tag_blocks.ticket_id_from_block_id(action.get("block_id"))
    selected = _selected_ids([action["selected_option"]] if action.get("selected_option") else [])
    if ticket_id is None or selected is None:
        await _refuse(ctx, body, user_id, ticket_id, key="button_unreadable")
        return
    if not await lifecycle.is_helper(ctx.sessions, slack_id=user_id):
        await _refuse(ctx, body, user_id, ticket_id)
        return
    changed = await lifecycle.set_question_tag(
        ctx.sessions, ticket_id=ticket_id, question_tag_id=selected[0] if selected else None
    )
    if changed:
        await refresh_backend_message(ctx, ticket_id)


async def may_create(ctx: SlackContext, user_id: str, *, question_tag: bool) -> bool:
    """Helpers (and admins) create question tags; team tags are for admins."""
    if await is_admin(ctx, user_id):
        return True
    return question_tag and await lifecycle.is_helper(ctx.sessions, slack_id=user_id)


def refusal(ctx: SlackContext, *, question_tag: bool) -> str:
    return ctx.transcript.text("app_home_helpers_only" if question_tag else "app_home_admins_only")


async def create_clicked(ctx: SlackContext, body: dict, *, question_tag: bool) -> None:
    """An App Home create button: open the modal (the Home shows it only to those who may create)."""
    user_id = body["user"]["id"]
    if not await may_create(ctx, user_id, question_tag=question_tag):
        await publish_home(ctx, user_id, notice=refusal(ctx, question_tag=question_tag))
        return
    await ctx.client.web.views_open(
        trigger_id=body["trigger_id"], view=tag_blocks.create_modal(ctx.transcript, question_tag=question_tag)
    )


async def subscription_clicked(ctx: SlackContext, body: dict, *, subscribe: bool) -> None:
    user_id = body["user"]["id"]
    tag_id = payload_id(body["actions"][0].get("value"))
    if tag_id is None:
        await publish_home(
            ctx, user_id, notice=ctx.transcript.text("button_unreadable", user=messages.mention(user_id))
        )
        return
    # Team tags are for the support team (the existing Nephthys' maintainers' rule).
    if not await lifecycle.is_helper(ctx.sessions, slack_id=user_id):
        await publish_home(ctx, user_id, notice=ctx.transcript.text("app_home_helpers_only"))
        return
    user_row = await lifecycle.upsert_user(ctx.sessions, slack_id=user_id)
    async with ctx.sessions.begin() as session:
        if subscribe:
            await service.subscribe(session, user_id=user_row, tag_id=tag_id)
        else:
            await service.unsubscribe(session, user_id=user_row, tag_id=tag_id)
    await publish_home(ctx, user_id)


async def name_submitted(ctx: SlackContext, body: dict, *, question_tag: bool) -> dict | None:
    """A create modal was submitted: None when created, else the modal's ``errors``."""
    user_id = body["user"]["id"]
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    name = ((values.get(tag_blocks.NAME_BLOCK) or {}).get(tag_blocks.NAME_INPUT) or {}).get("value")
    if not await may_create(ctx, user_id, question_tag=question_tag):
        return {tag_blocks.NAME_BLOCK: refusal(ctx, question_tag=question_tag)}
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
