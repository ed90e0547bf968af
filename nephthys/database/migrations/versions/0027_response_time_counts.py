"""Response-time counts kept by triggers, so /api/stats/response_times reads counts, not every value (issue 20).

/api/stats/response_times read and sorted every value of its period on each request (at
1,000,000 tickets, 365 days by team tag: 5.7 s). Now triggers keep, per measure (0 first
response, 1 next response, 2 resolution), per group (``groupKind`` 0: all, with
``groupId`` 0; 1: a team tag, ``groupId`` the tag; 2: a helper, ``groupId`` the person,
as the statistic defines them in nephthys/stats/response_times.py) and per epoch-aligned
period of 1, 8 or 64 UTC days of the ticket's creation (``periodDays``, ``periodStart`` in
days since 1970-01-01):

- "ResponseTimeCounts"."counts": how many values fall in each value bucket
  (``response_time_bucket(groupKind, minutes)``: ``width_bucket`` over fixed thresholds),
  big-endian 4-byte integers from bucket ``low``, with their ``count`` and exact ``sum`` (numeric);
- "ResponseTimeTagValues": a team tag's values themselves (with their multiplicity and the
  ticket's creation), ordered by minutes: the exact refinement inside a bucket for a tag
  (all and helper groups are refined from the existing indexes on "TicketSpan" and "Ticket").

A percentile is found by adding the counts of the period's whole days (at most ~33 period
rows per group for a year), finding the bucket of each rank, and reading the value at its
offset inside that bucket from an index; the period's parts of a day at its two ends are
read from the spans directly (nephthys/stats/response_times.py). Nothing is approximated.

Each statement on "TicketSpan", "Ticket" (its resolution, closer, asker or creation) and
"tags_on_tickets" records its signed contributions in "ResponseTimePending" (an insert,
which never waits); a deferred constraint trigger nets them when the transaction commits
(the lifecycle replaces a ticket's spans on every write: the unchanged ones cancel) and
applies what is left. A statement changing more than ``BULK_ROWS`` rows (the calendar
recount, a bulk load) records instead that everything must be recounted, which the commit
does (``response_time_counts_rebuild()``; the calendar recount does it itself first, in ranges
of ticket ids, each statement short: nephthys/tickets/support_minutes.py). A ticket's deletion takes its contributions out
before it goes (its cascaded spans and tags then count nothing: their ticket is gone).

Bound: every stored count is a value of a stored span or ticket in one of its groups (all,
its tags, its helper), at three period lengths, and rows at zero are deleted, so what is
stored grows with the spans and tickets, never with requests.

Revision ID: 0027
Revises: 0026
"""

from alembic import op
from sqlalchemy import text

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

# Statements changing more rows than this are recounted whole at commit.
BULK_ROWS = 20000
# Tickets per statement of the upgrade's count of existing tickets.
BACKFILL_TICKETS = 40000
PERIOD_DAYS = (1, 8, 64)


def thresholds(ratio: float, low: float = 0.01, high: float = 2.0e6) -> list[float]:
    """0, then ``low`` growing by ``ratio`` to ``high``, each rounded to 6 significant digits (exact literals)."""
    values = [0.0]
    k = 0
    while True:
        value = float(f"{low * ratio**k:.6g}")
        if value > high:
            return values
        values.append(value)
        k += 1


# Per group kind: all and team tags finer (their buckets are refined over many values), helpers coarser
# (a helper has few values, and many helpers many rows). nephthys/stats/response_times.py has the same
# (tests/stats/test_response_time_counts.py checks).
THRESHOLDS = {0: thresholds(1.05), 1: thresholds(1.05), 2: thresholds(1.05)}


def _array(values: list[float]) -> str:
    return "ARRAY[" + ", ".join(repr(v) for v in values) + "]::float8[]"


BUCKET_FUNCTION = f"""CREATE FUNCTION "response_time_bucket"(kind integer, minutes float8) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $body$
    SELECT CASE kind WHEN 2 THEN width_bucket(minutes, {_array(THRESHOLDS[2])})
                     ELSE width_bucket(minutes, {_array(THRESHOLDS[0])}) END
$body$"""

