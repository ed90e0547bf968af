"""Ticket figures per UTC hour, kept exact by triggers, so a range or a local day is a sum over a few rows (issue 23).

/api/stats/range read every ticket of its window (380–490 ms for a year at 1,000,000
tickets) and /api/stats/daily every ticket of its days (1.5 s for a year in a new zone).
Now both add up rows that triggers keep per UTC hour, and compute exactly from "Ticket"
only the parts of an hour at their ends (``nephthys.stats.hourly``):

- "TicketHourFigures", one row per hour ``[hour, hour + 1 h)``: of the tickets *created*
  in it, how many are open, in progress and closed now (and closed with a ``closedAt``), and the counts and sums
  (exact milliseconds) of their hang times (all, and of those not closed) and
  resolution times; how many tickets have their ``closedAt`` in it (``closedAny``) and
  how many of those are closed now (``closedNowClosed``); how many tickets now in
  progress have their ``assignedAt`` in it.
- "TicketClosedByPeriod": tickets per ``closedById`` by their ``closedAt``, in epoch-aligned
  periods of an hour, a day and 32 days (``periodSeconds``), so a year's leaderboard is a
  sum over a few thousand rows.
- "TicketHourDurations": the hang and resolution times (milliseconds, ascending) of the
  tickets created in each hour, so a day's percentiles read ~24 short arrays instead of
  every ticket.
- "FeedbackByPeriod": feedback per rating and credited user (the ticket's ``closedById``
  while it is closed, else 0: nobody) by the feedback's ``createdAt``, in the same periods,
  and "TicketHourFigures"."closedNowClosedRated": closed tickets with feedback by their
  ``closedAt``, for /api/stats/feedback and the App Home's ratings. Triggers on "Feedback"
  keep both (a ticket's closing or reopening moves its feedback through the ticket
  triggers); a ticket's feedback is deleted just before the ticket, so its closer is
  still known.
- "Ticket_closed_createdAt_idx" (closed tickets by creation, with their closure) and
  "Ticket_long_resolution_span_idx" (GiST over ``[createdAt, closedAt]`` of the closed
  tickets that took over a day): the closed tickets created before an instant and closed
  at or after it, read in two short scans;
  "Ticket_closed_before_created_idx": tickets whose ``closedAt`` is before their
  ``createdAt`` (none in practice), which a sum over closures and creations must correct for.

As for the totals (migration 0005), each statement's trigger records its change in
"TicketFiguresPending" (an insert, which never waits), and a deferred constraint trigger
adds it when the transaction commits, after locking the totals row (as the daily
figures' deletion does), so committers apply their changes one at a time. TRUNCATE
empties the figures; ``ticket_totals_rebuild()`` recounts them (``ticket_figures_rebuild()``).

Revision ID: 0025
Revises: 0022
"""

import importlib

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_0012 = importlib.import_module("nephthys.database.migrations.versions.0012_duration_counts")

EPOCH = "'1970-01-01 00:00:00+00'::timestamptz"
# Every period of "TicketClosedByPeriod": an hour, a day, 32 days.
PERIODS = (3600, 86400, 32 * 86400)


def hour_of(column: str) -> str:
    return f"date_bin('1 hour', {column}, {EPOCH})"


def _ms(later: str, earlier: str) -> str:
    # The same expression as nephthys.stats.overview's.
    return f"round(date_part('epoch', {later} - {earlier}) * 1000)::bigint"


HANG_MS = _ms('"assignedAt"', '"createdAt"')
RESOLUTION_MS = _ms('"closedAt"', '"createdAt"')

