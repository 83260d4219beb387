"""Erasure (GDPR Art. 17): remove an event's payload everywhere, by id or by a match on its data.

What goes: the event's ``data`` (kept as ``{}``, ``expunged_at`` set), every attempt's request and
response body of its deliveries (the rendered bodies: the gateway keeps no other copy); its
pending deliveries are ``cancelled``. Ids, statuses and timings stay. Each erasure writes one audit
row in ``erasures``: when, which key, how many, and the matched value only as a SHA-256.

A match erasure is a durable job like a bulk replay: ``run_erasure_chunk`` walks the tenant's
events in id order after ``cursor`` and moves the cursor and the ``erased`` count in the same
transaction as its deletes, so a restart resumes where the last committed chunk ended. The match
itself is sealed (Fernet) while the job runs and dropped when it completes.

On SQLite, ``secure_delete`` zeroes the freed bytes in the file and ``checkpoint`` (TRUNCATE)
empties the WAL that still holds the old pages, so the bytes are in neither file afterwards.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, insert, select, update

from gateway import ids
from gateway.errors import NotFoundError
from gateway.fanout import filter_matches
from gateway.models import DeliveryStatus
from gateway.store import durable
from gateway.store.records import ErasureRecord
from gateway.store.retention import RetentionVerbs, bump_counter
from gateway.store.tables import attempts as _att
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import delivery_changes as _chg
from gateway.store.tables import erasures as _ers
from gateway.store.tables import events as _evt

ERASURE_PREFIX = "ers"
ERASURE_SCAN = 1000  # events examined per chunk at most
ACTIVE = durable.ACTIVE


def match_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of what was matched (the audit row's only trace of it)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def scrub_expunged_attempts(conn: Connection, attempt_ids: list[str]) -> None:
    """Drop the bodies of attempts just written for an event erased while they were in flight."""
    if not attempt_ids:
        return
    erased = (
        select(_dlv.c.id)
        .join(_evt, _evt.c.id == _dlv.c.event_id)
        .where(_dlv.c.id == _att.c.delivery_id, _evt.c.expunged_at.is_not(None))
    )
    conn.execute(
        update(_att)
        .where(_att.c.id.in_(attempt_ids), exists(erased))
        .values(request_body=None, response_body=None)
    )


def erase_events(conn: Connection, event_ids: list[str], now: datetime) -> int:
    """Remove these events' payloads and cancel their pending deliveries; returns events erased."""
    if not event_ids:
        return 0
    erased = conn.execute(
        update(_evt)
        .where(_evt.c.id.in_(event_ids), _evt.c.expunged_at.is_(None))
        .values(data={}, expunged_at=now)
    ).rowcount
    deliveries = select(_dlv.c.id).where(_dlv.c.event_id.in_(event_ids)).scalar_subquery()
    conn.execute(
        update(_att)
        .where(_att.c.delivery_id.in_(deliveries))
        .values(request_body=None, response_body=None)
    )
    cancelled = conn.execute(
        update(_dlv)
        .where(_dlv.c.event_id.in_(event_ids), _dlv.c.status == DeliveryStatus.PENDING.value)
        .values(
            status=DeliveryStatus.CANCELLED.value,
            next_attempt_at=None,
            updated_at=now,
            completed_at=now,
        )
        .returning(_dlv.c.id, _dlv.c.tenant_id, _dlv.c.destination_id, _dlv.c.attempt_count)
    ).all()
    if cancelled:
        conn.execute(
            insert(_chg),
            [
                {
                    "delivery_id": r.id,
                    "tenant_id": r.tenant_id,
                    "destination_id": r.destination_id,
                    "status": DeliveryStatus.CANCELLED.value,
                    "attempt_count": r.attempt_count,
                    "at": now,
                }
                for r in cancelled
            ],
        )
    bump_counter(conn, "erased_events", int(erased))
    return int(erased)


@dataclass(frozen=True)
class ChunkResult:
    erased: int
    done: bool


