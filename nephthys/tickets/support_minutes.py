"""The support calendar in the database: installed at start-up, every stored minute counted with it.

Response spans ("TicketSpan") and the tickets' totals are stored in support minutes, so reading
them costs no calendar arithmetic. They are counted with ``nephthys_support_seconds``, the
function of the calendar named in "SupportCalendarInUse". At start-up a service installs its
own calendar (SUPPORT_HOURS, SUPPORT_HOLIDAYS, TIMEZONE): when it differs from the one
installed, the function is replaced and every stored minute recounted before the service
answers anything, so a change of calendar applies to all history from the first request.

A database that has never had a calendar (just migrated to 0019) first has its existing
tickets folded from their timelines (nephthys/tickets/timeline.py), in batches. A ticket with
no event the fold reads has no timeline to fold and keeps the wait its row was written with: migration
0018 logs every adopted ticket's opening, so only rows written by hand (tests, the bench
generator) are such, and folding them would erase what their columns say.

Instances sharing a database must share a calendar: an instance started with another one
recounts everything with its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from sqlalchemy import text

from nephthys.database.models import TicketEventKind
from nephthys.database.outage import database_unavailable
from nephthys.sla.install import install_policy
from nephthys.sla.policy import SlaPolicy
from nephthys.support_calendar import SupportCalendar
from nephthys.tickets import timeline
from nephthys.tickets.core import Sessions
from nephthys.tickets.timeline import FOLDED_KINDS, LoggedEvent

log = logging.getLogger(__name__)

NEVER_INSTALLED = "none"  # migration 0019's key: no ticket folded yet
# Held for the whole install: a second instance starting at once waits, then finds it done.
_INSTALL_LOCK = 0x6E65_7068_0019
_FOLD_BATCH = 2000

_UNFOLDED = text(
    """SELECT t.id FROM "Ticket" t
        WHERE t.id > :after AND NOT EXISTS (SELECT 1 FROM "TicketSpan" s WHERE s."ticketId" = t.id)
        ORDER BY t.id LIMIT :limit"""
)
_EVENTS_OF = text(
    """SELECT "ticketId", kind, at, "actorId" FROM "TicketEvent"
        WHERE "ticketId" = ANY(CAST(:ids AS int[])) AND kind = ANY(CAST(:kinds AS "TicketEventKind"[]))
        ORDER BY "ticketId", at, id"""
)


async def install_calendar(
    sessions: Sessions, calendar: SupportCalendar, sla_policy: SlaPolicy | None = None
) -> bool:
    """Make ``calendar`` the database's; True when that recounted the stored minutes. Then, with
    ``sla_policy`` (the SLA settings; None: the default, no targets), the SLA policy is installed
    and, when it or the calendar changed, the clocks' recompute asked for; it runs in the
    background (nephthys/sla/install.py, the ``sla-recompute`` job)."""
    async with sessions() as session:
        await session.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _INSTALL_LOCK})
        try:
            recounted = await _install(session, calendar)
            await install_policy(session, calendar, sla_policy or SlaPolicy())
            return recounted
        finally:
            await session.rollback()
            await session.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _INSTALL_LOCK})
            await session.commit()


async def _install(session, calendar: SupportCalendar) -> bool:
    """The calendar's half of ``install_calendar`` (under its lock)."""
    installed = await session.scalar(text('SELECT key FROM "SupportCalendarInUse" WHERE id = 1'))
    await session.commit()
    if installed == calendar.key:
        return False
    started = time.monotonic()
    if installed == NEVER_INSTALLED:
        folded = await _fold_unfolded(session)
        log.info("support calendar: folded %d tickets' timelines", folded)
    await _recount(session, calendar)
    await session.commit()
    log.info(
        "support calendar %r installed (was %r): minutes recounted in %.1f s",
        calendar.key,
        installed,
        time.monotonic() - started,
    )
    return True


async def _fold_unfolded(session) -> int:
    """Fold every ticket without spans (older than migration 0019), a batch per transaction."""
    after, folded = 0, 0
    kinds = [kind.value for kind in FOLDED_KINDS]
    while True:
        ids = list((await session.execute(_UNFOLDED, {"after": after, "limit": _FOLD_BATCH})).scalars())
        if not ids:
            return folded
        logged: dict[int, list[LoggedEvent]] = defaultdict(list)
        for ticket_id, kind, at, actor_id in await session.execute(_EVENTS_OF, {"ids": ids, "kinds": kinds}):
            logged[ticket_id].append(LoggedEvent(TicketEventKind(kind), at, actor_id))
        folds = {ticket_id: timeline.fold(events) for ticket_id, events in logged.items()}
        if folds:
            await timeline.write(session, folds)
        await session.commit()
        after, folded = ids[-1], folded + len(folds)


