"""Each ticket's API JSON, rendered once and kept up to date by triggers (issue 14).

Reading tickets used to build every ticket's JSON on every request, and the open
ones lay scattered over the whole "Ticket" table. A ticket's JSON changes only
when the ticket, its tags or one of its people changes, which is rare next to
how often it is read, so it is now rendered in the transaction that changes it:

- "ActiveTicketJson" holds the open and in-progress tickets: a few tens of
  thousands of rows in a small, dense table, so ``status=open`` reads a few
  megabytes instead of ~20,000 scattered heap pages;
- "ClosedTicketJson" holds the closed ones. A ticket is written there when it
  closes, in closing order, which is nearly creation order: the export reads
  it almost sequentially and streams the stored text as it is.

A ticket is in exactly one of them. Each row keeps where the description sits
in the text ("descriptionAt", "descriptionLength", in characters) so a client
that may not see descriptions gets the object without that key, cut out in SQL.

Triggers keep them exact in the same transaction as the change: a ticket's own
columns (not ``lastMsgAt``/``lastMsgBy``, which every Slack message touches and
the JSON does not show), its tag links, a user's Slack id or username, a tag's name. A
render takes shared advisory locks on the ticket's users and tags (a rename the exclusive one), and a tag link
change locks its ticket, so a rename or a concurrent change always re-renders
after the other commits instead of overwriting it with an older view.

``ticket_json_rebuild()`` renders everything again, for a database loaded with
these triggers disabled (``nephthys db rebuild-ticket-json``); the upgrade runs
it, so an adopted database is complete at once.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The Ticket columns the JSON shows: an update touching none of them renders nothing.
SHOWN_COLUMNS = [
    "id", "title", "description", "status", "openedById", "closedById", "assignedToId",
    "reopenedById", "createdAt", "closedAt", "msgTs",
]  # fmt: skip
ACTIVE_STATUSES = ["OPEN", "IN_PROGRESS"]
USER_COLUMNS = ["openedById", "closedById", "assignedToId", "reopenedById"]


def _user_object(column: str) -> str:
    """A user object as the API writes it (orjson's compact form), or null."""
    return f"""coalesce((SELECT '{{"id":' || u.id || ',"slack_id":' || to_json(u."slackId")::text
                         || ',"username":' || coalesce(to_json(u.username)::text, 'null') || '}}'
                 FROM "User" u WHERE u.id = t."{column}"), 'null')"""


def _user_text(row: str) -> str:
    """The user object of a "User" row variable (OLD, NEW) in a trigger, as _user_object writes it."""
    return f"""'{{"id":' || {row}.id || ',"slack_id":' || to_json({row}."slackId")::text
        || ',"username":' || coalesce(to_json({row}.username)::text, 'null') || '}}'"""


# Tag names sorted by code point (as Python's sorted does): COLLATE "C" orders UTF-8 bytes so.
_TAG_NAMES = """(SELECT coalesce((SELECT '[' || string_agg(to_json(g.name)::text, ',' ORDER BY g.name COLLATE "C") || ']'
                 FROM tags_on_tickets l JOIN "Tag" g ON g.id = l."tagId" WHERE l."ticketId" = t.id), '[]') AS names)"""


def _iso(column: str) -> str:
    """ISO 8601 with milliseconds and the UTC offset, the API's one timestamp format."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')"""


# One row per ticket of "Ticket" t: the same bytes nephthys.api.ticket_json wrote for it.
RENDER = f"""SELECT t.id, t.status, t."createdAt",
       part.head || part.description || part.tail AS json,
       length(part.head) AS description_at, length(part.description) AS description_length
FROM "Ticket" t
CROSS JOIN LATERAL {_TAG_NAMES} tag
CROSS JOIN LATERAL (SELECT
    '{{"id":' || t.id || ',"title":' || to_json(t.title)::text AS head,
    ',"description":' || to_json(t.description)::text AS description,
    ',"status":"' || lower(t.status::text) || '"'
    || ',"opened_by":' || {_user_object("openedById")}
    || ',"closed_by":' || {_user_object("closedById")}
    || ',"assigned_to":' || {_user_object("assignedToId")}
    || ',"reopened_by":' || {_user_object("reopenedById")}
    || ',"tags":' || tag.names || ',"team_tags":' || tag.names
    || ',"created_at":"' || {_iso('t."createdAt"')}
    || '","closed_at":' || coalesce('"' || {_iso('t."closedAt"')} || '"', 'null')
    || ',"message_ts":' || to_json(t."msgTs")::text || '}}' AS tail) part"""

_UPSERT_SET = """SET "createdAt" = EXCLUDED."createdAt", "json" = EXCLUDED."json",
        "descriptionAt" = EXCLUDED."descriptionAt", "descriptionLength" = EXCLUDED."descriptionLength\""""

# Advisory lock classes: a user's or a tag's rendered name (two-integer keys, one class each).
USER_LOCK, TAG_LOCK = 14001, 14002

# Renders the tickets ``ids`` into the table their status belongs in, and out of the other.
# Takes no locks: its callers order it against concurrent changes (see the triggers).
REFRESH_FUNCTION = f"""CREATE FUNCTION "ticket_json_refresh"(ids integer[]) RETURNS void
LANGUAGE plpgsql AS $body$
BEGIN
    INSERT INTO "ActiveTicketJson" ("ticketId", "status", "createdAt", "json", "descriptionAt", "descriptionLength")
    SELECT * FROM ({RENDER} WHERE t.id = ANY(ids) AND t.status <> 'CLOSED') rendered
    ON CONFLICT ("ticketId") DO UPDATE {_UPSERT_SET}, "status" = EXCLUDED."status";
    INSERT INTO "ClosedTicketJson" ("ticketId", "createdAt", "json", "descriptionAt", "descriptionLength")
    SELECT id, "createdAt", json, description_at, description_length
    FROM ({RENDER} WHERE t.id = ANY(ids) AND t.status = 'CLOSED') rendered
    ON CONFLICT ("ticketId") DO UPDATE {_UPSERT_SET};

    DELETE FROM "ActiveTicketJson" a WHERE a."ticketId" = ANY(ids)
        AND NOT EXISTS (SELECT 1 FROM "Ticket" t WHERE t.id = a."ticketId" AND t.status <> 'CLOSED');
    DELETE FROM "ClosedTicketJson" c WHERE c."ticketId" = ANY(ids)
        AND NOT EXISTS (SELECT 1 FROM "Ticket" t WHERE t.id = c."ticketId" AND t.status = 'CLOSED');
END
$body$"""

# A render holds shared advisory locks on its ticket's users and tags until its transaction
# ends; a rename takes the exclusive one. So a rename waits for renders that read the old
# name to commit, and a render waits for a rename in flight; each statement after the lock
# then reads what has committed (READ COMMITTED). No row is written to take them.
_LOCK_TAGS = f"""PERFORM pg_advisory_xact_lock_shared({TAG_LOCK}, l."tagId")
        FROM tags_on_tickets l WHERE l."ticketId" = ticket ORDER BY l."tagId";"""

# One ticket changed: the common case, kept to a few index lookups and one write.
ON_TICKET_FUNCTION = f"""CREATE FUNCTION "ticket_json_on_ticket"() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
    ticket integer := NEW.id;
BEGIN
    PERFORM pg_advisory_xact_lock_shared({USER_LOCK}, person)
        FROM unnest(ARRAY[{", ".join(f'NEW."{c}"' for c in USER_COLUMNS)}]) AS person
        WHERE person IS NOT NULL ORDER BY person;
    IF TG_OP = 'UPDATE' THEN
        {_LOCK_TAGS}
    END IF;
    IF NEW.status = 'CLOSED' THEN
        INSERT INTO "ClosedTicketJson" ("ticketId", "createdAt", "json", "descriptionAt", "descriptionLength")
        SELECT id, "createdAt", json, description_at, description_length FROM ({RENDER} WHERE t.id = ticket) rendered
        ON CONFLICT ("ticketId") DO UPDATE {_UPSERT_SET};
        IF TG_OP = 'UPDATE' AND OLD.status <> 'CLOSED' THEN
            DELETE FROM "ActiveTicketJson" WHERE "ticketId" = ticket;
        END IF;
    ELSE
        INSERT INTO "ActiveTicketJson" ("ticketId", "status", "createdAt", "json", "descriptionAt", "descriptionLength")
        SELECT * FROM ({RENDER} WHERE t.id = ticket) rendered
        ON CONFLICT ("ticketId") DO UPDATE {_UPSERT_SET}, "status" = EXCLUDED."status";
        IF TG_OP = 'UPDATE' AND OLD.status = 'CLOSED' THEN
            DELETE FROM "ClosedTicketJson" WHERE "ticketId" = ticket;
        END IF;
    END IF;
    RETURN NULL;
END
$body$"""

REBUILD_FUNCTION = f"""CREATE FUNCTION "ticket_json_rebuild"() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    -- Nothing the JSON shows may change while it is rendered again.
    LOCK TABLE "Ticket", tags_on_tickets, "User", "Tag" IN SHARE MODE;
    TRUNCATE "ActiveTicketJson", "ClosedTicketJson";
    -- In creation order, the order the export reads them in.
    INSERT INTO "ActiveTicketJson" ("ticketId", "status", "createdAt", "json", "descriptionAt", "descriptionLength")
    SELECT * FROM ({RENDER} WHERE t.status <> 'CLOSED') rendered ORDER BY "createdAt", id;
    INSERT INTO "ClosedTicketJson" ("ticketId", "createdAt", "json", "descriptionAt", "descriptionLength")
    SELECT id, "createdAt", json, description_at, description_length
    FROM ({RENDER} WHERE t.status = 'CLOSED') rendered ORDER BY "createdAt", id;
END
$body$"""

TRIGGER_FUNCTIONS = {
    "ticket_json_on_ticket_delete": """BEGIN
    DELETE FROM "ActiveTicketJson" WHERE "ticketId" = OLD.id;
    DELETE FROM "ClosedTicketJson" WHERE "ticketId" = OLD.id;
    RETURN NULL;
END""",
    "ticket_json_on_ticket_truncate": """BEGIN
    TRUNCATE "ActiveTicketJson", "ClosedTicketJson";
    RETURN NULL;
END""",
    # The ticket's row lock orders this against a concurrent change of the ticket itself.
    "ticket_json_on_tag_link": f"""DECLARE
    ticket integer;
BEGIN
    FOR ticket IN SELECT DISTINCT unnest(ARRAY[
            CASE WHEN TG_OP <> 'INSERT' THEN OLD."ticketId" END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW."ticketId" END]) ORDER BY 1 LOOP
        CONTINUE WHEN ticket IS NULL;
        PERFORM 1 FROM "Ticket" WHERE id = ticket FOR NO KEY UPDATE;
        PERFORM pg_advisory_xact_lock_shared({USER_LOCK}, person)
            FROM "Ticket" t, unnest(ARRAY[{", ".join(f't."{c}"' for c in USER_COLUMNS)}]) AS person
            WHERE t.id = ticket AND person IS NOT NULL ORDER BY person;
        {_LOCK_TAGS}
        PERFORM "ticket_json_refresh"(ARRAY[ticket]);
    END LOOP;
    RETURN NULL;
END""",
    # A user object's text is unique in a ticket's JSON (inside a string its quotes would be
    # escaped) and comes after the description, so a rename is a text replacement: no render.
    "ticket_json_on_user": f"""DECLARE
    was text := {_user_text("OLD")};
    now_is text := {_user_text("NEW")};
    ids integer[];
BEGIN
    PERFORM pg_advisory_xact_lock({USER_LOCK}, NEW.id);
    ids := ARRAY({" UNION ".join(f'SELECT id FROM "Ticket" WHERE "{c}" = NEW.id' for c in USER_COLUMNS)});
    UPDATE "ActiveTicketJson" SET json = replace(json, was, now_is) WHERE "ticketId" = ANY(ids);
    UPDATE "ClosedTicketJson" SET json = replace(json, was, now_is) WHERE "ticketId" = ANY(ids);
    RETURN NULL;
END""",
    "ticket_json_on_tag": f"""BEGIN
    PERFORM pg_advisory_xact_lock({TAG_LOCK}, NEW.id);
    PERFORM "ticket_json_refresh"(ARRAY(SELECT "ticketId" FROM tags_on_tickets WHERE "tagId" = NEW.id));
    RETURN NULL;
END""",
}

_CHANGED = " OR ".join(f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c in SHOWN_COLUMNS)
_SHOWN = ", ".join(f'"{c}"' for c in SHOWN_COLUMNS)
TRIGGERS = [
    ("ticket_json_insert", '"Ticket"', "AFTER INSERT", "FOR EACH ROW", "ticket_json_on_ticket"),
    (
        "ticket_json_update",
        '"Ticket"',
        f"AFTER UPDATE OF {_SHOWN}",
        f"FOR EACH ROW WHEN ({_CHANGED})",
        "ticket_json_on_ticket",
    ),
    ("ticket_json_delete", '"Ticket"', "AFTER DELETE", "FOR EACH ROW", "ticket_json_on_ticket_delete"),
    ("ticket_json_truncate", '"Ticket"', "AFTER TRUNCATE", "FOR EACH STATEMENT", "ticket_json_on_ticket_truncate"),
    ("ticket_json_tag_link", "tags_on_tickets", "AFTER INSERT OR UPDATE OR DELETE", "FOR EACH ROW",
     "ticket_json_on_tag_link"),
    ("ticket_json_user", '"User"', 'AFTER UPDATE OF "slackId", username',
     'FOR EACH ROW WHEN (OLD."slackId" IS DISTINCT FROM NEW."slackId" OR OLD.username IS DISTINCT FROM NEW.username)',
     "ticket_json_on_user"),
    ("ticket_json_tag", '"Tag"', "AFTER UPDATE OF name", "FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)",
     "ticket_json_on_tag"),
]  # fmt: skip

# Rows up to a page stay inline and uncompressed: no TOAST lookups or decompression when streaming.
_STORAGE = "WITH (toast_tuple_target = 8160)"


def create_functions_and_triggers() -> list[str]:
    return [
        REFRESH_FUNCTION,
        REBUILD_FUNCTION,
        ON_TICKET_FUNCTION,
        *(
            f'CREATE FUNCTION "{name}"() RETURNS trigger LANGUAGE plpgsql AS $body$\n{body}\n$body$'
            for name, body in TRIGGER_FUNCTIONS.items()
        ),
        *(
            f'CREATE TRIGGER "{name}" {event} ON {table} {each} EXECUTE FUNCTION "{function}"()'
            for name, table, event, each, function in TRIGGERS
        ),
    ]


def drop_functions_and_triggers() -> list[str]:
    return [
        *(f'DROP TRIGGER IF EXISTS "{name}" ON {table}' for name, table, *_ in TRIGGERS),
        *(f'DROP FUNCTION IF EXISTS "{name}"()' for name in [*TRIGGER_FUNCTIONS, "ticket_json_on_ticket"]),
        'DROP FUNCTION IF EXISTS "ticket_json_rebuild"()',
        'DROP FUNCTION IF EXISTS "ticket_json_refresh"(integer[])',
    ]


def upgrade() -> None:
    op.execute(
        f"""CREATE TABLE "ActiveTicketJson" (
            "ticketId" INTEGER NOT NULL,
            "status" "TicketStatus" NOT NULL,
            "createdAt" TIMESTAMPTZ(3) NOT NULL,
            "json" TEXT NOT NULL,
            "descriptionAt" INTEGER NOT NULL,
            "descriptionLength" INTEGER NOT NULL,
            CONSTRAINT "ActiveTicketJson_pkey" PRIMARY KEY ("ticketId")) {_STORAGE}"""
    )
    # One small index per active status: status=open reads only its own entries, in order.
    for status in ACTIVE_STATUSES:
        op.execute(
            f'CREATE INDEX "ActiveTicketJson_{status.lower()}_createdAt_ticketId_idx" '
            f'ON "ActiveTicketJson" ("createdAt", "ticketId") WHERE status = \'{status}\''
        )
    # Every status, merged with the closed ones (the planner does not merge the status index's order).
    op.execute(
        'CREATE INDEX "ActiveTicketJson_createdAt_ticketId_idx" ON "ActiveTicketJson" ("createdAt", "ticketId")'
    )
    op.execute(
        f"""CREATE TABLE "ClosedTicketJson" (
            "ticketId" INTEGER NOT NULL,
            "createdAt" TIMESTAMPTZ(3) NOT NULL,
            "json" TEXT NOT NULL,
            "descriptionAt" INTEGER NOT NULL,
            "descriptionLength" INTEGER NOT NULL,
            CONSTRAINT "ClosedTicketJson_pkey" PRIMARY KEY ("ticketId")) {_STORAGE}"""
    )
    op.execute(
        'CREATE INDEX "ClosedTicketJson_createdAt_ticketId_idx" ON "ClosedTicketJson" ("createdAt", "ticketId")'
    )
    # A user's tickets are found on each of their columns when they are renamed.
    op.execute('CREATE INDEX "Ticket_reopenedById_idx" ON "Ticket" ("reopenedById")')
    for statement in create_functions_and_triggers():
        op.execute(statement)
    # An adopted database already has tickets.
    op.execute('SELECT "ticket_json_rebuild"()')


def downgrade() -> None:
    for statement in drop_functions_and_triggers():
        op.execute(statement)
    op.execute('DROP INDEX "Ticket_reopenedById_idx"')
    op.execute('DROP TABLE "ClosedTicketJson"')
    op.execute('DROP TABLE "ActiveTicketJson"')
