"""Alembic environment: runs on the connection nephthys.database.migrate hands it."""

from alembic import context

from nephthys.database.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table="alembic_version",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
