"""Every change of a stored ticket object is noted with its transaction (issue 14, third pass).

A service keeps the open and the in-progress tickets' objects in memory
(nephthys/api/active_tickets.py) and must never serve them stale. Each row
written to or deleted from "ActiveTicketJson" or "ClosedTicketJson" now adds a
row to "TicketJsonChange" in the same transaction: the transaction's id (xid8,
as a bigint), the ticket and its creation time. A TRUNCATE of either table notes
one row with no ticket: everything changed.

With the snapshot a service's copy was read in, the changes a later snapshot
shows and that one did not are exactly the notes whose transaction is visible
now and was not visible then (``pg_visible_in_snapshot``); only those tickets
are read again. A note is an insert: it never waits on another transaction, so
writers do not queue on it as they would on one version row.

The full export reads most tickets from "TicketJsonBlock": the stored objects
of consecutive tickets (in creation order) joined in one value, each object
preceded by a comma (and again without their descriptions, for clients that may
not see them), with the snapshot the block was read in. Blocks tile the
key space ``(createdAt, ticketId)``: a block holds every ticket from its start
(inclusive) to its end (exclusive), so any change of a ticket is noted inside
exactly one block's range, and a block is used only while no note in its range
is invisible to its snapshot. nephthys/tasks/ticket_json.py builds them.

Notes are kept for a while and then forgotten ("TicketJsonChangeHorizon": notes
of transactions below ``prunedBelow`` may be gone, so a copy read before it is
read again whole); nephthys/tasks/ticket_json.py prunes them.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ['"ActiveTicketJson"', '"ClosedTicketJson"']

# The current transaction's id: xid8 has no cast to bigint but through text.
CURRENT_XID = "pg_current_xact_id()::text::bigint"

NOTE_FUNCTION = f"""CREATE FUNCTION "ticket_json_note_change"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO "TicketJsonChange" ("xid", "ticketId", "createdAt")
        VALUES ({CURRENT_XID}, NEW."ticketId", NEW."createdAt");
    END IF;
    IF TG_OP = 'DELETE' OR OLD."ticketId" <> NEW."ticketId" OR OLD."createdAt" <> NEW."createdAt" THEN
        INSERT INTO "TicketJsonChange" ("xid", "ticketId", "createdAt")
        VALUES ({CURRENT_XID}, OLD."ticketId", OLD."createdAt");
    END IF;
    RETURN NULL;
END
$body$"""

NOTE_TRUNCATE_FUNCTION = f"""CREATE FUNCTION "ticket_json_note_truncate"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    INSERT INTO "TicketJsonChange" ("xid") VALUES ({CURRENT_XID});
    -- Every block is stale; deleted in this transaction (no lock beyond its rows').
    DELETE FROM "TicketJsonBlock";
    RETURN NULL;
END
$body$"""


# Blocks are read whole by every export. lz4 (~6× smaller here) costs PostgreSQL less to read
# than uncompressed TOAST, whose pages do not fit the default shared_buffers (COPY of 1,000,000
# tickets' blocks: 0.55–0.58 s of CPU against 0.72–0.79 s); pglz costs more than either. A server
# built without lz4 stores them uncompressed.
BLOCK_STORAGE = """DO $$
BEGIN
    ALTER TABLE "TicketJsonBlock" ALTER COLUMN "json" SET COMPRESSION lz4,
        ALTER COLUMN "jsonWithoutDescriptions" SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    ALTER TABLE "TicketJsonBlock" ALTER COLUMN "json" SET STORAGE EXTERNAL,
        ALTER COLUMN "jsonWithoutDescriptions" SET STORAGE EXTERNAL;
END
$$"""


def upgrade() -> None:
    op.execute(
        """CREATE TABLE "TicketJsonChange" (
            "id" BIGSERIAL NOT NULL,
            "xid" BIGINT NOT NULL,
            "ticketId" INTEGER,
            "createdAt" TIMESTAMPTZ(3),
            CONSTRAINT "TicketJsonChange_pkey" PRIMARY KEY ("id"))"""
    )
    op.execute('CREATE INDEX "TicketJsonChange_xid_idx" ON "TicketJsonChange" ("xid")')
    op.execute(
        """CREATE TABLE "TicketJsonChangeHorizon" (
            "id" INTEGER NOT NULL DEFAULT 1,
            "prunedBelow" BIGINT NOT NULL DEFAULT 0,
            "pruneNextBelow" BIGINT NOT NULL DEFAULT 0,
            "prunedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            CONSTRAINT "TicketJsonChangeHorizon_pkey" PRIMARY KEY ("id"),
            CONSTRAINT "TicketJsonChangeHorizon_one_row" CHECK (id = 1))"""
    )
    op.execute('INSERT INTO "TicketJsonChangeHorizon" DEFAULT VALUES')
    op.execute(
        """CREATE TABLE "TicketJsonBlock" (
            "startAt" TIMESTAMPTZ(3) NOT NULL,
            "startId" INTEGER NOT NULL,
            "endAt" TIMESTAMPTZ(3) NOT NULL,
            "endId" INTEGER NOT NULL,
            "tickets" INTEGER NOT NULL,
            "json" BYTEA NOT NULL,
            "jsonWithoutDescriptions" BYTEA NOT NULL,
            "snapshot" TEXT NOT NULL,
            "snapshotXmin" BIGINT NOT NULL,
            CONSTRAINT "TicketJsonBlock_pkey" PRIMARY KEY ("startAt", "startId"))"""
    )
    op.execute(BLOCK_STORAGE)
    op.execute(NOTE_FUNCTION)
    op.execute(NOTE_TRUNCATE_FUNCTION)
    for table in TABLES:
        name = table.strip('"')
        op.execute(
            f'CREATE TRIGGER "{name}_note_change" AFTER INSERT OR UPDATE OR DELETE ON {table} '
            'FOR EACH ROW EXECUTE FUNCTION "ticket_json_note_change"()'
        )
        op.execute(
            f'CREATE TRIGGER "{name}_note_truncate" AFTER TRUNCATE ON {table} '
            'FOR EACH STATEMENT EXECUTE FUNCTION "ticket_json_note_truncate"()'
        )


def downgrade() -> None:
    for table in TABLES:
        name = table.strip('"')
        op.execute(f'DROP TRIGGER "{name}_note_change" ON {table}')
        op.execute(f'DROP TRIGGER "{name}_note_truncate" ON {table}')
    op.execute('DROP FUNCTION "ticket_json_note_change"()')
    op.execute('DROP FUNCTION "ticket_json_note_truncate"()')
    op.execute('DROP TABLE "TicketJsonBlock"')
    op.execute('DROP TABLE "TicketJsonChangeHorizon"')
    op.execute('DROP TABLE "TicketJsonChange"')
