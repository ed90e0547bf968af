"""``?hii``: a friendly hello to the asker from the helper."""

from __future__ import annotations

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall
from nephthys.slack.messages import mention


async def run(call: MacroCall) -> None:
    text = call.ctx.transcript.text(
        "hii_macro", user=mention(call.ticket.opened_by_slack_id), helper=mention(call.user)
    )
    await flows.reply_in_thread(call.ctx, call.ticket, text)


MACRO = Macro(name="hii", run=run, summary="say hello to the asker", speaks=True)
