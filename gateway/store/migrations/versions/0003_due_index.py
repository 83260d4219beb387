"""The claim walks ``deliveries (status, next_attempt_at, id)`` in index order.

The claim orders due deliveries by ``next_attempt_at, id``; with ``id`` in the index neither
SQLite nor PostgreSQL has to read every due row and sort them on each claim (measured: 14.7 ms per
200-row claim at a 20k backlog, 43.6 ms at 100k on SQLite, before).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index(
        "ix_deliveries_due", "deliveries", ["status", "next_attempt_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"], unique=False)
