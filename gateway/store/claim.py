"""The worker's hot path: claim due deliveries in one statement, record attempts in batches.

Claiming is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``: on
PostgreSQL concurrent workers skip each other's rows; on SQLite the statement runs under
``BEGIN IMMEDIATE`` (one writer) and the lease carries correctness. An expired lease (a process
that died mid-send) makes a ``sending`` delivery claimable again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, text, update

from gateway import ids
from gateway.models import DeliveryStatus, DestinationStatus
from gateway.store.base import StoreBase
from gateway.store.destinations import cancel_pending
from gateway.store.erasure import scrub_expunged_attempts
from gateway.store.opevents import disable_notices, emit_notices, end_streaks, exhausted_notices
from gateway.store.tables import (
    AttemptRow,
    DeliveryChangeRow,
    DeliveryRow,
    DestinationRow,
    UTCDateTime,
)

_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
_att = AttemptRow.__table__  # type: ignore[attr-defined]
_chg = DeliveryChangeRow.__table__  # type: ignore[attr-defined]
_dst = DestinationRow.__table__  # type: ignore[attr-defined]
_SUBJECT = (_dst.c.id, _dst.c.tenant_id, _dst.c.name)

_CLAIM_SQL = """
UPDATE deliveries SET status = 'sending', lease_until = :lease_until, leased_by = :owner,
       updated_at = :now
WHERE id IN (
    SELECT d.id FROM deliveries d JOIN destinations t ON t.id = d.destination_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= :now
      AND t.status = 'active' AND t.deleted_at IS NULL
      AND (NOT t.ordered OR NOT EXISTS (
            SELECT 1 FROM deliveries e
            WHERE e.destination_id = d.destination_id AND e.id < d.id
              AND e.status IN ('pending', 'sending')))
    ORDER BY d.next_attempt_at, d.id
    LIMIT :limit {lock}
)
RETURNING id, tenant_id, event_id, event_type, destination_id, connector, attempt_count,
          is_test, trigger, replay_of
"""


# A lease that ran out belongs to a process that died mid-send: its delivery is due again now.
# Kept apart from the claim so the claim can walk the (status, next_attempt_at, id) index in order.
_RECOVER_SQL = text("""
UPDATE deliveries SET status = 'pending', next_attempt_at = :now, lease_until = NULL,
       leased_by = NULL, updated_at = :now
WHERE status = 'sending' AND lease_until < :now
RETURNING id, tenant_id, destination_id, attempt_count
""").bindparams(bindparam("now", type_=UTCDateTime()))


def _claim_statement(dialect: str) -> Any:
    lock = "FOR UPDATE OF d SKIP LOCKED" if dialect == "postgresql" else ""
    return text(_CLAIM_SQL.format(lock=lock)).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("lease_until", type_=UTCDateTime()),
    )


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker now holds under a lease."""

    id: str
    tenant_id: str
    event_id: str
    event_type: str
    destination_id: str
    connector: str
    attempt_count: int
    is_test: bool
    trigger: str
    replay_of: str | None


@dataclass
class AttemptRecord:
    """One finished attempt and what it decided, written by ``record_attempts``."""

    delivery_id: str
    tenant_id: str
    destination_id: str
    number: int
    started_at: datetime
    duration_ms: float
    request_url: str
    request_headers: dict[str, str]
    outcome: str  # success | retry | fail | disable
    status: DeliveryStatus  # the delivery's new status
    next_attempt_at: datetime | None
    status_code: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = None
    request_body: str | None = None
    error_class: str | None = None
    error: str | None = None
    disable_reason: str | None = None  # set: disable the destination with this reason
    remove_destination: bool = False  # a platform subscription answered 410: delete it
    id: str = field(default_factory=lambda: ids.new_id(ids.ATTEMPT))


