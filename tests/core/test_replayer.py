"""Bulk replay (CONTRACT §3 ``/integrations/replays``): filters, dry run, rate cap, durability."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from gateway.errors import ConflictError
from gateway.replayer import run_replays
from gateway.settings import Settings
from gateway.store import Store, open_store
from gateway.store import rows as store_rows
from gateway.store.tables import DeliveryRow, ReplayRow
from tests.conftest import ADMIN_KEY, make_settings
from tests.e2e.test_crash_recovery import free_port, start_serve
from tests.seeding import seed_deliveries

_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
_rpl = ReplayRow.__table__  # type: ignore[attr-defined]
SINCE = "2000-01-01T00:00:00Z"


def replays_of(store: Store, replay_id: str) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(select(_dlv).where(_dlv.c.replay_id == replay_id)).all())


def drain(store: Store, settings: Settings, steps: int = 100) -> int:
    """Run replay steps until no job is active; returns the steps taken."""
    for step in range(1, steps + 1):
        asyncio.run(run_replays(store, settings, lambda: None))
        if not store.active_replays():
            return step
    raise AssertionError("replay did not finish")


def test_dry_run_counts_without_storing(api: TestClient, store: Store) -> None:
    seed_deliveries(store, 30, status="failed")
    seed_deliveries(store, 7, status="succeeded", name="ok")
    r = api.post("/integrations/replays", json={"since": SINCE, "status": "failed", "dryRun": True})
    assert r.status_code == 200, r.text
    assert r.json()["matched"] == 30 and r.json()["replayId"] is None
    everything = api.post("/integrations/replays", json={"since": SINCE, "dryRun": True}).json()
    assert everything["matched"] == 37
    assert api.get("/integrations/replays").json()["total"] == 0


def test_replay_links_each_new_delivery_and_respects_filters(
    api: TestClient,
    store: Store,
    settings: Settings,
) -> None:
    failed = seed_deliveries(store, 120, status="failed")
    seed_deliveries(store, 40, status="failed", name="other destination")
    seed_deliveries(store, 15, status="succeeded", name="fine")
    r = api.post(
        "/integrations/replays",
        json={"since": SINCE, "status": "failed", "destinationId": failed.id},
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["matched"] == 120 and job["status"] == "pending"
    assert job["replayId"].startswith("rpl_")
    drain(store, settings)
    done = api.get(f"/integrations/replays/{job['replayId']}").json()
    assert (done["status"], done["matched"], done["created"]) == ("completed", 120, 120)
    rows = replays_of(store, job["replayId"])
    assert len(rows) == 120
    assert {r.trigger for r in rows} == {"bulkReplay"}
    assert {r.destination_id for r in rows} == {failed.id}
    originals = api.get(
        "/integrations/deliveries",
        params={"destinationId": failed.id, "status": "failed", "pageSize": 100},
    ).json()["total"]
    assert originals == 120
    assert len({r.replay_of for r in rows}) == 120
    sample = api.get(f"/integrations/deliveries/{rows[0].id}").json()
    assert sample["replayOf"] == rows[0].replay_of and sample["trigger"] == "bulkReplay"
    # A second run over the same window does not see the first run's (pending) output.
    again = api.post(
        "/integrations/replays",
        json={"since": SINCE, "status": "failed", "destinationId": failed.id, "dryRun": True},
    )
    assert again.json()["matched"] == 120


def test_rate_cap_spreads_a_big_replay_over_steps(
    db_url: str,
    tmp_path: Any,
    store: Store,
) -> None:
    settings = make_settings(db_url, tmp_path, GATEWAY_REPLAY_RATE_PER_SECOND=250)
    seed_deliveries(store, 1000, status="failed")
    job = store.create_replay(_filter(store))
    asyncio.run(run_replays(store, settings, lambda: None))
    assert store.get_replay(job.id).created == 250  # one step = one second's budget
    assert store.get_replay(job.id).status == "running"
    steps = drain(store, settings)
    assert steps == 3 + 1  # three more full steps, then one that finds nothing left
    assert store.get_replay(job.id).created == 1000


def test_crash_inside_a_chunk_neither_duplicates_nor_skips(
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_deliveries(store, 1200, status="failed")
    job = store.create_replay(_filter(store))
    assert store.run_replay_chunk(job.id, 500) == 500
    real_insert = store_rows.insert_deliveries

    def insert_then_die(conn: Any, rows: list[dict[str, Any]], now: Any) -> None:
        real_insert(conn, rows, now)
        raise RuntimeError("process killed after inserting, before the cursor moved")

    monkeypatch.setattr("gateway.store.replays.insert_deliveries", insert_then_die)
    with pytest.raises(RuntimeError):
        store.run_replay_chunk(job.id, 500)
    assert len(replays_of(store, job.id)) == 500  # the half-done chunk rolled back whole
    monkeypatch.undo()
    while store.run_replay_chunk(job.id, 500) == 500:
        pass
    rows = replays_of(store, job.id)
    assert len(rows) == 1200 and len({r.replay_of for r in rows}) == 1200
    assert store.get_replay(job.id).created == 1200


def test_concurrent_runners_never_replay_twice(settings: Settings, store: Store) -> None:
    seed_deliveries(store, 900, status="failed")
    job = store.create_replay(_filter(store))
    others = [open_store(settings) for _ in range(3)]
    barrier = threading.Barrier(len(others))

    def runner(s: Store) -> None:
        barrier.wait()
        while s.get_replay(job.id).status != "completed":
            try:
                s.run_replay_chunk(job.id, 100)
            except ConflictError:
                continue

    threads = [threading.Thread(target=runner, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    rows = replays_of(store, job.id)
    assert len(rows) == 900 and len({r.replay_of for r in rows}) == 900
    assert store.get_replay(job.id).created == 900
    for s in others:
        s.engine.dispose()


def test_tenant_sees_only_its_replays(api: TestClient, store: Store) -> None:
    seed_deliveries(store, 5, tenant_id="t1")
    seed_deliveries(store, 9, tenant_id="t2")
    key1 = api.post("/integrations/keys", json={"tenantId": "t1"}).json()["key"]
    key2 = api.post("/integrations/keys", json={"tenantId": "t2"}).json()["key"]
    r = api.post("/integrations/replays", json={"since": SINCE}, headers={"x-api-key": key1})
    assert r.status_code == 202 and r.json()["matched"] == 5  # scoped to t1 without asking
    replay_id = r.json()["replayId"]
    path = f"/integrations/replays/{replay_id}"
    assert api.get(path, headers={"x-api-key": key2}).status_code == 404
    assert api.get(path, headers={"x-api-key": key1}).status_code == 200
    everyone = api.post("/integrations/replays", json={"since": SINCE}).json()  # admin: all tenants
    assert everyone["matched"] == 14
    assert (
        api.get(
            f"/integrations/replays/{everyone['replayId']}", headers={"x-api-key": key1}
        ).status_code
        == 404
    )
    bad = api.post(
        "/integrations/replays",
        json={"since": SINCE, "tenantId": "t2"},
        headers={"x-api-key": key1},
    )
    assert bad.status_code == 404


def test_validation_and_cancel(api: TestClient, store: Store) -> None:
    seed_deliveries(store, 3)
    assert api.post("/integrations/replays", json={}).status_code == 422  # since is required
    bad_status = api.post("/integrations/replays", json={"since": SINCE, "status": "nope"})
    assert bad_status.status_code == 422
    r = api.post(
        "/integrations/replays",
        json={"since": "2030-01-01T00:00:00Z", "until": "2029-01-01T00:00:00Z"},
    )
    assert r.status_code == 422
    assert api.get("/integrations/replays/rpl_missing").status_code == 404
    job = api.post("/integrations/replays", json={"since": SINCE}).json()
    cancelled = api.post(f"/integrations/replays/{job['replayId']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert store.run_replay_chunk(job["replayId"]) == 0


def _filter(store: Store) -> Any:
    from datetime import datetime

    from gateway.store import ReplayFilter

    return ReplayFilter(
        since=datetime.fromisoformat("2000-01-01T00:00:00+00:00"),
        until=store.clock() + timedelta(seconds=1),
        status="failed",
    )


# -- the durability scenario: kill -9 of `gateway serve` halfway through 5,000 -------------------
def test_replay_of_5000_survives_kill_9_halfway(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/gateway.db"
    settings = make_settings(db_url, tmp_path)
    store = open_store(settings)
    seed_deliveries(store, 5000, status="failed")
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ENCRYPTION_KEY": settings.encryption_key or "",
        "GATEWAY_REPLAY_RATE_PER_SECOND": "1000",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"x-api-key": ADMIN_KEY}
    proc = start_serve(env, port, tmp_path)
    try:
        job = httpx.post(
            f"{base}/integrations/replays",
            headers=headers,
            json={"since": SINCE, "status": "failed"},
        ).json()
        assert job["matched"] == 5000
        progress = _wait(
            lambda: httpx.get(
                f"{base}/integrations/replays/{job['replayId']}", headers=headers
            ).json(),
            lambda p: p["created"] >= 1500,
        )
        assert progress["created"] < 5000, "the replay finished before the kill"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    at_kill = store.get_replay(job["replayId"])
    assert 0 < at_kill.created < 5000 and at_kill.status == "running"
    assert len(replays_of(store, job["replayId"])) == at_kill.created  # count and rows agree
    proc = start_serve(env, port, tmp_path)
    try:
        done = _wait(
            lambda: httpx.get(
                f"{base}/integrations/replays/{job['replayId']}", headers=headers
            ).json(),
            lambda p: p["status"] == "completed",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert (done["matched"], done["created"]) == (5000, 5000)
    rows = replays_of(store, job["replayId"])
    assert len(rows) == 5000
    assert len({r.replay_of for r in rows}) == 5000  # each original exactly once
    with store.read() as conn:
        originals = set(
            conn.execute(
                select(_dlv.c.id).where(_dlv.c.trigger == "event", _dlv.c.status == "failed")
            ).scalars()
        )
        total = conn.execute(select(func.count()).select_from(_dlv)).scalar_one()
    assert {r.replay_of for r in rows} == originals
    assert total == 10_000
    store.engine.dispose()


def _wait(read: Any, done: Any, timeout: float = 25.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    value: dict[str, Any] = {}
    while time.monotonic() < deadline:
        value = read()
        if done(value):
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out; last: {value}")
