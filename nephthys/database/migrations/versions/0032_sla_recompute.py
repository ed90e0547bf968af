"""The SLA clocks recomputed in the background after a policy change (issue 21): the recompute's
state on "SlaPolicyInUse", so a start-up no longer recomputes every ticket's clocks before it answers.

- "recomputeKey": the policy (and calendar) the clocks are being brought to; null when none is
  pending ("key" then names the policy every stored clock follows). Written by the start-up that
  installs a different policy, cleared by the recompute's last batch, which writes "key" then.
- "recomputeStartedAt": when that start-up asked for it.
- "recomputeActiveAfter" / "recomputeActiveDoneAt": the active (open and in-progress) tickets go
  first, in id order, after this id; done at that instant. Until then ``sla-watch`` acts on no clock
  (a running clock may still follow the old targets).
- "recomputeAfter": then every ticket, in id order, after this id.
- "recomputedTickets": how many tickets' clocks were recomputed so far (progress, for the log and
  ``nephthys jobs list``).

One row, so adding the columns rewrites nothing.

Revision ID: 0032
Revises: 0031
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """ALTER TABLE "SlaPolicyInUse"
               ADD COLUMN "recomputeKey" TEXT,
               ADD COLUMN "recomputeStartedAt" TIMESTAMPTZ(3),
               ADD COLUMN "recomputeActiveAfter" INTEGER NOT NULL DEFAULT 0,
               ADD COLUMN "recomputeActiveDoneAt" TIMESTAMPTZ(3),
               ADD COLUMN "recomputeAfter" INTEGER NOT NULL DEFAULT 0,
               ADD COLUMN "recomputedTickets" INTEGER NOT NULL DEFAULT 0"""
    )


def downgrade() -> None:
    op.execute(
        """ALTER TABLE "SlaPolicyInUse"
               DROP COLUMN "recomputedTickets", DROP COLUMN "recomputeAfter",
               DROP COLUMN "recomputeActiveDoneAt", DROP COLUMN "recomputeActiveAfter",
               DROP COLUMN "recomputeStartedAt", DROP COLUMN "recomputeKey\""""
    )
