"""A helper's username changing is a new data version: leaderboard entries now show it (issue 19).

Every leaderboard entry carries ``username`` beside the Slack id. /api/stats_v2,
the aggregate routes and the App Home reuse an answer while
``TicketTotals.version`` is the same (nephthys/stats/memo.py), and until now a
user's change moved the version only when their helper flag or Slack id
changed (migration 0005). A renamed helper would have kept their old name in a
remembered answer, and its ETag, until some ticket changed. The trigger now
fires on a username change too (a rename is rare: a helper sync that changes
nothing still costs nothing).

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _user_trigger(columns: list[str]) -> str:
    """The trigger noting a user's change, for a real change of one of ``columns``."""
    changed = " OR ".join(f'OLD."{column}" IS DISTINCT FROM NEW."{column}"' for column in columns)
    listed = ", ".join(f'"{column}"' for column in columns)
    return (
        f'CREATE TRIGGER "ticket_totals_user_changes" AFTER UPDATE OF {listed} ON "User" FOR EACH ROW '
        f'WHEN ({changed}) EXECUTE FUNCTION "ticket_totals_note_user_change"()'
    )


def upgrade() -> None:
    op.execute('DROP TRIGGER "ticket_totals_user_changes" ON "User"')
    op.execute(_user_trigger(["helper", "slackId", "username"]))


def downgrade() -> None:
    op.execute('DROP TRIGGER "ticket_totals_user_changes" ON "User"')
    op.execute(_user_trigger(["helper", "slackId"]))
