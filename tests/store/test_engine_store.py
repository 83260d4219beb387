"""The store's side of the engine: fair claims, attempts written once by the lease holder,
circuit probes one at a time, leases renewed only for what is in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.adapters import Outcome, Verdict
from gateway.models import ErrorClass
from gateway.outcome import Policy
from gateway.store import AttemptRecord, Claimed, EventIn, Store, open_store
from tests.conftest import make_settings, task_data


def destination(store: Store, study: str) -> str:
    dst, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": study,
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "event_types": ["task.completed"],
            "filter": {"studyId": study},
        }
    )
    return str(dst.id)


def push(store: Store, study: str, n: int) -> None:
    store.ingest_events(
        [
            EventIn(tenant_id="t1", type="task.completed", data=task_data(studyId=study))
            for _ in range(n)
        ]
    )


def record(c: Claimed, outcome: Outcome, number: int | None = None) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=c.id,
        tenant_id=c.tenant_id,
        destination_id=c.destination_id,
        number=number if number is not None else c.attempt_count + 1,
        started_at=datetime.now(UTC),
        duration_ms=1.0,
        request_url="http://127.0.0.1:9/",
        request_headers={},
        result=outcome,
    )


def test_a_backlog_does_not_crowd_out_a_neighbour(db_url: str, tmp_path: Any) -> None:
    store = open_store(make_settings(db_url, tmp_path))
    busy, quiet = destination(store, "busy"), destination(store, "quiet")
    push(store, "busy", 300)  # older: first in due order
    push(store, "quiet", 3)
    got = store.claim_due(owner="w", limit=20, lease_seconds=30, default_cap=8)
    per = {d: sum(1 for c in got if c.destination_id == d) for d in (busy, quiet)}
    assert per == {busy: 8, quiet: 3}  # the cap holds; the quiet one is not left behind
    assert all(c.event is not None and c.destination is not None for c in got)  # loaded too
    more = store.claim_due(owner="w", limit=20, lease_seconds=30, caps={busy: 2}, blocked=[quiet])
    assert [c.destination_id for c in more] == [busy, busy]


def test_an_attempt_is_written_once_and_only_by_its_lease_holder(
    db_url: str, tmp_path: Any
) -> None:
    store = open_store(make_settings(db_url, tmp_path))
    destination(store, "s")
    push(store, "s", 1)
    [c] = store.claim_due(owner="a", limit=5, lease_seconds=30)
    fail = Outcome(Verdict.RETRY, "HTTP 500", ErrorClass.HTTP_STATUS)
    assert store.record_attempts(owner="b", records=[record(c, fail)]).stale  # not b's lease
    first = store.record_attempts(owner="a", records=[record(c, fail)], policy=Policy())
    assert len(first.recorded) == 1 and first.recorded[0].decision.status.value == "pending"
    again = store.record_attempts(owner="a", records=[record(c, fail)])  # a lost commit answer
    assert again.stale and not again.recorded
    attempts = store.attempts_for([c.id])[c.id]
    assert [a.number for a in attempts] == [1]


def test_leases_are_renewed_only_for_what_is_named(db_url: str, tmp_path: Any) -> None:
    store = open_store(make_settings(db_url, tmp_path))
    destination(store, "s")
    push(store, "s", 2)
    a, b = store.claim_due(owner="w", limit=5, lease_seconds=1)
    assert store.renew_leases(owner="w", delivery_ids=[a.id], lease_seconds=60) == 1
    real = store.clock
    store.clock = lambda: real() + timedelta(seconds=5)  # type: ignore[method-assign]
    again = store.claim_due(owner="x", limit=5, lease_seconds=30)
    assert [c.id for c in again] == [b.id]  # b's lease ran out; a's was renewed


def test_an_open_circuit_gives_one_probe_at_a_time(db_url: str, tmp_path: Any) -> None:
    store = open_store(make_settings(db_url, tmp_path))
    dst = destination(store, "s")
    push(store, "s", 10)
    claimed = store.claim_due(owner="w", limit=5, lease_seconds=30)
    timeout = Outcome(Verdict.RETRY, "timed out", ErrorClass.TIMEOUT)
    result = store.record_attempts(
        owner="w", records=[record(c, timeout) for c in claimed], policy=Policy(circuit_failures=3)
    )
    assert sum(x.decision.circuit_opened for x in result.recorded) == 1
    assert store.get_destination(dst).circuit == "open"
    assert store.claim_due(owner="w", limit=5, lease_seconds=30) == []  # held, not probed yet
    real = store.clock
    store.clock = lambda: real() + timedelta(seconds=1.5)  # type: ignore[method-assign]
    [probe] = store.claim_due(owner="w", limit=5, lease_seconds=30)
    assert probe.probe and store.get_destination(dst).circuit == "halfOpen"
    assert store.claim_due(owner="v", limit=5, lease_seconds=30) == []  # one at a time
    closed = store.record_attempts(owner="w", records=[record(probe, Outcome(Verdict.SUCCESS))])
    assert closed.recorded[0].decision.circuit_closed
    assert store.get_destination(dst).circuit == "closed"
    # what waited is due again; the five that timed out keep their retry times (5 s ±20 %)
    assert len(store.claim_due(owner="w", limit=20, lease_seconds=30)) == 4
