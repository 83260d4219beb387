"""Operations indexes: per-destination attempt stats, the replay runner's queue.

- ``attempts (destination_id, started_at)``: the dashboard's success-rate and latency series and
  each destination's summary read one destination's attempts in a time window.
- ``replays (status, created_at)``: the replay runner picks pending/running jobs, oldest first.

Written by hand; plain ``CREATE INDEX`` works on SQLite and PostgreSQL alike.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_attempts_destination_started",
        "attempts",
        ["destination_id", "started_at"],
        unique=False,
    )
    op.create_index("ix_replays_status_created", "replays", ["status", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_replays_status_created", table_name="replays")
    op.drop_index("ix_attempts_destination_started", table_name="attempts")