class ClaimVerbs(StoreBase):
    def claim_due(self, *, owner: str, limit: int, lease_seconds: float) -> list[Claimed]:
        now = self.clock()
        with self.tx() as conn:
            self._recover_expired(conn, now)
            rows = conn.execute(
                _claim_statement(conn.dialect.name),
                {
                    "now": now,
                    "lease_until": now + timedelta(seconds=lease_seconds),
                    "owner": owner,
                    "limit": limit,
                },
            ).all()
            claimed = [
                Claimed(
                    id=r.id,
                    tenant_id=r.tenant_id,
                    event_id=r.event_id,
                    event_type=r.event_type,
                    destination_id=r.destination_id,
                    connector=r.connector,
                    attempt_count=int(r.attempt_count),
                    is_test=bool(r.is_test),
                    trigger=r.trigger,
                    replay_of=r.replay_of,
                )
                for r in rows
            ]
            if claimed:
                conn.execute(
                    insert(_chg),
                    [
                        {
                            "delivery_id": c.id,
                            "tenant_id": c.tenant_id,
                            "destination_id": c.destination_id,
                            "status": DeliveryStatus.SENDING.value,
                            "attempt_count": c.attempt_count,
                            "at": now,
                        }
                        for c in claimed
                    ],
                )
        claimed.sort(key=lambda c: c.id)
        return claimed

    def _recover_expired(self, conn: Connection, now: datetime) -> None:
        recovered = conn.execute(_RECOVER_SQL, {"now": now}).all()
        if recovered:
            conn.execute(
                insert(_chg),
                [
                    {
                        "delivery_id": r.id,
                        "tenant_id": r.tenant_id,
                        "destination_id": r.destination_id,
                        "status": DeliveryStatus.PENDING.value,
                        "attempt_count": r.attempt_count,
                        "at": now,
                    }
                    for r in recovered
                ],
            )

    def renew_leases(self, *, owner: str, lease_seconds: float) -> int:
        """Extend every lease this worker holds (called while its deliveries are in flight)."""
        now = self.clock()
        with self.tx() as conn:
            return int(
                conn.execute(
                    update(_dlv)
                    .where(_dlv.c.leased_by == owner, _dlv.c.status == DeliveryStatus.SENDING.value)
                    .values(lease_until=now + timedelta(seconds=lease_seconds))
                ).rowcount
            )

    def release(self, *, owner: str, items: list[tuple[Claimed, datetime]]) -> None:
        """Hand claimed deliveries back unsent, due again at the given time (rate limits)."""
        if not items:
            return
        now = self.clock()
        with self.tx() as conn:
            conn.execute(
                update(_dlv)
                .where(
                    _dlv.c.id == bindparam("b_id"),
                    _dlv.c.leased_by == owner,
                    _dlv.c.status == DeliveryStatus.SENDING.value,
                )
                .values(
                    status=DeliveryStatus.PENDING.value,
                    next_attempt_at=bindparam("b_next"),
                    lease_until=None,
                    leased_by=None,
                    updated_at=now,
                ),
                [{"b_id": c.id, "b_next": when} for c, when in items],
            )
            conn.execute(
                insert(_chg),
                [
                    {
                        "delivery_id": c.id,
                        "tenant_id": c.tenant_id,
                        "destination_id": c.destination_id,
                        "status": DeliveryStatus.PENDING.value,
                        "attempt_count": c.attempt_count,
                        "at": now,
                    }
                    for c, _ in items
                ],
            )

    def record_attempts(
        self, *, owner: str, records: list[AttemptRecord], auto_disable_after: timedelta | None
    ) -> None:
        """Write attempts, move deliveries on and apply destination effects: one transaction."""
        if not records:
            return
        now = self.clock()
        with self.tx() as conn:
            conn.execute(insert(_att), [_attempt_row(r) for r in records])
            conn.execute(
                update(_dlv)
                .where(_dlv.c.id == bindparam("b_id"), _dlv.c.leased_by == owner)
                .values(
                    status=bindparam("b_status"),
                    attempt_count=bindparam("b_number"),
                    next_attempt_at=bindparam("b_next"),
                    lease_until=None,
                    leased_by=None,
                    last_status_code=bindparam("b_code"),
                    last_error=bindparam("b_error"),
                    updated_at=now,
                    completed_at=bindparam("b_completed"),
                ),
                [
                    {
                        "b_id": r.delivery_id,
                        "b_status": r.status.value,
                        "b_number": r.number,
                        "b_next": r.next_attempt_at,
                        "b_code": r.status_code,
                        "b_error": r.error,
                        "b_completed": None if r.status is DeliveryStatus.PENDING else now,
                    }
                    for r in records
                ],
            )
            conn.execute(
                insert(_chg),
                [
                    {
                        "delivery_id": r.delivery_id,
                        "tenant_id": r.tenant_id,
                        "destination_id": r.destination_id,
                        "status": r.status.value,
                        "attempt_count": r.number,
                        "at": now,
                    }
                    for r in records
                ],
            )
            scrub_expunged_attempts(conn, [r.id for r in records])
            self._destination_effects(conn, records, now, auto_disable_after)

    def _destination_effects(
        self,
        conn: Connection,
        records: list[AttemptRecord],
        now: datetime,
        auto_disable_after: timedelta | None,
    ) -> None:
        ok = {r.destination_id for r in records if r.outcome == "success"}
        failing = {r.destination_id for r in records if r.outcome != "success"} - ok
        # Operational events (gateway/opevents.py): one notice per transition made here.
        notices = end_streaks(conn, ok, now)
        if failing:
            conn.execute(
                update(_dst)
                .where(_dst.c.id.in_(failing), _dst.c.failing_since.is_(None))
                .values(failing_since=now)
            )
            if auto_disable_after is not None:
                auto = conn.execute(
                    update(_dst)
                    .where(
                        _dst.c.id.in_(failing),
                        _dst.c.status == DestinationStatus.ACTIVE.value,
                        _dst.c.failing_since <= now - auto_disable_after,
                    )
                    .values(
                        status=DestinationStatus.DISABLED.value,
                        disabled_at=now,
                        disabled_reason=f"every attempt failed for {_span(auto_disable_after)}",
                        version=_dst.c.version + 1,
                        updated_at=now,
                    )
                    .returning(*_SUBJECT, _dst.c.disabled_reason)
                ).all()
                notices += disable_notices(auto, now)
        for r in records:
            if r.disable_reason is None:
                continue
            values: dict[str, Any] = {
                "status": DestinationStatus.DISABLED.value,
                "disabled_reason": r.disable_reason,
                "disabled_at": now,
                "version": _dst.c.version + 1,
                "updated_at": now,
            }
            if r.remove_destination:
                values["deleted_at"] = now
            live = (_dst.c.id == r.destination_id, _dst.c.deleted_at.is_(None))
            was_active = conn.execute(
                update(_dst)
                .where(*live, _dst.c.status == DestinationStatus.ACTIVE.value)
                .values(**values)
                .returning(*_SUBJECT, _dst.c.disabled_reason)
            ).all()
            notices += disable_notices(was_active, now)
            changed = bool(was_active) or bool(
                conn.execute(update(_dst).where(*live).values(**values)).rowcount
            )  # already disabled: the newer reason replaces the older, nothing is announced
            if r.remove_destination and changed:
                cancel_pending(conn, r.destination_id, now)
        # A delivery that failed because its destination disabled itself (410, 403) is told by
        # the disabled notice; the others that failed for good are exhausted.
        failed = [
            r.delivery_id
            for r in records
            if r.status is DeliveryStatus.FAILED and r.outcome != "disable"
        ]
        notices += exhausted_notices(conn, failed, now)
        emit_notices(conn, notices, now)


def _attempt_row(r: AttemptRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "delivery_id": r.delivery_id,
        "destination_id": r.destination_id,
        "number": r.number,
        "started_at": r.started_at,
        "duration_ms": r.duration_ms,
        "status_code": r.status_code,
        "request_url": r.request_url,
        "request_headers": r.request_headers,
        "request_body": r.request_body,
        "response_headers": r.response_headers,
        "response_body": r.response_body,
        "error_class": r.error_class,
        "error": r.error,
        "outcome": r.outcome,
    }


def _span(value: timedelta) -> str:
    """``5 days``, ``6 hours``, ``90 seconds``: for a destination's disabledReason."""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