# Column: (the instant it is counted by, the value each changed row adds, times its sign).
HOUR_COLUMNS = {
    "createdOpen": ('"createdAt"', "CASE WHEN status = 'OPEN' THEN 1 ELSE 0 END"),
    "createdInProgress": ('"createdAt"', "CASE WHEN status = 'IN_PROGRESS' THEN 1 ELSE 0 END"),
    "createdClosed": ('"createdAt"', "CASE WHEN status = 'CLOSED' THEN 1 ELSE 0 END"),
    "createdClosedDated": (
        '"createdAt"',
        "CASE WHEN status = 'CLOSED' AND \"closedAt\" IS NOT NULL THEN 1 ELSE 0 END",
    ),
    "hangCount": ('"createdAt"', 'CASE WHEN "assignedAt" IS NOT NULL THEN 1 ELSE 0 END'),
    "hangSumMs": ('"createdAt"', f'CASE WHEN "assignedAt" IS NOT NULL THEN {HANG_MS} ELSE 0 END'),
    "hangUnresolvedCount": (
        '"createdAt"',
        "CASE WHEN \"assignedAt\" IS NOT NULL AND status <> 'CLOSED' THEN 1 ELSE 0 END",
    ),
    "hangUnresolvedSumMs": (
        '"createdAt"',
        f"CASE WHEN \"assignedAt\" IS NOT NULL AND status <> 'CLOSED' THEN {HANG_MS} ELSE 0 END",
    ),
    "resolutionCount": ('"createdAt"', 'CASE WHEN "closedAt" IS NOT NULL THEN 1 ELSE 0 END'),
    "resolutionSumMs": ('"createdAt"', f'CASE WHEN "closedAt" IS NOT NULL THEN {RESOLUTION_MS} ELSE 0 END'),
    "closedAny": ('"closedAt"', "1"),
    "closedNowClosed": ('"closedAt"', "CASE WHEN status = 'CLOSED' THEN 1 ELSE 0 END"),
    # Read as the trigger runs: a feedback change moves it through the feedback triggers instead.
    "closedNowClosedRated": (
        '"closedAt"',
        'CASE WHEN status = \'CLOSED\' AND EXISTS (SELECT 1 FROM "Feedback" f WHERE f."ticketId" = changed_row.id) '
        "THEN 1 ELSE 0 END",
    ),
    "assignedInProgress": ('"assignedAt"', "CASE WHEN status = 'IN_PROGRESS' THEN 1 ELSE 0 END"),
}
_INSTANTS = ('"createdAt"', '"closedAt"', '"assignedAt"')


def _hour_parts(changes: str) -> str:
    """Per hour, the sum of each column's values times ``sign`` over the rows of ``changes``."""
    parts = []
    for instant in _INSTANTS:
        values = ", ".join(
            f'sign * ({value})::bigint AS "{column}"' if at == instant else f'0::bigint AS "{column}"'
            for column, (at, value) in HOUR_COLUMNS.items()
        )
        parts.append(
            f"SELECT {hour_of(instant)} AS hour, {values} FROM {changes} AS changed_row WHERE {instant} IS NOT NULL"
        )
    sums = ", ".join(f'sum("{column}")::bigint AS "{column}"' for column in HOUR_COLUMNS)
    nonzero = " OR ".join(f'sum("{column}") <> 0' for column in HOUR_COLUMNS)
    return f"SELECT hour, {sums} FROM ({' UNION ALL '.join(parts)}) parts GROUP BY hour HAVING {nonzero}"


def _closer_parts(changes: str) -> str:
    periods = ", ".join(str(p) for p in PERIODS)
    return f"""SELECT seconds, date_bin(make_interval(secs => seconds), "closedAt", {EPOCH}) AS start,
               "closedById" AS user_id, sum(sign)::bigint AS n
        FROM {changes} AS changed_row CROSS JOIN unnest(ARRAY[{periods}]) AS p(seconds)
        WHERE "closedAt" IS NOT NULL AND "closedById" IS NOT NULL
        GROUP BY 1, 2, 3 HAVING sum(sign) <> 0"""


def _duration_parts(changes: str) -> str:
    """Per created hour, the hang and resolution times put in (n > 0) and taken away (n < 0)."""
    return f"""SELECT hour,
               coalesce(jsonb_agg(jsonb_build_array(ms, n)) FILTER (WHERE metric = 'h'), '[]') AS h,
               coalesce(jsonb_agg(jsonb_build_array(ms, n)) FILTER (WHERE metric = 'r'), '[]') AS r
        FROM (SELECT hour, metric, ms, sum(sign) AS n FROM (
                  SELECT {hour_of('"createdAt"')} AS hour, 'h' AS metric, {HANG_MS} AS ms, sign
                  FROM {changes} AS changed_row WHERE "assignedAt" IS NOT NULL
                  UNION ALL
                  SELECT {hour_of('"createdAt"')}, 'r', {RESOLUTION_MS}, sign
                  FROM {changes} AS changed_row WHERE "closedAt" IS NOT NULL) d
              GROUP BY hour, metric, ms HAVING sum(sign) <> 0) moved
        GROUP BY hour"""


