"""No destination holds up another (issue #10): slow and dead neighbours, shared rate limits.

Workers run in-process against a real store (SQLite file, or PostgreSQL where several workers
share it) and send to loopback receivers. Figures are printed (``-s``) for the issue note.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.delivery.client import AiohttpDeliveryClient
from gateway.delivery.worker import Worker
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import Received, Script, WebhookReceiver
from gateway.settings import Settings
from gateway.store import EventIn, Store, open_store
from tests.conftest import make_settings, task_data

pytestmark = [pytest.mark.slow]


def destination(store: Store, url: str, study: str, **extra: Any) -> str:
    dst, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": study,
            "connector": "webhook",
            "url": url,
            "event_types": ["task.completed"],
            "filter": {"studyId": study},
            **extra,
        }
    )
    return str(dst["id"])


def push(store: Store, study: str, n: int) -> dict[str, float]:
    """``n`` events for the destinations filtering on ``study``; event id -> intake time."""
    results = store.ingest_events(
        [
            EventIn(tenant_id="t1", type="task.completed", data=task_data(studyId=study))
            for _ in range(n)
        ]
    )
    now = time.time()
    return {r.event_id: now for r in results}


async def run_workers(
    settings: Settings, stores: list[Store], until: Callable[[], bool], timeout: float
) -> list[Worker]:
    workers = [
        Worker(s, AiohttpDeliveryClient(settings.allowed_networks()), settings, owner=f"w{i}")
        for i, s in enumerate(stores)
    ]
    halt = asyncio.Event()
    tasks = [asyncio.create_task(w.run(halt)) for w in workers]
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    halt.set()
    await asyncio.gather(*tasks)
    for w in workers:
        await w.client.close()
    return workers


def p99(received: list[Received], pushed: dict[str, float]) -> float:
    latencies = sorted(r.at - pushed[r.headers["webhook-id"]] for r in received)
    return latencies[max(0, int(len(latencies) * 0.99) - 1)]


HEALTHY = 400  # the healthy destination's backlog, pushed after its neighbours'


def healthy_p99(
    tmp_path: Path, name: str, neighbours: Callable[[Store, str, WebhookReceiver], None]
) -> float:
    """The healthy destination's p99 from intake to arrival, with ``neighbours`` set up first."""
    rec = WebhookReceiver()
    settings = make_settings(
        f"sqlite:///{tmp_path}/{name}.db", tmp_path, GATEWAY_SHUTDOWN_SECONDS=0.5
    )
    store = open_store(settings)
    with BackgroundServer(rec.app) as server:
        neighbours(store, server.url, rec)
        destination(store, f"{server.url}/healthy", "healthy")
        pushed = push(store, "healthy", HEALTHY)
        done = lambda: len(rec.on("/healthy")) >= HEALTHY  # noqa: E731
        asyncio.run(run_workers(settings, [store], done, 40))
        got = rec.on("/healthy")
    store.engine.dispose()
    assert len(got) >= HEALTHY, len(got)
    return p99(got, pushed)


def alone(store: Store, url: str, rec: WebhookReceiver) -> None:
    pass


def one_slow(store: Store, url: str, rec: WebhookReceiver) -> None:
    """A same-tenant neighbour that answers after 5 s, with a backlog of its own."""
    rec.defaults["/slow"] = Script(200, delay=5)
    destination(store, f"{url}/slow", "slow")
    push(store, "slow", 300)


def ten_timing_out(store: Store, url: str, rec: WebhookReceiver) -> None:
    """Ten same-tenant neighbours that never answer within their 1 s timeout."""
    for i in range(10):
        rec.defaults[f"/dead{i}"] = Script(200, delay=3)
        destination(store, f"{url}/dead{i}", f"dead{i}", timeout_seconds=1.0)
        push(store, f"dead{i}", 40)


def test_slow_neighbours_cost_only_themselves(tmp_path: Path) -> None:
    solo = healthy_p99(tmp_path, "solo", alone)
    slow = healthy_p99(tmp_path, "slow", one_slow)
    dead = healthy_p99(tmp_path, "dead", ten_timing_out)
    print(
        f"\nhealthy p99: alone {solo:.2f} s, one 5 s neighbour {slow:.2f} s, "
        f"ten timing out {dead:.2f} s"
    )
    assert slow <= 2 * solo
    assert dead <= 2 * solo
