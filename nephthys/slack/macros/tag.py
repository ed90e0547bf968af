"""``?tag <name>…``: add team tags to the ticket (subscribers hear of it while it is open);
``?tag -<name>`` takes one off.

Names are separated by commas when there is one (``?tag Auth team, -Billing``),
otherwise the whole text is tried as one name, then each word (``?tag auth billing``).
"""

from __future__ import annotations

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall
from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.tags import refresh_backend_message
from nephthys.tags import flows as tag_flows
from nephthys.tags import service


def requested_names(args: str, known: list[str]) -> tuple[list[str], list[str]]:
    """(names to add, names to remove) in ``args``."""
    text = args.strip()
    if "," in text:
        parts = [part.strip() for part in text.split(",")]
    elif text.lstrip("-").strip().lower() in {name.lower() for name in known}:
        parts = [text]
    else:
        parts = text.split()
    add: list[str] = []
    remove: list[str] = []
    for part in parts:
        name = part.lstrip("-").strip()
        if name:
            (remove if part.startswith("-") else add).append(name)
    return add, remove


def listed(names) -> str:
    # Tag names, and the unknown ones as typed: someone's words, which must ping no one.
    return ", ".join(f"*{neutralise_mentions(name)}*" for name in names) or "–"


async def run(call: MacroCall) -> None:
    ctx = call.ctx
    async with ctx.sessions() as session:
        known = [tag.name for tag in await service.list_tags(session)]
        to_add, to_remove = requested_names(call.args, known)
        adding, unknown_add = await service.tags_named(session, names=to_add)
        removing, unknown_remove = await service.tags_named(session, names=to_remove)

    async def tell(text: str) -> None:
        await flows.tell(
            ctx, user=call.user, channel=ctx.channels.help, thread_ts=call.ticket.msg_ts, text=text
        )

    if not to_add and not to_remove:
        await tell(ctx.transcript.text("tag_macro_usage", available=listed(known)))
        return
    changed = False
    if adding:
        added = await tag_flows.add_tags(
            ctx.sessions,
            ctx.client,
            ctx.transcript,
            ctx.settings,
            ticket_id=call.ticket.id,
            tag_ids=[tag.id for tag in adding],
            by_slack_id=call.user,
            at=call.at,
        )
        changed = changed or added.changed
        await tell(ctx.transcript.text("tag_macro_added", tags=listed(tag.name for tag in adding)))
    if removing:
        async with ctx.sessions.begin() as session:
            removed = await service.remove_tags_from_ticket(
                session,
                ticket_id=call.ticket.id,
                tag_ids=[tag.id for tag in removing],
                removed_by_slack_id=call.user,
                at=call.at,
            )
        changed = changed or removed.changed
        await tell(ctx.transcript.text("tag_macro_removed", tags=listed(tag.name for tag in removing)))
    unknown = [*unknown_add, *(f"-{name}" for name in unknown_remove)]
    if unknown:
        await tell(ctx.transcript.text("tag_macro_unknown", tags=listed(unknown), available=listed(known)))
    if changed:
        await refresh_backend_message(ctx, call.ticket.id)


MACRO = Macro(
    name="tag",
    run=run,
    runs_on_closed=True,
    summary="add team tags: `?tag <name>…`; `?tag -<name>` takes one off",
)
