"""The daily series' cut hours from the creation index alone (issue 23): "Ticket_createdAt_id_idx"
includes "assignedAt" and "closedAt".

In a zone whose midnights fall inside a UTC hour (Asia/Kolkata, Australia/Adelaide, Asia/Kathmandu),
``nephthys.stats.hourly.days_from_hours`` reads each cut hour's tickets from "Ticket": their creation
and their hang and resolution times. At 1,000,000 live-shaped tickets a year of such days is ~42,000
tickets, and a ticket's row is wherever its last update left it, so the read touched ~40,000 heap
pages (~150 ms of database CPU). With the two instants in the index it is one index-only range
scan per cut hour (~25 ms). The index replaces the old one (same name, same key), so a ticket
write maintains no more indexes than before; "assignedAt" and "closedAt" are indexed elsewhere
already, so no update that was HOT stops being HOT.

Revision ID: 0036
Revises: 0032
"""

from alembic import op

revision = "0036"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('DROP INDEX "Ticket_createdAt_id_idx"')
    op.execute(
        'CREATE INDEX "Ticket_createdAt_id_idx" ON "Ticket" ("createdAt", "id") INCLUDE ("assignedAt", "closedAt")'
    )


def downgrade() -> None:
    op.execute('DROP INDEX "Ticket_createdAt_id_idx"')
    op.execute('CREATE INDEX "Ticket_createdAt_id_idx" ON "Ticket" ("createdAt", "id")')
