"""The hours' durations rewritten in hour order (issue 23): a year of them is one short range of pages.

``nephthys.stats.hourly.days_from_hours`` reads a series' whole hours of "TicketHourDurations" as
one range of its primary key. Each ticket change rewrites its hours' rows (~1.6 kB each, inline),
so on live-shaped data a row is wherever its last update left it: at 1,000,000 tickets the table
was 78 MB for 16 MB of rows, and a 365-day series touched ~13,500 pages (~100 ms of database CPU
at load ~10). Rewritten in key order it is 16 MB and the same read ~70 ms. This is a one-time
compaction (CLUSTER, a few seconds under an exclusive lock at 1,000,000 tickets); rows written
later go wherever there is room, as before.

Revision ID: 0039
Revises: 0038
"""

from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('CLUSTER "TicketHourDurations" USING "TicketHourDurations_pkey"')


def downgrade() -> None:
    pass  # the order of rows is no part of the schema
