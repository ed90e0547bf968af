"""Redirect macros a program's transcript declares (``[[macros]]``): reply with the text, maybe resolve.

E.g. ``?shipping`` in Flavortown: "ask in #shipping". Built from the transcript, so
switching ``PROGRAM`` switches them; a built-in macro of the same name wins.
"""

from __future__ import annotations

import functools

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall
from nephthys.slack.macros.quiet import resolve_quietly
from nephthys.slack.messages import mention
from nephthys.transcripts import RedirectMacro, Transcript


def macro_for(declared: RedirectMacro) -> Macro:
    async def run(call: MacroCall) -> None:
        text = call.ctx.transcript.redirect_text(declared, user=mention(call.ticket.opened_by_slack_id))
        await flows.reply_in_thread(call.ctx, call.ticket, text)
        if declared.resolves:
            # The redirect is the last word: no second closing message.
            await resolve_quietly(
                call.ctx, ticket_id=call.ticket.id, resolver=call.user, at=call.at, msg_ts=call.ts
            )

    summary = "redirect the asker (declared by the program)" + (", then resolve" if declared.resolves else "")
    return Macro(name=declared.name, aliases=declared.aliases, run=run, summary=summary, speaks=True)


@functools.cache
def program_macros(transcript: Transcript) -> tuple[Macro, ...]:
    """The macros ``transcript`` declares, in its order."""
    return tuple(macro_for(declared) for declared in transcript.redirect_macros)
