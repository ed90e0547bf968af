"""The kept days of /api/stats/daily are bounded: a row cap, the least recently used zone forgotten first (issue 18).

"DailyFigures" grew by every day any client asked for in any zone (1.1 million
rows in a minute of anonymous requests). Now (``nephthys.stats.daily`` enforces
it where it inserts):

- each kept day names the ``zone`` whose request stored it ("DailyFigures"."zone");
- "DailyFiguresZone" holds, per zone with kept days, when a request last read or
  stored them (``lastUsedAt``, written at most once a minute per zone: never a
  write per row read);
- "DailyFiguresStore" is one row every request that stores days updates first, in
  its REPEATABLE READ snapshot: a second storer waits for nothing (it asks for the
  row lock without waiting) and fails if another stored since its snapshot, so the
  count of kept days each storer sees is exact and the cap holds across instances.

Existing kept days are dropped (they name no zone); they are computed again on demand.
TRUNCATE "Ticket" now forgets the zones too.

Revision ID: 0017
Revises: 0016
"""

import importlib

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_0012 = importlib.import_module("nephthys.database.migrations.versions.0012_duration_counts")

DAILY_TRUNCATE_FUNCTION = """CREATE OR REPLACE FUNCTION "daily_figures_on_truncate"() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM "DailyFiguresPending";
    DELETE FROM "DailyFigures";
    DELETE FROM "DailyFiguresZone";
    RETURN NULL;
END
$body$"""


def upgrade() -> None:
    op.execute('DELETE FROM "DailyFigures"')
    op.execute('ALTER TABLE "DailyFigures" ADD COLUMN "zone" TEXT NOT NULL')
    op.execute('CREATE INDEX "DailyFigures_zone_idx" ON "DailyFigures" ("zone")')
    op.execute(
        """CREATE TABLE "DailyFiguresZone" (
            "zone" TEXT NOT NULL,
            "lastUsedAt" TIMESTAMPTZ(3) NOT NULL,
            CONSTRAINT "DailyFiguresZone_pkey" PRIMARY KEY ("zone"))"""
    )
    op.execute(
        """CREATE TABLE "DailyFiguresStore" (
            "id" INTEGER NOT NULL,
            "storedAt" TIMESTAMPTZ(3),
            CONSTRAINT "DailyFiguresStore_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute('INSERT INTO "DailyFiguresStore" ("id") VALUES (1)')
    op.execute(DAILY_TRUNCATE_FUNCTION)


def downgrade() -> None:
    op.execute(_0012.DAILY_TRUNCATE_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute('DROP TABLE "DailyFiguresStore"')
    op.execute('DROP TABLE "DailyFiguresZone"')
    op.execute('DROP INDEX "DailyFigures_zone_idx"')
    op.execute('ALTER TABLE "DailyFigures" DROP COLUMN "zone"')
