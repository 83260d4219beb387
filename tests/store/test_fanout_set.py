"""Set-based fan-out (store/rows.py ``fan_out`` and ``insert_delivery_columns``):
exactly one delivery per matching destination, with correct rows and change rows, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert, select

from gateway import ids
from gateway.store import EventIn, Store, open_store
from gateway.store.tables import DeliveryChangeRow, DeliveryRow, DestinationRow
from tests.conftest import make_settings, task_data

_dst = DestinationRow.__table__  # type: ignore[attr-defined]
_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
_chg = DeliveryChangeRow.__table__  # type: ignore[attr-defined]
TENANT = "ten_fan"


@pytest.fixture
def store(db_url: str, tmp_path: Any) -> Iterator[Store]:
    s = open_store(make_settings(db_url, tmp_path), run_migrations=True)
    try:
        yield s
    finally:
        s.engine.dispose()


def destination(store: Store, tenant: str = TENANT, **values: Any) -> str:
    row, _ = store.create_destination(
        {
            "tenant_id": tenant,
            "connector": "webhook",
            "url": "http://127.0.0.1:9/h",
            "event_types": ["task.completed"],
            **values,
        }
    )
    return str(row.id)


def copies(store: Store, template_id: str, n: int) -> list[str]:
    """``n`` more destinations like ``template_id``, written in one statement (the API would take
    minutes for 10,000)."""
    with store.engine.begin() as conn:
        template = dict(conn.execute(select(_dst).where(_dst.c.id == template_id)).one()._mapping)
        rows = [{**template, "id": ids.new_id(ids.DESTINATION)} for _ in range(n)]
        conn.execute(insert(_dst), rows)
    return [str(r["id"]) for r in rows]


def event(event_id: str, tenant: str = TENANT, **data: Any) -> EventIn:
    return EventIn(id=event_id, tenant_id=tenant, type="task.completed", data=task_data(**data))


def rows_of(store: Store, table: Any, order: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(order))]


def test_ten_thousand_destinations_get_exactly_one_delivery_each(store: Store) -> None:
    first = destination(store)
    all_ids = sorted([first, *copies(store, first, 9_999)])
    [result] = store.ingest_events([event("evt_wide")])
    assert result.status == "created"
    assert len(result.delivery_ids) == 10_000 == len(set(result.delivery_ids))
    assert result.delivery_ids == sorted(result.delivery_ids)  # made in destination order

    deliveries = rows_of(store, _dlv, _dlv.c.id)
    assert [d["id"] for d in deliveries] == result.delivery_ids
    assert [d["destination_id"] for d in deliveries] == all_ids
    for d in deliveries:
        assert (d["tenant_id"], d["event_id"], d["event_type"]) == (
            TENANT,
            "evt_wide",
            "task.completed",
        )
        assert (d["connector"], d["status"], d["attempt_count"], d["trigger"]) == (
            "webhook",
            "pending",
            0,
            "event",
        )
        assert d["is_test"] is False and d["replay_of"] is None and d["replay_id"] is None
        assert d["next_attempt_at"] == d["created_at"] == d["updated_at"]
        assert d["lease_until"] is None and d["completed_at"] is None

    changes = rows_of(store, _chg, _chg.c.seq)
    assert [c["delivery_id"] for c in changes] == result.delivery_ids  # seq follows the ids
    assert [c["destination_id"] for c in changes] == all_ids
    assert {(c["status"], c["attempt_count"], c["tenant_id"]) for c in changes} == {
        ("pending", 0, TENANT)
    }
    assert {c["at"] for c in changes} == {deliveries[0]["created_at"]}

    [again] = store.ingest_events([event("evt_wide")])
    assert again.status == "duplicate" and again.delivery_ids == result.delivery_ids
    assert len(rows_of(store, _dlv, _dlv.c.id)) == 10_000


def test_only_matching_destinations_in_id_order_across_audiences(store: Store) -> None:
    everything = destination(store, event_types=["*"])
    family = destination(store, event_types=["task.*"])
    segment = destination(store, filter={"personaId": "per_x"})
    other_segment = destination(store, filter={"personaId": "per_other"})
    other_type = destination(store, event_types=["run.completed"])
    other_tenant = destination(store, tenant="ten_other")
    deleted = destination(store)
    store.delete_destination(deleted)
    more_segment = copies(store, segment, 3)  # a bigger audience interleaved by id with others

    [result] = store.ingest_events([event("evt_mix", personaId="per_x")])
    by_delivery = {d["id"]: d["destination_id"] for d in rows_of(store, _dlv, _dlv.c.id)}
    got = [by_delivery[i] for i in result.delivery_ids]
    assert got == sorted([everything, family, segment, *more_segment])
    assert not {other_segment, other_type, other_tenant, deleted} & set(by_delivery.values())


def test_a_batch_fans_each_event_to_its_own_tenant(store: Store) -> None:
    a = destination(store)
    b = destination(store, tenant="ten_b", connector="zapier")
    events = [event(f"evt_a{i}") for i in range(3)] + [event("evt_b0", tenant="ten_b")]
    events.append(event("evt_none", tenant="ten_nobody"))
    results = store.ingest_events(events)
    assert [len(r.delivery_ids) for r in results] == [1, 1, 1, 1, 0]
    deliveries = {d["id"]: d for d in rows_of(store, _dlv, _dlv.c.id)}
    for r, (dst, tenant, connector) in zip(
        results[:4], [(a, TENANT, "webhook")] * 3 + [(b, "ten_b", "zapier")], strict=True
    ):
        [d] = [deliveries[i] for i in r.delivery_ids]
        assert (d["event_id"], d["destination_id"], d["tenant_id"], d["connector"]) == (
            r.event_id,
            dst,
            tenant,
            connector,
        )
    changes = rows_of(store, _chg, _chg.c.seq)
    assert [c["delivery_id"] for c in changes] == [i for r in results for i in r.delivery_ids]
