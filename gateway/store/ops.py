"""Operational state: scheduler ticks and heartbeats, the poller's cursors, inbound sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update

from gateway import ids
from gateway.errors import NotFoundError
from gateway.store.base import StoreBase
from gateway.store.dialect import insert_ignore
from gateway.store.records import CursorRecord, SourceRecord
from gateway.store.tables import heartbeats as _beat
from gateway.store.tables import scheduler_ticks as _tick
from gateway.store.tables import sources as _src
from gateway.store.tables import upstream_cursors as _cur

TICK_RETENTION = 1000  # ticks kept per job


class OpsVerbs(StoreBase):
    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def claim_tick(self, job: str, tick: int, owner: str) -> bool:
        """True for exactly one caller per (job, tick), across processes."""
        with self.tx() as conn:
            inserted = conn.execute(
                insert_ignore(conn, _tick)
                .values(job=job, tick=tick, owner=owner, at=self.clock())
                .returning(_tick.c.tick)
            ).first()
            if inserted is not None and tick % 100 == 0:
                conn.execute(
                    delete(_tick).where(_tick.c.job == job, _tick.c.tick < tick - TICK_RETENTION)
                )
        return inserted is not None

    def beat(self, owner: str, role: str) -> None:
        with self.tx() as conn:
            now = self.clock()
            changed = conn.execute(
                update(_beat).where(_beat.c.owner == owner).values(at=now, role=role)
            ).rowcount
            if not changed:
                conn.execute(insert_ignore(conn, _beat).values(owner=owner, role=role, at=now))

    def last_heartbeat(self) -> datetime | None:
        with self.read() as conn:
            value: datetime | None = conn.execute(select(func.max(_beat.c.at))).scalar()
        return value

    # -- the person.run poller's cursor ------------------------------------------------------
    def get_cursor(self, tenant_id: str) -> CursorRecord | None:
        with self.read() as conn:
            row = conn.execute(select(_cur).where(_cur.c.tenant_id == tenant_id)).first()
        return None if row is None else CursorRecord.from_row(row)

    def all_cursors(self) -> list[CursorRecord]:
        with self.read() as conn:
            return [CursorRecord.from_row(r) for r in conn.execute(select(_cur)).all()]

    def save_cursor(self, tenant_id: str, **values: Any) -> None:
        with self.tx() as conn:
            changed = conn.execute(
                update(_cur).where(_cur.c.tenant_id == tenant_id).values(**values)
            ).rowcount
            if not changed:
                conn.execute(insert_ignore(conn, _cur).values(tenant_id=tenant_id, **values))

    # -- inbound survey sources ---------------------------------------------------------------
    def create_source(
        self, *, tenant_id: str, kind: str, secret: str | None, config: dict[str, Any] | None
    ) -> SourceRecord:
        source = SourceRecord(
            id=ids.new_id(ids.SOURCE),
            tenant_id=tenant_id,
            kind=kind,
            secret=secret or None,
            config=config or None,
            created_at=self.clock(),
        )
        with self.tx() as conn:
            conn.execute(
                _src.insert().values(
                    id=source.id,
                    tenant_id=tenant_id,
                    kind=kind,
                    secret_enc=self.box.seal(secret) if secret else None,
                    config_enc=self.box.seal(config) if config else None,
                    created_at=source.created_at,
                )
            )
        return source

    def get_source(self, source_id: str) -> SourceRecord:
        with self.read() as conn:
            row = conn.execute(select(_src).where(_src.c.id == source_id)).first()
        if row is None:
            raise NotFoundError(f"source {source_id} not found")
        return SourceRecord(
            id=row.id,
            tenant_id=row.tenant_id,
            kind=row.kind,
            secret=self.box.open(row.secret_enc),
            config=self.box.open(row.config_enc),
            created_at=row.created_at,
        )
