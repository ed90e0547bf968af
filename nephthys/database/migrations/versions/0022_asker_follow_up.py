"""The asker follow-up's nudge, on the ticket (issue 20, section 4).

"Ticket"."nudgedAt": the instant of the current wait on the asker's nudge (its NUDGED event),
null when that wait has none. Like "waitingOn", the lifecycle folds it from the ticket's timeline
(nephthys/tickets/timeline.py), so it clears itself when the wait ends. No NUDGED event exists
before this migration: every ticket starts with null.

Two partial indexes make the asker-follow-up job's read one range each, whatever the number of
tickets, and empty when nothing is due:

- "Ticket_asker_unnudged_idx": tickets waiting on the asker and not nudged yet, by the wait's start
  (due a nudge);
- "Ticket_nudgedAt_idx": nudged tickets, by the nudge (due a close).

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('ALTER TABLE "Ticket" ADD COLUMN "nudgedAt" TIMESTAMPTZ(3)')
    op.execute(
        'CREATE INDEX "Ticket_asker_unnudged_idx" ON "Ticket" ("waitingSince") '
        """WHERE "waitingOn" = 'ASKER' AND "nudgedAt" IS NULL"""
    )
    op.execute('CREATE INDEX "Ticket_nudgedAt_idx" ON "Ticket" ("nudgedAt") WHERE "nudgedAt" IS NOT NULL')


def downgrade() -> None:
    op.execute('DROP INDEX "Ticket_nudgedAt_idx"')
    op.execute('DROP INDEX "Ticket_asker_unnudged_idx"')
    op.execute('ALTER TABLE "Ticket" DROP COLUMN "nudgedAt"')
