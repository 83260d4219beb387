"""The claim reads each due destination's backlog from an index, in due order, up to its cap.

- ``ix_deliveries_pending (destination_id, next_attempt_at, id) WHERE status = 'pending'``: the
  claim walks one destination's due deliveries in the order it sends them and stops at the
  destination's cap (PostgreSQL ``LATERAL … LIMIT``, SQLite a correlated ``IN (… LIMIT)``);
  before, both planned a scan of every due row, a join and a sort before the ``LIMIT`` (measured
  on PostgreSQL: 13 / 37 / 85 ms at 5k / 20k / 50k pending). The probe grant's ``EXISTS`` uses
  it too.
- ``ix_deliveries_open (destination_id, id) WHERE status IN ('pending', 'sending')``: an
  ``ordered`` destination sends only its oldest open delivery; this finds it with one probe
  instead of walking the destination's whole history by id.

Both are partial: they hold only open deliveries, so they stay as small as the backlog, and a
finished delivery leaves them. Plain ``CREATE INDEX`` (SQLite and PostgreSQL alike); on a large
PostgreSQL table it holds writes for as long as it reads the table once.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
OPEN = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["destination_id", "next_attempt_at", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_deliveries_open",
        "deliveries",
        ["destination_id", "id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_open", table_name="deliveries")
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
