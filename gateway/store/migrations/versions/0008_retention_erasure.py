"""Retention, erasure and operational events (issue #12).

- ``events.expired_at`` / ``events.expunged_at``: the payload was removed by retention or by an
  erasure (``data`` is then ``{}``; the API shows ``data: null`` with ``expired``/``expunged``).
- ``ix_events_payload (expired_at, created_at, id)``: the pruning job walks events whose payload
  is still there, oldest first, in index order; ``ix_events_created (created_at, id)``: history.
- ``ix_delivery_changes_at (at, seq)``: history pruning of the change log.
- ``destinations.failing_alerted``: the highest ``gateway.destination.failing`` threshold (50, 90)
  already emitted for the current failure streak, so each is emitted once per streak.
- ``erasures``: one audit row per erasure (by id or by match): when, which key, how many, the
  matched value only as a SHA-256; the match itself sealed while the job runs, dropped after.
- ``retention_counters``: rows pruned and erased so far (``/metrics``), kept in the database so
  every process reports the same numbers.
- PostgreSQL: per-table autovacuum settings so the bounded delete batches of the pruning job are
  vacuumed soon (the defaults wait for 20 % of a table to be dead), TOAST included.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Vacuum once 2 % of a table (plus 1000 rows) is dead instead of 20 %: pruning deletes a steady
# trickle, and with the default a 10 M-row table would carry 2 M dead rows before a vacuum.
AUTOVACUUM = (
    "autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_insert_scale_factor = 0.05"
)
TOAST_AUTOVACUUM = (
    "toast.autovacuum_vacuum_scale_factor = 0.02, toast.autovacuum_vacuum_threshold = 1000"
)
PRUNED_TABLES = ("events", "deliveries", "attempts", "delivery_changes")
TOASTED_TABLES = ("events", "attempts")  # large JSON data and bodies live in TOAST


def upgrade() -> None:
    op.add_column("events", sa.Column("expired_at", sa.DateTime(), nullable=True))
    op.add_column("events", sa.Column("expunged_at", sa.DateTime(), nullable=True))
    op.create_index("ix_events_payload", "events", ["expired_at", "created_at", "id"])
    op.create_index("ix_events_created", "events", ["created_at", "id"])
    op.create_index("ix_delivery_changes_at", "delivery_changes", ["at", "seq"])
    op.add_column(
        "destinations",
        sa.Column("failing_alerted", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),  # event | match
        sa.Column("key_id", sa.String(), nullable=True),
        sa.Column("match_paths", sa.JSON(), nullable=True),
        sa.Column("match_hash", sa.String(64), nullable=False),
        sa.Column("match_enc", sa.Text(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("erased", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cursor", sa.String(), nullable=True),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_erasures_status_created", "erasures", ["status", "created_at"])
    op.create_table(
        "retention_counters",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in PRUNED_TABLES:
            op.execute(f"ALTER TABLE {table} SET ({AUTOVACUUM})")
        for table in TOASTED_TABLES:
            op.execute(f"ALTER TABLE {table} SET ({TOAST_AUTOVACUUM})")


def downgrade() -> None:
    op.drop_table("retention_counters")
    op.drop_index("ix_erasures_status_created", table_name="erasures")
    op.drop_table("erasures")
    op.drop_column("destinations", "failing_alerted")
    op.drop_index("ix_delivery_changes_at", table_name="delivery_changes")
    op.drop_index("ix_events_created", table_name="events")
    op.drop_index("ix_events_payload", table_name="events")
    op.drop_column("events", "expunged_at")
    op.drop_column("events", "expired_at")
