"""``?reopen`` (``?unresolve``, ``?open``): reopen a closed ticket."""

from __future__ import annotations

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall, Who


async def run(call: MacroCall) -> None:
    await flows.reopen(call.ctx, ticket_id=call.ticket.id, reopener=call.user, at=call.at, msg_ts=call.ts)


MACRO = Macro(
    name="reopen",
    aliases=("unresolve", "open"),
    run=run,
    who=Who.ASKER_OR_HELPERS,
    runs_on_closed=True,
    summary="reopen a closed ticket",
)
