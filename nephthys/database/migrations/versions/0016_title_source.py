"""A title made of the question's own words is hidden with its description (issue 18, section 5).

Without an AI endpoint (or when it fails or is slow), a ticket's title is the question's first
8 words / 80 characters (nephthys/slack/titles.py): the question's text. A client that may not
see descriptions (API_DESCRIPTIONS=keys, no key) must not read it in ``title`` either. An
AI-written title may stay.

"Ticket"."titleFromAi" says which a title is: true once the AI title replaced the first words.
Tickets from before (and rows written by other tools) are false: hidden, the safe side.

The stored objects keep one cut per row ("descriptionAt", "descriptionLength", octets):

- AI-written title: the ``,"description":…`` member, as before; it is cut out (absent);
- a title from the question: from the title's value to the end of the description member
  (``"first words…","description":"…"``), replaced by ``null``: ``"title":null`` and no
  description.

So a cut that starts at a comma removes a member, one that starts at the title's value (a
JSON string: a quote) becomes ``null`` (nephthys/api/stored_tickets.py reads it so, in SQL and
in Python). The render functions compute the new cut; the stored rows' cuts are moved in place
(every existing title is hidden); the export blocks, cut the old way, are dropped and rebuilt by
their job. The Ticket trigger also re-renders when only "titleFromAi" changes.

Revision ID: 0016
Revises: 0015
"""

import importlib

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_0011 = importlib.import_module("nephthys.database.migrations.versions.0011_ticket_json")
_0013 = importlib.import_module("nephthys.database.migrations.versions.0013_ticket_json_byte_offsets")

_DESCRIPTION_ONLY = (
    "octet_length(part.head) AS description_at, octet_length(part.description) AS description_length"
)
# part.head ends with the title's JSON value: a hidden title's cut starts where that value does.
_TITLE_VALUE = "octet_length(to_json(t.title)::text)"
_TITLE_AND_DESCRIPTION = f"""CASE WHEN t."titleFromAi" THEN octet_length(part.head)
            ELSE octet_length(part.head) - {_TITLE_VALUE} END AS description_at,
       CASE WHEN t."titleFromAi" THEN octet_length(part.description)
            ELSE {_TITLE_VALUE} + octet_length(part.description) END AS description_length"""

_TABLES = ['"ActiveTicketJson"', '"ClosedTicketJson"']
_UPDATE_TRIGGER = "ticket_json_update"


def render_functions() -> list[str]:
    """The render functions as of this revision."""
    functions = _0013.render_functions()
    assert all(_DESCRIPTION_ONLY in function for function in functions), "0013's RENDER changed"
    return [function.replace(_DESCRIPTION_ONLY, _TITLE_AND_DESCRIPTION) for function in functions]


def render_functions_and_trigger() -> list[str]:
    """What this revision replaces of 0011's functions and triggers (bench/api.py applies it to a reused
    database after 0011's)."""
    return [*render_functions(), *_update_trigger([*_0011.SHOWN_COLUMNS, "titleFromAi"])]


def _update_trigger(columns: list[str]) -> list[str]:
    """The Ticket update trigger, firing when any of ``columns`` changes."""
    changed = " OR ".join(f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c in columns)
    shown = ", ".join(f'"{c}"' for c in columns)
    return [
        f'DROP TRIGGER IF EXISTS "{_UPDATE_TRIGGER}" ON "Ticket"',
        f'CREATE TRIGGER "{_UPDATE_TRIGGER}" AFTER UPDATE OF {shown} ON "Ticket" '
        f'FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION "ticket_json_on_ticket"()',
    ]


def upgrade() -> None:
    op.execute('ALTER TABLE "Ticket" ADD COLUMN "titleFromAi" BOOLEAN NOT NULL DEFAULT false')
    for statement in render_functions_and_trigger():
        op.execute(statement)
    # Every stored title is hidden now (titleFromAi is false): its cut starts at the title's value,
    # which ends where the description member begins. Both SET expressions read the old row.
    for table in _TABLES:
        op.execute(
            f"""UPDATE {table} SET
                "descriptionAt" = octet_length('{{"id":' || "ticketId" || ',"title":'),
                "descriptionLength" = "descriptionAt" + "descriptionLength"
                    - octet_length('{{"id":' || "ticketId" || ',"title":')"""
        )
    op.execute('DELETE FROM "TicketJsonBlock"')  # cut the old way; the block job builds them again


def downgrade() -> None:
    for function in _0013.render_functions():
        op.execute(function)
    for statement in _update_trigger(_0011.SHOWN_COLUMNS):
        op.execute(statement)
    op.execute('ALTER TABLE "Ticket" DROP COLUMN "titleFromAi"')
    op.execute('SELECT "ticket_json_rebuild"()')  # every cut back to the description member alone
    op.execute('DELETE FROM "TicketJsonBlock"')
