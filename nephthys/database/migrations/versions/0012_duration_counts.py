"""How many tickets have each hang and resolution time, per minute, kept by triggers; durations indexed in order.

An all-time duration distribution (``/api/stats/distribution`` without
``since``/``until``) used to sort every ticket's duration: seconds at a million
tickets. Now it reads its figures from two structures kept exact by triggers:

- "TicketDurationCount": for each metric (``hang``: ``assignedAt − createdAt``
  where ``assignedAt`` is set; ``resolution``: ``closedAt − createdAt`` where
  ``closedAt`` is set) and each *bin* of whole milliseconds, how many tickets
  have a duration in it. Bin 0 holds durations ≤ 0; bin ``m`` for 1 ≤ m ≤ 10080
  holds ``(m − 1)·60000 < d ≤ m·60000`` (one minute, so every bucket edge of
  the distribution, all whole minutes up to 10080, is a bin edge and a
  bucket's count is a sum of bins); beyond a week, one bin per hour:
  bin ``10080 + h`` holds ``604800000 + (h − 1)·3600000 < d ≤ 604800000 + h·3600000``.
- "Ticket_hang_ms_idx" and "Ticket_resolution_ms_idx": the durations
  themselves, in order, with the two instants included so a read is index-only.
  The k-th smallest duration is the entry at offset ``k − (tickets in earlier
  bins)`` from the start of its bin: a short ordered index read.

The counts change at commit, as the ticket totals do (migration 0005): each
statement's trigger records its change in "TicketDurationPending" (an insert,
which never waits), and a deferred constraint trigger adds it to the counts in
ascending (metric, bin) order when the transaction commits, so writers hold
the counts' row locks only for their commit and always take them in the same
order. TRUNCATE empties the counts; ``ticket_totals_rebuild()`` recounts them too.

The daily series (``/api/stats/daily``) keeps each day it computed in
"DailyFigures", keyed by the day's first instant and the instant it ends (so a
local day in any zone), and recomputes only the days a ticket change touched:

- the day that holds a changed ticket's ``createdAt`` (old and new), when its
  ``createdAt``, ``assignedAt`` or ``closedAt`` changed (new tickets, percentiles);
- when its ``createdAt`` or ``closedAt`` changed (or it was added or deleted),
  every day from the one holding the earliest of its old and new ``closedAt``
  (``createdAt`` too when that moved) to the one holding the latest (or every
  later day, when either was open): closures and the tickets unresolved at
  each day's end. A reopened old ticket so clears every day since it closed.

Those days are deleted at commit by a deferred trigger, after it has locked the
totals row; a reader stores days only while holding a share lock on that row in
a REPEATABLE READ transaction that saw no ticket change commit since its
snapshot (``nephthys.stats.daily``), so a stored day is never older than the
change that should have removed it.

Revision ID: 0012
Revises: 0011
"""

import importlib

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_0005 = importlib.import_module("nephthys.database.migrations.versions.0005_deferred_ticket_totals")


def _ms(later: str, earlier: str) -> str:
    # The same expression as nephthys.stats.overview's, so the planner matches the indexes.
    return f"round(date_part('epoch', {later} - {earlier}) * 1000)::bigint"


HANG_MS = _ms('"assignedAt"', '"createdAt"')
RESOLUTION_MS = _ms('"closedAt"', '"createdAt"')
MINUTE_BINS = 10080
WEEK_MS = MINUTE_BINS * 60_000


def bin_of(ms: str) -> str:
    """The bin of a duration in milliseconds (see the module's description)."""
    return (
        f"(CASE WHEN {ms} <= 0 THEN 0 WHEN {ms} <= {WEEK_MS} THEN ({ms} + 59999) / 60000 "
        f"ELSE {MINUTE_BINS} + ({ms} - {WEEK_MS} + 3599999) / 3600000 END)::integer"
    )


INDEXES = {
    "Ticket_hang_ms_idx": f"""(({HANG_MS})) INCLUDE ("assignedAt", "createdAt") WHERE "assignedAt" IS NOT NULL""",
    "Ticket_resolution_ms_idx": f"""(({RESOLUTION_MS})) INCLUDE ("closedAt", "createdAt") """
    """WHERE "closedAt" IS NOT NULL""",
}