# Bucket counts are big-endian 4-byte integers in a bytea ("counts"), the first for bucket "low": a
# request reads them whole (an int[] is sent element by element: ~10 times slower at 500,000 counts).
INT_AT_FUNCTION = """CREATE FUNCTION "response_time_int_at"(bytes bytea, byte_offset integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $body$
    SELECT ('x' || encode(substring(bytes FROM byte_offset + 1 FOR 4), 'hex'))::bit(32)::integer
$body$"""

# The counts of (ascending buckets, their deltas), from the first bucket.
DELTA_FUNCTION = """CREATE FUNCTION "response_time_delta"(buckets integer[], deltas bigint[]) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $body$
DECLARE
    n integer := array_length(buckets, 1);
    result bytea;
    at integer;
BEGIN
    result := decode(repeat('00', 4 * (buckets[n] - buckets[1] + 1)), 'hex');
    FOR i IN 1..n LOOP
        at := 4 * (buckets[i] - buckets[1]);
        result := overlay(result PLACING int4send(("response_time_int_at"(result, at) + deltas[i])::integer)
                          FROM at + 1 FOR 4);
    END LOOP;
    RETURN result;
END
$body$"""

# ``kept`` (from bucket ``kept_low``) plus ``moved`` (from ``moved_low``), from the lower of the two.
MERGE_FUNCTION = """CREATE FUNCTION "response_time_merge"(kept bytea, kept_low integer, moved bytea, moved_low integer)
RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $body$
DECLARE
    low integer := least(kept_low, moved_low);
    high integer := greatest(kept_low + length(kept) / 4, moved_low + length(moved) / 4);
    result bytea;
    delta integer;
    at integer;
BEGIN
    result := decode(repeat('00', 4 * (kept_low - low)), 'hex') || kept
              || decode(repeat('00', 4 * (high - kept_low - length(kept) / 4)), 'hex');
    FOR i IN 0..length(moved) / 4 - 1 LOOP
        delta := "response_time_int_at"(moved, 4 * i);
        IF delta <> 0 THEN
            at := 4 * (moved_low + i - low);
            result := overlay(result PLACING int4send("response_time_int_at"(result, at) + delta) FROM at + 1 FOR 4);
        END IF;
    END LOOP;
    RETURN result;
END
$body$"""

_ENDED = """s."endAt" IS NOT NULL AND s.kind <> 'RESOLUTION' AND s.minutes IS NOT NULL"""
_SPAN_MEASURE = "CASE WHEN s.kind = 'FIRST_RESPONSE' THEN 0 ELSE 1 END"


def span_contributions(rows: str, sign: str) -> str:
    """(sign, m, gk, gid, minutes, created) of ended first and next responses in ``rows`` (spans) whose ticket exists."""
    return f"""SELECT {sign} AS sign, {_SPAN_MEASURE} AS m, g.gk, g.gid, s.minutes, s."ticketCreatedAt" AS created
        FROM {rows} s JOIN "Ticket" t ON t.id = s."ticketId"
        CROSS JOIN LATERAL (SELECT 0 AS gk, 0 AS gid
                            UNION ALL SELECT 2, s."actorId" WHERE s."actorId" IS NOT NULL
                            UNION ALL SELECT 1, tt."tagId" FROM tags_on_tickets tt
                                      WHERE tt."ticketId" = s."ticketId") g
        WHERE {_ENDED}"""


def resolution_contributions(rows: str, sign: str) -> str:
    """The resolutions of ``rows`` (tickets): all, each tag, and the closer unless the asker closed it."""
    return f"""SELECT {sign} AS sign, 2 AS m, g.gk, g.gid, r."resolutionMinutes" AS minutes, r."createdAt" AS created
        FROM {rows} r
        CROSS JOIN LATERAL (SELECT 0 AS gk, 0 AS gid
                            UNION ALL SELECT 2, r."closedById" WHERE r."closedById" <> r."openedById"
                            UNION ALL SELECT 1, tt."tagId" FROM tags_on_tickets tt WHERE tt."ticketId" = r.id) g
        WHERE r."resolutionMinutes" IS NOT NULL"""


