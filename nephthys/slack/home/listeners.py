"""The App Home's Bolt wiring: parse the click, authorise it, call the lifecycle or the tag service, publish.

Every click is acknowledged first and its work runs after the ack (``after_ack``), like the
thread's Resolve button. Admin-only buttons are not shown to others; a forged one (a
payload built by hand) is refused here, nothing changes and the Home says why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.sla.policy import MAX_TARGET_MINUTES, MIN_TARGET_MINUTES, SlaTargets, TargetError, parse_target
from nephthys.slack import flows, memory, tag_blocks
from nephthys.slack.context import SlackContext
from nephthys.slack.home import question_tags, search, team_tags
from nephthys.slack.home.common import (
    PAGE_BUTTON,
    RESOLVE_BUTTON,
    RETRY_BUTTON,
    VIEW_BUTTON,
    View,
    parse_view_and_page,
    view_named,
)
from nephthys.slack.home.publisher import HomePublisher
from nephthys.slack.instants import slack_instant
from nephthys.slack.messages import mention
from nephthys.slack.payload_numbers import payload_id
from nephthys.slack.tags import AfterAck, is_admin
from nephthys.tags import service
from nephthys.tags.service import NameRejected
from nephthys.tickets import lifecycle

log = logging.getLogger(__name__)


def publisher(ctx: SlackContext) -> HomePublisher:
    if ctx.home is None:
        raise RuntimeError("the App Home publisher is not set up")
    return ctx.home


async def on_app_home_opened(ctx: SlackContext, event: dict) -> None:
    """The Events API listener for ``app_home_opened`` (the Home tab only, not Messages)."""
    if event.get("tab", "home") == "home" and isinstance(event.get("user"), str) and event["user"]:
        await publisher(ctx).opened(event["user"], event.get("view"))


def _clicked(body: dict) -> tuple[str, str]:
    """The clicker's id and the clicked element's value."""
    action = (body.get("actions") or [{}])[0]
    return body["user"]["id"], str(action.get("value") or "")


def _unreadable(ctx: SlackContext, user_id: str) -> str:
    """The Home's notice for a button whose value the app did not write."""
    return ctx.transcript.text("button_unreadable", user=mention(user_id))


# ---------------------------------------------------------------- navigation


async def view_clicked(ctx: SlackContext, body: dict) -> None:
    user_id, value = _clicked(body)
    home = publisher(ctx)
    home.saw_view(user_id, body.get("view"))
    view = view_named(value)
    if view is None:  # forged: no such view
        await home.show(user_id, notice=ctx.transcript.text("app_home_helpers_only"))
        return
    await home.show(user_id, view=view, page=1, remember=True)


async def page_clicked(ctx: SlackContext, body: dict) -> None:
    """Previous/next, and the error view's retry: ``"<view>:<page>"``."""
    user_id, value = _clicked(body)
    home = publisher(ctx)
    home.saw_view(user_id, body.get("view"))
    view, page = parse_view_and_page(value)
    await home.show(user_id, view=view, page=page)


async def resolve_clicked(ctx: SlackContext, body: dict) -> None:
    """Resolve on an assigned ticket: the lifecycle's resolve, as the thread's button does it."""
    user_id, value = _clicked(body)
    home = publisher(ctx)
    home.saw_view(user_id, body.get("view"))
    ticket_id = payload_id(value)
    if ticket_id is None:
        await home.show(user_id, notice=_unreadable(ctx, user_id))
        return
    action_ts = (body.get("actions") or [{}])[0].get("action_ts")  # read as _clicked reads the value
    change = await flows.resolve(ctx, ticket_id=ticket_id, resolver=user_id, at=slack_instant(action_ts))
    if not change.changed or change.found_ticket.assigned_to_slack_id != user_id:
        # Otherwise the live refresh republishes the assignee's Home (the clicker's).
        await home.show(user_id)


# ---------------------------------------------------------------- search


async def _may_search(ctx: SlackContext, user_id: str) -> bool:
    """Helpers (and admins, who see the helpers' desk) may search every ticket."""
    viewer = await lifecycle.viewer(
        ctx.sessions, slack_id=user_id, maintainer_id=ctx.settings.slack_maintainer_id
    )
    return viewer.helper or viewer.admin


async def search_clicked(ctx: SlackContext, body: dict) -> None:
    """The Home's Search button: the search modal, for helpers; others are told it is theirs only."""
    user_id, _ = _clicked(body)
    if not await _may_search(ctx, user_id):
        await publisher(ctx).show(user_id, notice=ctx.transcript.text("app_home_helpers_only"))
        return
    await ctx.client.web.views_open(trigger_id=body["trigger_id"], view=search.search_modal(ctx.transcript))


async def search_submitted(ctx: SlackContext, body: dict) -> dict:
    """The modal's answer: the modal again, with the best matches under the words."""
    user_id = body["user"]["id"]
    words = search.submitted_words(body)
    if not await _may_search(ctx, user_id):
        results = ctx.transcript.text("app_home_helpers_only")
    else:
        results = await memory.search_text(ctx, words)
    return search.search_modal(ctx.transcript, words=words, results=results)


