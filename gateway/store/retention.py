"""Retention: bounded, index-ordered batches that remove payloads first and history later.

- ``prune_payloads``: events older than the payload cutoff lose their ``data`` (kept as ``{}``,
  ``expired_at`` set) and their attempts' request and response bodies; ids, statuses, timings stay.
- ``prune_history``: events older than the history cutoff go entirely, with their deliveries and
  attempts; change rows (the SSE log) older than it go too.

Neither touches an event with a delivery still ``pending`` or ``sending``. Each batch is one
transaction that selects its rows in index order (``ix_events_payload``, ``ix_events_created``,
``ix_delivery_changes_at``) and deletes them by primary key, so several processes pruning at once
only ever repeat a no-op. Freed SQLite pages are zeroed (``secure_delete``) and handed back to the
file system (``incremental_vacuum``) beyond a small reserve the next writes reuse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, select, update

from gateway.models import DeliveryStatus
from gateway.store import dialect
from gateway.store.base import StoreBase
from gateway.store.tables import attempts as _att
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import delivery_changes as _chg
from gateway.store.tables import events as _evt
from gateway.store.tables import replays as _rpl
from gateway.store.tables import retention_counters as _cnt

PRUNE_BATCH = 500  # events per transaction
SQLITE_FREE_PAGES_KEPT = 2048  # free pages left for the next writes (8 MiB at 4 KiB pages)
UNFINISHED = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)
FINISHED_REPLAYS = ("completed", "cancelled", "failed")
PRUNED_TABLES = ("events", "deliveries", "attempts", "delivery_changes")


def bump_counter(conn: Connection, name: str, amount: int) -> None:
    """Add to a running total in ``retention_counters`` (upsert, both dialects)."""
    if amount <= 0:
        return
    stmt = dialect.insert(conn, _cnt).values(name=name, value=amount)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["name"], set_={"value": _cnt.c.value + amount})
    )


def _settled() -> Any:
    """No delivery of the event is still pending or sending."""
    return ~exists().where(_dlv.c.event_id == _evt.c.id, _dlv.c.status.in_(UNFINISHED))


class RetentionVerbs(StoreBase):
    def prune_payloads(self, cutoff: datetime, limit: int = PRUNE_BATCH) -> int:
        """One batch: drop the payloads of settled events stored before ``cutoff``."""
        now = self.clock()
        with self.tx() as conn:
            event_ids = list(
                conn.execute(
                    select(_evt.c.id)
                    .where(_evt.c.expired_at.is_(None), _evt.c.created_at < cutoff, _settled())
                    .order_by(_evt.c.expired_at, _evt.c.created_at, _evt.c.id)
                    .limit(limit)
                ).scalars()
            )
            if not event_ids:
                return 0
            conn.execute(
                update(_evt).where(_evt.c.id.in_(event_ids)).values(data={}, expired_at=now)
            )
            deliveries = select(_dlv.c.id).where(_dlv.c.event_id.in_(event_ids))
            bodies = conn.execute(
                update(_att)
                .where(_att.c.delivery_id.in_(deliveries.scalar_subquery()))
                .values(request_body=None, response_body=None)
            ).rowcount
            bump_counter(conn, "pruned_payload_events", len(event_ids))
            bump_counter(conn, "pruned_payload_attempts", int(bodies))
        return len(event_ids)

    def prune_history(self, cutoff: datetime, limit: int = PRUNE_BATCH) -> int:
        """One batch: delete settled events stored before ``cutoff`` with everything under them."""
        with self.tx() as conn:
            event_ids = list(
                conn.execute(
                    select(_evt.c.id)
                    .where(_evt.c.created_at < cutoff, _settled())
                    .order_by(_evt.c.created_at, _evt.c.id)
                    .limit(limit)
                ).scalars()
            )
            changes = list(
                conn.execute(
                    select(_chg.c.seq)
                    .where(_chg.c.at < cutoff)
                    .order_by(_chg.c.at, _chg.c.seq)
                    .limit(limit * 4)
                ).scalars()
            )
            if changes:
                conn.execute(delete(_chg).where(_chg.c.seq.in_(changes)))
                bump_counter(conn, "pruned_history_changes", len(changes))
            if not event_ids:
                return len(changes)
            delivery_ids = list(
                conn.execute(select(_dlv.c.id).where(_dlv.c.event_id.in_(event_ids))).scalars()
            )
            attempts = 0
            for start in range(0, len(delivery_ids), PRUNE_BATCH):
                chunk = delivery_ids[start : start + PRUNE_BATCH]
                attempts += conn.execute(delete(_att).where(_att.c.delivery_id.in_(chunk))).rowcount
                conn.execute(delete(_dlv).where(_dlv.c.id.in_(chunk)))
            conn.execute(delete(_evt).where(_evt.c.id.in_(event_ids)))
            conn.execute(
                delete(_rpl).where(_rpl.c.status.in_(FINISHED_REPLAYS), _rpl.c.updated_at < cutoff)
            )
            bump_counter(conn, "pruned_history_events", len(event_ids))
            bump_counter(conn, "pruned_history_deliveries", len(delivery_ids))
            bump_counter(conn, "pruned_history_attempts", int(attempts))
        return len(event_ids) + len(changes)

    def retention_counters(self) -> dict[str, int]:
        with self.read() as conn:
            return {r.name: int(r.value) for r in conn.execute(select(_cnt)).all()}

    # -- the database file --------------------------------------------------------------------
    def sqlite_path(self) -> str | None:
        return dialect.sqlite_file(self.engine)

    def database_bytes(self) -> int:
        """The database's size on disk: SQLite file plus its WAL, or ``pg_database_size``."""
        with self.read() as conn:
            return dialect.database_bytes(conn)

    def reclaim_space(self) -> None:
        """SQLite: hand free pages beyond a reserve back to the file system (auto_vacuum), then
        checkpoint so the WAL the deletes filled is truncated."""
        dialect.reclaim_sqlite_space(self.engine, SQLITE_FREE_PAGES_KEPT)

    def vacuum_pruned_tables(self) -> bool:
        """PostgreSQL with autovacuum off: ``VACUUM`` the pruned tables ourselves.

        With ``autovacuum = off`` the per-table settings of migration 0008 do nothing and the
        space of deleted rows is never reused: the tables grow forever. Returns True when it ran.
        """
        return dialect.vacuum_if_no_autovacuum(self.engine, PRUNED_TABLES)

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the file and truncate it (erased pages leave the WAL)."""
        dialect.checkpoint_sqlite(self.engine)
