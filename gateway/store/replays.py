"""Bulk replays: a stored job that re-sends the deliveries matching a filter, chunk by chunk.

Durability: a job row holds its filter, a ``cursor`` (the last original delivery id replayed; ids
sort by time) and the ``created`` count. ``run_replay_chunk`` selects the next originals after the
cursor in id order, inserts their replays and advances the cursor and the count in the *same*
transaction. A process killed mid-chunk rolls the whole chunk back; one killed between chunks
resumes after the stored cursor. So no original is ever replayed twice or skipped.

The upper time bound is frozen when the job is created (``until`` defaults to that instant), and
the job's own output is excluded by ``replay_id``, so a replay never replays itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, exists, func, insert, or_, select, update

from gateway import ids
from gateway.models import DeliveryTrigger
from gateway.store import durable
from gateway.store.base import StoreBase, page_bounds
from gateway.store.records import ReplayRecord, TargetRecord
from gateway.store.rows import delivery_values, insert_deliveries
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import destinations as _dst
from gateway.store.tables import events as _evt
from gateway.store.tables import replays as _rpl

REPLAY_CHUNK = 500  # originals replayed per transaction at most


class ReplayStatus(StrEnum):
    PENDING = "pending"  # stored, no chunk run yet
    RUNNING = "running"  # at least one chunk done, more to go
    COMPLETED = "completed"  # every matching original was replayed
    CANCELLED = "cancelled"  # stopped by an operator; what was created stays
    FAILED = "failed"  # stopped by an error the runner could not get past


ACTIVE = durable.ACTIVE  # ReplayStatus.PENDING and RUNNING


@dataclass(frozen=True)
class ReplayFilter:
    """Which deliveries a bulk replay re-sends (test sends are never included)."""

    since: datetime
    until: datetime
    tenant_id: str | None = None
    destination_id: str | None = None
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "destinationId": self.destination_id,
            "status": self.status,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ReplayFilter:
        return cls(
            since=datetime.fromisoformat(raw["since"]),
            until=datetime.fromisoformat(raw["until"]),
            tenant_id=raw.get("tenantId"),
            destination_id=raw.get("destinationId"),
            status=raw.get("status"),
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        cond: list[ColumnElement[bool]] = [
            _dlv.c.created_at >= self.since,
            _dlv.c.created_at < self.until,
            _dlv.c.is_test.is_(False),
            _dst.c.deleted_at.is_(None),
            exists().where(  # a pruned or erased event has nothing left to re-send
                _evt.c.id == _dlv.c.event_id,
                _evt.c.expired_at.is_(None),
                _evt.c.expunged_at.is_(None),
            ),
        ]
        for column, value in (
            (_dlv.c.tenant_id, self.tenant_id),
            (_dlv.c.destination_id, self.destination_id),
            (_dlv.c.status, self.status),
        ):
            if value is not None:
                cond.append(column == value)
        return cond


def _joined() -> Any:
    return _dlv.join(_dst, _dst.c.id == _dlv.c.destination_id)


class ReplayVerbs(StoreBase):
    def count_replay_matches(self, flt: ReplayFilter) -> int:
        """What a replay with this filter would re-send now (``dryRun``)."""
        with self.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(_joined()).where(*flt.conditions())
                ).scalar_one()
            )

    def create_replay(self, flt: ReplayFilter) -> ReplayRecord:
        """Store a pending job with its ``matched`` count; the replay runner does the rest."""
        now = self.clock()
        row = {
            "id": ids.new_id(ids.REPLAY),
            "tenant_id": flt.tenant_id,
            "filters": flt.to_json(),
            "status": ReplayStatus.PENDING.value,
            "created": 0,
            "cursor": None,
            "created_at": now,
            "updated_at": now,
        }
        with self.tx() as conn:
            row["matched"] = int(
                conn.execute(
                    select(func.count()).select_from(_joined()).where(*flt.conditions())
                ).scalar_one()
            )
            conn.execute(insert(_rpl).values(**row))
        return self.get_replay(str(row["id"]))

    def get_replay(self, replay_id: str) -> ReplayRecord:
        return self.get_by_id(ReplayRecord, _rpl, replay_id)

    def list_replays(
        self, *, tenant_id: str | None, page: int, page_size: int
    ) -> tuple[list[ReplayRecord], int]:
        """Newest first; a tenant sees only jobs scoped to it."""
        cond = [] if tenant_id is None else [_rpl.c.tenant_id == tenant_id]
        offset, limit = page_bounds(page, page_size)
        with self.read() as conn:
            total = conn.execute(select(func.count()).select_from(_rpl).where(*cond)).scalar_one()
            rows = conn.execute(
                select(_rpl).where(*cond).order_by(_rpl.c.id.desc()).offset(offset).limit(limit)
            ).all()
        return [ReplayRecord.from_row(r) for r in rows], int(total)

    def active_replays(self, limit: int = 50) -> list[str]:
        """Pending and running job ids, oldest first (the runner's queue)."""
        with self.read() as conn:
            return durable.active_job_ids(conn, _rpl, limit)

    def cancel_replay(self, replay_id: str) -> ReplayRecord:
        with self.tx() as conn:
            conn.execute(
                update(_rpl)
                .where(_rpl.c.id == replay_id, _rpl.c.status.in_(ACTIVE))
                .values(status=ReplayStatus.CANCELLED.value, updated_at=self.clock())
            )
        return self.get_replay(replay_id)

    def fail_replay(self, replay_id: str, error: str) -> None:
        with self.tx() as conn:
            conn.execute(
                update(_rpl)
                .where(_rpl.c.id == replay_id, _rpl.c.status.in_(ACTIVE))
                .values(
                    status=ReplayStatus.FAILED.value, error=error[:2000], updated_at=self.clock()
                )
            )

    def run_replay_chunk(self, replay_id: str, limit: int = REPLAY_CHUNK) -> int:
        """Replay the next ``limit`` originals after the cursor; returns how many were created.

        Inserting the replays and advancing ``cursor``/``created`` is one transaction, guarded as
        ``durable.py`` describes: two runners can never both replay a chunk.
        """
        now = self.clock()
        with self.tx() as conn:
            job = durable.lock_active_job(conn, _rpl, replay_id)
            if job is None:
                return 0
            flt = ReplayFilter.from_json(job.filters)
            query = (
                select(
                    _dlv.c.id,
                    _dlv.c.tenant_id,
                    _dlv.c.event_id,
                    _dlv.c.event_type,
                    _dlv.c.destination_id,
                    _dst.c.connector,
                )
                .select_from(_joined())
                .where(
                    *flt.conditions(),
                    or_(_dlv.c.replay_id.is_(None), _dlv.c.replay_id != replay_id),
                )
                .order_by(_dlv.c.id)
                .limit(limit)
            )
            if job.cursor is not None:
                query = query.where(_dlv.c.id > job.cursor)
            originals = conn.execute(query).all()
            rows = [
                delivery_values(
                    event_id=o.event_id,
                    tenant_id=o.tenant_id,
                    event_type=o.event_type,
                    destination=TargetRecord(o.destination_id, o.connector),
                    now=now,
                    trigger=DeliveryTrigger.BULK_REPLAY,
                    replay_of=o.id,
                    replay_id=replay_id,
                )
                for o in originals
            ]
            insert_deliveries(conn, rows, now)
            done = len(originals) < limit
            durable.advance_job(
                conn,
                _rpl,
                job,
                cursor=originals[-1].id if originals else job.cursor,
                created=_rpl.c.created + len(rows),
                updated_at=now,
                status=ReplayStatus.COMPLETED.value if done else ReplayStatus.RUNNING.value,
            )
        return len(rows)