# The bins a set of rows puts in (sign 1) or takes away (sign -1), per metric.
_BINS_OF_CHANGES = f"""
    SELECT metric, bin, sum(sign) AS n FROM (
        SELECT sign, 'hang' AS metric, {bin_of(HANG_MS)} AS bin FROM changes WHERE "assignedAt" IS NOT NULL
        UNION ALL
        SELECT sign, 'resolution', {bin_of(RESOLUTION_MS)} FROM changes WHERE "closedAt" IS NOT NULL
    ) durations GROUP BY metric, bin HAVING sum(sign) <> 0"""

_CHANGES = {
    "insert": "SELECT 1 AS sign, * FROM new_rows",
    "update": "SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1, * FROM new_rows",
    "delete": "SELECT -1 AS sign, * FROM old_rows",
}
_TRANSITIONS = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
}


def _record_function(event: str) -> str:
    return f"""CREATE FUNCTION "ticket_durations_on_{event}"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- Most updates (a message, a status) move no duration: nothing is recorded.
    WITH changes AS ({_CHANGES[event]}), bins AS ({_BINS_OF_CHANGES})
    INSERT INTO "TicketDurationPending" ("bins")
    SELECT jsonb_object_agg(metric || ':' || bin, n) FROM bins HAVING count(*) > 0;
    RETURN NULL;
END
$body$"""


APPLY_FUNCTION = """CREATE FUNCTION "ticket_durations_apply_pending"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- Gone already: a TRUNCATE or a rebuild in this transaction recounted everything.
    DELETE FROM "TicketDurationPending" WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO "TicketDurationCount" ("metric", "bin", "count")
    SELECT split_part(key, ':', 1), split_part(key, ':', 2)::integer, value::bigint
    FROM jsonb_each_text(NEW."bins") ORDER BY 1, 2
    ON CONFLICT ("metric", "bin") DO UPDATE SET "count" = "TicketDurationCount"."count" + EXCLUDED."count";
    RETURN NULL;
END
$body$"""

TRUNCATE_FUNCTION = """CREATE FUNCTION "ticket_durations_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM "TicketDurationPending";
    DELETE FROM "TicketDurationCount";
    RETURN NULL;
END
$body$"""

REBUILD_FUNCTION = f"""CREATE FUNCTION "ticket_durations_rebuild"() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    -- No ticket may change while the counts are recounted.
    LOCK TABLE "Ticket" IN SHARE MODE;
    DELETE FROM "TicketDurationPending";
    DELETE FROM "TicketDurationCount";
    -- Tickets loaded with the triggers off may fall in any stored day.
    DELETE FROM "DailyFiguresPending";
    DELETE FROM "DailyFigures";
    WITH changes AS (SELECT 1 AS sign, * FROM "Ticket"), bins AS ({_BINS_OF_CHANGES})
    INSERT INTO "TicketDurationCount" ("metric", "bin", "count") SELECT metric, bin, n FROM bins;
END
$body$"""

# ticket_totals_rebuild() (run after loading tickets with triggers off) recounts these too.
_TOTALS_REBUILD = _0005.REBUILD_FUNCTION
assert _TOTALS_REBUILD.rstrip().endswith("END\n$body$")
TOTALS_REBUILD_WITH_DURATIONS = (
    _TOTALS_REBUILD.rstrip()[: -len("END\n$body$")] + '    PERFORM "ticket_durations_rebuild"();\nEND\n$body$'
)


