"""SlackEvent keeps the event it claimed, so an unfinished delivery can be replayed.

A delivery is claimed (and acknowledged) before its work is done. If the instance
that claimed it dies before finishing, Slack will not redeliver it (it got its 2xx);
with the event stored beside the claim, the replay job finishes it on any instance.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('ALTER TABLE "SlackEvent" ADD COLUMN "payload" JSONB')
    # The replay job's scan: unfinished deliveries, oldest first.
    op.execute(
        'CREATE INDEX "SlackEvent_unfinished_receivedAt_idx" ON "SlackEvent" ("receivedAt") '
        'WHERE "processedAt" IS NULL'
    )


def downgrade() -> None:
    op.execute('DROP INDEX "SlackEvent_unfinished_receivedAt_idx"')
    op.execute('ALTER TABLE "SlackEvent" DROP COLUMN "payload"')