async def _recount(session, calendar: SupportCalendar) -> None:
    """Install ``calendar``'s function and count every stored minute with it, in this transaction."""
    await session.execute(text(calendar.function_definition()))
    sql = calendar.sql("calendar")
    minutes = sql.minutes('s."startAt"', 's."endAt"')
    await session.execute(
        text(
            f"""UPDATE "TicketSpan" s SET minutes = CASE WHEN s."endAt" IS NOT NULL THEN {minutes} END
                WHERE s.minutes IS NOT NULL OR s."endAt" IS NOT NULL"""
        ),
        sql.parameters,
    )
    # Only tickets whose totals change are written (each write re-renders the ticket's JSON).
    await session.execute(
        text(
            """UPDATE "Ticket" t SET "firstResponseMinutes" = n.first_response, "resolutionMinutes" = n.resolution
                FROM (SELECT t2.id,
                             (SELECT sum(s.minutes) FROM "TicketSpan" s
                              WHERE s."ticketId" = t2.id AND s.kind = 'FIRST_RESPONSE') AS first_response,
                             CASE WHEN t2.status = 'CLOSED' THEN
                                 (SELECT sum(s.minutes) FROM "TicketSpan" s
                                  WHERE s."ticketId" = t2.id AND s.kind = 'RESOLUTION') END AS resolution
                      FROM "Ticket" t2) n
                WHERE t.id = n.id
                  AND (t."firstResponseMinutes" IS DISTINCT FROM n.first_response
                       OR t."resolutionMinutes" IS DISTINCT FROM n.resolution)"""
        )
    )
    await recount_response_time_counts(session)
    await session.execute(
        text('UPDATE "SupportCalendarInUse" SET key = :key, "installedAt" = now() WHERE id = 1'),
        {"key": calendar.key},
    )


# Migration 0027's lock: its appliers share it, a recount takes it alone.
_COUNTS_LOCK = 0x6E65_7068_0027
_COUNTS_BATCH = 40000


async def recount_response_time_counts(session) -> None:
    """Recount the response-time counts (migration 0027) from every stored value, in this transaction.

    The recount above changed more rows than the triggers record one by one, so they marked the
    counts for a recount at commit: done here instead, in ranges of ticket ids, so no one statement
    runs long (the commit's single recount took 4 minutes at 1,000,000 tickets on a loaded machine).
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _COUNTS_LOCK})
    # This transaction's recorded changes (and the mark) are superseded by the recount.
    await session.execute(text('DELETE FROM "ResponseTimePending"'))
    await session.execute(text('DELETE FROM "ResponseTimeCounts"'))
    await session.execute(text('DELETE FROM "ResponseTimeTagValues"'))
    low, high = (await session.execute(text('SELECT min(id), max(id) FROM "Ticket"'))).one()
    if low is None:
        return
    for start in range(low, high + 1, _COUNTS_BATCH):
        await session.execute(
            text('SELECT "response_time_counts_add"(:low, :high)'),
            {"low": start, "high": start + _COUNTS_BATCH},
        )


INSTALL_RETRY_SECONDS = 15.0


async def install_calendar_at_start(
    sessions: Sessions, calendar: SupportCalendar, sla_policy: SlaPolicy | None = None
) -> asyncio.Task[None] | None:
    """Install ``calendar`` before the service answers; with the database unreachable, start anyway
    (every request answers 503 until it is back) and keep trying in the background: the task
    returned, for the caller to cancel at shutdown (None when installed now)."""
    try:
        await install_calendar(sessions, calendar, sla_policy)
        return None
    except Exception as error:
        if not database_unavailable(error):
            raise
        log.warning("support calendar: database unavailable at start (%s); installing once it is back", error)
    return asyncio.create_task(
        _install_when_back(sessions, calendar, sla_policy), name="support-calendar-install"
    )


async def _install_when_back(
    sessions: Sessions, calendar: SupportCalendar, sla_policy: SlaPolicy | None
) -> None:
    while True:
        await asyncio.sleep(INSTALL_RETRY_SECONDS)
        try:
            await install_calendar(sessions, calendar, sla_policy)
            return
        except Exception as error:
            if not database_unavailable(error):
                log.exception("support calendar: install failed")
                return