def tag_contributions(rows: str, sign: str) -> str:
    """The values a tag link in ``rows`` puts in its tag's group (its ticket's ended responses and resolution)."""
    return f"""SELECT {sign} AS sign, v.m, 1 AS gk, r."tagId" AS gid, v.minutes, v.created
        FROM {rows} r JOIN "Ticket" t ON t.id = r."ticketId"
        CROSS JOIN LATERAL (SELECT {_SPAN_MEASURE} AS m, s.minutes, s."ticketCreatedAt" AS created
                            FROM "TicketSpan" s WHERE s."ticketId" = r."ticketId" AND {_ENDED}
                            UNION ALL SELECT 2, t."resolutionMinutes", t."createdAt"
                            WHERE t."resolutionMinutes" IS NOT NULL) v"""


# An update counts its old rows out and its new rows in (netted right away: most updates change no
# value). Not joined by id: the foreign keys' cascades on one table share one pair of transition
# tables, where a row changed twice is there twice (old: v0, v1; new: v1, v2), and the sum is v2 - v0.
# Per trigger: (table, event, transition tables, the rows it counts, its contributions).
RECORDERS = {
    "span_insert": (
        "TicketSpan",
        "INSERT",
        "NEW TABLE AS new_rows",
        "new_rows",
        span_contributions("new_rows", "1"),
    ),
    "span_update": (
        "TicketSpan",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "new_rows",
        f"{span_contributions('old_rows', '-1')} UNION ALL {span_contributions('new_rows', '1')}",
    ),
    "span_delete": (
        "TicketSpan",
        "DELETE",
        "OLD TABLE AS old_rows",
        "old_rows",
        span_contributions("old_rows", "-1"),
    ),
    "ticket_insert": (
        "Ticket",
        "INSERT",
        "NEW TABLE AS new_rows",
        "new_rows",
        resolution_contributions("new_rows", "1"),
    ),
    "ticket_update": (
        "Ticket",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "new_rows",
        f"{resolution_contributions('old_rows', '-1')} UNION ALL {resolution_contributions('new_rows', '1')}",
    ),
    "tag_insert": (
        "tags_on_tickets",
        "INSERT",
        "NEW TABLE AS new_rows",
        "new_rows",
        tag_contributions("new_rows", "1"),
    ),
    "tag_update": (
        "tags_on_tickets",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "new_rows",
        f"{tag_contributions('old_rows', '-1')} UNION ALL {tag_contributions('new_rows', '1')}",
    ),
    "tag_delete": (
        "tags_on_tickets",
        "DELETE",
        "OLD TABLE AS old_rows",
        "old_rows",
        tag_contributions("old_rows", "-1"),
    ),
}


def _record_function(name: str, rows: str, contributions: str) -> str:
    return f"""CREATE FUNCTION "response_time_on_{name}"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM {rows} LIMIT {BULK_ROWS + 1}) n) > {BULK_ROWS} THEN
        INSERT INTO "ResponseTimePending" ("rebuild") VALUES (true);
        RETURN NULL;
    END IF;
    INSERT INTO "ResponseTimePending" ("changes")
    SELECT jsonb_agg(jsonb_build_array(c.sign, c.m, c.gk, c.gid, c.minutes, c.created))
    FROM (SELECT sum(c.sign) AS sign, c.m, c.gk, c.gid, c.minutes, c.created FROM ({contributions}) c
          GROUP BY c.m, c.gk, c.gid, c.minutes, c.created HAVING sum(c.sign) <> 0) c
    HAVING count(*) > 0;
    RETURN NULL;
END
$body$"""


# A ticket about to be deleted: everything it counts, taken out (its spans and tags go after it, and
# count nothing once it is gone).
DELETE_TICKET_FUNCTION = f"""CREATE FUNCTION "response_time_on_ticket_delete"() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    INSERT INTO "ResponseTimePending" ("changes")
    SELECT jsonb_agg(jsonb_build_array(c.sign, c.m, c.gk, c.gid, c.minutes, c.created))
    FROM ({span_contributions('(SELECT * FROM "TicketSpan" WHERE "ticketId" = OLD.id)', "-1")}
          UNION ALL {resolution_contributions("(SELECT OLD.*)", "-1")}) c
    HAVING count(*) > 0;
    RETURN OLD;
END
$body$"""

