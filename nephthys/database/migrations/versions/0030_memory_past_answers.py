"""The answers of tickets from before the memory (issue 22 §1): two columns of "TicketSearch" and
an index, for the ``memory-answers`` job (nephthys/tasks/memory_answers.py).

- "answerFetch": the ticket's helpers' messages may never have been stored (a row the bulk
  reindex wrote, or one that was there at this upgrade), so its thread is to be read from Slack
  once: 'DUE' while the ticket is closed, 'WAITING' while it is not (the lifecycle's close and
  reopen move it between the two); null once read, and for a row written by opening (its answers
  are recorded live). Added as 'DUE' for every existing row (a constant default: no row is
  rewritten), then the rows of tickets not closed (few: an index of "Ticket" finds them) become
  'WAITING', and the default is null.
- "answerFetchClaimedAt": the job's claim on the thread (the job's clock), so one instance reads
  it; a claim older than the job's lease is a run that died and may be taken again.
- "TicketSearch_answerFetch_idx": the rows 'DUE' and unanswered (read newest ticket first): empty
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
               ADD COLUMN "answerFetch" TEXT DEFAULT 'DUE',
               ADD COLUMN "answerFetchClaimedAt" TIMESTAMPTZ(3)"""
    )
    op.execute('ALTER TABLE "TicketSearch" ALTER COLUMN "answerFetch" DROP DEFAULT')
    op.execute(
        """UPDATE "TicketSearch" s SET "answerFetch" = 'WAITING'
           FROM "Ticket" t WHERE t.id = s."ticketId" AND t.status <> 'CLOSED' AND s.answer IS NULL"""
    )
    op.execute(
        """CREATE INDEX "TicketSearch_answerFetch_idx" ON "TicketSearch" ("ticketId")
               WHERE "answerFetch" = 'DUE' AND answer IS NULL"""
    )


def downgrade() -> None:
    op.execute('DROP INDEX "TicketSearch_answerFetch_idx"')
    op.execute(
        """ALTER TABLE "TicketSearch" DROP COLUMN "answerFetchClaimedAt", DROP COLUMN "answerFetch\""""
    )