def _credited(status: str, closed_by: str) -> str:
    """Whom a ticket's feedback counts for: its closer while it is closed, else nobody (0)."""
    return f"CASE WHEN {status} = 'CLOSED' AND {closed_by} IS NOT NULL THEN {closed_by} ELSE 0 END"


def _feedback_moves(rows: str) -> str:
    """Feedback per period, credited user and rating, times ``sign``, over ``rows`` (sign, createdAt, user_id, rating)."""
    periods = ", ".join(str(p) for p in PERIODS)
    return f"""SELECT seconds, date_bin(make_interval(secs => seconds), r."createdAt", {EPOCH}) AS start,
               r.user_id, r.rating, sum(r.sign)::bigint AS n
        FROM ({rows}) r CROSS JOIN unnest(ARRAY[{periods}]) AS p(seconds)
        GROUP BY 1, 2, 3, 4 HAVING sum(r.sign) <> 0"""


# A ticket change moves its feedback between helpers (closed, reopened, closed by another).
_TICKET_FEEDBACK_ROWS = f"""SELECT c.sign, f."createdAt", {_credited("c.status", 'c."closedById"')} AS user_id, f.rating
    FROM changes c JOIN "Feedback" f ON f."ticketId" = c.id"""


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
    return f"""CREATE FUNCTION "ticket_figures_on_{event}"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- Most updates (a message, a wait) move no figure: nothing is recorded.
    WITH changes AS ({_CHANGES[event]}),
    hours AS ({_hour_parts("changes")}),
    closers AS ({_closer_parts("changes")}),
    durations AS ({_duration_parts("changes")}),
    feedback AS ({_feedback_moves(_TICKET_FEEDBACK_ROWS)})
    INSERT INTO "TicketFiguresPending" ("hours", "closers", "durations", "feedback")
    SELECT (SELECT coalesce(jsonb_agg(to_jsonb(h)), '[]') FROM hours h),
           (SELECT coalesce(jsonb_agg(jsonb_build_array(seconds, start, user_id, n)), '[]') FROM closers),
           (SELECT coalesce(jsonb_agg(jsonb_build_array(hour, h, r)), '[]') FROM durations),
           (SELECT coalesce(jsonb_agg(jsonb_build_array(seconds, start, user_id, rating, n)), '[]') FROM feedback)
    WHERE EXISTS (SELECT 1 FROM hours) OR EXISTS (SELECT 1 FROM closers) OR EXISTS (SELECT 1 FROM durations)
       OR EXISTS (SELECT 1 FROM feedback);
    RETURN NULL;
END
$body$"""


# A multiset change to an ascending array: each [ms, n] puts in n copies of ms (n > 0) or takes n away.
MERGE_FUNCTION = """CREATE FUNCTION "ticket_figures_merge"(kept bigint[], moved jsonb) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $body$
    WITH moved_values AS (
        SELECT (m ->> 0)::bigint AS ms, (m ->> 1)::bigint AS n FROM jsonb_array_elements(moved) AS e(m)
    ), kept_values AS (
        SELECT ms, row_number() OVER (PARTITION BY ms) AS nth FROM unnest(kept) AS k(ms)
    )
    SELECT coalesce(array_agg(ms ORDER BY ms), '{}') FROM (
        SELECT k.ms FROM kept_values k LEFT JOIN moved_values m ON m.ms = k.ms AND m.n < 0
        WHERE k.nth > coalesce(-m.n, 0)
        UNION ALL
        SELECT m.ms FROM moved_values m CROSS JOIN generate_series(1, m.n) WHERE m.n > 0
    ) merged
$body$"""

