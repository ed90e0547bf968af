"""Ticket objects' ``sla`` member, and ``/api/tickets?sla=breached|at_risk``.

Every stored object ends with its ``sla`` member (migration 0028); a ticket with a running clock
has it rewritten as it is served, at the database's clock in the service's calendar
(nephthys/api/sla_now.py). ``null`` when no clock of the ticket has a target.

Filters, at the database's clock: ``breached``, a ticket with a clock that ran past its target
(running past its due instant, or stopped or paused beyond it, or an earlier next response
breached); ``at_risk``, a ticket with a running clock past its warning point and none breached.
"""

from __future__ import annotations

from nephthys.stats.sla import SLA_TICKET_FILTERS

SLA_FILTERS = ("breached", "at_risk")

# The tickets each filter keeps (nephthys/stats/sla.py's definitions, shared with the dashboard's list).
FILTER_SQL = SLA_TICKET_FILTERS
