"""Ticket objects say whom they wait on and their response times (issue 20, sections 2 and 3).

Every stored ticket object (migration 0011) gains four members after ``message_ts``, read from
the columns migration 0019 added and the lifecycle keeps (nephthys/tickets/timeline.py):

- ``waiting_on``: ``"helpers"``, ``"asker"`` or null ("waitingOn" lowered); null for a closed
  ticket whatever the column says (a closed ticket waits on nobody);
- ``waiting_since``: "waitingSince" in the API's one timestamp format, or null (likewise);
- ``first_response_minutes`` and ``resolution_minutes``: "firstResponseMinutes" and
  "resolutionMinutes" (support minutes, float8), or null. Written as PostgreSQL writes a float8
  (the shortest digits that read back as the same number; no ``.0`` on a whole number, an
  exponent below 1e-4). That text depends on ``extra_float_digits``, so the render functions run
  with it set to 1 whatever the writing session set.

The members come after the description, so the stored description cut ("descriptionAt",
"descriptionLength", octets from the object's start) is unchanged by them.

"ActiveTicketJson" keeps the ticket's "waitingOn" beside its object, with an index on
("waitingOn", "createdAt", "ticketId"): ``/api/tickets?waiting_on=`` reads only the open and
in-progress tickets (closed ones wait on nobody), in creation order, without touching "Ticket".

The Ticket update trigger also fires on the four columns. Every stored object is rendered again
(``ticket_json_rebuild``, which also empties the export blocks; their job builds them again).

Revision ID: 0020
Revises: 0019
"""

import importlib

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_0011 = importlib.import_module("nephthys.database.migrations.versions.0011_ticket_json")
_0016 = importlib.import_module("nephthys.database.migrations.versions.0016_title_source")

WAITING_COLUMNS = ["waitingOn", "waitingSince", "firstResponseMinutes", "resolutionMinutes"]
SHOWN_COLUMNS = [*_0011.SHOWN_COLUMNS, "titleFromAi", *WAITING_COLUMNS]
ACTIVE_WAITING_INDEX = "ActiveTicketJson_waitingOn_createdAt_ticketId_idx"


def _iso(column: str) -> str:
    """ISO 8601 with milliseconds and the UTC offset, the API's one timestamp format."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')"""


_OPEN = "t.status <> 'CLOSED'"
# The new members, after message_ts (the closing brace follows them).
WAITING_MEMBERS = f"""
    || ',"waiting_on":' || coalesce('"' || lower(CASE WHEN {_OPEN} THEN t."waitingOn"::text END) || '"', 'null')
    || ',"waiting_since":' || coalesce('"' || CASE WHEN {_OPEN} THEN {_iso('t."waitingSince"')} END || '"', 'null')
    || ',"first_response_minutes":' || coalesce(to_json(t."firstResponseMinutes")::text, 'null')
    || ',"resolution_minutes":' || coalesce(to_json(t."resolutionMinutes")::text, 'null')"""

_TAIL_END = """|| ',"message_ts":' || to_json(t."msgTs")::text || '}' AS tail) part"""
_RENDER_LAST_COLUMN = 'AS description_length\nFROM "Ticket" t'
_ACTIVE_INSERT = 'INSERT INTO "ActiveTicketJson" ("ticketId", "status", "createdAt", "json", "descriptionAt", "descriptionLength")'
_ACTIVE_UPSERT = '"status" = EXCLUDED."status"'
# float8's text (to_json) follows the session's extra_float_digits: fixed here (1: the default,
# shortest exact digits) for every render, whoever writes.
_HEADER = "LANGUAGE plpgsql AS $body$"
_HEADER_WITH_DIGITS = "LANGUAGE plpgsql SET extra_float_digits = 1 AS $body$"


def _replaced(function: str, old: str, new: str, *, count: int | None = None) -> str:
    assert old in function, f"0016's render function changed: {old!r} not found"
    assert count is None or function.count(old) == count, f"expected {count} of {old!r}"
    return function.replace(old, new)


def render_functions() -> list[str]:
    """The render functions as of this revision: 0016's, writing the new members and the active
    row's "waitingOn"."""
    functions = []
    for function in _0016.render_functions():
        renders = function.count(_TAIL_END)
        function = _replaced(function, _TAIL_END, _TAIL_END.replace(" || '}'", WAITING_MEMBERS + " || '}'"))
        function = _replaced(
            function,
            _RENDER_LAST_COLUMN,
            _RENDER_LAST_COLUMN.replace("\n", ', t."waitingOn" AS waiting_on\n', 1),
            count=renders,
        )
        # Every active insert (SELECT * of the render) and its upsert carry "waitingOn"; the
        # closed ones name their columns and leave it.
        function = _replaced(function, _ACTIVE_INSERT, _ACTIVE_INSERT[:-1] + ', "waitingOn")')
        if _ACTIVE_UPSERT in function:
            function = function.replace(
                _ACTIVE_UPSERT, f'{_ACTIVE_UPSERT}, "waitingOn" = EXCLUDED."waitingOn"'
            )
        functions.append(_replaced(function, _HEADER, _HEADER_WITH_DIGITS, count=1))
    return functions


def render_functions_and_trigger() -> list[str]:
    """What this revision replaces of 0011's and 0016's functions and triggers (bench/api.py applies it
    to a reused database after theirs)."""
    return [*render_functions(), *_0016._update_trigger(SHOWN_COLUMNS)]


def upgrade() -> None:
    op.execute('ALTER TABLE "ActiveTicketJson" ADD COLUMN "waitingOn" "WaitingOn"')
    op.execute(
        f'CREATE INDEX "{ACTIVE_WAITING_INDEX}" ON "ActiveTicketJson" ("waitingOn", "createdAt", "ticketId")'
    )
    for statement in render_functions_and_trigger():
        op.execute(statement)
    op.execute('SELECT "ticket_json_rebuild"()')  # every object gains the members; blocks are emptied


def downgrade() -> None:
    # 0016's functions replace these whole, the extra_float_digits setting with them.
    for statement in _0016.render_functions_and_trigger():
        op.execute(statement)
    op.execute(f'DROP INDEX "{ACTIVE_WAITING_INDEX}"')
    op.execute('ALTER TABLE "ActiveTicketJson" DROP COLUMN "waitingOn"')
    op.execute('SELECT "ticket_json_rebuild"()')