_HOUR_COLUMN_LIST = ", ".join(f'"{column}"' for column in HOUR_COLUMNS)
APPLY_FUNCTION = f"""CREATE FUNCTION "ticket_figures_apply_pending"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- Gone already: a TRUNCATE or a rebuild in this transaction recounted everything.
    DELETE FROM "TicketFiguresPending" WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Committers apply one at a time (the totals row is taken by every ticket change at commit).
    PERFORM 1 FROM "TicketTotals" WHERE id = 1 FOR NO KEY UPDATE;
    INSERT INTO "TicketHourFigures" ("hour", {_HOUR_COLUMN_LIST})
    SELECT h."hour", {", ".join(f'coalesce(h."{column}", 0)' for column in HOUR_COLUMNS)}
    FROM jsonb_populate_recordset(NULL::"TicketHourFigures", NEW."hours") h ORDER BY h."hour"
    ON CONFLICT ("hour") DO UPDATE SET {
    ", ".join(f'"{column}" = "TicketHourFigures"."{column}" + EXCLUDED."{column}"' for column in HOUR_COLUMNS)
};
    INSERT INTO "TicketClosedByPeriod" ("periodSeconds", "periodStart", "userId", "count")
    SELECT (c ->> 0)::integer, (c ->> 1)::timestamptz, (c ->> 2)::integer, (c ->> 3)::bigint
    FROM jsonb_array_elements(NEW."closers") AS e(c) ORDER BY 1, 2, 3
    ON CONFLICT ("periodSeconds", "periodStart", "userId")
    DO UPDATE SET "count" = "TicketClosedByPeriod"."count" + EXCLUDED."count";
    INSERT INTO "FeedbackByPeriod" ("periodSeconds", "periodStart", "userId", "rating", "count")
    SELECT (f ->> 0)::integer, (f ->> 1)::timestamptz, (f ->> 2)::integer, (f ->> 3)::"FeedbackRating",
           (f ->> 4)::bigint
    FROM jsonb_array_elements(NEW."feedback") AS e(f) ORDER BY 1, 2, 3, 4
    ON CONFLICT ("periodSeconds", "periodStart", "userId", "rating")
    DO UPDATE SET "count" = "FeedbackByPeriod"."count" + EXCLUDED."count";
    INSERT INTO "TicketHourDurations" ("hour")
    SELECT (d ->> 0)::timestamptz FROM jsonb_array_elements(NEW."durations") AS e(d) ORDER BY 1
    ON CONFLICT ("hour") DO NOTHING;
    UPDATE "TicketHourDurations" t
    SET "hangMs" = CASE WHEN jsonb_array_length(m.h) = 0 THEN t."hangMs"
                        ELSE "ticket_figures_merge"(t."hangMs", m.h) END,
        "resolutionMs" = CASE WHEN jsonb_array_length(m.r) = 0 THEN t."resolutionMs"
                              ELSE "ticket_figures_merge"(t."resolutionMs", m.r) END
    FROM (SELECT (d ->> 0)::timestamptz AS hour, d -> 1 AS h, d -> 2 AS r
          FROM jsonb_array_elements(NEW."durations") AS e(d)) m
    WHERE t."hour" = m.hour;
    RETURN NULL;
END
$body$"""

_FEEDBACK_CHANGES = {
    "insert": 'SELECT 1 AS sign, "ticketId", "createdAt", rating FROM new_rows',
    "update": """SELECT -1 AS sign, "ticketId", "createdAt", rating FROM old_rows
                 UNION ALL SELECT 1, "ticketId", "createdAt", rating FROM new_rows""",
    "delete": 'SELECT -1 AS sign, "ticketId", "createdAt", rating FROM old_rows',
}
_FEEDBACK_TICKETS = {
    "insert": 'SELECT "ticketId" FROM new_rows',
    "update": 'SELECT "ticketId" FROM old_rows UNION SELECT "ticketId" FROM new_rows',
    "delete": 'SELECT "ticketId" FROM old_rows',
}


