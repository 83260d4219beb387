"""Scale-out as the README describes it: `gateway serve` + `gateway worker` on one PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from gateway.sandbox.fakes.webhook import Script, WebhookReceiver
from tests.conftest import ADMIN_KEY, task_data
from tests.e2e.test_crash_recovery import free_port, start_serve

EVENTS = 300


@pytest.mark.postgres
def test_serve_and_worker_together_send_each_delivery_once(
    postgres_url: str, tmp_path: Path, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    for _ in range(EVENTS):
        rec.script("/scale", Script(200, delay=0.05))
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": postgres_url,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_ENCRYPTION_KEY": "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo=",
        "GATEWAY_WORKER_BATCH_SIZE": "10",
        "GATEWAY_DESTINATION_CONCURRENCY": "8",
    }
    port = free_port()
    serve = start_serve(env, port, tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        api = f"http://127.0.0.1:{port}"
        headers = {"x-api-key": ADMIN_KEY}
        r = httpx.post(
            f"{api}/integrations/destinations",
            headers=headers,
            json={
                "tenantId": "t1",
                "connector": "webhook",
                "url": f"{url}/scale",
                "eventTypes": ["task.completed"],
            },
        )
        assert r.status_code == 201, r.text
        time.sleep(1.0)  # the worker process is up and claiming
        events = [{"tenantId": "t1", "type": "task.completed", "data": task_data()}] * EVENTS
        r = httpx.post(
            f"{api}/integrations/events", headers=headers, json={"events": events}, timeout=30
        )
        assert r.status_code == 202
        rec.wait_for("/scale", EVENTS, timeout=60)
        time.sleep(0.5)
        sent = Counter(g.headers["x-gateway-delivery-id"] for g in rec.on("/scale"))
        assert len(sent) == EVENTS and max(sent.values()) == 1
        health = httpx.get(f"{api}/health").json()
        assert health["checks"]["scheduler"]["status"] == "ok"
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    assert "worker" in out and "running" in out
    assert worker.returncode == 0
