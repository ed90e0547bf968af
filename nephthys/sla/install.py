"""The SLA policy in the database: installed at start-up, every ticket's clocks computed with it.

A ticket's stored clocks ("TicketSlaClock", nephthys/sla/clocks.py) depend on the default
targets and warning share (the SLA settings), on the calendar (due instants are found with
``nephthys_support_add``) and on its tags' own targets. The first two are the service's: at
start-up, under the calendar's install lock and after the calendar itself
(nephthys/tickets/support_minutes.py), a service whose policy or calendar differs from the one
named in "SlaPolicyInUse" installs its calendar's ``nephthys_support_add``, writes its default
policy, and recomputes every ticket's clocks in batches before it answers anything. The key is
written last, so a start that dies halfway is finished by the next one.

Instances sharing a database must share the SLA settings, as they share a calendar.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text

from nephthys.sla import clocks
from nephthys.sla.policy import SlaPolicy
from nephthys.support_calendar import SupportCalendar

log = logging.getLogger(__name__)

# Bumped when the clocks' computation changes, so a new version recomputes every ticket.
CLOCKS_VERSION = 1
_BATCH = 5000


def policy_key(calendar: SupportCalendar, policy: SlaPolicy) -> str:
    return f"v{CLOCKS_VERSION}|{policy.key}|{calendar.key}"


_TICKETS_AFTER = text('SELECT id FROM "Ticket" WHERE id > :after ORDER BY id LIMIT :limit')
_ANY_TAG_TARGET = text(
    """SELECT EXISTS (SELECT 1 FROM "Tag" WHERE "slaFirstResponseMinutes" IS NOT NULL
                      OR "slaNextResponseMinutes" IS NOT NULL OR "slaResolutionMinutes" IS NOT NULL)"""
)


async def install_policy(session, calendar: SupportCalendar, policy: SlaPolicy) -> bool:
    """Make ``policy`` (with ``calendar``) the database's; True when that recomputed the clocks.

    Runs on the caller's session, holding the calendar's install lock; commits as it goes."""
    key = policy_key(calendar, policy)
    installed = await session.scalar(text('SELECT key FROM "SlaPolicyInUse" WHERE id = 1'))
    if installed == key:
        await session.commit()
        return False
    started = time.monotonic()
    await session.execute(text(calendar.add_function_definition()))
    targets = policy.targets
    await session.execute(
        text(
            """UPDATE "SlaPolicyInUse" SET "firstResponseMinutes" = :first, "nextResponseMinutes" = :next,
                   "resolutionMinutes" = :resolution, "warnAt" = :warn WHERE id = 1"""
        ),
        {
            "first": targets.first_response,
            "next": targets.next_response,
            "resolution": targets.resolution,
            "warn": policy.warn_at,
        },
    )
    await session.commit()
    after: int | None = 0
    counted = 0
    if not policy.targets.any and not await session.scalar(_ANY_TAG_TARGET):
        # No target anywhere: no ticket has a clock (a database without SLA pays no recount).
        await session.execute(text('DELETE FROM "TicketSlaClock"'))
        after = None
    while after is not None:
        ids = list((await session.execute(_TICKETS_AFTER, {"after": after, "limit": _BATCH})).scalars())
        if not ids:
            break
        await clocks.refresh(session, ids)
        await session.commit()
        after, counted = ids[-1], counted + len(ids)
    await session.execute(
        text('UPDATE "SlaPolicyInUse" SET key = :key, "installedAt" = now() WHERE id = 1'), {"key": key}
    )
    await session.commit()
    log.info(
        "SLA policy %r installed (was %r): %d tickets' clocks computed in %.1f s",
        key,
        installed,
        counted,
        time.monotonic() - started,
    )
    return True
