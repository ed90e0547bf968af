"""Ticket objects' ``sla`` member, and ``/api/tickets?sla=breached|at_risk``.

Every stored object ends with its ``sla`` member (migration 0028); a ticket with a running clock
has it rewritten as it is served, at the database's clock in the service's calendar
(nephthys/api/sla_now.py). ``null`` when no clock of the ticket has a target.

Filters, at the database's clock: ``breached``, a ticket with a clock that ran past its target
(running past its due instant, or stopped or paused beyond it, or an earlier next response
breached); ``at_risk``, a ticket with a running clock past its warning point and none breached.
"""

from __future__ import annotations

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
