"""Ticket objects' ``sla`` member, and ``/api/tickets?sla=breached|at_risk``.

A ticket's stored object (migration 0011) is what its last change left; its SLA clocks move with
time (a running clock breaches at its due instant, its minutes left shrink), so ``sla`` is added
as the object is served, after every stored member: the ticket's stored clocks
("TicketSlaClock", nephthys/sla/clocks.py) shown at the database's clock in the service's
calendar. ``null`` when no clock of the ticket has a target.

Filters, at the database's clock: ``breached``, a ticket with a clock that ran past its target
(running past its due instant, or stopped or paused beyond it, or an earlier next response
breached); ``at_risk``, a ticket with a running clock past its warning point and none breached.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson

from nephthys.sla import clocks
from nephthys.support_calendar import SupportCalendar

SLA_FILTERS = ("breached", "at_risk")

_BREACHED_CLOCK = (
    """(b."missedBefore" OR b.state = 'BREACHED' OR (b.state = 'RUNNING' AND b."dueAt" <= now()))"""
)
# The tickets each filter keeps, as a condition on ``j."ticketId"`` (the database's clock: now()).
FILTER_SQL = {
    "breached": """j."ticketId" IN (
        SELECT b."ticketId" FROM "TicketSlaClock" b WHERE b.state = 'BREACHED' OR b."missedBefore"
        UNION SELECT b."ticketId" FROM "TicketSlaClock" b WHERE b.state = 'RUNNING' AND b."dueAt" <= now())""",
    "at_risk": f"""j."ticketId" IN (
        SELECT c."ticketId" FROM "TicketSlaClock" c
        WHERE c.state = 'RUNNING' AND c."dueAt" > now() AND c."warnAt" <= now()
          AND NOT EXISTS (SELECT 1 FROM "TicketSlaClock" b WHERE b."ticketId" = c."ticketId" AND {_BREACHED_CLOCK}))""",
}

_CLOCKS = """SELECT "ticketId", kind, "targetMinutes", "startAt", state, minutes, "runningSince", "dueAt", "warnAt",
                    "missedBefore"
             FROM "TicketSlaClock" WHERE "ticketId" = ANY($1::int[])"""


async def stored_clocks(driver, ticket_ids: Sequence[int]) -> dict[int, list[clocks.StoredClock]]:
    """The tickets' stored clocks on an asyncpg connection (the API's), by ticket."""
    found: dict[int, list[clocks.StoredClock]] = {}
    if not ticket_ids:
        return found
    for row in await driver.fetch(_CLOCKS, list(ticket_ids)):
        found.setdefault(row["ticketId"], []).append(
            clocks.StoredClock(
                kind=clocks.TicketSpanKind(row["kind"]),
                target_minutes=row["targetMinutes"],
                start_at=row["startAt"],
                state=clocks.SlaState(row["state"]),
                minutes=row["minutes"],
                running_since=row["runningSince"],
                due_at=row["dueAt"],
                warn_at=row["warnAt"],
                missed_before=row["missedBefore"],
            )
        )
    return found


def sla_member(
    ticket_clocks: Sequence[clocks.StoredClock] | None, now: datetime, calendar: SupportCalendar
) -> bytes:
    """``,"sla":…`` for one ticket."""
    return b',"sla":' + orjson.dumps(clocks.sla_json(ticket_clocks or [], now, calendar))


def with_sla(json: bytes, member: bytes) -> bytes:
    """A stored object with ``member`` added after its last member (before its closing brace)."""
    end = json.rindex(b"}")
    return json[:end] + member + json[end:]


async def objects_with_sla(
    driver, objects: Sequence[tuple[int, bytes]], calendar: SupportCalendar, now: datetime
) -> list[bytes]:
    """Each (ticket id, stored object) with its ``sla`` member, in order."""
    found = await stored_clocks(driver, [ticket_id for ticket_id, _ in objects])
    return [with_sla(json, sla_member(found.get(ticket_id), now, calendar)) for ticket_id, json in objects]
