"""SLA targets (issue 21): policies, each ticket's clocks, and the watcher's one indexed look-up.

- "Tag"."slaFirstResponseMinutes", "slaNextResponseMinutes", "slaResolutionMinutes": a team
  tag's own targets in support minutes (null: the tag sets none for that clock).
- "SlaPolicyInUse" (one row): the default targets (SLA_* settings), the warning share and the
  calendar the stored clocks were computed with. The service installs its own at start-up and
  recomputes every ticket's clocks when they differ (nephthys/sla/install.py); 'none' until then.
- "TicketSlaClock": per ticket and clock kind with a target, its latest clock as the lifecycle
  last computed it (nephthys/sla/clocks.py): state RUNNING, PAUSED, MET or BREACHED (as of the
  change; a running clock past "dueAt" is breached without a write), support minutes taken,
  and, while running, when it is due and when it warns. "actionAt" is the watcher's next work
  on it (the warning until logged, then the breach until logged): "sla-watch" with nothing due
  is one empty range of "TicketSlaClock_actionAt_idx".
- "TicketEvent"."slaClock" and "clockStartAt": which clock an SLA_WARNED or SLA_BREACHED event
  is about (its kind and the instant it started); a partial unique index lets each clock warn
  and breach once, whatever the instances or runs.
- ``nephthys_support_add(s, seconds)``: the inverse of ``nephthys_support_seconds``, in the
  "always" form until a service installs its calendar's.

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# Every second counts (written out, not imported: a migration keeps the definition it was written with).
ALWAYS_ADD_FUNCTION = """CREATE OR REPLACE FUNCTION nephthys_support_add(s timestamptz, seconds numeric)
    RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
    AS $body$ SELECT s + make_interval(secs => greatest(seconds, 0)::float8) $body$"""


def upgrade() -> None:
    op.execute(
        """ALTER TABLE "Tag"
            ADD COLUMN "slaFirstResponseMinutes" INTEGER,
            ADD COLUMN "slaNextResponseMinutes" INTEGER,
            ADD COLUMN "slaResolutionMinutes" INTEGER"""
    )
    op.execute(
        """CREATE TABLE "SlaPolicyInUse" (
            "id" INTEGER NOT NULL,
            "key" TEXT NOT NULL,
            "firstResponseMinutes" INTEGER,
            "nextResponseMinutes" INTEGER,
            "resolutionMinutes" INTEGER,
            "warnAt" DOUBLE PRECISION NOT NULL DEFAULT 0.75,
            "installedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            CONSTRAINT "SlaPolicyInUse_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute("""INSERT INTO "SlaPolicyInUse" (id, key) VALUES (1, 'none')""")
    op.execute("CREATE TYPE \"SlaState\" AS ENUM ('RUNNING', 'PAUSED', 'MET', 'BREACHED')")
    op.execute(
        """CREATE TABLE "TicketSlaClock" (
            "ticketId" INTEGER NOT NULL,
            "kind" "TicketSpanKind" NOT NULL,
            "ticketCreatedAt" TIMESTAMPTZ(3) NOT NULL,
            "targetMinutes" INTEGER NOT NULL,
            "startAt" TIMESTAMPTZ(3) NOT NULL,
            "state" "SlaState" NOT NULL,
            "minutes" DOUBLE PRECISION NOT NULL,
            "runningSince" TIMESTAMPTZ(3),
            "dueAt" TIMESTAMPTZ(3),
            "warnAt" TIMESTAMPTZ(3),
            "actionAt" TIMESTAMPTZ(3),
            "missedBefore" BOOLEAN NOT NULL DEFAULT false,
            CONSTRAINT "TicketSlaClock_pkey" PRIMARY KEY ("ticketId", "kind"))"""
    )
    op.execute(
        'ALTER TABLE "TicketSlaClock" ADD CONSTRAINT "TicketSlaClock_ticketId_fkey" FOREIGN KEY ("ticketId") '
        'REFERENCES "Ticket"("id") ON DELETE CASCADE ON UPDATE CASCADE'
    )
    # sla-watch: the clocks with work due, by when (empty range when nothing is due).
    op.execute(
        'CREATE INDEX "TicketSlaClock_actionAt_idx" ON "TicketSlaClock"("actionAt") WHERE "actionAt" IS NOT NULL'
    )
    # ?sla=at_risk and the at-risk lists: running clocks not yet due, by when they are due.
    op.execute(
        """CREATE INDEX "TicketSlaClock_running_dueAt_idx" ON "TicketSlaClock"("dueAt") WHERE state = 'RUNNING'"""
    )
    # /api/stats/sla: one clock kind over the tickets created in a period.
    op.execute(
        'CREATE INDEX "TicketSlaClock_kind_ticketCreatedAt_idx" ON "TicketSlaClock"("kind", "ticketCreatedAt")'
    )
    op.execute(
        """ALTER TABLE "TicketEvent" ADD COLUMN "slaClock" "TicketSpanKind",
            ADD COLUMN "clockStartAt" TIMESTAMPTZ(3)"""
    )
    op.execute(
        'CREATE UNIQUE INDEX "TicketEvent_sla_clock_key" ON "TicketEvent"("ticketId", "kind", "slaClock", "clockStartAt") '
        'WHERE "slaClock" IS NOT NULL'
    )
    op.execute(ALWAYS_ADD_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS nephthys_support_add(timestamptz, numeric)")
    op.execute('DROP INDEX "TicketEvent_sla_clock_key"')
    op.execute('ALTER TABLE "TicketEvent" DROP COLUMN "slaClock", DROP COLUMN "clockStartAt"')
    op.execute('DROP TABLE "TicketSlaClock"')
    op.execute('DROP TYPE "SlaState"')
    op.execute('DROP TABLE "SlaPolicyInUse"')
    op.execute(
        """ALTER TABLE "Tag" DROP COLUMN "slaFirstResponseMinutes", DROP COLUMN "slaNextResponseMinutes",
            DROP COLUMN "slaResolutionMinutes\""""
    )