# One pending row per statement: the instants whose days go ("points"), and ranges of days
# ("ranges": [after, until] pairs, the days ending after `after` and starting at or before
# `until`; null: no end).
# A statement changing more than _MANY tickets records one range over them all instead.
_MANY = 1000
_DAILY_RANGES = """
    WITH pairs AS (
        SELECT o.id AS old_id, n.id AS new_id,
               o."createdAt" AS old_created, n."createdAt" AS new_created,
               o."closedAt" AS old_closed, n."closedAt" AS new_closed,
               o."assignedAt" AS old_assigned, n."assignedAt" AS new_assigned
        FROM {old} o FULL JOIN {new} n ON n.id = o.id
    ), touched AS (
        SELECT *, (old_id IS NULL OR new_id IS NULL
                   OR old_created IS DISTINCT FROM new_created
                   OR old_closed IS DISTINCT FROM new_closed) AS spans_moved
        FROM pairs
        WHERE old_id IS NULL OR new_id IS NULL
           OR old_created IS DISTINCT FROM new_created
           OR old_closed IS DISTINCT FROM new_closed
           OR old_assigned IS DISTINCT FROM new_assigned
    ), ranges AS (
        SELECT least(old_closed, new_closed,
                     CASE WHEN old_id IS NULL OR new_id IS NULL OR old_created IS DISTINCT FROM new_created
                          THEN least(old_created, new_created) END) AS after,
               CASE WHEN (old_id IS NOT NULL AND old_closed IS NULL) OR (new_id IS NOT NULL AND new_closed IS NULL)
                    THEN NULL ELSE greatest(old_closed, new_closed) END AS until
        FROM touched WHERE spans_moved
    )
    INSERT INTO "DailyFiguresPending" ("points", "ranges")
    SELECT CASE WHEN count(*) > {many} THEN '[]'::jsonb
                ELSE coalesce(jsonb_agg(old_created) FILTER (WHERE old_created IS NOT NULL), '[]'::jsonb)
                     || coalesce(jsonb_agg(new_created) FILTER (WHERE new_created IS NOT NULL), '[]'::jsonb) END,
           CASE WHEN count(*) > {many}
                THEN jsonb_build_array(jsonb_build_array(
                         least(min(old_created), min(new_created), min(old_closed), min(new_closed)), NULL))
                ELSE coalesce((SELECT jsonb_agg(jsonb_build_array(after, until)) FROM ranges), '[]'::jsonb) END
    FROM touched HAVING count(*) > 0"""

_DAILY_OLD_NEW = {
    "insert": ('(SELECT * FROM "Ticket" WHERE false)', "new_rows"),
    "update": ("old_rows", "new_rows"),
    "delete": ("old_rows", '(SELECT * FROM "Ticket" WHERE false)'),
}


def _daily_record_function(event: str) -> str:
    old, new = _DAILY_OLD_NEW[event]
    return f"""CREATE FUNCTION "daily_figures_on_{event}"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    {_DAILY_RANGES.format(old=old, new=new, many=_MANY)};
    RETURN NULL;
END
$body$"""


DAILY_APPLY_FUNCTION = """CREATE FUNCTION "daily_figures_apply_pending"() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
    at timestamptz;
    range_after timestamptz;
    range_until timestamptz;
BEGIN
    DELETE FROM "DailyFiguresPending" WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- A reader storing days holds a share lock on this row: wait for it, so its days are
    -- committed (and seen here) before these go, or it sees this change and stores nothing.
    PERFORM 1 FROM "TicketTotals" WHERE id = 1 FOR NO KEY UPDATE;
    -- One short range of "DailyFigures_dayEnd_idx" per instant: the days ending after it.
    FOR at IN SELECT value::timestamptz FROM jsonb_array_elements_text(NEW."points") LOOP
        DELETE FROM "DailyFigures" WHERE "dayEnd" > at AND "dayStart" <= at;
    END LOOP;
    FOR range_after, range_until IN
        SELECT (pair ->> 0)::timestamptz, (pair ->> 1)::timestamptz FROM jsonb_array_elements(NEW."ranges") AS r(pair)
    LOOP
        DELETE FROM "DailyFigures"
        WHERE "dayEnd" > range_after AND (range_until IS NULL OR "dayStart" <= range_until);
    END LOOP;
    RETURN NULL;
END
$body$"""

DAILY_TRUNCATE_FUNCTION = """CREATE FUNCTION "daily_figures_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM "DailyFiguresPending";
    DELETE FROM "DailyFigures";
    RETURN NULL;
END
$body$"""


