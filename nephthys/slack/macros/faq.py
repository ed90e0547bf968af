"""``?faq``: reply with the program's FAQ link, then resolve without a second closing message."""

from __future__ import annotations

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall
from nephthys.slack.macros.quiet import resolve_quietly
from nephthys.slack.messages import mention


async def run(call: MacroCall) -> None:
    text = call.ctx.transcript.text("faq_macro", user=mention(call.ticket.opened_by_slack_id))
    await flows.reply_in_thread(call.ctx, call.ticket, text)
    await resolve_quietly(call.ctx, ticket_id=call.ticket.id, resolver=call.user, at=call.at, msg_ts=call.ts)


MACRO = Macro(name="faq", run=run, summary="point the asker to the FAQ and resolve", speaks=True)
