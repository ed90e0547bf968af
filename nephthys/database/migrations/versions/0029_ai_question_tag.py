"""The AI-chosen question tag (issue 22 §4): two columns of a ticket's memory row ("TicketSearch").

- "questionTagAskedAt": the model was asked to choose the ticket's question tag (claimed once,
  before asking: a redelivered question, a retry or a second instance never asks twice);
- "autoQuestionTagId": the question tag the model chose and the lifecycle set. The ticket's
  question tag is "chosen automatically" while it is still this one; a helper's change clears it
  (and a deleted tag clears it by the foreign key).

Revision ID: 0029
Revises: 0028
"""

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """ALTER TABLE "TicketSearch"
               ADD COLUMN "questionTagAskedAt" TIMESTAMPTZ(3),
               ADD COLUMN "autoQuestionTagId" INTEGER,
               ADD CONSTRAINT "TicketSearch_autoQuestionTagId_fkey" FOREIGN KEY ("autoQuestionTagId")
                   REFERENCES "QuestionTag" (id) ON DELETE SET NULL ON UPDATE CASCADE"""
    )


def downgrade() -> None:
    op.execute(
        """ALTER TABLE "TicketSearch" DROP COLUMN "autoQuestionTagId", DROP COLUMN "questionTagAskedAt\""""
    )
