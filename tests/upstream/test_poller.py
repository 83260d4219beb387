"""The person.run poller against the simulator on a real loopback server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.sandbox.simulator import (
    DEFAULT_POPULATION_ID,
    DEFAULT_SKILL_ID,
    DEFAULT_TENANT_ID,
    create_simulator_app,
)
from gateway.store import DeliveryFilter, open_store
from gateway.upstream.poller import Poller, upstream_health
from tests.conftest import ADMIN_KEY, make_settings

SIM_KEY = "sim-key"
TENANT = DEFAULT_TENANT_ID


@pytest.fixture
def simulator() -> Iterator[str]:
    app = create_simulator_app(api_key=SIM_KEY, seed=11, task_seconds=(0.05, 0.4))
    with BackgroundServer(app) as server:
        yield server.url


def start_run(sim: str, concurrency: int = 10) -> str:
    headers = {"x-api-key": SIM_KEY}
    study = httpx.post(
        f"{sim}/studies",
        headers=headers,
        json={
            "tenantId": TENANT,
            "populationId": DEFAULT_POPULATION_ID,
            "skillId": DEFAULT_SKILL_ID,
            "name": "Poller test",
        },
    ).json()
    run = httpx.post(
        f"{sim}/studies/{study['id']}/runs",
        headers=headers,
        json={"tenantId": TENANT, "maxConcurrency": concurrency},
    )
    assert run.status_code in (201, 202), run.text
    return str(study["id"])


def count_events(store: Any) -> int:
    with store.read() as conn:
        from sqlalchemy import text

        return int(conn.execute(text("SELECT count(*) FROM events WHERE origin='poller'")).scalar())


def test_run_of_50_tasks_yields_50_events_and_deliveries(
    db_url: str, tmp_path: Any, simulator: str, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    settings = make_settings(
        db_url,
        tmp_path,
        PERSON_API_BASE_URL=simulator,
        PERSON_API_KEY=SIM_KEY,
        GATEWAY_POLL_INTERVAL_SECONDS=0.5,
    )
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as client:
        r = client.post(
            "/integrations/destinations",
            json={
                "tenantId": TENANT,
                "connector": "webhook",
                "url": f"{url}/tasks",
                "eventTypes": ["task.completed"],
            },
        )
        assert r.status_code == 201
        start_run(simulator)
        got = rec.wait_for("/tasks", 50, timeout=40)
        time.sleep(1.5)  # a few more polls: nothing new may appear
        assert len(rec.on("/tasks")) == 50
        assert len({g.headers["webhook-id"] for g in got}) == 50
        health = client.get("/health").json()
        assert health["checks"]["upstream"]["status"] == "ok"
    store = open_store(settings, run_migrations=False)
    assert count_events(store) == 50
    assert store.list_deliveries(DeliveryFilter(status="succeeded"), page=1, page_size=1)[1] == 50


def test_restarts_and_crashes_neither_skip_nor_repeat(
    db_url: str, tmp_path: Any, simulator: str
) -> None:
    """New pollers (restarts) and a crash between ingest and cursor save, during a live run."""
    settings = make_settings(
        db_url,
        tmp_path,
        PERSON_API_BASE_URL=simulator,
        PERSON_API_KEY=SIM_KEY,
        PERSON_TENANT_IDS=TENANT,
    )
    store = open_store(settings)

    async def scenario() -> None:
        start_run(simulator, concurrency=4)
        deadline = time.monotonic() + 40
        crashed = False
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline and count_events(store) < 50:
                poller = Poller(store, settings, http)  # a fresh process each round
                if not crashed and count_events(store) > 5:
                    real = store.save_cursor

                    def crash(*args: Any, **kwargs: Any) -> None:
                        raise RuntimeError("process died before saving its cursor")

                    store.save_cursor = crash  # type: ignore[method-assign]
                    with pytest.raises(RuntimeError):
                        await poller.poll_tenant(TENANT)
                    store.save_cursor = real  # type: ignore[method-assign]
                    crashed = True
                    continue
                await poller.poll_tenant(TENANT)
                await asyncio.sleep(0.2)
        assert crashed

    asyncio.run(scenario())
    assert count_events(store) == 50
    with store.read() as conn:
        from sqlalchemy import text

        task_ids = conn.execute(text("SELECT id FROM events WHERE origin='poller'")).scalars().all()
    assert len(set(task_ids)) == 50


def test_upstream_errors_delay_but_lose_nothing(db_url: str, tmp_path: Any, simulator: str) -> None:
    settings = make_settings(
        db_url,
        tmp_path,
        PERSON_API_BASE_URL=simulator,
        PERSON_API_KEY=SIM_KEY,
        PERSON_TENANT_IDS=TENANT,
    )
    store = open_store(settings)
    start_run(simulator, concurrency=25)
    time.sleep(1.5)

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            poller = Poller(store, settings, http)
            r = await http.post(
                f"{simulator}/_faults",
                headers={"x-api-key": SIM_KEY},
                json={"mode": "error500", "count": 3},
            )
            assert r.status_code in (200, 201, 204)
            await poller.poll_tenant(TENANT)
            health = upstream_health(store, settings)
            assert health["status"] == "failing"
            assert health["failures"] == 1
            cursor = store.get_cursor(TENANT)
            assert cursor and cursor.backoff_until > store.clock()
            skipped = await poller.poll_tenant(TENANT)  # still backing off
            assert skipped.skipped
            store.save_cursor(TENANT, backoff_until=None)
            await http.post(
                f"{simulator}/_faults",
                headers={"x-api-key": SIM_KEY},
                json={"mode": "throttle429", "count": 1, "retryAfter": 7},
            )
            await poller.poll_tenant(TENANT)
            cursor = store.get_cursor(TENANT)
            assert cursor is not None
            wait = (cursor.backoff_until - store.clock()).total_seconds()
            assert 5 < wait <= 7.5  # Retry-After honoured
            store.save_cursor(TENANT, backoff_until=None)
            await http.delete(f"{simulator}/_faults", headers={"x-api-key": SIM_KEY})
            deadline = time.monotonic() + 30
            while count_events(store) < 50 and time.monotonic() < deadline:
                await poller.poll_tenant(TENANT)
                await asyncio.sleep(0.3)
            assert upstream_health(store, settings)["status"] == "ok"

    asyncio.run(scenario())
    assert count_events(store) == 50
