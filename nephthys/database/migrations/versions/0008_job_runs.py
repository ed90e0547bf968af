"""JobRun records each period of a scheduled job; Tag gets its digest time and days.

A job claims ``(job, period)`` in JobRun before it posts anything and records how
the period ended, so a period's work is done once across instances and restarts.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE "JobRun" (
            "id" SERIAL NOT NULL,
            "job" TEXT NOT NULL,
            "period" TEXT NOT NULL,
            "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            "finishedAt" TIMESTAMPTZ(3),
            "outcome" TEXT,
            "detail" TEXT,
            CONSTRAINT "JobRun_pkey" PRIMARY KEY ("id")
        )"""
    )
    op.execute('CREATE UNIQUE INDEX "JobRun_job_period_key" ON "JobRun" ("job", "period")')
    op.execute('CREATE INDEX "JobRun_job_startedAt_idx" ON "JobRun" ("job", "startedAt")')
    op.execute('ALTER TABLE "Tag" ADD COLUMN "digestTime" TEXT, ADD COLUMN "digestDays" TEXT')


def downgrade() -> None:
    op.execute('ALTER TABLE "Tag" DROP COLUMN "digestTime", DROP COLUMN "digestDays"')
    op.execute('DROP TABLE "JobRun"')
