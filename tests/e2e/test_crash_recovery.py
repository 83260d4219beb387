"""``kill -9`` of ``gateway serve`` mid-flight, then a restart: nothing lost, nothing stuck."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.sandbox.fakes.webhook import Script, WebhookReceiver
from gateway.settings import Settings
from gateway.store import DeliveryFilter, open_store
from tests.conftest import ADMIN_KEY, task_data

EVENTS = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(
        f"gateway serve did not come up: {proc.stderr.read() if proc.stderr else ''}"
    )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_9_then_restart_delivers_everything(
    backend: str,
    tmp_path: Path,
    receiver: tuple[WebhookReceiver, str],
    request: pytest.FixtureRequest,
) -> None:
    rec, url = receiver
    db_url = (
        f"sqlite:///{tmp_path}/gateway.db"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    for _ in range(EVENTS):  # slow answers keep many deliveries in flight when the kill lands
        rec.script("/crash", Script(200, delay=0.4))
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_LEASE_SECONDS": "3",
        "GATEWAY_DESTINATION_CONCURRENCY": "16",
        "GATEWAY_ENCRYPTION_KEY": "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo=",
    }
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    headers = {"x-api-key": ADMIN_KEY}
    proc = start_serve(env, port, tmp_path)
    try:
        r = httpx.post(
            f"{api}/integrations/destinations",
            headers=headers,
            json={
                "tenantId": "t1",
                "connector": "webhook",
                "url": f"{url}/crash",
                "eventTypes": ["task.completed"],
                "retrySchedule": [1, 1, 1],
            },
        )
        assert r.status_code == 201, r.text
        events = [
            {"tenantId": "t1", "type": "task.completed", "data": task_data()} for _ in range(EVENTS)
        ]
        r = httpx.post(
            f"{api}/integrations/events", headers=headers, json={"events": events}, timeout=30
        )
        assert r.status_code == 202, r.text
        event_ids = {item["eventId"] for item in r.json()["results"]}
        rec.wait_for("/crash", 10, timeout=20)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    store = open_store(
        Settings(GATEWAY_DATABASE_URL=db_url, GATEWAY_ENCRYPTION_KEY=env["GATEWAY_ENCRYPTION_KEY"]),
        run_migrations=False,
    )
    _, stuck = store.list_deliveries(DeliveryFilter(status="sending"), page=1, page_size=1)
    assert stuck > 0, "the kill should land while deliveries are in flight"
    assert len(rec.on("/crash")) < EVENTS

    proc = start_serve(env, port, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = {r.headers["webhook-id"] for r in rec.on("/crash")}
            if got >= event_ids:
                break
            time.sleep(0.2)
        assert {r.headers["webhook-id"] for r in rec.on("/crash")} >= event_ids
        time.sleep(1.0)
        counts: dict[str, Any] = {}
        for status in ("sending", "pending", "succeeded", "failed"):
            counts[status] = store.list_deliveries(
                DeliveryFilter(status=status), page=1, page_size=1
            )[1]
        assert counts["sending"] == 0 and counts["pending"] == 0, counts
        assert counts["succeeded"] == EVENTS, counts
        # At least once: a delivery in flight at the kill may arrive twice, same webhook-id.
        dupes = Counter(r.headers["webhook-id"] for r in rec.on("/crash"))
        assert max(dupes.values()) <= 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
