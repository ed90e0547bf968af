"""Every ticket's timeline (issue 20, section 1): "TicketEvent", one row per thing that happened.

The lifecycle writes a ticket's events in the transaction that changes it, each at the instant
Slack says it happened (a message's ts, a click's action_ts). A partial unique index on
("ticketId", kind, "msgTs") where "msgTs" is set lets a redelivered message be inserted again
with ON CONFLICT DO NOTHING and logged once.

Existing tickets get the events their columns know (:data:`BACKFILL`): OPENED at "createdAt" by
the asker (with the question's ts), ASSIGNED at "assignedAt" by the assignee, CLOSED at
"closedAt" by "closedById", REOPENED at "reopenedAt" by "reopenedById". Only the last closure
and reopen are known, and the current assignee stands for the first. The backfill skips a
ticket that already has an event of the kind, so running it again adds nothing.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KINDS = (
    "OPENED",
    "ASKER_MESSAGE",
    "HELPER_MESSAGE",
    "OTHER_MESSAGE",
    "ASSIGNED",
    "CLOSED",
    "REOPENED",
    "TAG_ADDED",
    "TAG_REMOVED",
    "NUDGED",
    "SLA_WARNED",
    "SLA_BREACHED",
)

# One statement over every ticket; idempotent (NOT EXISTS per ticket and kind).
BACKFILL = """
INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
SELECT known."ticketId", known.kind, known.at, known."actorId", known."msgTs"
FROM "Ticket" t
CROSS JOIN LATERAL (VALUES
    (t.id, 'OPENED'::"TicketEventKind", t."createdAt", t."openedById", t."msgTs"),
    (t.id, 'ASSIGNED'::"TicketEventKind", t."assignedAt", t."assignedToId", NULL),
    (t.id, 'CLOSED'::"TicketEventKind", t."closedAt", t."closedById", NULL),
    (t.id, 'REOPENED'::"TicketEventKind", t."reopenedAt", t."reopenedById", NULL)
) AS known("ticketId", kind, at, "actorId", "msgTs")
WHERE known.at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM "TicketEvent" e WHERE e."ticketId" = t.id AND e.kind = known.kind)
ORDER BY t.id, known.at
"""


def upgrade() -> None:
    labels = ", ".join(f"'{kind}'" for kind in KINDS)
    op.execute(f'CREATE TYPE "TicketEventKind" AS ENUM ({labels})')
    op.execute(
        """CREATE TABLE "TicketEvent" (
            "id" SERIAL NOT NULL,
            "ticketId" INTEGER NOT NULL,
            "kind" "TicketEventKind" NOT NULL,
            "at" TIMESTAMPTZ(3) NOT NULL,
            "actorId" INTEGER,
            "msgTs" TEXT,
            CONSTRAINT "TicketEvent_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute(
        'ALTER TABLE "TicketEvent" ADD CONSTRAINT "TicketEvent_ticketId_fkey" FOREIGN KEY ("ticketId") '
        'REFERENCES "Ticket"("id") ON DELETE CASCADE ON UPDATE CASCADE'
    )
    op.execute(
        'ALTER TABLE "TicketEvent" ADD CONSTRAINT "TicketEvent_actorId_fkey" FOREIGN KEY ("actorId") '
        'REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE'
    )
    # /api/ticket/timeline and every measure read one ticket's events in order.
    op.execute('CREATE INDEX "TicketEvent_ticketId_at_id_idx" ON "TicketEvent"("ticketId", "at", "id")')
    # A redelivered message (or replayed work) is not logged twice: ON CONFLICT DO NOTHING.
    op.execute(
        'CREATE UNIQUE INDEX "TicketEvent_ticketId_kind_msgTs_key" ON "TicketEvent"("ticketId", "kind", "msgTs") '
        'WHERE "msgTs" IS NOT NULL'
    )
    # The actor's foreign key: deleting a user finds their events without a scan.
    op.execute('CREATE INDEX "TicketEvent_actorId_idx" ON "TicketEvent"("actorId")')
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute('DROP TABLE "TicketEvent"')
    op.execute('DROP TYPE "TicketEventKind"')