def _feedback_record_function(event: str) -> str:
    return f"""CREATE FUNCTION "feedback_figures_on_{event}"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    -- The tickets' status and closer are read after locking them: a close or reopen in flight
    -- commits first (and its trigger counted the feedback it saw), or waits for this one.
    PERFORM 1 FROM "Ticket" WHERE id IN ({_FEEDBACK_TICKETS[event]}) ORDER BY id FOR NO KEY UPDATE;
    WITH changes AS ({_FEEDBACK_CHANGES[event]}),
    credited AS (
        SELECT c.sign, c."createdAt", {_credited("t.status", 't."closedById"')} AS user_id, c.rating
        FROM changes c LEFT JOIN "Ticket" t ON t.id = c."ticketId"
    ),
    feedback AS ({_feedback_moves("SELECT * FROM credited")}),
    -- A closed ticket's first feedback, or its last one gone, moves closedNowClosedRated.
    per_ticket AS (
        SELECT c."ticketId" AS ticket_id, sum(c.sign) AS moved,
               (SELECT count(*) FROM "Feedback" f WHERE f."ticketId" = c."ticketId") AS now
        FROM changes c GROUP BY c."ticketId"
    ),
    rated AS (
        SELECT {hour_of('t."closedAt"')} AS hour,
               sum(CASE WHEN p.now > 0 THEN 1 ELSE 0 END - CASE WHEN p.now - p.moved > 0 THEN 1 ELSE 0 END)
                   AS "closedNowClosedRated"
        FROM per_ticket p JOIN "Ticket" t ON t.id = p.ticket_id
        WHERE t.status = 'CLOSED' AND t."closedAt" IS NOT NULL AND (p.now > 0) <> (p.now - p.moved > 0)
        GROUP BY 1
    )
    INSERT INTO "TicketFiguresPending" ("hours", "feedback")
    SELECT (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM rated r),
           (SELECT coalesce(jsonb_agg(jsonb_build_array(seconds, start, user_id, rating, n)), '[]') FROM feedback)
    WHERE EXISTS (SELECT 1 FROM rated) OR EXISTS (SELECT 1 FROM feedback);
    RETURN NULL;
END
$body$"""


# A ticket's feedback goes before the ticket (the cascade would remove it after the ticket row,
# when its closer can no longer be read), through the feedback triggers above.
TICKET_DELETE_FEEDBACK_FUNCTION = """CREATE FUNCTION "ticket_figures_delete_feedback"() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM "Feedback" WHERE "ticketId" = OLD.id;
    RETURN OLD;
END
$body$"""

FEEDBACK_TRUNCATE_FUNCTION = """CREATE FUNCTION "feedback_figures_on_truncate"() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM "FeedbackByPeriod";
    UPDATE "TicketHourFigures" SET "closedNowClosedRated" = 0 WHERE "closedNowClosedRated" <> 0;
    RETURN NULL;
END
$body$"""

_EVERY_TICKET = '(SELECT 1 AS sign, * FROM "Ticket")'
_EVERY_FEEDBACK = f"""SELECT 1 AS sign, f."createdAt", {_credited("t.status", 't."closedById"')} AS user_id, f.rating
    FROM "Feedback" f JOIN "Ticket" t ON t.id = f."ticketId\""""
# The recount, statement by statement (the migration runs them one at a time: each within the
# driver's command timeout at a million tickets).
REBUILD_STATEMENTS = [
    'DELETE FROM "TicketFiguresPending"',
    'DELETE FROM "TicketHourFigures"',
    'DELETE FROM "TicketClosedByPeriod"',
    'DELETE FROM "TicketHourDurations"',
    'DELETE FROM "FeedbackByPeriod"',
    f'INSERT INTO "TicketHourFigures" ("hour", {_HOUR_COLUMN_LIST}) {_hour_parts(_EVERY_TICKET)}',
    f"""INSERT INTO "TicketClosedByPeriod" ("periodSeconds", "periodStart", "userId", "count")
    {_closer_parts(_EVERY_TICKET)}""",
    f"""INSERT INTO "TicketHourDurations" ("hour", "hangMs", "resolutionMs")
    SELECT {hour_of('"createdAt"')},
           coalesce(array_agg({HANG_MS} ORDER BY {HANG_MS}) FILTER (WHERE "assignedAt" IS NOT NULL), '{{}}'),
           coalesce(array_agg({RESOLUTION_MS} ORDER BY {RESOLUTION_MS}) FILTER (WHERE "closedAt" IS NOT NULL), '{{}}')
    FROM "Ticket" GROUP BY 1
    HAVING count(*) FILTER (WHERE "assignedAt" IS NOT NULL OR "closedAt" IS NOT NULL) > 0""",
    f"""INSERT INTO "FeedbackByPeriod" ("periodSeconds", "periodStart", "userId", "rating", "count")
    {_feedback_moves(_EVERY_FEEDBACK)}""",
]
_STATEMENT_SEPARATOR = ";\n    "
REBUILD_FUNCTION = f"""CREATE FUNCTION "ticket_figures_rebuild"() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    -- No ticket may change while the figures are recounted.
    LOCK TABLE "Ticket" IN SHARE MODE;
    {_STATEMENT_SEPARATOR.join(REBUILD_STATEMENTS)};
END
$body$"""

