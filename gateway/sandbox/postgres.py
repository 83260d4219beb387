"""Scratch PostgreSQL databases for tests and benchmarks (never used by the product)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from gateway.store.engine import normalise_url


@contextmanager
def scratch_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for a test or a benchmark; dropped afterwards, even if
    the caller fails. ``admin_url`` is any database on the server the role can create from."""
    admin_url = normalise_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