# ---------------------------------------------------------------- admin: team tags and question tags


async def _admin_or_refuse(ctx: SlackContext, user_id: str, view: View) -> bool:
    if await is_admin(ctx, user_id):
        return True
    log.warning("%s is not an admin; an admin-only App Home action was refused", user_id)
    await publisher(ctx).show(user_id, view=view, notice=ctx.transcript.text("app_home_admins_only"))
    return False


async def rename_tag_clicked(ctx: SlackContext, body: dict) -> None:
    user_id, value = _clicked(body)
    if not await _admin_or_refuse(ctx, user_id, View.TEAM_TAGS):
        return
    tag_id = payload_id(value)
    async with ctx.sessions() as session:
        name = await service.tag_name(session, tag_id=tag_id) if tag_id is not None else None
    if tag_id is None or name is None:
        await publisher(ctx).show(user_id, view=View.TEAM_TAGS)
        return
    await ctx.client.web.views_open(
        trigger_id=body["trigger_id"], view=team_tags.rename_modal(ctx.transcript, tag_id=tag_id, name=name)
    )


async def sla_tag_clicked(ctx: SlackContext, body: dict) -> None:
    """An admin's SLA targets button on a team tag: the modal with the tag's targets."""
    user_id, value = _clicked(body)
    if not await _admin_or_refuse(ctx, user_id, View.TEAM_TAGS):
        return
    tag_id = payload_id(value)
    async with ctx.sessions() as session:
        name = await service.tag_name(session, tag_id=tag_id) if tag_id is not None else None
        targets = await service.tag_sla_targets(session, tag_id=tag_id) if tag_id is not None else None
    if tag_id is None or name is None or targets is None:
        await publisher(ctx).show(user_id, view=View.TEAM_TAGS)
        return
    await ctx.client.web.views_open(
        trigger_id=body["trigger_id"],
        view=team_tags.sla_modal(ctx.transcript, tag_id=tag_id, name=name, targets=targets),
    )


async def delete_tag_clicked(ctx: SlackContext, body: dict) -> None:
    await _delete_clicked(
        ctx, body, View.TEAM_TAGS, lambda session, tag_id: service.delete_tag(session, tag_id=tag_id)
    )


async def merge_question_tag_clicked(ctx: SlackContext, body: dict) -> None:
    user_id, value = _clicked(body)
    if not await _admin_or_refuse(ctx, user_id, View.QUESTION_TAGS):
        return
    tag_id = payload_id(value)
    async with ctx.sessions() as session:
        label = (
            await service.question_tag_label(session, question_tag_id=tag_id) if tag_id is not None else None
        )
    if tag_id is None or label is None:
        await publisher(ctx).show(user_id, view=View.QUESTION_TAGS)
        return
    await ctx.client.web.views_open(
        trigger_id=body["trigger_id"],
        view=question_tags.merge_modal(ctx.transcript, source_id=tag_id, label=label),
    )


async def delete_question_tag_clicked(ctx: SlackContext, body: dict) -> None:
    await _delete_clicked(
        ctx,
        body,
        View.QUESTION_TAGS,
        lambda session, tag_id: service.delete_question_tag(session, question_tag_id=tag_id),
    )


async def _delete_clicked(
    ctx: SlackContext, body: dict, view: View, delete: Callable[[AsyncSession, int], Awaitable[object]]
) -> None:
    """An admin's confirmed Delete of a tag (team or question): it goes, and the view shows again."""
    user_id, value = _clicked(body)
    if not await _admin_or_refuse(ctx, user_id, view):
        return
    tag_id = payload_id(value)
    if tag_id is None:
        await publisher(ctx).show(user_id, view=view, notice=_unreadable(ctx, user_id))
        return
    async with ctx.sessions.begin() as session:
        await delete(session, tag_id)
    await publisher(ctx).show(user_id, view=view)


def _submitted_values(body: dict) -> dict:
    return ((body.get("view") or {}).get("state") or {}).get("values") or {}


async def rename_submitted(ctx: SlackContext, body: dict) -> dict | None:
    """The rename modal: None when renamed (or the tag is gone), else the modal's ``errors``."""
    user_id = body["user"]["id"]
    if not await is_admin(ctx, user_id):
        return {tag_blocks.NAME_BLOCK: ctx.transcript.text("app_home_admins_only")}
    tag_id = payload_id(str((body.get("view") or {}).get("private_metadata") or ""))
    values = _submitted_values(body)
    name = ((values.get(tag_blocks.NAME_BLOCK) or {}).get(tag_blocks.NAME_INPUT) or {}).get("value")
    if tag_id is None:
        return None
    async with ctx.sessions.begin() as session:
        result = await service.rename_tag(session, tag_id=tag_id, name=name)
    if isinstance(result, NameRejected):
        return {tag_blocks.NAME_BLOCK: tag_blocks.name_error(ctx.transcript, result)}
    return None


