"""A helper's response times by value bucket, then creation time (issue 20, /api/stats/response_times by=helper).

A request by helper reads each percentile exactly: the counts of migration 0027 give the value
bucket holding its rank and its offset there, and one index read gives the value
(nephthys/stats/response_times.py). Migration 0021's per-person indexes were ordered by minutes
alone ((kind, "actorId", minutes) on the spans, ("closedById", "resolutionMinutes") on the closed
tickets), so a read walked the helper's values of the whole history from the bucket's floor and
skipped those created outside the period: over 30 days of a year's data, ~12 skipped for each one
kept, and 1,800 reads per request at 1,000,000 tickets.

These two replace them, keyed by the helper, the value's bucket (``response_time_bucket(2, …)``,
migration 0027's thresholds for helpers) and then the creation time: a read is one range holding
exactly the bucket's values in the period, with the value included (index-only). They are as wide as
the ones they replace, so a reply that rewrites its ticket's spans writes no more index entries.

``response_time_bucket`` is IMMUTABLE: a migration that changes its thresholds must rebuild these
(``REINDEX``) as well as the counts.

Revision ID: 0033
Revises: 0030
"""

from alembic import op

revision = "0033"
down_revision = "0030"
branch_labels = None
depends_on = None

_ENDED_RESPONSES = """WHERE "endAt" IS NOT NULL AND kind <> 'RESOLUTION'"""
_RESOLVED = """WHERE "resolutionMinutes" IS NOT NULL"""
INDEXES = {
    "TicketSpan_ended_response_actor_bucket_idx": f"""ON "TicketSpan"
        (kind, "actorId", "response_time_bucket"(2, minutes), "ticketCreatedAt") INCLUDE (minutes) {_ENDED_RESPONSES}""",
    "Ticket_resolved_closer_bucket_idx": f"""ON "Ticket"
        ("closedById", "response_time_bucket"(2, "resolutionMinutes"), "createdAt")
        INCLUDE ("resolutionMinutes", "openedById") {_RESOLVED}""",
}
# Migration 0021's, which these replace.
REPLACED = {
    "TicketSpan_ended_response_actor_idx": f"""ON "TicketSpan" (kind, "actorId", minutes)
        INCLUDE ("ticketCreatedAt") {_ENDED_RESPONSES}""",
    "Ticket_resolved_closer_idx": f"""ON "Ticket" ("closedById", "resolutionMinutes")
        INCLUDE ("createdAt", "openedById") {_RESOLVED}""",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f'CREATE INDEX "{name}" {definition}')
    for name in REPLACED:
        op.execute(f'DROP INDEX "{name}"')


def downgrade() -> None:
    for name, definition in REPLACED.items():
        op.execute(f'CREATE INDEX "{name}" {definition}')
    for name in INDEXES:
        op.execute(f'DROP INDEX "{name}"')
