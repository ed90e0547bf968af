"""Feedback on a resolved ticket, and questions deleted by their author whose ticket is kept.

- ``FeedbackRating`` and ``Feedback``: one row per ticket and asker (a later submission
  replaces the earlier one), deleted with its ticket.
- ``Ticket.questionDeletedAt``: the asker deleted an answered question; the ticket, its
  status and its credit stay, and the backend message says so.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""CREATE TYPE "FeedbackRating" AS ENUM ('NOT_GOOD', 'OKAY', 'GREAT')""")
    op.execute(
        """CREATE TABLE "Feedback" (
            "id" SERIAL NOT NULL,
            "ticketId" INTEGER NOT NULL,
            "createdById" INTEGER NOT NULL,
            "rating" "FeedbackRating" NOT NULL,
            "text" TEXT,
            "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            CONSTRAINT "Feedback_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute(
        'ALTER TABLE "Feedback" ADD CONSTRAINT "Feedback_ticketId_fkey" FOREIGN KEY ("ticketId") '
        'REFERENCES "Ticket"("id") ON DELETE CASCADE ON UPDATE CASCADE'
    )
    op.execute(
        'ALTER TABLE "Feedback" ADD CONSTRAINT "Feedback_createdById_fkey" FOREIGN KEY ("createdById") '
        'REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE'
    )
    # One row per ticket and asker: a later submission replaces the earlier one (ON CONFLICT).
    op.execute(
        'CREATE UNIQUE INDEX "Feedback_ticketId_createdById_key" ON "Feedback"("ticketId", "createdById")'
    )
    # /api/stats/feedback: feedback created in a range.
    op.execute('CREATE INDEX "Feedback_createdAt_idx" ON "Feedback"("createdAt")')
    op.execute('ALTER TABLE "Ticket" ADD COLUMN "questionDeletedAt" TIMESTAMPTZ(3)')


def downgrade() -> None:
    op.execute('ALTER TABLE "Ticket" DROP COLUMN "questionDeletedAt"')
    op.execute('DROP TABLE "Feedback"')
    op.execute('DROP TYPE "FeedbackRating"')
