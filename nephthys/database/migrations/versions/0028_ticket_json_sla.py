"""Every stored ticket object ends with its ``sla`` member (issue 21, section 3).

The object gains ``sla`` after ``resolution_minutes`` (its last member; the contract only adds
keys at the end): ``null`` when the ticket has no clock with a target, else
``{"first_response":CLOCK|null,"next_response":CLOCK|null,"resolution":CLOCK|null}`` rendered
from its "TicketSlaClock" rows, CLOCK being
``{"target_minutes":…,"state":…,"due_at":…,"minutes_left":…}``.

What a clock shows depends on the time only while it runs (nephthys/sla/clocks.py,
``clock_view``): a met, breached or paused clock is rendered here exactly as it is served (a
paused one's ``minutes_left`` is its target less its minutes, rounded to hundredths). A
RUNNING clock is stored with its ``due_at`` and ``"state":"running","minutes_left":null``, and
the service rewrites the ``sla`` member of every ticket with a running clock as it serves it, at
the request's instant (nephthys/api/sla_now.py). Only open and in-progress tickets have running
clocks: a closed ticket's stored object is served as it is, as are the objects of a database
without targets (``"sla":null``).

The clocks change in the transactions that change what they read (nephthys/sla/clocks.py,
``refresh``), after the ticket's own render: triggers on "TicketSlaClock" render its tickets
again when a clock is inserted or deleted, or updated in a column the member shows (not
"actionAt", which the watcher moves). Set-based (transition tables), so the start-up recompute
renders a batch in one call; with the same shared advisory locks on the tickets' users and tags
as the other renders take.

"TicketSlaClock_running_ticket_idx" finds the tickets with a running clock in a creation range
(the export's rewrites) without reading the other clocks.

Every stored object gains the member in place: its text up to its closing brace, the member, the
brace (exactly what the new render writes: nothing before the member changes), in batches of
tickets so no statement runs long at 1,000,000 tickets (the migrator's statements time out at 60 s;
a whole ``ticket_json_rebuild`` does not fit under load). The change notes are written as a
TRUNCATE writes them (one note: everything changed, not one per ticket), and the export blocks are
dropped (their job builds them again).

Revision ID: 0028
Revises: 0027
"""

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_0011 = importlib.import_module("nephthys.database.migrations.versions.0011_ticket_json")
_0020 = importlib.import_module("nephthys.database.migrations.versions.0020_ticket_json_waiting")

RUNNING_INDEX = "TicketSlaClock_running_ticket_idx"


def _iso(column: str) -> str:
    """ISO 8601 with milliseconds and the UTC offset, the API's one timestamp format."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')"""


# One "TicketSlaClock" row c as its CLOCK object (a running one with minutes_left null: rewritten when served).
CLOCK_OBJECT = f"""'{{"target_minutes":' || c."targetMinutes"
    || ',"state":"' || lower(c.state::text) || '"'
    || ',"due_at":' || CASE WHEN c.state = 'RUNNING' AND c."dueAt" IS NOT NULL
                            THEN '"' || {_iso('c."dueAt"')} || '"' ELSE 'null' END
    || ',"minutes_left":' || CASE WHEN c.state = 'PAUSED'
                                  THEN to_json(CAST(round(CAST(c."targetMinutes" - c.minutes AS numeric), 2) AS float8))::text
                                  ELSE 'null' END
    || '}}'"""


def _clock(kind: str) -> str:
    return f"coalesce(max({CLOCK_OBJECT}) FILTER (WHERE c.kind = '{kind}'), 'null')"


# The ticket t's sla member's value: null without clocks.
SLA_VALUE = f"""coalesce((SELECT '{{"first_response":' || {_clock("FIRST_RESPONSE")}
        || ',"next_response":' || {_clock("NEXT_RESPONSE")}
        || ',"resolution":' || {_clock("RESOLUTION")} || '}}'
    FROM "TicketSlaClock" c WHERE c."ticketId" = t.id HAVING count(*) > 0), 'null')"""

_LAST = """|| '}' AS tail) part"""


def render_functions() -> list[str]:
    """0020's render functions, each object ending with its ``sla`` member."""
    functions = []
    for function in _0020.render_functions():
        assert _LAST in function, "0020's render function changed"
        functions.append(function.replace(_LAST, f"""|| ',"sla":' || {SLA_VALUE} {_LAST}"""))
    return functions


# The clock columns the member shows: an update touching only others (the watcher's "actionAt",
# "warnAt") renders nothing.
SHOWN_COLUMNS = ["targetMinutes", "state", "minutes", "dueAt"]
_SHOWN_CHANGED = " OR ".join(f'o."{c}" IS DISTINCT FROM n."{c}"' for c in SHOWN_COLUMNS)

_LOCK_AND_RENDER = f"""IF ids <> '{{}}' THEN
        PERFORM pg_advisory_xact_lock_shared({_0011.USER_LOCK}, person)
            FROM (SELECT DISTINCT person FROM "Ticket" t,
                  unnest(ARRAY[{", ".join(f't."{c}"' for c in _0011.USER_COLUMNS)}]) AS person
                  WHERE t.id = ANY(ids) AND person IS NOT NULL) people ORDER BY person;
        PERFORM pg_advisory_xact_lock_shared({_0011.TAG_LOCK}, tag)
            FROM (SELECT DISTINCT l."tagId" AS tag FROM tags_on_tickets l WHERE l."ticketId" = ANY(ids)) tags
            ORDER BY tag;
        PERFORM "ticket_json_refresh"(ids);
    END IF;
    RETURN NULL;"""

