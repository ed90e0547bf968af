"""The schema as `prisma db push` created it for existing Nephthys deployments.

A database Prisma created is stamped at this revision when adopted (see
nephthys.database.migrate); a new database is built through it, so both reach
the newest schema by the same path.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Prisma's DDL for the legacy schema: TIMESTAMP(3) holding UTC, `@id @unique`
# (hence the redundant *_id_key indexes), a unique username, a required ticketTs.
STATEMENTS = [
    """CREATE TYPE "TicketStatus" AS ENUM ('OPEN', 'IN_PROGRESS', 'CLOSED')""",
    """CREATE TYPE "UserType" AS ENUM ('AUTHOR', 'HELPER', 'OTHER')""",
    """CREATE TABLE "User" (
        "id" SERIAL NOT NULL,
        "slackId" TEXT NOT NULL,
        "username" TEXT,
        "admin" BOOLEAN NOT NULL DEFAULT false,
        "helper" BOOLEAN NOT NULL DEFAULT false,
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "User_pkey" PRIMARY KEY ("id"))""",
    """CREATE TABLE "Ticket" (
        "id" SERIAL NOT NULL,
        "title" TEXT NOT NULL,
        "description" TEXT NOT NULL,
        "status" "TicketStatus" NOT NULL DEFAULT 'OPEN',
        "msgTs" TEXT NOT NULL,
        "ticketTs" TEXT NOT NULL,
        "lastMsgAt" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP,
        "lastMsgBy" "UserType" DEFAULT 'AUTHOR',
        "openedById" INTEGER NOT NULL,
        "reopenedById" INTEGER,
        "reopenedAt" TIMESTAMP(3),
        "closedById" INTEGER,
        "closedAt" TIMESTAMP(3),
        "assignedToId" INTEGER,
        "assignedAt" TIMESTAMP(3),
        "questionTagId" INTEGER,
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "Ticket_pkey" PRIMARY KEY ("id"))""",
    """CREATE TABLE "QuestionTag" (
        "id" SERIAL NOT NULL,
        "label" TEXT NOT NULL,
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "QuestionTag_pkey" PRIMARY KEY ("id"))""",
    """CREATE TABLE "Tag" (
        "id" SERIAL NOT NULL,
        "name" TEXT NOT NULL,
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "Tag_pkey" PRIMARY KEY ("id"))""",
    """CREATE TABLE "tags_on_tickets" (
        "ticketId" INTEGER NOT NULL,
        "tagId" INTEGER NOT NULL,
        "assignedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "tags_on_tickets_pkey" PRIMARY KEY ("ticketId","tagId"))""",
    """CREATE TABLE "user_tag_subscriptions" (
        "userId" INTEGER NOT NULL,
        "tagId" INTEGER NOT NULL,
        "subscribedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "user_tag_subscriptions_pkey" PRIMARY KEY ("userId","tagId"))""",
    """CREATE TABLE "BotMessage" (
        "id" SERIAL NOT NULL,
        "ts" TEXT NOT NULL,
        "channelId" TEXT NOT NULL,
        "ticketId" INTEGER NOT NULL,
        CONSTRAINT "BotMessage_pkey" PRIMARY KEY ("id"))""",
    'CREATE UNIQUE INDEX "User_id_key" ON "User"("id")',
    'CREATE UNIQUE INDEX "User_slackId_key" ON "User"("slackId")',
    'CREATE UNIQUE INDEX "User_username_key" ON "User"("username")',
    'CREATE UNIQUE INDEX "Ticket_id_key" ON "Ticket"("id")',
    'CREATE UNIQUE INDEX "Ticket_msgTs_key" ON "Ticket"("msgTs")',
    'CREATE UNIQUE INDEX "Ticket_ticketTs_key" ON "Ticket"("ticketTs")',
    'CREATE UNIQUE INDEX "QuestionTag_id_key" ON "QuestionTag"("id")',
    'CREATE UNIQUE INDEX "QuestionTag_label_key" ON "QuestionTag"("label")',
    'CREATE UNIQUE INDEX "Tag_id_key" ON "Tag"("id")',
    'CREATE UNIQUE INDEX "Tag_name_key" ON "Tag"("name")',
    'CREATE UNIQUE INDEX "BotMessage_id_key" ON "BotMessage"("id")',
    'CREATE UNIQUE INDEX "BotMessage_ts_channelId_key" ON "BotMessage"("ts", "channelId")',
    *(
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_fkey" FOREIGN KEY ("{column}") '
        f'REFERENCES "{target}"("id") ON DELETE {on_delete} ON UPDATE CASCADE'
        for table, column, target, on_delete in [
            ("Ticket", "openedById", "User", "RESTRICT"),
            ("Ticket", "reopenedById", "User", "SET NULL"),
            ("Ticket", "closedById", "User", "SET NULL"),
            ("Ticket", "assignedToId", "User", "SET NULL"),
            ("Ticket", "questionTagId", "QuestionTag", "SET NULL"),
            ("tags_on_tickets", "ticketId", "Ticket", "CASCADE"),
            ("tags_on_tickets", "tagId", "Tag", "CASCADE"),
            ("user_tag_subscriptions", "userId", "User", "CASCADE"),
            ("user_tag_subscriptions", "tagId", "Tag", "CASCADE"),
            ("BotMessage", "ticketId", "Ticket", "CASCADE"),
        ]
    ),
]

# The tables adoption looks for, with the columns each must have.
LEGACY_TABLES = {
    "User": {"id", "slackId", "username", "admin", "helper", "createdAt"},
    "Ticket": {
        "id", "title", "description", "status", "msgTs", "ticketTs", "lastMsgAt", "lastMsgBy",
        "openedById", "reopenedById", "reopenedAt", "closedById", "closedAt", "assignedToId",
        "assignedAt", "questionTagId", "createdAt",
    },
    "QuestionTag": {"id", "label", "createdAt"},
    "Tag": {"id", "name", "createdAt"},
    "tags_on_tickets": {"ticketId", "tagId", "assignedAt"},
    "user_tag_subscriptions": {"userId", "tagId", "subscribedAt"},
    "BotMessage": {"id", "ts", "channelId", "ticketId"},
}  # fmt: skip


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in reversed(list(LEGACY_TABLES)):
        op.execute(f'DROP TABLE "{table}" CASCADE')
    op.execute('DROP TYPE "UserType"')
    op.execute('DROP TYPE "TicketStatus"')