def upgrade() -> None:
    op.execute(
        """CREATE TABLE "TicketDurationCount" (
            "metric" TEXT NOT NULL,
            "bin" INTEGER NOT NULL,
            "count" BIGINT NOT NULL DEFAULT 0,
            CONSTRAINT "TicketDurationCount_pkey" PRIMARY KEY ("metric", "bin"))"""
    )
    op.execute(
        """CREATE TABLE "TicketDurationPending" (
            "id" BIGSERIAL NOT NULL,
            "bins" JSONB NOT NULL DEFAULT '{}',
            CONSTRAINT "TicketDurationPending_pkey" PRIMARY KEY ("id"))"""
    )
    for name, definition in INDEXES.items():
        op.execute(f'CREATE INDEX "{name}" ON "Ticket" {definition}')
    op.execute(APPLY_FUNCTION)
    op.execute(
        'CREATE CONSTRAINT TRIGGER "ticket_durations_apply_pending" AFTER INSERT ON "TicketDurationPending" '
        'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "ticket_durations_apply_pending"()'
    )
    for event in _CHANGES:
        op.execute(_record_function(event))
        op.execute(
            f'CREATE TRIGGER "ticket_durations_{event}" AFTER {event.upper()} ON "Ticket" '
            f'REFERENCING {_TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION "ticket_durations_on_{event}"()'
        )
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        'CREATE TRIGGER "ticket_durations_truncate" AFTER TRUNCATE ON "Ticket" '
        'FOR EACH STATEMENT EXECUTE FUNCTION "ticket_durations_on_truncate"()'
    )
    op.execute(REBUILD_FUNCTION)
    op.execute(TOTALS_REBUILD_WITH_DURATIONS.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute(
        """CREATE TABLE "DailyFigures" (
            "dayStart" TIMESTAMPTZ(3) NOT NULL,
            "dayEnd" TIMESTAMPTZ(3) NOT NULL,
            "newTickets" BIGINT NOT NULL,
            "closedTickets" BIGINT NOT NULL,
            "unresolvedAtEnd" BIGINT NOT NULL,
            "hangP50Ms" DOUBLE PRECISION,
            "hangP90Ms" DOUBLE PRECISION,
            "hangP95Ms" DOUBLE PRECISION,
            "resolutionP50Ms" DOUBLE PRECISION,
            "resolutionP90Ms" DOUBLE PRECISION,
            "resolutionP95Ms" DOUBLE PRECISION,
            CONSTRAINT "DailyFigures_pkey" PRIMARY KEY ("dayStart", "dayEnd"))"""
    )
    op.execute('CREATE INDEX "DailyFigures_dayEnd_idx" ON "DailyFigures" ("dayEnd")')
    op.execute(
        """CREATE TABLE "DailyFiguresPending" (
            "id" BIGSERIAL NOT NULL,
            "points" JSONB NOT NULL DEFAULT '[]',
            "ranges" JSONB NOT NULL DEFAULT '[]',
            CONSTRAINT "DailyFiguresPending_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute(DAILY_APPLY_FUNCTION)
    op.execute(
        'CREATE CONSTRAINT TRIGGER "daily_figures_apply_pending" AFTER INSERT ON "DailyFiguresPending" '
        'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "daily_figures_apply_pending"()'
    )
    for event in _DAILY_OLD_NEW:
        op.execute(_daily_record_function(event))
        op.execute(
            f'CREATE TRIGGER "daily_figures_{event}" AFTER {event.upper()} ON "Ticket" '
            f'REFERENCING {_TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION "daily_figures_on_{event}"()'
        )
    op.execute(DAILY_TRUNCATE_FUNCTION)
    op.execute(
        'CREATE TRIGGER "daily_figures_truncate" AFTER TRUNCATE ON "Ticket" '
        'FOR EACH STATEMENT EXECUTE FUNCTION "daily_figures_on_truncate"()'
    )
    op.execute('SELECT "ticket_durations_rebuild"()')


def downgrade() -> None:
    for event in [*_DAILY_OLD_NEW, "truncate"]:
        op.execute(f'DROP TRIGGER "daily_figures_{event}" ON "Ticket"')
        op.execute(f'DROP FUNCTION "daily_figures_on_{event}"()')
    op.execute('DROP TABLE "DailyFiguresPending"')
    op.execute('DROP FUNCTION "daily_figures_apply_pending"()')
    op.execute('DROP TABLE "DailyFigures"')
    op.execute(_TOTALS_REBUILD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    for event in [*_CHANGES, "truncate"]:
        op.execute(f'DROP TRIGGER "ticket_durations_{event}" ON "Ticket"')
        op.execute(f'DROP FUNCTION "ticket_durations_on_{event}"()')
    op.execute('DROP FUNCTION "ticket_durations_rebuild"()')
    for name in INDEXES:
        op.execute(f'DROP INDEX "{name}"')
    op.execute('DROP TABLE "TicketDurationPending"')
    op.execute('DROP FUNCTION "ticket_durations_apply_pending"()')
    op.execute('DROP TABLE "TicketDurationCount"')
