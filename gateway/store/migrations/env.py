"""Alembic environment: runs on the connection the gateway hands over (see ``engine.migrate``)."""

from __future__ import annotations

from alembic import context

from gateway.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the gateway always passes its connection
    raise RuntimeError("run migrations through gateway.store.engine.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
