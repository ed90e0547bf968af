"""API keys for /api/*: only a SHA-256 hash of each key is stored (`nephthys api-keys`).

Revision ID: 0009
Revises: 0006
"""

from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE "ApiKey" (
            "id" SERIAL NOT NULL,
            "name" TEXT NOT NULL,
            "keyHash" TEXT NOT NULL,
            "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            "lastUsedAt" TIMESTAMPTZ(3),
            CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
        )"""
    )
    op.execute('CREATE UNIQUE INDEX "ApiKey_name_key" ON "ApiKey"("name")')
    # Every request with a key looks it up by its hash.
    op.execute('CREATE UNIQUE INDEX "ApiKey_keyHash_key" ON "ApiKey"("keyHash")')


def downgrade() -> None:
    op.execute('DROP TABLE "ApiKey"')
