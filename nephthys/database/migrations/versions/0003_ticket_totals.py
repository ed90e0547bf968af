"""Running totals over every ticket, kept exact by triggers, so all-time statistics read in O(1).

- "TicketTotals" (one row): tickets by status; count and sum (milliseconds) of
  hang times (all, and of unresolved tickets) and of resolution times; and a
  ``version`` that takes a new value from a sequence in every transaction that
  changes a ticket or a user, so a reader can tell whether anything changed.
- "UserClosedCount": tickets closed per user (``closedById``), for the
  all-time helpers leaderboard.

Statement-level triggers with transition tables add what a statement took away
and put in, in the same transaction as the change, so a bulk load pays once
per statement, not once per row. TRUNCATE empties the totals. The function
``ticket_totals_rebuild()`` recomputes everything from "Ticket" (run it after
loading rows with triggers disabled).

Every ticket-changing transaction updates the one totals row, so such
transactions queue on it until they commit (ticket writes are short; see
docs/api.md).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Milliseconds between two timestamptz(3) values, exactly (extract gives numeric).
_MS = "((extract(epoch from {a}) - extract(epoch from {b})) * 1000)::bigint"
HANG_MS = _MS.format(a='"assignedAt"', b='"createdAt"')
RESOLUTION_MS = _MS.format(a='"closedAt"', b='"createdAt"')

# Sums of `sign` over `changes` (rows with a sign column: +1 put in, -1 taken away).
TOTALS_OF_CHANGES = f"""
    SELECT
        coalesce(sum(sign) FILTER (WHERE status = 'OPEN'), 0) AS open,
        coalesce(sum(sign) FILTER (WHERE status = 'IN_PROGRESS'), 0) AS in_progress,
        coalesce(sum(sign) FILTER (WHERE status = 'CLOSED'), 0) AS closed,
        coalesce(sum(sign) FILTER (WHERE "assignedAt" IS NOT NULL), 0) AS hang_count,
        coalesce(sum(sign * {HANG_MS}) FILTER (WHERE "assignedAt" IS NOT NULL), 0) AS hang_sum_ms,
        coalesce(sum(sign) FILTER (WHERE "assignedAt" IS NOT NULL AND status <> 'CLOSED'), 0)
            AS hang_unresolved_count,
        coalesce(sum(sign * {HANG_MS}) FILTER (WHERE "assignedAt" IS NOT NULL AND status <> 'CLOSED'), 0)
            AS hang_unresolved_sum_ms,
        coalesce(sum(sign) FILTER (WHERE "closedAt" IS NOT NULL), 0) AS resolution_count,
        coalesce(sum(sign * {RESOLUTION_MS}) FILTER (WHERE "closedAt" IS NOT NULL), 0) AS resolution_sum_ms
    FROM changes"""

TOTAL_COLUMNS = {
    "open": "open",
    "inProgress": "in_progress",
    "closed": "closed",
    "hangCount": "hang_count",
    "hangSumMs": "hang_sum_ms",
    "hangUnresolvedCount": "hang_unresolved_count",
    "hangUnresolvedSumMs": "hang_unresolved_sum_ms",
    "resolutionCount": "resolution_count",
    "resolutionSumMs": "resolution_sum_ms",
}

# The totals row is updated first, always: writers queue on it, so they never
# take the per-user rows in opposite orders (no deadlock between triggers).
_ADD_TO_TOTALS = (
    f"""WITH changes AS ({{changes}}), delta AS ({TOTALS_OF_CHANGES})
    UPDATE "TicketTotals" AS t SET "version" = nextval('"TicketTotals_version_seq"'), """
    + ", ".join(f'"{column}" = t."{column}" + delta.{alias}' for column, alias in TOTAL_COLUMNS.items())
    + " FROM delta WHERE t.id = 1"
)
_ADD_TO_USERS = """WITH changes AS ({changes})
    INSERT INTO "UserClosedCount" ("userId", "count")
    SELECT "closedById", sum(sign) FROM changes WHERE "closedById" IS NOT NULL
    GROUP BY "closedById" HAVING sum(sign) <> 0 ORDER BY "closedById"
    ON CONFLICT ("userId") DO UPDATE SET "count" = "UserClosedCount"."count" + EXCLUDED."count\""""

CHANGES = {
    "insert": "SELECT 1 AS sign, * FROM new_rows",
    "delete": "SELECT -1 AS sign, * FROM old_rows",
    "update": "SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows",
}
REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _trigger_function(event: str) -> str:
    changes = CHANGES[event]
    return f"""CREATE FUNCTION "ticket_totals_on_{event}"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    {_ADD_TO_TOTALS.format(changes=changes)};
    {_ADD_TO_USERS.format(changes=changes)};
    RETURN NULL;
END
$body$"""


