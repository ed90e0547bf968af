"""Who a ticket waits on, and its response spans (issue 20, sections 2 and 3).

- "Ticket"."waitingOn" (HELPERS, ASKER, null when closed) and "waitingSince": the lifecycle
  folds the ticket's timeline into them in the transaction that logs an event
  (nephthys/tickets/timeline.py), so a late delivery lands in its place, not last.
- "TicketSpan": the intervals the response measures are made of, calendar-free:
  FIRST_RESPONSE (question -> first helper message), NEXT_RESPONSE (an asker message that
  made the ticket wait on the helpers again -> the next helper message) and RESOLUTION (the
  parts of the ticket's life spent open and waiting on the helpers). "endAt" is null while a
  span runs. "minutes" is the span's support minutes under the calendar in
  "SupportCalendarInUse"; "Ticket"."firstResponseMinutes" and "resolutionMinutes" are the
  ticket's totals under the same calendar (null until known).
- "SupportCalendarInUse" (one row): the calendar those minutes were counted with. The
  function ``nephthys_support_seconds(start, end)`` counts with it; the service installs its
  own calendar at start-up and recounts every span when the calendar changed
  (nephthys/tickets/support_minutes.py). This migration installs "always" in UTC.

Existing tickets are folded from their logged events by the service at start-up (a first
install counts every ticket); the migration itself only adds the structures.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# Every minute counts: the function until a service installs its own calendar (written out,
# not imported: a migration keeps the definition it was written with).
ALWAYS_FUNCTION = """CREATE OR REPLACE FUNCTION nephthys_support_seconds(s timestamptz, e timestamptz)
    RETURNS numeric LANGUAGE sql STABLE PARALLEL SAFE
    AS $body$ SELECT greatest(0::numeric, extract(epoch FROM e - s)) $body$"""


def upgrade() -> None:
    op.execute("CREATE TYPE \"WaitingOn\" AS ENUM ('HELPERS', 'ASKER')")
    op.execute("CREATE TYPE \"TicketSpanKind\" AS ENUM ('FIRST_RESPONSE', 'NEXT_RESPONSE', 'RESOLUTION')")
    op.execute(
        """ALTER TABLE "Ticket"
            ADD COLUMN "waitingOn" "WaitingOn",
            ADD COLUMN "waitingSince" TIMESTAMPTZ(3),
            ADD COLUMN "firstResponseMinutes" DOUBLE PRECISION,
            ADD COLUMN "resolutionMinutes" DOUBLE PRECISION"""
    )
    # ?waiting_on= in creation order, and the asker follow-up's "waiting on the asker since before".
    op.execute('CREATE INDEX "Ticket_waitingOn_waitingSince_idx" ON "Ticket"("waitingOn", "waitingSince")')
    op.execute(
        """CREATE TABLE "TicketSpan" (
            "id" SERIAL NOT NULL,
            "ticketId" INTEGER NOT NULL,
            "kind" "TicketSpanKind" NOT NULL,
            "startAt" TIMESTAMPTZ(3) NOT NULL,
            "endAt" TIMESTAMPTZ(3),
            "actorId" INTEGER,
            "ticketCreatedAt" TIMESTAMPTZ(3) NOT NULL,
            "minutes" DOUBLE PRECISION,
            CONSTRAINT "TicketSpan_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute(
        'ALTER TABLE "TicketSpan" ADD CONSTRAINT "TicketSpan_ticketId_fkey" FOREIGN KEY ("ticketId") '
        'REFERENCES "Ticket"("id") ON DELETE CASCADE ON UPDATE CASCADE'
    )
    op.execute(
        'ALTER TABLE "TicketSpan" ADD CONSTRAINT "TicketSpan_actorId_fkey" FOREIGN KEY ("actorId") '
        'REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE'
    )
    op.execute('CREATE INDEX "TicketSpan_ticketId_idx" ON "TicketSpan"("ticketId")')
    # The response-time aggregates: one measure over the tickets created in a period.
    op.execute(
        'CREATE INDEX "TicketSpan_kind_ticketCreatedAt_idx" ON "TicketSpan"("kind", "ticketCreatedAt")'
    )
    op.execute('CREATE INDEX "TicketSpan_actorId_idx" ON "TicketSpan"("actorId")')
    op.execute(
        """CREATE TABLE "SupportCalendarInUse" (
            "id" INTEGER NOT NULL,
            "key" TEXT NOT NULL,
            "installedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            CONSTRAINT "SupportCalendarInUse_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute(ALWAYS_FUNCTION)
    # No calendar yet: the first service start installs its own and counts every ticket.
    op.execute("""INSERT INTO "SupportCalendarInUse" (id, key) VALUES (1, 'none')""")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS nephthys_support_seconds(timestamptz, timestamptz)")
    op.execute('DROP TABLE "SupportCalendarInUse"')
    op.execute('DROP TABLE "TicketSpan"')
    op.execute(
        """ALTER TABLE "Ticket" DROP COLUMN "waitingOn", DROP COLUMN "waitingSince",
            DROP COLUMN "firstResponseMinutes", DROP COLUMN "resolutionMinutes\""""
    )
    op.execute('DROP TYPE "TicketSpanKind"')
    op.execute('DROP TYPE "WaitingOn"')
