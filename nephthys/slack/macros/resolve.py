"""``?resolve`` (``?close``): close the ticket, as the Resolve button does (a closed ticket stays as it is, silently)."""

from __future__ import annotations

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall, Who


async def run(call: MacroCall) -> None:
    await flows.resolve(call.ctx, ticket_id=call.ticket.id, resolver=call.user, at=call.at, msg_ts=call.ts)


MACRO = Macro(
    name="resolve",
    aliases=("close",),
    run=run,
    who=Who.ASKER_OR_HELPERS,
    # On a closed ticket it changes nothing and posts nothing, rather than complaining.
    runs_on_closed=True,
    summary="close the ticket",
)
