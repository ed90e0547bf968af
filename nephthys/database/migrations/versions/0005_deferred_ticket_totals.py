"""Ticket totals are added at commit, not at each statement: writers no longer queue on them mid-transaction.

With 0003 a statement that changed tickets (or a user) updated the one totals
row at once and held its lock to the end of the transaction, so every writer
after it waited for that whole transaction, and two transactions touching
tickets in opposite orders could deadlock through the totals row.

Now each statement's trigger only records its delta in "TicketTotalsPending"
(an insert, which never waits on anyone); a DEFERRABLE INITIALLY DEFERRED
constraint trigger adds the deltas to "TicketTotals" and "UserClosedCount" when
the transaction commits — still in that transaction, so the totals stay exact
and change atomically with the tickets, but the lock on them is taken last and
held only for the commit. A user's change bumps the version only when their
helper flag or Slack id really changes (upserts that change nothing are free).

Revision ID: 0005
Revises: 0004
"""

import importlib

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_0003 = importlib.import_module("nephthys.database.migrations.versions.0003_ticket_totals")
TOTAL_COLUMNS = _0003.TOTAL_COLUMNS
CHANGES = _0003.CHANGES
TOTALS_OF_CHANGES = _0003.TOTALS_OF_CHANGES

_PENDING_COLUMNS = ", ".join(f'"{column}"' for column in TOTAL_COLUMNS)


def _record_function(event: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION "ticket_totals_on_{event}"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    WITH changes AS ({CHANGES[event]}),
    delta AS ({TOTALS_OF_CHANGES}),
    per_user AS (
        SELECT coalesce(jsonb_object_agg(user_id, n), '{{}}'::jsonb) AS closed
        FROM (SELECT "closedById" AS user_id, sum(sign) AS n FROM changes
              WHERE "closedById" IS NOT NULL GROUP BY "closedById" HAVING sum(sign) <> 0) counts)
    INSERT INTO "TicketTotalsPending" ({_PENDING_COLUMNS}, "closedByUser")
    SELECT {", ".join(f"delta.{alias}" for alias in TOTAL_COLUMNS.values())}, per_user.closed
    FROM delta, per_user
    WHERE EXISTS (SELECT 1 FROM changes);
    RETURN NULL;
END
$body$"""


APPLY_FUNCTION = (
    """CREATE FUNCTION "ticket_totals_apply_pending"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- Gone already: a TRUNCATE or a rebuild in this transaction recounted everything.
    DELETE FROM "TicketTotalsPending" WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE "TicketTotals" AS t SET "version" = nextval('"TicketTotals_version_seq"'), """
    + ", ".join(f'"{column}" = t."{column}" + NEW."{column}"' for column in TOTAL_COLUMNS)
    + """ WHERE t.id = 1;
    INSERT INTO "UserClosedCount" ("userId", "count")
    SELECT key::integer, value::bigint FROM jsonb_each_text(NEW."closedByUser") ORDER BY key::integer
    ON CONFLICT ("userId") DO UPDATE SET "count" = "UserClosedCount"."count" + EXCLUDED."count";
    RETURN NULL;
END
$body$"""
)

NOTE_USER_CHANGE = """CREATE FUNCTION "ticket_totals_note_user_change"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- No ticket changed; the version moves (at commit) because leaderboards show helpers' flags and ids.
    INSERT INTO "TicketTotalsPending" DEFAULT VALUES;
    RETURN NULL;
END
$body$"""

TRUNCATE_FUNCTION = (
    """CREATE OR REPLACE FUNCTION "ticket_totals_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM "TicketTotalsPending";
    UPDATE "TicketTotals" SET "version" = nextval('"TicketTotals_version_seq"'), """
    + ", ".join(f'"{column}" = 0' for column in TOTAL_COLUMNS)
    + """ WHERE id = 1;
    DELETE FROM "UserClosedCount";
    RETURN NULL;
END
$body$"""
)

REBUILD_FUNCTION = _0003.REBUILD_FUNCTION.replace(
    'CREATE FUNCTION "ticket_totals_rebuild"()', 'CREATE OR REPLACE FUNCTION "ticket_totals_rebuild"()'
).replace(
    '    LOCK TABLE "Ticket" IN SHARE MODE;\n',
    '    LOCK TABLE "Ticket" IN SHARE MODE;\n    DELETE FROM "TicketTotalsPending";\n',
)


def upgrade() -> None:
    columns = ", ".join(f'"{column}" BIGINT NOT NULL DEFAULT 0' for column in TOTAL_COLUMNS)
    op.execute(
        f"""CREATE TABLE "TicketTotalsPending" (
            "id" BIGSERIAL NOT NULL,
            {columns},
            "closedByUser" JSONB NOT NULL DEFAULT '{{}}',
            CONSTRAINT "TicketTotalsPending_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute(APPLY_FUNCTION)
    op.execute(
        'CREATE CONSTRAINT TRIGGER "ticket_totals_apply_pending" AFTER INSERT ON "TicketTotalsPending" '
        'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "ticket_totals_apply_pending"()'
    )
    for event in CHANGES:
        op.execute(_record_function(event))
    op.execute(TRUNCATE_FUNCTION)
    op.execute(REBUILD_FUNCTION)
    op.execute('DROP TRIGGER "ticket_totals_user_changes" ON "User"')
    op.execute('DROP FUNCTION "ticket_totals_bump_version"()')
    op.execute(NOTE_USER_CHANGE)
    op.execute(
        'CREATE TRIGGER "ticket_totals_user_changes" AFTER UPDATE OF helper, "slackId" ON "User" FOR EACH ROW '
        'WHEN (OLD.helper IS DISTINCT FROM NEW.helper OR OLD."slackId" IS DISTINCT FROM NEW."slackId") '
        'EXECUTE FUNCTION "ticket_totals_note_user_change"()'
    )


def downgrade() -> None:
    op.execute('DROP TRIGGER "ticket_totals_user_changes" ON "User"')
    op.execute('DROP FUNCTION "ticket_totals_note_user_change"()')
    op.execute(_0003.BUMP_FUNCTION)
    op.execute(
        'CREATE TRIGGER "ticket_totals_user_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
        'ON "User" FOR EACH STATEMENT EXECUTE FUNCTION "ticket_totals_bump_version"()'
    )
    for event in CHANGES:
        op.execute(_0003._trigger_function(event).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute(_0003.RESET_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute(_0003.REBUILD_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute('DROP TABLE "TicketTotalsPending"')
    op.execute('DROP FUNCTION "ticket_totals_apply_pending"()')