async def sla_submitted(ctx: SlackContext, body: dict) -> dict | None:
    """The SLA targets modal: None when set (or the tag is gone), else the modal's ``errors``."""
    first_block = team_tags.SLA_INPUTS["first_response"][0]
    user_id = body["user"]["id"]
    if not await is_admin(ctx, user_id):
        return {first_block: ctx.transcript.text("app_home_admins_only")}
    tag_id = payload_id(str((body.get("view") or {}).get("private_metadata") or ""))
    if tag_id is None:
        return None
    values = _submitted_values(body)
    chosen: list[int | None] = []
    errors: dict[str, str] = {}
    for block_id, action_id in team_tags.SLA_INPUTS.values():
        raw = ((values.get(block_id) or {}).get(action_id) or {}).get("value")
        try:
            chosen.append(parse_target(raw if isinstance(raw, str) else None))
        except TargetError:
            errors[block_id] = ctx.transcript.text(
                "sla_modal_invalid", low=str(MIN_TARGET_MINUTES), high=str(MAX_TARGET_MINUTES)
            )
    if errors:
        return errors
    async with ctx.sessions.begin() as session:
        await service.set_tag_sla(session, tag_id=tag_id, targets=SlaTargets(*chosen))
    return None


async def merge_submitted(ctx: SlackContext, body: dict) -> dict | None:
    """The merge modal: None when merged (or a tag is gone), else the modal's ``errors``."""
    user_id = body["user"]["id"]
    if not await is_admin(ctx, user_id):
        return {question_tags.MERGE_BLOCK: ctx.transcript.text("app_home_admins_only")}
    source_id = payload_id(str((body.get("view") or {}).get("private_metadata") or ""))
    chosen = (_submitted_values(body).get(question_tags.MERGE_BLOCK) or {}).get(
        tag_blocks.QUESTION_TAG_SELECT
    ) or {}
    target_id = payload_id(str((chosen.get("selected_option") or {}).get("value") or ""))
    if source_id is None or target_id is None:
        return None
    if source_id == target_id:
        return {question_tags.MERGE_BLOCK: ctx.transcript.text("merge_modal_same_tag")}
    async with ctx.sessions.begin() as session:
        await service.merge_question_tags(session, source_id=source_id, target_id=target_id)
    return None


# ---------------------------------------------------------------- Bolt wiring


def register(app: AsyncApp, ctx: SlackContext, after_ack: AfterAck) -> None:
    """Attach the App Home's listeners to the Bolt app; ``after_ack(kind, work)`` runs a click's work."""

    def in_background(kind: str, work: Callable[[SlackContext, dict], Awaitable[None]]):
        async def listener(ack, body: dict) -> None:
            await ack()
            after_ack(kind, lambda: work(ctx, body))

        return listener

    app.action(re.compile(f"^{VIEW_BUTTON}:"))(in_background("An App Home view button", view_clicked))
    app.action(re.compile(f"^{PAGE_BUTTON}:"))(in_background("An App Home page button", page_clicked))
    app.action(RETRY_BUTTON)(in_background("An App Home retry button", page_clicked))
    app.action(RESOLVE_BUTTON)(in_background("An App Home Resolve click", resolve_clicked))
    app.action(search.SEARCH_BUTTON)(in_background("An App Home Search click", search_clicked))
    app.action(team_tags.RENAME_BUTTON)(in_background("A rename tag button", rename_tag_clicked))
    app.action(team_tags.DELETE_BUTTON)(in_background("A delete tag button", delete_tag_clicked))
    app.action(team_tags.SLA_BUTTON)(in_background("A tag's SLA targets button", sla_tag_clicked))
    app.action(question_tags.MERGE_BUTTON)(
        in_background("A merge question tag button", merge_question_tag_clicked)
    )
    app.action(question_tags.DELETE_BUTTON)(
        in_background("A delete question tag button", delete_question_tag_clicked)
    )

    def modal(
        submitted: Callable[[SlackContext, dict], Awaitable[dict | None]], view: View
    ) -> Callable[..., Awaitable[None]]:
        async def listener(ack, body: dict) -> None:
            errors = await submitted(ctx, body)
            if errors:
                await ack(response_action="errors", errors=errors)
                return
            await ack()
            user_id = body["user"]["id"]
            after_ack("An App Home refresh", lambda: publisher(ctx).show(user_id, view=view))

        return listener

    @app.view(search.SEARCH_MODAL)
    async def search_modal_submitted(ack, body: dict) -> None:
        # The search runs before the ack (tens of milliseconds): its results replace the modal.
        await ack(response_action="update", view=await search_submitted(ctx, body))

    app.view(team_tags.RENAME_MODAL)(modal(rename_submitted, View.TEAM_TAGS))
    app.view(team_tags.SLA_MODAL)(modal(sla_submitted, View.TEAM_TAGS))
    app.view(question_tags.MERGE_MODAL)(modal(merge_submitted, View.QUESTION_TAGS))
