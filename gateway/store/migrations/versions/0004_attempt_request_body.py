"""Attempts keep the request body they sent (CONTRACT §3 ``requestBody``).

An operator's first question when "my Zap didn't fire" is what was sent; the headers alone do not
answer it. The body is kept as text, the first 64 KiB, credential values redacted.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("request_body", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("attempts", "request_body")
