"""The delivery engine: a circuit per destination, a shared send budget, one attempt per number.

- ``destinations.circuit`` (closed | open | halfOpen), ``consecutive_failures``, ``probe_failures``
  and ``circuit_retry_at``: the circuit breaker lives in the database so every process agrees.
- ``destination_pacing``: each rate-limited destination's next free send slot, reserved in the
  claim's transaction, so N workers together keep ``rateLimitPerSecond``.
- ``attempts (delivery_id, number)`` becomes unique: an attempt is written once, by the lease
  holder for that number (earlier duplicates are removed, the first written kept).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("destinations") as batch:
        batch.add_column(sa.Column("circuit", sa.String(), nullable=False, server_default="closed"))
        batch.add_column(
            sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("probe_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("circuit_retry_at", sa.DateTime(), nullable=True))
    op.create_table(
        "destination_pacing",
        sa.Column("destination_id", sa.String(), primary_key=True),
        sa.Column("next_slot_at", sa.DateTime(), nullable=False),
    )
    op.execute(
        "DELETE FROM attempts WHERE id IN (SELECT a.id FROM attempts a JOIN attempts b"
        " ON a.delivery_id = b.delivery_id AND a.number = b.number AND a.id > b.id)"
    )
    op.drop_index("ix_attempts_delivery", table_name="attempts")
    op.create_index("ix_attempts_delivery", "attempts", ["delivery_id", "number"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_attempts_delivery", table_name="attempts")
    op.create_index("ix_attempts_delivery", "attempts", ["delivery_id", "number"], unique=False)
    op.drop_table("destination_pacing")
    with op.batch_alter_table("destinations") as batch:
        batch.drop_column("circuit_retry_at")
        batch.drop_column("probe_failures")
        batch.drop_column("consecutive_failures")
        batch.drop_column("circuit")
