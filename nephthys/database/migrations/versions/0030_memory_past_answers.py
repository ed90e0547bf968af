"""The answers of tickets from before the memory (issue 22 §1): two columns of "TicketSearch" and
an index, for the ``memory-answers`` job (nephthys/tasks/memory_answers.py).

- "answerFetchDue": the ticket's helpers' messages may never have been stored (a row the bulk
  reindex wrote, or one that was there at this upgrade), so while it has no answer the job reads
  its thread from Slack once, after it closed. The column is added true for every existing row
  (a constant default: no row is rewritten), then defaults to false: a row written by opening
  has its answers recorded live.
- "answerFetchClaimedAt": the job's claim on the thread (the job's clock), so one instance reads
  it; a claim older than the job's lease is a run that died and may be taken again.
- "TicketSearch_answerFetch_idx": the rows still due and unanswered (read newest ticket first): empty
  once every old thread was read, so a run with nothing to do is one look at an empty index.

Revision ID: 0030
Revises: 0029
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """ALTER TABLE "TicketSearch"
               ADD COLUMN "answerFetchDue" BOOLEAN NOT NULL DEFAULT true,
               ADD COLUMN "answerFetchClaimedAt" TIMESTAMPTZ(3)"""
    )
    op.execute("""ALTER TABLE "TicketSearch" ALTER COLUMN "answerFetchDue" SET DEFAULT false""")
    op.execute(
        """CREATE INDEX "TicketSearch_answerFetch_idx" ON "TicketSearch" ("ticketId")
               WHERE "answerFetchDue" AND answer IS NULL"""
    )


def downgrade() -> None:
    op.execute('DROP INDEX "TicketSearch_answerFetch_idx"')
    op.execute(
        """ALTER TABLE "TicketSearch" DROP COLUMN "answerFetchClaimedAt", DROP COLUMN "answerFetchDue\""""
    )
