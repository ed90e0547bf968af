"""Covering indexes for /api/stats/response_times (issue 20, section 3).

Each measure of the response-time aggregates (nephthys/stats/response_times.py) is read from
one index alone, never the tables (an index-only scan; the visibility map does the rest):

- "TicketSpan_ended_response_idx": ended FIRST_RESPONSE and NEXT_RESPONSE spans by kind and
  ticket creation time, with their minutes, person and ticket (the ticket for the team-tag
  groups). RESOLUTION parts and running spans are left out: nothing reads them by period, and
  every refresh of a ticket rewrites its spans, so each entry left out is one less to write.
- "Ticket_resolved_createdAt_idx": closed tickets (those with a resolution) by creation time,
  with their resolution, closer and id.

The first replaces migration 0019's "TicketSpan_kind_ticketCreatedAt_idx", made for these
aggregates and read by nothing else: one index less to write on every refresh.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
# Issue 20's other migration (0020) is on another branch: whoever merges both chains 0021 after it.
down_revision = "0020"
branch_labels = None
depends_on = None

INDEXES = {
    "TicketSpan_ended_response_idx": """ON "TicketSpan" (kind, "ticketCreatedAt")
        INCLUDE (minutes, "actorId", "ticketId")
        WHERE "endAt" IS NOT NULL AND kind <> 'RESOLUTION'""",
    "Ticket_resolved_createdAt_idx": """ON "Ticket" ("createdAt")
        INCLUDE ("resolutionMinutes", "closedById", id)
        WHERE "resolutionMinutes" IS NOT NULL""",
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