_LEVELS = f"unnest(ARRAY{list(PERIOD_DAYS)}::integer[])"
_DAY = "floor(extract(epoch FROM v.created) / 86400)"


def _count_rows(values: str) -> str:
    """Rows of "ResponseTimeCounts" (gk, days, start, gid, m, count, sum, low, counts) from ``values`` (m, gk, gid, minutes, created, n)."""
    return f"""SELECT gk, days, start, gid, m, sum(n)::bigint AS n, sum(total) AS total, min(b) AS low,
               "response_time_delta"(array_agg(b ORDER BY b), array_agg(n ORDER BY b)) AS counts
        FROM (SELECT v.gk, l.days, (floor({_DAY} / l.days) * l.days)::integer AS start, v.gid, v.m,
                     "response_time_bucket"(v.gk, v.minutes) AS b,
                     sum(v.n)::bigint AS n, sum(v.n * v.minutes::numeric) AS total
              FROM {values} v CROSS JOIN {_LEVELS} AS l(days)
              GROUP BY 1, 2, 3, 4, 5, 6) per_bucket
        GROUP BY gk, days, start, gid, m"""


def upsert_tag_values(values: str) -> str:
    """Add the team-tag values of ``values`` (m, gk, gid, minutes, created, n) to "ResponseTimeTagValues"."""
    return f"""INSERT INTO "ResponseTimeTagValues" ("tagId", "measure", "minutes", "createdAt", "count")
    SELECT v.gid, v.m, v.minutes, v.created, sum(v.n) FROM {values} v WHERE v.gk = 1
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT ("tagId", "measure", "minutes", "createdAt")
    DO UPDATE SET "count" = "ResponseTimeTagValues"."count" + EXCLUDED."count"
"""


def upsert_counts(values: str) -> str:
    """Add ``values`` (m, gk, gid, minutes, created, n) to "ResponseTimeCounts"."""
    return f"""INSERT INTO "ResponseTimeCounts" ("groupKind", "periodDays", "periodStart", "groupId", "measure",
                                      "count", "sum", "low", "counts")
    SELECT * FROM ({_count_rows(values)}) c
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT ("groupKind", "periodDays", "periodStart", "groupId", "measure")
    DO UPDATE SET "count" = "ResponseTimeCounts"."count" + EXCLUDED."count",
                  "sum" = "ResponseTimeCounts"."sum" + EXCLUDED."sum",
                  "low" = least("ResponseTimeCounts"."low", EXCLUDED."low"),
                  "counts" = "response_time_merge"("ResponseTimeCounts"."counts", "ResponseTimeCounts"."low",
                                                   EXCLUDED."counts", EXCLUDED."low")"""


_MOVED = """(SELECT (e ->> 0)::integer AS m, (e ->> 1)::integer AS gk, (e ->> 2)::integer AS gid,
                 (e ->> 3)::float8 AS minutes, (e ->> 4)::timestamptz AS created, (e ->> 5)::bigint AS n
          FROM jsonb_array_elements(moved) AS x(e))"""

