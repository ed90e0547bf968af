"""``?search WORDS``: the helper alone sees the best matches among all tickets (ephemeral)."""

from __future__ import annotations

from nephthys.slack import flows, memory
from nephthys.slack.macros.base import Macro, MacroCall


async def run(call: MacroCall) -> None:
    ctx = call.ctx
    text = await memory.search_text(ctx, call.args)
    await flows.tell(ctx, user=call.user, channel=ctx.channels.help, thread_ts=call.ticket.msg_ts, text=text)


MACRO = Macro(
    name="search",
    run=run,
    runs_on_closed=True,
    summary="only you see the 5 tickets that best match `?search <words>`, linked, with their status",
)
