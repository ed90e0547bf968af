"""/api/stats/sla from the index alone (issue 21): the clocks' (kind, "ticketCreatedAt") index includes
every column the figures read.

Migration 0023 made "TicketSlaClock_kind_ticketCreatedAt_idx" on (kind, "ticketCreatedAt") only, so
the figures read each clock's row too (at 1,000,000 tickets, a 30-day period is ~165,000 clocks: a
parallel scan of the table, ~400 ms under load). With state, minutes, "dueAt" and "missedBefore"
included, each kind is one index-only range scan (nephthys/stats/sla.py).

Revision ID: 0026
Revises: 0025
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('DROP INDEX "TicketSlaClock_kind_ticketCreatedAt_idx"')
    op.execute(
        'CREATE INDEX "TicketSlaClock_kind_ticketCreatedAt_idx" ON "TicketSlaClock"("kind", "ticketCreatedAt") '
        'INCLUDE (state, minutes, "dueAt", "missedBefore")'
    )


def downgrade() -> None:
    op.execute('DROP INDEX "TicketSlaClock_kind_ticketCreatedAt_idx"')
    op.execute(
        'CREATE INDEX "TicketSlaClock_kind_ticketCreatedAt_idx" ON "TicketSlaClock"("kind", "ticketCreatedAt")'
    )