class ErasureVerbs(RetentionVerbs):
    def erase_event(self, event_id: str, *, key_id: str | None) -> ErasureRecord:
        """``DELETE /integrations/events/{id}``: erase one event; returns its audit row."""
        now = self.clock()
        with self.tx() as conn:
            tenant_id = conn.execute(select(_evt.c.tenant_id).where(_evt.c.id == event_id)).scalar()
            if tenant_id is None:
                raise NotFoundError(f"event {event_id} not found")
            erased = erase_events(conn, [event_id], now)
            row = self._audit_row(
                tenant_id, "event", key_id, None, match_hash(event_id), now, status="completed"
            )
            row.update(matched=1, erased=erased, completed_at=now)
            conn.execute(insert(_ers).values(**row))
        self.checkpoint()
        return ErasureRecord(match_enc=None, cursor=None, **row)

    def create_erasure(
        self, *, tenant_id: str, match: dict[str, Any], key_id: str | None
    ) -> ErasureRecord:
        """Store a pending match erasure with its ``matched`` count; the runner erases."""
        now = self.clock()
        row = self._audit_row(tenant_id, "match", key_id, sorted(match), match_hash(match), now)
        row["match_enc"] = self.box.seal(match)
        with self.read() as conn:  # a long read; no write lock held meanwhile
            row["matched"] = self._count_matches(conn, tenant_id, match, now)
        with self.tx() as conn:
            conn.execute(insert(_ers).values(**row))
        return self.get_erasure(str(row["id"]))

    def _audit_row(
        self,
        tenant_id: str,
        kind: str,
        key_id: str | None,
        paths: list[str] | None,
        digest: str,
        now: datetime,
        status: str = "pending",
    ) -> dict[str, Any]:
        return {
            "id": ids.new_id(ERASURE_PREFIX),
            "tenant_id": tenant_id,
            "kind": kind,
            "key_id": key_id,
            "match_paths": paths,
            "match_hash": digest,
            "status": status,
            "matched": 0,
            "erased": 0,
            "until": now,
            "created_at": now,
            "updated_at": now,
        }

    def _count_matches(
        self, conn: Connection, tenant_id: str, match: dict[str, Any], until: datetime
    ) -> int:
        count, after = 0, None
        while True:
            rows = self._scan(conn, tenant_id, after, until, ERASURE_SCAN)
            count += sum(1 for r in rows if filter_matches(match, r.data or {}))
            if len(rows) < ERASURE_SCAN:
                return count
            after = rows[-1].id

    @staticmethod
    def _scan(
        conn: Connection, tenant_id: str, after: str | None, until: datetime, limit: int
    ) -> list[Any]:
        query = select(_evt.c.id, _evt.c.data).where(
            _evt.c.tenant_id == tenant_id,
            _evt.c.created_at <= until,
            _evt.c.expunged_at.is_(None),
            _evt.c.expired_at.is_(None),
        )
        if after is not None:
            query = query.where(_evt.c.id > after)
        return list(conn.execute(query.order_by(_evt.c.id).limit(limit)).all())

    def get_erasure(self, erasure_id: str) -> ErasureRecord:
        return self.get_by_id(ErasureRecord, _ers, erasure_id)

    def active_erasures(self, limit: int = 20) -> list[str]:
        with self.read() as conn:
            return durable.active_job_ids(conn, _ers, limit)

    def run_erasure_chunk(self, erasure_id: str, budget: int) -> ChunkResult:
        """Erase up to ``budget`` matching events after the cursor, cursor moved in the same tx."""
        now = self.clock()
        with self.tx() as conn:
            job = durable.lock_active_job(conn, _ers, erasure_id)
            if job is None:
                return ChunkResult(0, True)
            match = self.box.open(job.match_enc) or {}
            rows = self._scan(conn, job.tenant_id, job.cursor, job.until, ERASURE_SCAN)
            chosen: list[str] = []
            cursor = job.cursor
            for r in rows:
                if len(chosen) >= budget:
                    break
                cursor = r.id
                if filter_matches(match, r.data or {}):
                    chosen.append(r.id)
            done = len(rows) < ERASURE_SCAN and cursor == (rows[-1].id if rows else job.cursor)
            erased = erase_events(conn, chosen, now)
            values: dict[str, Any] = {
                "cursor": cursor,
                "erased": _ers.c.erased + erased,
                "updated_at": now,
                "status": "completed" if done else "running",
            }
            if done:
                values.update(match_enc=None, completed_at=now)
            durable.advance_job(conn, _ers, job, **values)
        if erased:
            self.checkpoint()
        return ChunkResult(erased, done)

    def erasure_totals(self) -> dict[str, int]:
        """Erasure jobs by status (``/metrics``)."""
        with self.read() as conn:
            return {
                r[0]: int(r[1])
                for r in conn.execute(
                    select(_ers.c.status, func.count()).group_by(_ers.c.status)
                ).all()
            }
