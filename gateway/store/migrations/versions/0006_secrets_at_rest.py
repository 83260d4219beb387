"""Destination header values and URL userinfo are sealed at rest (CONTRACT §1 "Secrets never
appear in clear"); attempts keep URLs without userinfo and destination header values redacted.

Existing rows are rewritten here: ``headers`` keeps only the names (each value ``[redacted]``),
the values go to ``headers_enc``; ``url`` keeps its display form (``user:***@``), the userinfo
goes to ``url_userinfo_enc``. The seal needs the gateway's encryption key, which
``gateway.store.engine.migrate`` hands over as the ``secretbox`` attribute (else it is read from
the settings, as the gateway itself would).

Revision ID: 0006
Revises: 0005
"""

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from gateway.redaction import REDACTED, split_userinfo, strip_userinfo

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH_ROWS = 1000
_SENSITIVE = ("authorization", "token", "secret", "password", "cookie", "key")


def upgrade() -> None:
    op.add_column("destinations", sa.Column("url_userinfo_enc", sa.Text(), nullable=True))
    op.add_column("destinations", sa.Column("headers_enc", sa.Text(), nullable=True))
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":  # zero the cells the clear values leave behind
        conn.exec_driver_sql("PRAGMA secure_delete=ON")
    meta = sa.MetaData()
    dst = sa.Table("destinations", meta, autoload_with=conn)
    att = sa.Table("attempts", meta, autoload_with=conn)
    rows = conn.execute(sa.select(dst.c.id, dst.c.url, dst.c.headers)).all()
    secret_names: dict[str, set[str]] = {}
    for row in rows:
        display, userinfo = split_userinfo(row.url)
        headers = row.headers or {}
        if userinfo is None and not headers:
            continue
        box = _box()
        conn.execute(
            sa.update(dst)
            .where(dst.c.id == row.id)
            .values(
                url=display,
                url_userinfo_enc=box.seal(userinfo) if userinfo else None,
                headers=dict.fromkeys(headers, REDACTED) if headers else None,
                headers_enc=box.seal(headers) if headers else None,
            )
        )
        secret_names[row.id] = {name.lower() for name in headers}
    _rewrite_attempts(conn, att, secret_names)


def _rewrite_attempts(conn: Any, att: sa.Table, secret_names: dict[str, set[str]]) -> None:
    """Attempts written before this revision: no userinfo in the URL, header values redacted."""
    last = ""
    while True:
        batch = conn.execute(
            sa.select(att.c.id, att.c.destination_id, att.c.request_url, att.c.request_headers)
            .where(att.c.id > last)
            .order_by(att.c.id)
            .limit(BATCH_ROWS)
        ).all()
        if not batch:
            return
        for row in batch:
            names = secret_names.get(row.destination_id, set())
            headers = row.request_headers or {}
            clean = {
                k: REDACTED if k.lower() in names or any(s in k.lower() for s in _SENSITIVE) else v
                for k, v in headers.items()
            }
            url = strip_userinfo(row.request_url or "")
            if clean != headers or url != row.request_url:
                conn.execute(
                    sa.update(att)
                    .where(att.c.id == row.id)
                    .values(request_url=url, request_headers=clean or None)
                )
        last = batch[-1].id


def _box() -> Any:
    """The store's secret box, handed over by ``engine.migrate``; else the one the settings name
    (a migration run some other way seals with the same key the gateway will open with)."""
    box = context.config.attributes.get("secretbox")
    if box is None:
        from gateway.secretbox import SecretBox
        from gateway.settings import Settings

        settings = Settings()
        box = SecretBox.from_settings(settings.encryption_key, settings.database_dir())
        context.config.attributes["secretbox"] = box
    return box


def downgrade() -> None:
    # Sealed values stay sealed: a downgrade would have to write secrets back in clear.
    op.drop_column("destinations", "headers_enc")
    op.drop_column("destinations", "url_userinfo_enc")
