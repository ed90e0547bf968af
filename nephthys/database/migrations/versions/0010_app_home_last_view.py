"""The App Home remembers the view each person last chose, and finds a helper's open tickets fast.

``User.appHomeLastView`` holds the view's name (dashboard, assigned, team_tags,
question_tags, my_stats, my_questions); NULL means the person never chose one and
sees their default (the dashboard for helpers, their questions for everyone else).

The partial index serves the "Assigned to me" view: a helper's open and in-progress
tickets, oldest first, without visiting the thousands they closed.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('ALTER TABLE "User" ADD COLUMN "appHomeLastView" TEXT')
    op.execute(
        'CREATE INDEX "Ticket_assigned_unclosed_idx" ON "Ticket" ("assignedToId", "createdAt", id) '
        "WHERE status <> 'CLOSED'"
    )


def downgrade() -> None:
    op.execute('DROP INDEX "Ticket_assigned_unclosed_idx"')
    op.execute('ALTER TABLE "User" DROP COLUMN "appHomeLastView"')
