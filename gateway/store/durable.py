"""Durable jobs: the stored, cursor-walked work shared by bulk replays and match erasures.

A job row (``replays``, ``erasures``) holds a ``status`` and a ``cursor`` (the last id its walk
took). A runner locks the row (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
serialises writers), does one chunk, and advances the cursor in the same transaction with an
update guarded by the cursor it read: of two runners, only one can advance a chunk, and the other's
transaction rolls back with ``ConflictError``. A process killed mid-chunk rolls the chunk back; one
killed between chunks resumes after the stored cursor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, Table, select, update

from gateway.errors import ConflictError
from gateway.store.dialect import for_update

ACTIVE = ("pending", "running")  # the statuses a runner still works on


def active_job_ids(conn: Connection, table: Table, limit: int) -> list[str]:
    """Pending and running job ids, oldest first (a runner's queue)."""
    return list(
        conn.execute(
            select(table.c.id)
            .where(table.c.status.in_(ACTIVE))
            .order_by(table.c.created_at, table.c.id)
            .limit(limit)
        ).scalars()
    )


def lock_active_job(conn: Connection, table: Table, job_id: str) -> Row[Any] | None:
    """The job's row, locked until the transaction ends; ``None`` unless it is still active."""
    job = conn.execute(for_update(conn, select(table).where(table.c.id == job_id))).first()
    return job if job is not None and job.status in ACTIVE else None


def advance_job(conn: Connection, table: Table, job: Row[Any], **values: Any) -> None:
    """Store a chunk's progress, guarded by the cursor ``job`` was read with."""
    guard = table.c.cursor.is_(None) if job.cursor is None else table.c.cursor == job.cursor
    if (
        conn.execute(update(table).where(table.c.id == job.id, guard).values(**values)).rowcount
        != 1
    ):
        raise ConflictError(f"{table.name} job {job.id} advanced concurrently")
