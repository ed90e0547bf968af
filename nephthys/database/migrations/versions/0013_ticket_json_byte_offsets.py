"""Where a stored ticket's description sits is kept in bytes, not characters (issue 14, second pass).

A client that may not see descriptions (API_DESCRIPTIONS=keys, no key) gets each
stored object with its ``,"description":…`` member cut out in SQL. 0011 kept
the member's offset and length in characters, so the cut was a text
``overlay()``, which counts characters from the start of every object: for
``status=open`` on 1,000,000 live-shaped tickets PostgreSQL spent ~105 ms of
CPU on it against ~39 ms for the same cut on bytes (bench/README.md, "Issue 14,
second pass"). The service now reads the objects as bytes (``textsend``, the
stored UTF-8 as it is) and cuts them with a ``bytea`` overlay, so the offsets
are UTF-8 octets: "descriptionAt" is the octet length of everything before the
member, "descriptionLength" the member's.

Only what the offsets mean changes: the render functions compute octet lengths
and the stored rows are converted in place (the JSON text itself is untouched).
The database is UTF-8, as Nephthys creates it, so the stored text's octets are
the bytes a client receives.

Revision ID: 0013
Revises: 0012
"""

import importlib

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_0011 = importlib.import_module("nephthys.database.migrations.versions.0011_ticket_json")

_IN_CHARACTERS = "length(part.head) AS description_at, length(part.description) AS description_length"
_IN_OCTETS = "octet_length(part.head) AS description_at, octet_length(part.description) AS description_length"
_TABLES = ['"ActiveTicketJson"', '"ClosedTicketJson"']


def _functions(in_octets: bool) -> list[str]:
    """0011's render functions (every one that embeds its RENDER), replacing the live ones."""
    functions = [_0011.REFRESH_FUNCTION, _0011.ON_TICKET_FUNCTION, _0011.REBUILD_FUNCTION]
    assert all(_IN_CHARACTERS in function for function in functions), "0011's RENDER changed"
    if in_octets:
        functions = [function.replace(_IN_CHARACTERS, _IN_OCTETS) for function in functions]
    return [function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1) for function in functions]


def render_functions() -> list[str]:
    """The render functions as of this revision (bench/api.py re-creates them on a reused database)."""
    return _functions(in_octets=True)


def upgrade() -> None:
    for function in render_functions():
        op.execute(function)
    for table in _TABLES:
        op.execute(
            f"""UPDATE {table} SET
                "descriptionAt" = octet_length(left(json, "descriptionAt")),
                "descriptionLength" = octet_length(substr(json, "descriptionAt" + 1, "descriptionLength"))"""
        )


def downgrade() -> None:
    for function in _functions(in_octets=False):
        op.execute(function)
    for table in _TABLES:
        op.execute(
            f"""UPDATE {table} SET
                "descriptionAt" = length(convert_from(substr(textsend(json), 1, "descriptionAt"), 'UTF8')),
                "descriptionLength" = length(convert_from(
                    substr(textsend(json), "descriptionAt" + 1, "descriptionLength"), 'UTF8'))"""
        )