TRUNCATE_FUNCTION = """CREATE FUNCTION "ticket_figures_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM "TicketFiguresPending";
    DELETE FROM "TicketHourFigures";
    DELETE FROM "TicketClosedByPeriod";
    DELETE FROM "TicketHourDurations";
    DELETE FROM "FeedbackByPeriod";
    RETURN NULL;
END
$body$"""

# ticket_totals_rebuild() (run after loading tickets with triggers off) recounts these too.
_TOTALS_REBUILD = _0012.TOTALS_REBUILD_WITH_DURATIONS
assert _TOTALS_REBUILD.rstrip().endswith("END\n$body$")
TOTALS_REBUILD_WITH_FIGURES = (
    _TOTALS_REBUILD.rstrip()[: -len("END\n$body$")] + '    PERFORM "ticket_figures_rebuild"();\nEND\n$body$'
)

# Closed tickets created before an instant and closed at or after it (range's closed_today_from_today):
# those closed within a day of their creation were created in the day before the instant (a short
# index-only range by creation); the few that took longer, from a GiST index of their spans.
LONG_RESOLUTION = """"closedAt" - "createdAt" > interval '1 day'"""
INDEXES = {
    "Ticket_closed_createdAt_idx": """("createdAt") INCLUDE ("closedAt") WHERE status = 'CLOSED'""",
    "Ticket_long_resolution_span_idx": f"""USING gist (tstzrange("createdAt", "closedAt", '[]'))
        WHERE status = 'CLOSED' AND {LONG_RESOLUTION}""",
    # Closed before created: none in practice; sums over creations and closures correct for them.
    "Ticket_closed_before_created_idx": """("createdAt") INCLUDE ("closedAt", status)
        WHERE "closedAt" < "createdAt\"""",
}


