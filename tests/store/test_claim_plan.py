"""The claim's candidate statement: same choices as before, read from the partial indexes.

Fair shares, caps, due times and ``ordered`` destinations on both backends, and the plan: each
destination's backlog is walked in ``ix_deliveries_pending`` up to its cap, never scanned whole.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from gateway.store import EventIn, Store, open_store
from gateway.store.claim import SCAN_FACTOR, candidates_sql
from gateway.store.records import DestinationRecord
from gateway.store.rows import delivery_values, insert_deliveries
from tests.conftest import make_settings, task_data


def destination(store: Store, name: str, **extra: Any) -> DestinationRecord:
    row, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": name,
            "connector": "webhook",
            "url": f"http://127.0.0.1:9/{name}",
            "event_types": ["task.cancelled"],  # intake below fans out to none of them
            **extra,
        }
    )
    return row


def backlog(
    store: Store, dst: DestinationRecord, count: int, *, in_seconds: float = 0
) -> list[str]:
    """``count`` deliveries to ``dst``, oldest first, due ``in_seconds`` from now."""
    [event] = store.ingest_events(
        [EventIn(tenant_id="t1", type="task.completed", data=task_data())]
    )
    now = store.clock() + timedelta(seconds=in_seconds)  # made and due then
    rows = [
        delivery_values(
            event_id=event.event_id,
            tenant_id="t1",
            event_type="task.completed",
            destination=dst,
            now=now,
        )
        for _ in range(count)
    ]
    with store.engine.begin() as conn:
        insert_deliveries(conn, rows, now)
    return [r["id"] for r in rows]


@pytest.fixture
def store(db_url: str, tmp_path: Any) -> Store:
    return open_store(make_settings(db_url, tmp_path))


def test_every_due_destination_gets_its_oldest_within_its_cap(store: Store) -> None:
    a, b, c = (destination(store, n) for n in "abc")
    due = {d.id: backlog(store, d, 10) for d in (a, b)}
    backlog(store, c, 5, in_seconds=3600)  # not due: never a candidate
    claimed = store.claim_due(owner="w", limit=7, lease_seconds=60, default_cap=3)
    by_destination: dict[str, list[str]] = {}
    for item in claimed:
        by_destination.setdefault(item.destination_id, []).append(item.id)
    assert set(by_destination) == {a.id, b.id}
    for dst_id, got in by_destination.items():
        assert sorted(got) == due[dst_id][:3]  # oldest first, at most the cap
    # A cap of its own per destination; the blocked one is left alone entirely.
    more = store.claim_due(owner="w", limit=50, lease_seconds=60, caps={a.id: 5}, blocked=[b.id])
    assert sorted(m.id for m in more) == due[a.id][3:8]


def test_an_ordered_destination_offers_only_its_oldest_open_delivery(store: Store) -> None:
    ordered = destination(store, "ordered", ordered=True)
    ids = backlog(store, ordered, 4)
    first = store.claim_due(owner="w", limit=10, lease_seconds=60)
    assert [c.id for c in first] == ids[:1]
    # While the oldest is out (sending), nothing behind it may go.
    assert store.claim_due(owner="w", limit=10, lease_seconds=60) == []
    # Handed back but due later: still nothing, the younger ones wait behind it.
    later = store.clock() + timedelta(seconds=3600)
    store.release(owner="w", items=[(first[0], later)])
    assert store.claim_due(owner="w", limit=10, lease_seconds=60) == []
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE deliveries SET next_attempt_at = :t WHERE id = :i"),
            {"t": store.clock().replace(tzinfo=None), "i": ids[0]},
        )
    assert [c.id for c in store.claim_due(owner="w", limit=10, lease_seconds=60)] == ids[:1]


def plan(store: Store) -> str:
    sql = candidates_sql(store.engine.dialect.name)
    for name in ("probes", "blocked", "skipped"):
        sql = sql.replace(f":{name}", "('-')")
    params = {"now": store.clock().replace(tzinfo=None), "cap": 32, "scan": 200 * SCAN_FACTOR}
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE deliveries"))
            rows = conn.execute(text("EXPLAIN " + sql), params).all()
            return "\n".join(r[0] for r in rows)
        conn.execute(text("ANALYZE"))
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql), params).all()
        return "\n".join(r[3] for r in rows)


def test_the_candidates_walk_the_pending_index_instead_of_the_backlog(store: Store) -> None:
    for name in "abcd":
        backlog(store, destination(store, name), 3000)
    explained = plan(store)
    assert "ix_deliveries_pending" in explained, explained
    if store.engine.dialect.name == "postgresql":
        assert "Seq Scan on deliveries" not in explained, explained
        assert "Bitmap Heap Scan on deliveries" not in explained, explained
    else:
        scans = {tuple(line.split()[:2]) for line in explained.splitlines()}
        assert not scans & {("SCAN", a) for a in ("d", "e", "o", "deliveries")}, explained
