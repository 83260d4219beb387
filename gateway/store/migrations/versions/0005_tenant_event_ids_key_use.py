"""Event ids scoped to their tenant; API keys remember when they were last used.

- ``events`` is keyed by ``(id, tenant_id)`` instead of ``id``: the same event id from two
  tenants is two events, so reusing an id can no longer tell one tenant that another exists
  (CONTRACT §2). ``id`` stays first, so a lookup by id alone still uses the key. Deliveries already
  carry both ``event_id`` and ``tenant_id``.
- ``api_keys.last_used_at``, written at most once a minute per key and process.

Revision ID: 0005
Revises: 0004
"""

import warnings

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("last_used_at", gateway.store.tables.UTCDateTime(), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("events_pkey", "events", type_="primary")
        op.create_primary_key("events_pkey", "events", ["id", "tenant_id"])
    else:  # SQLite cannot alter a key: batch mode copies the table into a new one
        _sqlite_rekey(["id", "tenant_id"])


def downgrade() -> None:
    # Only possible while no id is used by two tenants (the old key would refuse the copy).
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("events_pkey", "events", type_="primary")
        op.create_primary_key("events_pkey", "events", ["id"])
    else:
        _sqlite_rekey(["id"])
    op.drop_column("api_keys", "last_used_at")


def _sqlite_rekey(columns: list[str]) -> None:
    with warnings.catch_warnings():
        # SQLAlchemy notes that the copy's key differs from the reflected one: that is the point.
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        with op.batch_alter_table("events", recreate="always") as batch_op:
            batch_op.create_primary_key("events_pkey", columns)
