"""A ticket change's render is planned once per connection, not six times (issue 21 with issue 14's bar).

``ticket_json_on_ticket`` (the "Ticket" row trigger every lifecycle change fires) renders the one
ticket with 0028's query: four user objects, the tags twice and the ``sla`` member's clocks, in
one statement whose planning costs more than running it. PL/pgSQL keeps each statement's plan in
the connection, but the plan cache builds a custom plan (planned again, with the ticket's id) for
its first five runs and for every run after an invalidation, before it settles on the generic
one. Every invalidation of a relation the render reads ("Ticket", "User", "Tag",
tags_on_tickets, "TicketSlaClock", "ActiveTicketJson": an autovacuum ANALYZE, any DDL) and every
new pooled connection so paid ~1.2–2.2 ms of planning on each of the next five changes, against
~0.3–0.5 ms for the whole trigger once settled (30,000 tickets with SLA clocks, EXPLAIN ANALYZE's
trigger time; bench/README.md, "slatrig").

Every statement of this function looks up one ticket by its primary key (``t.id = ticket``) or
one ticket's rows by an index on its id: the generic plan is the plan a custom one would be, so
the function runs with ``plan_cache_mode = force_generic_plan`` and plans each statement once.
Nothing it writes changes (the same query, the same bytes). The other render functions are left
as they were: ``ticket_json_refresh`` and ``ticket_json_rebuild`` render sets whose size the
custom plans see.

Revision ID: 0038
Revises: 0036
"""

import importlib

from alembic import op

revision = "0038"
down_revision = "0036"
branch_labels = None
depends_on = None

_0028 = importlib.import_module("nephthys.database.migrations.versions.0028_ticket_json_sla")

ON_TICKET = 'FUNCTION "ticket_json_on_ticket"()'
_HEADER = "LANGUAGE plpgsql SET extra_float_digits = 1 AS $body$"
_GENERIC_HEADER = (
    "LANGUAGE plpgsql SET extra_float_digits = 1 SET plan_cache_mode = force_generic_plan AS $body$"
)


def render_functions() -> list[str]:
    """0028's render functions, the single ticket's one planned once (module docstring)."""
    functions = []
    for function in _0028.render_functions():
        if ON_TICKET in function:
            assert function.count(_HEADER) == 1, "0028's ticket_json_on_ticket header changed"
            function = function.replace(_HEADER, _GENERIC_HEADER)
        functions.append(function)
    assert sum(_GENERIC_HEADER in function for function in functions) == 1, (
        "no ticket_json_on_ticket in 0028's"
    )
    return functions


def upgrade() -> None:
    for statement in render_functions():
        op.execute(statement)


def downgrade() -> None:
    for statement in _0028.render_functions():
        op.execute(statement)
