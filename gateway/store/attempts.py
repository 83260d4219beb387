"""Recording attempts: the lease holder writes each attempt once, and applies the decision.

``record_attempts`` is the one place where what follows an attempt is written: in one transaction
it checks that this worker still holds each delivery's lease for that attempt number (anything
else is stale: a lease that expired and was taken over, or a batch already written whose commit
answer was lost), reads the destinations' health, folds every attempt through the pure
``gateway.outcome.after_attempt`` in the order they started, and writes the attempts, the
deliveries' moves (with their change rows) and the destinations' new health and transitions. It
returns each decision (``Recorded``): the hook for anything that reacts to a transition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from gateway import ids
from gateway.adapters import Outcome, Verdict
from gateway.models import DeliveryStatus, DestinationStatus
from gateway.opevents import Notice
from gateway.outcome import AfterAttempt, AttemptFacts, Circuit, Health, Policy, after_attempt
from gateway.store.base import StoreBase
from gateway.store.changes import Move, move_each
from gateway.store.destinations import cancel_pending
from gateway.store.dialect import for_update, insert_ignore
from gateway.store.erasure import scrub_expunged_attempts
from gateway.store.opevents import disable_notices, emit_notices, end_streaks, exhausted_notices
from gateway.store.tables import attempts as _att
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import destinations as _dst


@dataclass
class AttemptRecord:
    """One finished attempt: what was sent and received, and the facts the decision needs."""

    delivery_id: str
    tenant_id: str
    destination_id: str
    number: int
    started_at: datetime
    duration_ms: float
    request_url: str
    request_headers: dict[str, str]
    result: Outcome  # the connector's reading (or the send error's)
    status_code: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = None
    request_body: str | None = None
    retry_after_seconds: float | None = None
    schedule: tuple[float, ...] | None = None  # the destination's retrySchedule
    jitter: float = 0.0  # a draw in [-1, 1] for the retry jitter
    probe: bool = False  # the circuit's probe
    id: str = field(default_factory=lambda: ids.new_id(ids.ATTEMPT))

    def facts(self) -> AttemptFacts:
        return AttemptFacts(
            number=self.number,
            outcome=self.result,
            retry_after_seconds=self.retry_after_seconds,
            schedule=self.schedule,
            jitter=self.jitter,
            probe=self.probe,
        )


@dataclass(frozen=True)
class Recorded:
    """A written attempt and what it decided."""

    record: AttemptRecord
    decision: AfterAttempt


@dataclass
class RecordResult:
    recorded: list[Recorded]
    stale: list[AttemptRecord]  # not this worker's to write (see the module docstring)


class AttemptVerbs(StoreBase):
    def record_attempts(
        self, *, owner: str, records: list[AttemptRecord], policy: Policy | None = None
    ) -> RecordResult:
        """Write attempts, move deliveries on and apply destination effects: one transaction."""
        if not records:
            return RecordResult([], [])
        policy = policy or Policy()
        now = self.clock()
        with self.tx() as conn:
            valid, stale = _held(conn, owner, records)
            health = _health(conn, sorted({r.destination_id for r in valid}))
            before = dict(health)
            recorded: list[Recorded] = []
            for r in sorted(valid, key=lambda r: r.started_at):
                decision = after_attempt(r.facts(), health[r.destination_id], policy, now)
                health[r.destination_id] = decision.health
                recorded.append(Recorded(r, decision))
            if recorded:
                conn.execute(
                    insert_ignore(conn, _att),
                    [_attempt_row(x.record, x.decision.attempt_outcome) for x in recorded],
                )
                move_each(conn, [_move(x, now) for x in recorded], now)
                # An event erased while its attempt was in flight keeps no body (issue #12).
                scrub_expunged_attempts(conn, [x.record.id for x in recorded])
                notices = _apply_destinations(conn, recorded, health, before, now)
                notices += _operational_notices(conn, recorded, health, now)
                emit_notices(conn, notices, now)
        return RecordResult(recorded, stale)

    def record_history(self, records: list[AttemptRecord]) -> None:
        """Attempt rows as given, moving nothing (seeding a bench or a demo's history)."""
        if records:
            with self.tx() as conn:
                conn.execute(
                    insert_ignore(conn, _att),
                    [_attempt_row(r, r.result.verdict.value) for r in records],
                )


def _held(
    conn: Connection, owner: str, records: list[AttemptRecord]
) -> tuple[list[AttemptRecord], list[AttemptRecord]]:
    """The records whose delivery this owner holds for exactly that attempt number (locked)."""
    query = select(_dlv.c.id, _dlv.c.status, _dlv.c.leased_by, _dlv.c.attempt_count).where(
        _dlv.c.id.in_(sorted({r.delivery_id for r in records}))
    )
    # Locked in id order, so two writers never wait on each other crosswise.
    rows = {r.id: r for r in conn.execute(for_update(conn, query.order_by(_dlv.c.id)))}
    valid: list[AttemptRecord] = []
    stale: list[AttemptRecord] = []
    seen: set[str] = set()
    for r in records:
        row = rows.get(r.delivery_id)
        if (
            row is not None
            and r.delivery_id not in seen
            and row.status == DeliveryStatus.SENDING.value
            and row.leased_by == owner
            and int(row.attempt_count) == r.number - 1
        ):
            seen.add(r.delivery_id)
            valid.append(r)
        else:
            stale.append(r)
    return valid, stale


def _health(conn: Connection, destination_ids: list[str]) -> dict[str, Health]:
    if not destination_ids:
        return {}
    query = select(_dst).where(_dst.c.id.in_(destination_ids)).order_by(_dst.c.id)
    return {
        r.id: Health(
            status=DestinationStatus(r.status),
            deleted=r.deleted_at is not None,
            subscription=bool(r.subscription),
            failing_since=r.failing_since,
            consecutive_failures=int(r.consecutive_failures),
            circuit=Circuit(r.circuit),
            probe_failures=int(r.probe_failures),
            circuit_retry_at=r.circuit_retry_at,
        )
        for r in conn.execute(for_update(conn, query))
    }


def _move(x: Recorded, now: datetime) -> Move:
    r, d = x.record, x.decision
    final = d.status is not DeliveryStatus.PENDING
    return Move(
        r.delivery_id,
        r.tenant_id,
        r.destination_id,
        d.status,
        r.number,
        {
            "attempt_count": r.number,
            "next_attempt_at": d.next_attempt_at,
            "lease_until": None,
            "leased_by": None,
            "last_status_code": r.status_code,
            "last_error": r.result.reason or None,
            "completed_at": now if final else None,
        },
    )


def _operational_notices(
    conn: Connection, recorded: list[Recorded], health: dict[str, Health], now: datetime
) -> list[Notice]:
    """What the decisions announce besides disables (gateway/opevents.py): a recovery after a
    failing notice, and each delivery whose retries ran out (not those that wait on a fix)."""
    succeeded = {
        x.record.destination_id for x in recorded if x.record.result.verdict is Verdict.SUCCESS
    }
    ended = {d for d in succeeded if health[d].failing_since is None}
    exhausted = [x.record.delivery_id for x in recorded if x.decision.delivery_exhausted]
    return end_streaks(conn, ended, now) + exhausted_notices(conn, exhausted, now)


def _apply_destinations(
    conn: Connection,
    recorded: list[Recorded],
    health: dict[str, Health],
    before: dict[str, Health],
    now: datetime,
) -> list[Notice]:
    """Each destination's final health; the disables, removals and cancels it caused. (A circuit
    that closes releases nothing early: what waited while it was open is already due, and a
    retry scheduled by ``Retry-After`` keeps its time.)"""
    notices: list[Notice] = []
    disabled: dict[str, AfterAttempt] = {}
    for x in recorded:
        if x.decision.destination_disabled and x.record.destination_id not in disabled:
            disabled[x.record.destination_id] = x.decision
    for destination_id, h in health.items():
        cause = disabled.get(destination_id)
        if cause is None and h == before.get(destination_id):
            continue  # a healthy destination's batch: nothing of it changed, no statement
        values: dict[str, Any] = {
            "failing_since": h.failing_since,
            "consecutive_failures": h.consecutive_failures,
            "circuit": h.circuit.value,
            "probe_failures": h.probe_failures,
            "circuit_retry_at": h.circuit_retry_at,
        }
        if cause is not None:
            values.update(
                status=DestinationStatus.DISABLED.value,
                disabled_reason=cause.disabled_reason,
                disabled_at=now,
                version=_dst.c.version + 1,
                updated_at=now,
            )
            if cause.destination_removed:
                values["deleted_at"] = now
            # Announced once: only the update that takes it from active says so.
            was_active = conn.execute(
                update(_dst)
                .where(_dst.c.id == destination_id, _dst.c.status == DestinationStatus.ACTIVE.value)
                .values(**values)
                .returning(_dst.c.id, _dst.c.tenant_id, _dst.c.name, _dst.c.disabled_reason)
            ).all()
            notices += disable_notices(was_active, now)
            if was_active:
                continue
        conn.execute(update(_dst).where(_dst.c.id == destination_id).values(**values))
    for destination_id in {x.record.destination_id for x in recorded if x.decision.cancel_waiting}:
        cancel_pending(conn, destination_id, now)
    return notices


def _attempt_row(r: AttemptRecord, outcome: str) -> dict[str, Any]:
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
        "error_class": r.result.error_class.value if r.result.error_class else None,
        "error": r.result.reason or None,
        "outcome": outcome,
    }
