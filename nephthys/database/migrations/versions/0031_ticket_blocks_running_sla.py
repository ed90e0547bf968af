"""Where the running SLA clocks sit in each export block (issue 21, the export with targets on).

The export rewrites the ``sla`` member of every ticket with a running clock as it serves it
(nephthys/api/sla_now.py). Those tickets are spread over nearly every block, and finding each one
in its block's bytes was a scan of the whole export. A block now keeps, beside its objects, the
ids of its tickets whose stored ``sla`` has a running clock, in order, and where each of those
objects ends in ``json`` and in ``jsonWithoutDescriptions`` (octets from the block's start, the
closing brace included): the export cuts each member there without reading the rest
(nephthys/api/ticket_blocks.py).

The blocks built before have none of this: they are dropped, and the ``ticket-json-upkeep`` job
builds them again (under a minute at 1,000,000 tickets; meanwhile the export reads rows).

Revision ID: 0031
Revises: 0030
"""

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

COLUMNS = ("runningIds", "runningEnds", "runningEndsWithoutDescriptions")


def upgrade() -> None:
    op.execute('DELETE FROM "TicketJsonBlock"')
    op.execute(
        'ALTER TABLE "TicketJsonBlock" '
        + ", ".join(f'ADD COLUMN "{column}" INTEGER[] NOT NULL' for column in COLUMNS)
    )


def downgrade() -> None:
    op.execute('ALTER TABLE "TicketJsonBlock" ' + ", ".join(f'DROP COLUMN "{column}"' for column in COLUMNS))
