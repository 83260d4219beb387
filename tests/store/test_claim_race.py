"""Claiming under contention: no delivery is handed to two workers at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from gateway.delivery.client import AiohttpDeliveryClient
from gateway.delivery.worker import Worker
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.store import EventIn, Store, open_store
from tests.conftest import make_settings, task_data


def seed(store: Store, url: str, events: int) -> None:
    store.create_destination(
        {
            "tenant_id": "t1",
            "name": "race",
            "connector": "webhook",
            "url": url,
            "event_types": ["task.completed"],
        }
    )
    for start in range(0, events, 500):
        store.ingest_events(
            [
                EventIn(tenant_id="t1", type="task.completed", data=task_data())
                for _ in range(start, min(events, start + 500))
            ]
        )


@pytest.mark.postgres
def test_concurrent_claims_never_overlap(postgres_url: str, tmp_path: Any) -> None:
    settings = make_settings(postgres_url, tmp_path)
    stores = [open_store(settings) for _ in range(4)]
    seed(stores[0], "http://127.0.0.1:9/", 2000)
    taken: list[list[str]] = [[] for _ in stores]
    barrier = threading.Barrier(len(stores))

    def claim_all(index: int) -> None:
        barrier.wait()
        deadline = time.monotonic() + 45
        # An empty claim only means the others hold (SKIP LOCKED) what is left: go on until
        # everything is taken, so every claimer keeps competing to the end.
        while sum(len(part) for part in taken) < 2000 and time.monotonic() < deadline:
            got = stores[index].claim_due(owner=f"w{index}", limit=37, lease_seconds=300)
            if not got:
                time.sleep(0.005)
            taken[index].extend(c.id for c in got)

    threads = [threading.Thread(target=claim_all, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [d for part in taken for d in part]
    assert len(everything) == 2000
    assert len(set(everything)) == 2000  # nobody claimed a delivery another worker holds
    assert sum(1 for part in taken if part) >= 2  # the claims really interleaved


@pytest.mark.postgres
def test_two_workers_send_each_delivery_once(
    postgres_url: str, tmp_path: Any, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    settings = make_settings(postgres_url, tmp_path, GATEWAY_WORKER_BATCH_SIZE=25)
    seed(open_store(settings), f"{url}/race", 600)

    async def run_workers() -> list[Worker]:
        workers = [
            Worker(
                open_store(settings),
                AiohttpDeliveryClient(settings.allowed_networks()),
                settings,
                owner=f"worker-{i}",
            )
            for i in range(2)
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        deadline = asyncio.get_running_loop().time() + 60
        while len(rec.on("/race")) < 600 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks)
        for w in workers:
            await w.client.close()
        return workers

    workers = asyncio.run(run_workers())
    sent = Counter(r.headers["x-gateway-delivery-id"] for r in rec.on("/race"))
    assert len(sent) == 600
    assert max(sent.values()) == 1, [d for d, n in sent.items() if n > 1][:5]
    assert all(w.stats.sent > 0 for w in workers), [w.stats.sent for w in workers]
    store = open_store(settings)
    from gateway.store import DeliveryFilter

    _, succeeded = store.list_deliveries(DeliveryFilter(status="succeeded"), page=1, page_size=1)
    assert succeeded == 600


def test_expired_lease_is_claimable_again(db_url: str, tmp_path: Any) -> None:
    settings = make_settings(db_url, tmp_path)
    store = open_store(settings)
    seed(store, "http://127.0.0.1:9/", 3)
    first = store.claim_due(owner="dead", limit=10, lease_seconds=30)
    assert len(first) == 3
    assert store.claim_due(owner="other", limit=10, lease_seconds=30) == []
    later = store.clock() + timedelta(seconds=31)
    store.clock = lambda: later
    again = store.claim_due(owner="other", limit=10, lease_seconds=30)
    assert sorted(c.id for c in again) == sorted(c.id for c in first)