APPLY_FUNCTION = f"""CREATE FUNCTION "response_time_apply_pending"() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
    moved jsonb;
    rebuild boolean;
BEGIN
    -- Taken already by this transaction's first row's firing.
    PERFORM 1 FROM "ResponseTimePending" WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT bool_or(p."rebuild") INTO rebuild FROM "ResponseTimePending" p;
    IF rebuild THEN
        PERFORM "response_time_counts_rebuild"();
        RETURN NULL;
    END IF;
    -- Appliers share the lock a rebuild takes alone.
    PERFORM pg_advisory_xact_lock_shared({0x6E65_7068_0027});
    WITH taken AS (DELETE FROM "ResponseTimePending" RETURNING "changes")
    SELECT jsonb_agg(jsonb_build_array(m, gk, gid, minutes, created, n)) INTO moved
    FROM (SELECT (e ->> 1)::integer AS m, (e ->> 2)::integer AS gk, (e ->> 3)::integer AS gid,
                 (e ->> 4)::float8 AS minutes, (e ->> 5)::timestamptz AS created, sum((e ->> 0)::integer) AS n
          FROM taken, jsonb_array_elements(taken."changes") AS x(e)
          GROUP BY 1, 2, 3, 4, 5 HAVING sum((e ->> 0)::integer) <> 0) net;
    IF moved IS NULL THEN
        RETURN NULL;
    END IF;
    {upsert_tag_values(_MOVED)};
    DELETE FROM "ResponseTimeTagValues" v
    USING (SELECT (e ->> 2)::integer AS tag, (e ->> 0)::integer AS m, (e ->> 3)::float8 AS minutes,
                  (e ->> 4)::timestamptz AS created
           FROM jsonb_array_elements(moved) AS x(e) WHERE (e ->> 1)::integer = 1 AND (e ->> 5)::integer < 0) d
    WHERE v."tagId" = d.tag AND v."measure" = d.m AND v."minutes" = d.minutes AND v."createdAt" = d.created
      AND v."count" <= 0;
    {upsert_counts(_MOVED)};
    DELETE FROM "ResponseTimeCounts" c WHERE c."count" = 0
      AND ("groupKind", "periodDays", "periodStart", "groupId", "measure") IN (
          SELECT (e ->> 1)::integer, l.days,
                 (floor(floor(extract(epoch FROM (e ->> 4)::timestamptz) / 86400) / l.days) * l.days)::integer,
                 (e ->> 2)::integer, (e ->> 0)::integer
          FROM jsonb_array_elements(moved) AS x(e) CROSS JOIN {_LEVELS} AS l(days));
    RETURN NULL;
END
$body$"""

# Every value of the tickets with ids in [low_id, high_id), counted once.
_VALUES_OF_RANGE = f"""(SELECT c.m, c.gk, c.gid, c.minutes, c.created, 1 AS n FROM (
        {span_contributions('(SELECT * FROM "TicketSpan" WHERE "ticketId" >= low_id AND "ticketId" < high_id)', "1")}
        UNION ALL {resolution_contributions('(SELECT * FROM "Ticket" WHERE id >= low_id AND id < high_id)', "1")}) c)"""

# Adds the tickets with ids in [low_id, high_id) to the counts (a recount adds every range once).
ADD_RANGE_FUNCTION = f"""CREATE FUNCTION "response_time_counts_add"(low_id integer, high_id integer) RETURNS void
LANGUAGE plpgsql AS $body$
BEGIN
    {upsert_tag_values(_VALUES_OF_RANGE)};
    {upsert_counts(_VALUES_OF_RANGE)};
END
$body$"""

REBUILD_FUNCTION = f"""CREATE FUNCTION "response_time_counts_rebuild"() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM pg_advisory_xact_lock({0x6E65_7068_0027});
    DELETE FROM "ResponseTimePending";
    DELETE FROM "ResponseTimeCounts";
    DELETE FROM "ResponseTimeTagValues";
    PERFORM "response_time_counts_add"(-2147483648, 2147483647);
END
$body$"""

TRUNCATE_FUNCTION = """CREATE FUNCTION "response_time_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM "response_time_counts_rebuild"();
    RETURN NULL;
END
$body$"""