CLOCK_TRIGGER_FUNCTIONS = {
    "ticket_json_on_clock_insert": f"""DECLARE
    ids integer[] := ARRAY(SELECT DISTINCT "ticketId" FROM new_clocks ORDER BY 1);
BEGIN
    {_LOCK_AND_RENDER}
END""",
    "ticket_json_on_clock_delete": f"""DECLARE
    ids integer[] := ARRAY(SELECT DISTINCT "ticketId" FROM old_clocks ORDER BY 1);
BEGIN
    {_LOCK_AND_RENDER}
END""",
    "ticket_json_on_clock_update": f"""DECLARE
    ids integer[] := ARRAY(SELECT DISTINCT n."ticketId" FROM new_clocks n
                           JOIN old_clocks o ON o."ticketId" = n."ticketId" AND o.kind = n.kind
                           WHERE {_SHOWN_CHANGED} ORDER BY 1);
BEGIN
    {_LOCK_AND_RENDER}
END""",
}

CLOCK_TRIGGERS = [
    (
        "ticket_json_clock_insert",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS new_clocks",
        "ticket_json_on_clock_insert",
    ),
    (
        "ticket_json_clock_delete",
        "AFTER DELETE",
        "REFERENCING OLD TABLE AS old_clocks",
        "ticket_json_on_clock_delete",
    ),
    (
        "ticket_json_clock_update",
        "AFTER UPDATE",
        "REFERENCING OLD TABLE AS old_clocks NEW TABLE AS new_clocks",
        "ticket_json_on_clock_update",
    ),
]


def clock_triggers() -> list[str]:
    return [
        *(
            f'CREATE OR REPLACE FUNCTION "{name}"() RETURNS trigger LANGUAGE plpgsql AS $body$\n{body}\n$body$'
            for name, body in CLOCK_TRIGGER_FUNCTIONS.items()
        ),
        *(f'DROP TRIGGER IF EXISTS "{name}" ON "TicketSlaClock"' for name, *_ in CLOCK_TRIGGERS),
        *(
            f'CREATE TRIGGER "{name}" {event} ON "TicketSlaClock" {referencing} '
            f'FOR EACH STATEMENT EXECUTE FUNCTION "{function}"()'
            for name, event, referencing, function in CLOCK_TRIGGERS
        ),
    ]


def drop_clock_triggers() -> list[str]:
    return [
        *(f'DROP TRIGGER IF EXISTS "{name}" ON "TicketSlaClock"' for name, *_ in CLOCK_TRIGGERS),
        *(f'DROP FUNCTION IF EXISTS "{name}"()' for name in CLOCK_TRIGGER_FUNCTIONS),
    ]


def render_functions_and_trigger() -> list[str]:
    """What this revision replaces and adds (bench/api.py applies it to a reused database after 0020's)."""
    return [*render_functions(), *clock_triggers()]


_TABLES = ['"ActiveTicketJson"', '"ClosedTicketJson"']
_BATCH = 50_000
# The stored row j's ticket's member value (SLA_VALUE reads the ticket t's clocks).
_STORED_SLA_VALUE = SLA_VALUE.replace('c."ticketId" = t.id', 'c."ticketId" = j."ticketId"')


def upgrade() -> None:
    op.execute(
        f"""CREATE INDEX "{RUNNING_INDEX}" ON "TicketSlaClock"("ticketCreatedAt", "ticketId")
            WHERE state = 'RUNNING'"""
    )
    for statement in render_functions_and_trigger():
        op.execute(statement)
    # Every stored object gains the member (module docstring), without a change note per ticket.
    for table in _TABLES:
        op.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{table.strip(chr(34))}_note_change"')
    top = op.get_bind().execute(sa.text('SELECT coalesce(max(id), 0) FROM "Ticket"')).scalar_one()
    for low in range(0, top, _BATCH):
        for table in _TABLES:
            op.execute(
                f"""UPDATE {table} j SET json = left(j.json, -1) || ',"sla":' || {_STORED_SLA_VALUE} || '}}'
                    WHERE j."ticketId" > {low} AND j."ticketId" <= {low + _BATCH}"""
            )
    for table in _TABLES:
        op.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{table.strip(chr(34))}_note_change"')
    op.execute("""INSERT INTO "TicketJsonChange" ("xid") VALUES (pg_current_xact_id()::text::bigint)""")
    op.execute('DELETE FROM "TicketJsonBlock"')  # written without it; the block job builds them again


def downgrade() -> None:
    for statement in drop_clock_triggers():
        op.execute(statement)
    for statement in _0020.render_functions():
        op.execute(statement)
    op.execute(f'DROP INDEX "{RUNNING_INDEX}"')
    op.execute('SELECT "ticket_json_rebuild"()')
    op.execute('DELETE FROM "TicketJsonBlock"')