def upgrade() -> None:
    columns = ", ".join(f'"{column}" BIGINT NOT NULL DEFAULT 0' for column in HOUR_COLUMNS)
    op.execute(
        f"""CREATE TABLE "TicketHourFigures" (
            "hour" TIMESTAMPTZ(3) NOT NULL,
            {columns},
            CONSTRAINT "TicketHourFigures_pkey" PRIMARY KEY ("hour"))"""
    )
    op.execute(
        """CREATE TABLE "TicketClosedByPeriod" (
            "periodSeconds" INTEGER NOT NULL,
            "periodStart" TIMESTAMPTZ(3) NOT NULL,
            "userId" INTEGER NOT NULL,
            "count" BIGINT NOT NULL DEFAULT 0,
            CONSTRAINT "TicketClosedByPeriod_pkey" PRIMARY KEY ("periodSeconds", "periodStart", "userId"))"""
    )
    op.execute(
        """CREATE TABLE "TicketHourDurations" (
            "hour" TIMESTAMPTZ(3) NOT NULL,
            "hangMs" BIGINT[] NOT NULL DEFAULT '{}',
            "resolutionMs" BIGINT[] NOT NULL DEFAULT '{}',
            CONSTRAINT "TicketHourDurations_pkey" PRIMARY KEY ("hour"))"""
    )
    # Arrays of random milliseconds do not compress: do not try.
    op.execute('ALTER TABLE "TicketHourDurations" ALTER COLUMN "hangMs" SET STORAGE EXTERNAL')
    op.execute('ALTER TABLE "TicketHourDurations" ALTER COLUMN "resolutionMs" SET STORAGE EXTERNAL')
    op.execute(
        """CREATE TABLE "FeedbackByPeriod" (
            "periodSeconds" INTEGER NOT NULL,
            "periodStart" TIMESTAMPTZ(3) NOT NULL,
            "userId" INTEGER NOT NULL,
            "rating" "FeedbackRating" NOT NULL,
            "count" BIGINT NOT NULL DEFAULT 0,
            CONSTRAINT "FeedbackByPeriod_pkey" PRIMARY KEY ("periodSeconds", "periodStart", "userId", "rating"))"""
    )
    op.execute(
        'CREATE INDEX "FeedbackByPeriod_userId_idx" ON "FeedbackByPeriod" ("userId", "periodSeconds", "periodStart")'
    )
    op.execute(
        """CREATE TABLE "TicketFiguresPending" (
            "id" BIGSERIAL NOT NULL,
            "hours" JSONB NOT NULL DEFAULT '[]',
            "closers" JSONB NOT NULL DEFAULT '[]',
            "durations" JSONB NOT NULL DEFAULT '[]',
            "feedback" JSONB NOT NULL DEFAULT '[]',
            CONSTRAINT "TicketFiguresPending_pkey" PRIMARY KEY ("id"))"""
    )
    for name, definition in INDEXES.items():
        op.execute(f'CREATE INDEX "{name}" ON "Ticket" {definition}')
    op.execute(MERGE_FUNCTION)
    op.execute(APPLY_FUNCTION)
    op.execute(
        'CREATE CONSTRAINT TRIGGER "ticket_figures_apply_pending" AFTER INSERT ON "TicketFiguresPending" '
        'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "ticket_figures_apply_pending"()'
    )
    for event in _CHANGES:
        op.execute(_record_function(event))
        op.execute(
            f'CREATE TRIGGER "ticket_figures_{event}" AFTER {event.upper()} ON "Ticket" '
            f'REFERENCING {_TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION "ticket_figures_on_{event}"()'
        )
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        'CREATE TRIGGER "ticket_figures_truncate" AFTER TRUNCATE ON "Ticket" '
        'FOR EACH STATEMENT EXECUTE FUNCTION "ticket_figures_on_truncate"()'
    )
    for event in _FEEDBACK_CHANGES:
        op.execute(_feedback_record_function(event))
        op.execute(
            f'CREATE TRIGGER "feedback_figures_{event}" AFTER {event.upper()} ON "Feedback" '
            f'REFERENCING {_TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION "feedback_figures_on_{event}"()'
        )
    op.execute(FEEDBACK_TRUNCATE_FUNCTION)
    op.execute(
        'CREATE TRIGGER "feedback_figures_truncate" AFTER TRUNCATE ON "Feedback" '
        'FOR EACH STATEMENT EXECUTE FUNCTION "feedback_figures_on_truncate"()'
    )
    op.execute(TICKET_DELETE_FEEDBACK_FUNCTION)
    op.execute(
        'CREATE TRIGGER "ticket_figures_delete_feedback" BEFORE DELETE ON "Ticket" '
        'FOR EACH ROW EXECUTE FUNCTION "ticket_figures_delete_feedback"()'
    )
    op.execute(REBUILD_FUNCTION)
    op.execute(TOTALS_REBUILD_WITH_FIGURES.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    # An adopted database already has tickets (the migration's transaction holds "Ticket" from here).
    op.execute('LOCK TABLE "Ticket" IN SHARE MODE')
    for statement in REBUILD_STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute(_TOTALS_REBUILD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute('DROP TRIGGER "ticket_figures_delete_feedback" ON "Ticket"')
    op.execute('DROP FUNCTION "ticket_figures_delete_feedback"()')
    for event in [*_FEEDBACK_CHANGES, "truncate"]:
        op.execute(f'DROP TRIGGER "feedback_figures_{event}" ON "Feedback"')
        op.execute(f'DROP FUNCTION "feedback_figures_on_{event}"()')
    for event in [*_CHANGES, "truncate"]:
        op.execute(f'DROP TRIGGER "ticket_figures_{event}" ON "Ticket"')
        op.execute(f'DROP FUNCTION "ticket_figures_on_{event}"()')
    op.execute('DROP FUNCTION "ticket_figures_rebuild"()')
    op.execute('DROP TABLE "TicketFiguresPending"')
    op.execute('DROP FUNCTION "ticket_figures_apply_pending"()')
    op.execute('DROP FUNCTION "ticket_figures_merge"(bigint[], jsonb)')
    for name in INDEXES:
        op.execute(f'DROP INDEX "{name}"')
    op.execute('DROP TABLE "TicketHourDurations"')
    op.execute('DROP TABLE "FeedbackByPeriod"')
    op.execute('DROP TABLE "TicketClosedByPeriod"')
    op.execute('DROP TABLE "TicketHourFigures"')
