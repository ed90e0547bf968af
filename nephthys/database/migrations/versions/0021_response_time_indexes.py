"""Covering indexes for /api/stats/response_times (issue 20, section 3).

Each measure of the response-time aggregates (nephthys/stats/response_times.py) is read from
one index alone, never the tables (index-only scans; the visibility map does the rest), and
``percentile_cont`` sorts its values fastest when they arrive sorted (PostgreSQL's sort checks
for that first). So each measure has its values in three orders, and the planner picks by the
period's size:

- by ticket creation time, for a short period (its range is read, the few rows sorted):
  "TicketSpan_ended_response_idx" (kind, "ticketCreatedAt") INCLUDE (minutes, "actorId",
  "ticketId"; the ticket for the team-tag groups) and "Ticket_resolved_createdAt_idx"
  ("createdAt") INCLUDE ("resolutionMinutes", "closedById", "openedById", id);
- by minutes, for a long period (read in order, the rows outside it skipped, nothing sorted):
  "TicketSpan_ended_response_minutes_idx" (kind, minutes) and "Ticket_resolved_minutes_idx"
  ("resolutionMinutes"), each INCLUDE the creation time;
- by person and minutes, for a long period per helper: "TicketSpan_ended_response_actor_idx"
  (kind, "actorId", minutes) and "Ticket_resolved_closer_idx" ("closedById",
  "resolutionMinutes"), each INCLUDE the creation time (and the asker, who is no closer there).

The span indexes hold ended FIRST_RESPONSE and NEXT_RESPONSE spans only (RESOLUTION parts and
running spans are read by nothing here, and every refresh of a ticket rewrites its spans, so
each entry left out is one less to write); the ticket indexes hold closed tickets only (those
with a resolution), which are seldom written. At 1,000,000 tickets the six take about 290 MB.
The first replaces migration 0019's "TicketSpan_kind_ticketCreatedAt_idx", made for these
aggregates and read by nothing else.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
# Issue 20's other migration (0020) is on another branch: whoever merges both chains 0021 after it.
down_revision = "0020"
branch_labels = None
depends_on = None

_ENDED_RESPONSES = """WHERE "endAt" IS NOT NULL AND kind <> 'RESOLUTION'"""
_RESOLVED = """WHERE "resolutionMinutes" IS NOT NULL"""
INDEXES = {
    "TicketSpan_ended_response_idx": f"""ON "TicketSpan" (kind, "ticketCreatedAt")
        INCLUDE (minutes, "actorId", "ticketId") {_ENDED_RESPONSES}""",
    "TicketSpan_ended_response_minutes_idx": f"""ON "TicketSpan" (kind, minutes)
        INCLUDE ("ticketCreatedAt") {_ENDED_RESPONSES}""",
    "TicketSpan_ended_response_actor_idx": f"""ON "TicketSpan" (kind, "actorId", minutes)
        INCLUDE ("ticketCreatedAt") {_ENDED_RESPONSES}""",
    "Ticket_resolved_createdAt_idx": f"""ON "Ticket" ("createdAt")
        INCLUDE ("resolutionMinutes", "closedById", "openedById", id) {_RESOLVED}""",
    "Ticket_resolved_minutes_idx": f"""ON "Ticket" ("resolutionMinutes") INCLUDE ("createdAt") {_RESOLVED}""",
    "Ticket_resolved_closer_idx": f"""ON "Ticket" ("closedById", "resolutionMinutes")
        INCLUDE ("createdAt", "openedById") {_RESOLVED}""",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f'CREATE INDEX "{name}" {definition}')
    op.execute('DROP INDEX "TicketSpan_kind_ticketCreatedAt_idx"')


def downgrade() -> None:
    op.execute(
        'CREATE INDEX "TicketSpan_kind_ticketCreatedAt_idx" ON "TicketSpan"("kind", "ticketCreatedAt")'
    )
    for name in INDEXES:
        op.execute(f'DROP INDEX "{name}"')
