"""A ticket joins its surge in one round trip (issue 23, the Slack path): "surge_join".

Deciding a surge is serialised by a transaction-level advisory lock, and the statement that
decides must see every surge decided before it took the lock, so the lock is taken by a statement
before it. From the service that was a transaction of four round trips (BEGIN, the lock, the
join, COMMIT) on every question of a burst. A PL/pgSQL function does both steps in one call: a
VOLATILE function's statements each take a fresh snapshot (READ COMMITTED), so its join, run
after its lock, sees what the lock waited for, as the second statement of the transaction did;
called alone (autocommit), the lock is held until that call's own transaction commits.

The join is the statement nephthys/memory/surges.py ran before, unchanged: the running surge (last
ticket within the window) holding any of the kin, grown by the ticket, or a new one made of them
all; the surge as it is then.

Revision ID: 0040
Revises: 0039
"""

from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

SURGE_JOIN_FUNCTION = """CREATE FUNCTION "surge_join"(
    lock_key bigint, window_start timestamptz, kin integer[], own integer, joined_at timestamptz,
    ids_kept integer, new_ids integer[], new_count integer, title_limit integer)
RETURNS TABLE (id integer, title text, ticket_ids integer[], tickets integer, ts text, channel_id text)
LANGUAGE plpgsql VOLATILE AS $body$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY
    WITH running AS (
        SELECT s.id FROM "Surge" s
        WHERE s."lastAt" >= window_start AND s."ticketIds" && kin
        ORDER BY s.id DESC LIMIT 1),
    grown AS (
        UPDATE "Surge" s
        SET "ticketIds" = CASE WHEN own = ANY(s."ticketIds") OR cardinality(s."ticketIds") >= ids_kept
                               THEN s."ticketIds" ELSE s."ticketIds" || own END,
            tickets = s.tickets + CASE WHEN own = ANY(s."ticketIds") THEN 0 ELSE 1 END,
            "lastAt" = greatest(s."lastAt", joined_at)
        WHERE s.id = (SELECT r.id FROM running r)
        RETURNING s.id, s.title, s."ticketIds", s.tickets, s.ts, s."channelId"),
    started AS (
        INSERT INTO "Surge" (title, "ticketIds", tickets, "startedAt", "lastAt")
        SELECT (SELECT left(t.title, title_limit) FROM "Ticket" t WHERE t.id = new_ids[1]),
               new_ids, new_count, joined_at, joined_at
        WHERE NOT EXISTS (SELECT 1 FROM running)
        RETURNING "Surge".id, "Surge".title, "Surge"."ticketIds", "Surge".tickets, "Surge".ts, "Surge"."channelId")
    SELECT g.id, g.title, g."ticketIds", g.tickets, g.ts, g."channelId" FROM grown g
    UNION ALL
    SELECT n.id, n.title, n."ticketIds", n.tickets, n.ts, n."channelId" FROM started n;
END
$body$"""


def upgrade() -> None:
    op.execute(SURGE_JOIN_FUNCTION)


def downgrade() -> None:
    op.execute('DROP FUNCTION "surge_join"')
