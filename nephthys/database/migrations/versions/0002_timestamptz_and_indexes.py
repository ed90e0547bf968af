"""Timestamps become timestamptz, the indexes the API and the bot need, Slack event de-duplication.

- Every TIMESTAMP(3) column held UTC (Prisma writes UTC); it becomes
  TIMESTAMPTZ(3), read as UTC, so no instant moves.
- The redundant `*_id_key` indexes (`@id @unique`) go; so does the unique index
  on username, since Slack display names are not unique.
- ticketTs may be null: the ticket row is written before its backend message is
  posted, so a Slack failure never loses the question.
- SlackEvent records Slack's event_id of every delivery taken.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP_COLUMNS = {
    "User": ["createdAt"],
    "Ticket": ["lastMsgAt", "reopenedAt", "closedAt", "assignedAt", "createdAt"],
    "QuestionTag": ["createdAt"],
    "Tag": ["createdAt"],
    "tags_on_tickets": ["assignedAt"],
    "user_tag_subscriptions": ["subscribedAt"],
}

# Each index, and the query it serves, is described in nephthys/database/models.py.
INDEXES = [
    'CREATE INDEX "Ticket_createdAt_id_idx" ON "Ticket" ("createdAt", "id")',
    'CREATE INDEX "Ticket_status_createdAt_id_idx" ON "Ticket" ("status", "createdAt", "id")',
    'CREATE INDEX "Ticket_closedAt_closedById_idx" ON "Ticket" ("closedAt", "closedById")',
    'CREATE INDEX "Ticket_assignedAt_idx" ON "Ticket" ("assignedAt")',
    'CREATE INDEX "Ticket_openedById_idx" ON "Ticket" ("openedById")',
    'CREATE INDEX "Ticket_closedById_idx" ON "Ticket" ("closedById")',
    'CREATE INDEX "Ticket_assignedToId_idx" ON "Ticket" ("assignedToId")',
    'CREATE INDEX "Ticket_questionTagId_idx" ON "Ticket" ("questionTagId")',
    """CREATE INDEX "Ticket_unanswered_lastMsgAt_idx" ON "Ticket" ("lastMsgAt")
       WHERE status = 'OPEN' AND "lastMsgBy" IS DISTINCT FROM 'HELPER'""",
    """CREATE INDEX "Ticket_missing_ticketTs_idx" ON "Ticket" ("createdAt")
       WHERE "ticketTs" IS NULL""",
    'CREATE INDEX "tags_on_tickets_tagId_idx" ON "tags_on_tickets" ("tagId")',
    'CREATE INDEX "user_tag_subscriptions_tagId_idx" ON "user_tag_subscriptions" ("tagId")',
    'CREATE INDEX "BotMessage_ticketId_idx" ON "BotMessage" ("ticketId")',
]


def upgrade() -> None:
    for table, columns in TIMESTAMP_COLUMNS.items():
        changes = ", ".join(
            f'ALTER COLUMN "{column}" TYPE TIMESTAMPTZ(3) USING "{column}" AT TIME ZONE \'UTC\''
            for column in columns
        )
        op.execute(f'ALTER TABLE "{table}" {changes}')
    for table in ["User", "Ticket", "QuestionTag", "Tag", "BotMessage"]:
        op.execute(f'DROP INDEX IF EXISTS "{table}_id_key"')
    op.execute('DROP INDEX IF EXISTS "User_username_key"')
    op.execute('ALTER TABLE "Ticket" ALTER COLUMN "ticketTs" DROP NOT NULL')
    for statement in INDEXES:
        op.execute(statement)
    op.execute(
        """CREATE TABLE "SlackEvent" (
            "eventId" TEXT NOT NULL,
            "receivedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            "processedAt" TIMESTAMPTZ(3),
            CONSTRAINT "SlackEvent_pkey" PRIMARY KEY ("eventId"))"""
    )
    # Old de-duplication records are pruned by receivedAt.
    op.execute('CREATE INDEX "SlackEvent_receivedAt_idx" ON "SlackEvent" ("receivedAt")')


def downgrade() -> None:
    op.execute('DROP TABLE "SlackEvent"')
    for statement in INDEXES:
        name = statement.split('"')[1]
        op.execute(f'DROP INDEX "{name}"')
    for table, columns in TIMESTAMP_COLUMNS.items():
        changes = ", ".join(
            f'ALTER COLUMN "{column}" TYPE TIMESTAMP(3) USING "{column}" AT TIME ZONE \'UTC\''
            for column in columns
        )
        op.execute(f'ALTER TABLE "{table}" {changes}')