def upgrade() -> None:
    op.execute(
        """CREATE TABLE "ResponseTimeCounts" (
            "groupKind" INTEGER NOT NULL,
            "periodDays" INTEGER NOT NULL,
            "periodStart" INTEGER NOT NULL,
            "groupId" INTEGER NOT NULL,
            "measure" INTEGER NOT NULL,
            "count" BIGINT NOT NULL,
            "sum" NUMERIC NOT NULL,
            "low" INTEGER NOT NULL,
            "counts" BYTEA NOT NULL,
            CONSTRAINT "ResponseTimeCounts_pkey"
                PRIMARY KEY ("groupKind", "periodDays", "periodStart", "groupId", "measure"))"""
    )
    op.execute(
        """CREATE TABLE "ResponseTimeTagValues" (
            "tagId" INTEGER NOT NULL,
            "measure" INTEGER NOT NULL,
            "minutes" DOUBLE PRECISION NOT NULL,
            "createdAt" TIMESTAMPTZ(3) NOT NULL,
            "count" INTEGER NOT NULL,
            CONSTRAINT "ResponseTimeTagValues_pkey" PRIMARY KEY ("tagId", "measure", "minutes", "createdAt"))"""
    )
    op.execute(
        """CREATE TABLE "ResponseTimePending" (
            "id" BIGSERIAL NOT NULL,
            "changes" JSONB NOT NULL DEFAULT '[]',
            "rebuild" BOOLEAN NOT NULL DEFAULT false,
            CONSTRAINT "ResponseTimePending_pkey" PRIMARY KEY ("id"))"""
    )
    for function in (
        BUCKET_FUNCTION,
        INT_AT_FUNCTION,
        DELTA_FUNCTION,
        MERGE_FUNCTION,
        ADD_RANGE_FUNCTION,
        REBUILD_FUNCTION,
        APPLY_FUNCTION,
    ):
        op.execute(function)
    op.execute(
        'CREATE CONSTRAINT TRIGGER "response_time_apply_pending" AFTER INSERT ON "ResponseTimePending" '
        'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "response_time_apply_pending"()'
    )
    for name, (table, event, transitions, rows, contributions) in RECORDERS.items():
        op.execute(_record_function(name, rows, contributions))
        op.execute(
            f'CREATE TRIGGER "response_time_{name}" AFTER {event} ON "{table}" '
            f'REFERENCING {transitions} FOR EACH STATEMENT EXECUTE FUNCTION "response_time_on_{name}"()'
        )
    op.execute(DELETE_TICKET_FUNCTION)
    op.execute(
        'CREATE TRIGGER "response_time_ticket_delete" BEFORE DELETE ON "Ticket" '
        'FOR EACH ROW EXECUTE FUNCTION "response_time_on_ticket_delete"()'
    )
    op.execute(TRUNCATE_FUNCTION)
    for table in ("Ticket", "TicketSpan", "tags_on_tickets"):
        op.execute(
            f'CREATE TRIGGER "response_time_truncate" AFTER TRUNCATE ON "{table}" '
            'FOR EACH STATEMENT EXECUTE FUNCTION "response_time_on_truncate"()'
        )
    # Existing tickets counted in ranges of ids, each statement well within a command's time limit.
    low, high = op.get_bind().execute(text('SELECT min(id), max(id) FROM "Ticket"')).one()
    if low is not None:
        for start in range(low, high + 1, BACKFILL_TICKETS):
            op.execute(f'SELECT "response_time_counts_add"({start}, {start + BACKFILL_TICKETS})')


def downgrade() -> None:
    for table in ("Ticket", "TicketSpan", "tags_on_tickets"):
        op.execute(f'DROP TRIGGER "response_time_truncate" ON "{table}"')
    op.execute('DROP TRIGGER "response_time_ticket_delete" ON "Ticket"')
    for name, (table, _event, _transitions, _rows, _contributions) in RECORDERS.items():
        op.execute(f'DROP TRIGGER "response_time_{name}" ON "{table}"')
        op.execute(f'DROP FUNCTION "response_time_on_{name}"()')
    op.execute('DROP TABLE "ResponseTimePending"')  # and its trigger
    op.execute('DROP TABLE "ResponseTimeTagValues"')
    op.execute('DROP TABLE "ResponseTimeCounts"')
    for function in (
        '"response_time_on_truncate"()',
        '"response_time_on_ticket_delete"()',
        '"response_time_apply_pending"()',
        '"response_time_counts_rebuild"()',
        '"response_time_counts_add"(integer, integer)',
        '"response_time_merge"(bytea, integer, bytea, integer)',
        '"response_time_delta"(integer[], bigint[])',
        '"response_time_int_at"(bytea, integer)',
        '"response_time_bucket"(integer, float8)',
    ):
        op.execute(f"DROP FUNCTION {function}")
