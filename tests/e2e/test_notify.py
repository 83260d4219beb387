"""LISTEN/NOTIFY: intake in one process wakes a `gateway worker` in another, at once.

The worker runs with an idle poll far longer than any wait here (GATEWAY_WORKER_IDLE_SECONDS =
600), so a delivery that arrives was claimed because the intake's NOTIFY woke it, not because it
polled. Its listening connection is then killed on the server (``pg_terminate_backend``, as a
restart would): the worker must stay up, listen again, and be woken the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.store import EventIn, Store, open_store
from gateway.store.notify import APPLICATION_NAME
from tests.conftest import make_settings, task_data
from tests.e2e.engine_support import ENCRYPTION_KEY

IDLE_SECONDS = 600  # the worker's poll: never reached in this test
WAIT_SECONDS = 30  # how long a woken worker may take (claim + send + record) on a busy machine
QUIET_SECONDS = 2.0  # let the worker's start-up claims finish, so it sits in its idle wait


def listener_pids(store: Store) -> set[int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": APPLICATION_NAME},
        ).all()
    return {int(r.pid) for r in rows}


def wait_for_listener(store: Store, worker: subprocess.Popen[str], other_than: set[int]) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker exited"
        fresh = listener_pids(store) - other_than
        if fresh:
            return fresh.pop()
        time.sleep(0.1)
    raise AssertionError("the worker never listened")


def post_event(store: Store) -> None:
    store.ingest_events([EventIn(tenant_id="t1", type="task.completed", data=task_data())])


@pytest.mark.postgres
@pytest.mark.slow
def test_intake_wakes_a_worker_process_and_survives_a_killed_listener(
    postgres_url: str, tmp_path: Path, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    settings = make_settings(postgres_url, tmp_path)
    store = open_store(settings)
    store.create_destination(
        {
            "tenant_id": "t1",
            "name": "woken",
            "connector": "webhook",
            "url": f"{url}/woken",
            "event_types": ["task.completed"],
        }
    )
    env: dict[str, Any] = {
        **os.environ,
        "GATEWAY_DATABASE_URL": postgres_url,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_WORKER_IDLE_SECONDS": str(IDLE_SECONDS),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = wait_for_listener(store, worker, set())
        time.sleep(QUIET_SECONDS)
        post_event(store)
        rec.wait_for("/woken", 1, timeout=WAIT_SECONDS)

        with store.engine.connect() as conn:  # the server drops the listener's connection
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        second = wait_for_listener(store, worker, {first})
        assert second != first
        time.sleep(QUIET_SECONDS)
        post_event(store)
        rec.wait_for("/woken", 2, timeout=WAIT_SECONDS)
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=60)
        store.engine.dispose()
    assert worker.returncode == 0, out
    assert "reconnecting" in out  # the lost connection was noticed and said so, in one line
