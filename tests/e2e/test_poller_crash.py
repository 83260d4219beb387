"""``kill -9`` of ``gateway serve`` while it polls a live 50-task run: exactly 50 events."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.sandbox.simulator import (
    DEFAULT_POPULATION_ID,
    DEFAULT_SKILL_ID,
    DEFAULT_TENANT_ID,
    create_simulator_app,
)
from tests.conftest import ADMIN_KEY
from tests.e2e.test_crash_recovery import free_port, start_serve

SIM_KEY = "sim-crash-key"


def poller_events(db: Path) -> int:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM events WHERE origin = 'poller'")).scalar()
    engine.dispose()
    return int(count or 0)


def test_kill_9_mid_run_yields_exactly_50_events(
    tmp_path: Path, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    sim_app = create_simulator_app(api_key=SIM_KEY, seed=3, task_seconds=(0.3, 1.2))
    with BackgroundServer(sim_app) as sim:
        db = tmp_path / "gateway.db"
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": f"sqlite:///{db}",
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
            "GATEWAY_LEASE_SECONDS": "3",
            "PERSON_API_BASE_URL": sim.url,
            "PERSON_API_KEY": SIM_KEY,
            "PERSON_TENANT_IDS": DEFAULT_TENANT_ID,
            "GATEWAY_POLL_INTERVAL_SECONDS": "0.5",
        }
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        proc = start_serve(env, port, tmp_path)
        try:
            r = httpx.post(
                f"{api}/integrations/destinations",
                headers={"x-api-key": ADMIN_KEY},
                json={
                    "tenantId": DEFAULT_TENANT_ID,
                    "connector": "webhook",
                    "url": f"{url}/tasks",
                    "eventTypes": ["task.completed"],
                },
            )
            assert r.status_code == 201, r.text
            headers = {"x-api-key": SIM_KEY}
            study = httpx.post(
                f"{sim.url}/studies",
                headers=headers,
                json={
                    "tenantId": DEFAULT_TENANT_ID,
                    "populationId": DEFAULT_POPULATION_ID,
                    "skillId": DEFAULT_SKILL_ID,
                    "name": "crash",
                },
            ).json()
            httpx.post(
                f"{sim.url}/studies/{study['id']}/runs",
                headers=headers,
                json={"tenantId": DEFAULT_TENANT_ID, "maxConcurrency": 6},
            ).raise_for_status()
            deadline = time.monotonic() + 30
            while poller_events(db) < 10 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        seen_at_kill = poller_events(db)
        assert 0 < seen_at_kill < 50, "the kill should land mid-run"

        proc = start_serve(env, port, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if (
                    poller_events(db) >= 50
                    and len({g.headers["webhook-id"] for g in rec.on("/tasks")}) >= 50
                ):
                    break
                time.sleep(0.2)
            time.sleep(1.5)  # several more polls: nothing new may appear
            assert poller_events(db) == 50
            assert len({g.headers["webhook-id"] for g in rec.on("/tasks")}) == 50
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
