"""``?thread``: not a question (a duplicate, chatter): remove the bot's messages and reactions, close quietly.

Works on closed tickets too, to clean up after one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from nephthys.slack import flows
from nephthys.slack.macros.base import Macro, MacroCall
from nephthys.tickets import lifecycle

log = logging.getLogger(__name__)


async def run(call: MacroCall) -> None:
    ctx = call.ctx
    change = await lifecycle.resolve_ticket(
        ctx.sessions,
        ticket_id=call.ticket.id,
        resolver_slack_id=call.user,
        credit_window=timedelta(hours=ctx.settings.resolve_credit_hours),
        at=call.at,
        msg_ts=call.ts,
    )
    if not (change.changed or change.outcome is lifecycle.Outcome.UNCHANGED):
        return  # gone, or (cannot happen for a helper) not allowed
    if change.changed:
        ctx.ticket_changed(change.found_ticket.assigned_to_slack_id)  # the App Home's live refresh
    async with ctx.ticket_locks.hold(call.ticket.id):
        # Every message the bot posted for the ticket: thread replies and the backend message.
        problems = await flows.remove_bot_messages(ctx, call.ticket.id)
        for reaction in (flows.OPEN_REACTION, flows.CLOSED_REACTION):
            try:
                await ctx.client.remove_reaction(
                    channel=ctx.channels.help, ts=call.ticket.msg_ts, name=reaction
                )
            except Exception as error:
                problems.append(f":{reaction}: not removed ({flows.describe(error)})")
    if problems:
        await ctx.alert(f":warning: `?thread` on ticket #{call.ticket.id}: " + "; ".join(problems))


MACRO = Macro(
    name="thread",
    run=run,
    runs_on_closed=True,
    summary="not a question: remove the bot's replies and reactions, close quietly",
)
