"""The repair job: finish tickets whose Slack side a failure left unfinished.

An open ticket lacking its backend message or thread reply (and so, by the order
of the steps, maybe its reaction) gets them; a closed ticket whose backend message
is still posted has it removed. Tickets younger than ``grace`` are left to the
worker that is still handling them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from nephthys.slack import flows
from nephthys.slack.context import SlackContext
from nephthys.tickets import lifecycle

log = logging.getLogger(__name__)

REPAIR_GRACE = timedelta(seconds=60)
REPAIR_HORIZON = timedelta(days=7)


@dataclass
class RepairReport:
    finished: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    backend_removed: list[int] = field(default_factory=list)


async def repair_tickets(ctx: SlackContext, *, grace: timedelta = REPAIR_GRACE) -> RepairReport:
    now = ctx.clock()
    unfinished, stale_backend = await lifecycle.tickets_needing_repair(
        ctx.sessions,
        help_channel=ctx.channels.help,
        ticket_channel=ctx.channels.tickets,
        older_than=now - grace,
        newer_than=now - REPAIR_HORIZON,
    )
    report = RepairReport()
    for ticket_id in unfinished:
        try:
            await flows.finish_ticket(ctx, ticket_id)
        except Exception as error:
            log.warning("repair of ticket #%s failed: %s", ticket_id, flows.describe(error))
            report.failed.append(ticket_id)
        else:
            log.info("repaired ticket #%s", ticket_id)
            report.finished.append(ticket_id)
    for ticket_id in stale_backend:
        try:
            problems = await flows.remove_bot_messages(ctx, ticket_id, channel_id=ctx.channels.tickets)
        except Exception as error:  # the database
            problems = [flows.describe(error)]
        if problems:
            log.warning("backend message of closed ticket #%s: %s", ticket_id, "; ".join(problems))
            report.failed.append(ticket_id)
        else:
            report.backend_removed.append(ticket_id)
    if report.failed:
        await ctx.alert(
            f":warning: {len(report.failed)} ticket(s) still have unfinished Slack messages "
            f"after a repair attempt (#{', #'.join(map(str, report.failed[:10]))})."
        )
    return report