REBUILD_FUNCTION = f"""CREATE FUNCTION "ticket_totals_rebuild"() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    -- No ticket may change while the totals are recounted.
    LOCK TABLE "Ticket" IN SHARE MODE;
    WITH changes AS (SELECT 1 AS sign, * FROM "Ticket"), delta AS ({TOTALS_OF_CHANGES})
    UPDATE "TicketTotals" AS t SET "version" = nextval('"TicketTotals_version_seq"'), {
    ", ".join(f'"{column}" = delta.{alias}' for column, alias in TOTAL_COLUMNS.items())
} FROM delta WHERE t.id = 1;
    DELETE FROM "UserClosedCount";
    INSERT INTO "UserClosedCount" ("userId", "count")
    SELECT "closedById", count(*) FROM "Ticket" WHERE "closedById" IS NOT NULL GROUP BY "closedById";
END
$body$"""

RESET_FUNCTION = (
    """CREATE FUNCTION "ticket_totals_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    UPDATE "TicketTotals" SET "version" = nextval('"TicketTotals_version_seq"'), """
    + ", ".join(f'"{column}" = 0' for column in TOTAL_COLUMNS)
    + """ WHERE id = 1;
    DELETE FROM "UserClosedCount";
    RETURN NULL;
END
$body$"""
)

# Users' helper flags and Slack ids show in the leaderboards: a change to them is a new version.
BUMP_FUNCTION = """CREATE FUNCTION "ticket_totals_bump_version"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    UPDATE "TicketTotals" SET "version" = nextval('"TicketTotals_version_seq"') WHERE id = 1;
    RETURN NULL;
END
$body$"""


def upgrade() -> None:
    op.execute('CREATE SEQUENCE "TicketTotals_version_seq" AS BIGINT')
    columns = ", ".join(f'"{column}" BIGINT NOT NULL DEFAULT 0' for column in TOTAL_COLUMNS)
    op.execute(
        f"""CREATE TABLE "TicketTotals" (
            "id" INTEGER NOT NULL DEFAULT 1,
            "version" BIGINT NOT NULL DEFAULT 0,
            {columns},
            CONSTRAINT "TicketTotals_pkey" PRIMARY KEY ("id"),
            CONSTRAINT "TicketTotals_one_row" CHECK ("id" = 1))"""
    )
    op.execute(
        """CREATE TABLE "UserClosedCount" (
            "userId" INTEGER NOT NULL,
            "count" BIGINT NOT NULL DEFAULT 0,
            CONSTRAINT "UserClosedCount_pkey" PRIMARY KEY ("userId"))"""
    )
    op.execute('INSERT INTO "TicketTotals" ("id") VALUES (1)')
    for event in CHANGES:
        op.execute(_trigger_function(event))
        op.execute(
            f'CREATE TRIGGER "ticket_totals_{event}" AFTER {event.upper()} ON "Ticket" '
            f'{REFERENCING[event]} FOR EACH STATEMENT EXECUTE FUNCTION "ticket_totals_on_{event}"()'
        )
    op.execute(RESET_FUNCTION)
    op.execute(
        'CREATE TRIGGER "ticket_totals_truncate" AFTER TRUNCATE ON "Ticket" '
        'FOR EACH STATEMENT EXECUTE FUNCTION "ticket_totals_on_truncate"()'
    )
    op.execute(BUMP_FUNCTION)
    op.execute(
        'CREATE TRIGGER "ticket_totals_user_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
        'ON "User" FOR EACH STATEMENT EXECUTE FUNCTION "ticket_totals_bump_version"()'
    )
    op.execute(REBUILD_FUNCTION)
    # An adopted database already has tickets.
    op.execute('SELECT "ticket_totals_rebuild"()')


def downgrade() -> None:
    op.execute('DROP TRIGGER "ticket_totals_user_changes" ON "User"')
    for event in [*CHANGES, "truncate"]:
        op.execute(f'DROP TRIGGER "ticket_totals_{event}" ON "Ticket"')
        op.execute(f'DROP FUNCTION "ticket_totals_on_{event}"()')
    op.execute('DROP FUNCTION "ticket_totals_bump_version"()')
    op.execute('DROP FUNCTION "ticket_totals_rebuild"()')
    op.execute('DROP TABLE "UserClosedCount"')
    op.execute('DROP TABLE "TicketTotals"')
    op.execute('DROP SEQUENCE "TicketTotals_version_seq"')
