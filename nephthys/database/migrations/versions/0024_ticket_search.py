"""The team's memory (issue 22): "TicketSearch", one row per ticket, kept by the lifecycle.

- "document": the ticket's terms (nephthys/memory/terms.py) as a tsvector, GIN-indexed: the
  question's terms weighted A and their one-deletion variants B (typos), the closing answer's C
  and D. The terms are made in Python, the same on every server, so the look-up needs neither a
  text-search configuration nor pg_trgm (which the embedded server may lack);
- "questionTerms": the question's terms, for the similarity score of the few best candidates;
- the last helper message before the ticket closed ("answer", at most 2,000 characters, its
  author, ts and instant) and "resolvedAt" (the ticket closed after it; null otherwise);
- "similarPostedAt": the similar-tickets post in the backend thread was claimed (posted once);
- "draftSentAt": the AI-drafted answer was sent to the asker by a helper's click (once).

And "Surge": similar tickets opened close together (SURGE_MIN_TICKETS within SURGE_WINDOW_MINUTES),
told by one message in the team channel ("channelId", "ts"; claimed by "postClaimedAt"), indexed
by "lastAt" (a new ticket looks at the surges still running).

Tickets opened before this migration have no row: their answers were never stored, so they
cannot be offered as past answers; they start being searchable when next edited or answered, or
when the bulk reindex (nephthys/memory/reindex.py, run by `nephthys db upgrade`) fills their rows.

Revision ID: 0024
Revises: 0022
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE "TicketSearch" (
               "ticketId" INTEGER NOT NULL,
               document TSVECTOR NOT NULL,
               "questionTerms" TEXT[] NOT NULL,
               answer TEXT,
               "answeredById" INTEGER,
               "answerTs" TEXT,
               "answeredAt" TIMESTAMPTZ(3),
               "resolvedAt" TIMESTAMPTZ(3),
               "similarPostedAt" TIMESTAMPTZ(3),
               "draftSentAt" TIMESTAMPTZ(3),
               CONSTRAINT "TicketSearch_pkey" PRIMARY KEY ("ticketId"),
               CONSTRAINT "TicketSearch_ticketId_fkey" FOREIGN KEY ("ticketId")
                   REFERENCES "Ticket" (id) ON DELETE CASCADE ON UPDATE CASCADE,
               CONSTRAINT "TicketSearch_answeredById_fkey" FOREIGN KEY ("answeredById")
                   REFERENCES "User" (id) ON DELETE SET NULL ON UPDATE CASCADE
           )"""
    )
    op.execute('CREATE INDEX "TicketSearch_document_idx" ON "TicketSearch" USING gin (document)')
    op.execute(
        """CREATE TABLE "Surge" (
               id SERIAL NOT NULL,
               title TEXT NOT NULL,
               "ticketIds" INTEGER[] NOT NULL,
               tickets INTEGER NOT NULL,
               "startedAt" TIMESTAMPTZ(3) NOT NULL,
               "lastAt" TIMESTAMPTZ(3) NOT NULL,
               "channelId" TEXT,
               ts TEXT,
               "postClaimedAt" TIMESTAMPTZ(3),
               CONSTRAINT "Surge_pkey" PRIMARY KEY (id)
           )"""
    )
    op.execute('CREATE INDEX "Surge_lastAt_idx" ON "Surge" ("lastAt")')


def downgrade() -> None:
    op.execute('DROP TABLE "Surge"')
    op.execute('DROP TABLE "TicketSearch"')
