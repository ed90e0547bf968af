"""``?tag <name>…``: add team tags to the ticket (subscribers hear of it while it is open).

Names are separated by commas when there is one (``?tag Auth team, Billing``),
otherwise the whole text is tried as one name, then each word (``?tag auth billing``).
"""

from __future__ import annotations

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall
from nephthys.slack.tags import refresh_backend_message
from nephthys.tags import flows as tag_flows
from nephthys.tags import service


def candidate_names(args: str, known: list[str]) -> list[str]:
    if "," in args:
        return [part.strip() for part in args.split(",") if part.strip()]
    if args.strip().lower() in {name.lower() for name in known}:
        return [args.strip()]
    return args.split()


def listed(names) -> str:
    return ", ".join(f"*{name}*" for name in names) or "–"


async def run(call: MacroCall) -> None:
    ctx = call.ctx
    async with ctx.sessions() as session:
        all_tags = await service.list_tags(session)
        known = [tag.name for tag in all_tags]
        found, unknown = await service.tags_named(session, names=candidate_names(call.args, known))

    async def tell(text: str) -> None:
        await flows.tell(
            ctx, user=call.user, channel=ctx.channels.help, thread_ts=call.ticket.msg_ts, text=text
        )

    if not call.args.strip():
        await tell(ctx.transcript.text("tag_macro_usage", available=listed(known)))
        return
    if found:
        changed = await tag_flows.add_tags(
            ctx.sessions,
            ctx.client,
            ctx.transcript,
            ctx.settings,
            ticket_id=call.ticket.id,
            tag_ids=[tag.id for tag in found],
            by_slack_id=call.user,
        )
        if changed.changed:
            await refresh_backend_message(ctx, call.ticket.id)
        await tell(ctx.transcript.text("tag_macro_added", tags=listed(tag.name for tag in found)))
    if unknown:
        await tell(ctx.transcript.text("tag_macro_unknown", tags=listed(unknown), available=listed(known)))


MACRO = Macro(name="tag", run=run, runs_on_closed=True, summary="add team tags: `?tag <name>…`")
