"""`GATEWAY_WORKER_PROCESSES`: `gateway serve` stays one command and runs its worker subprocesses.

They deliver beside serve's own worker (each delivery once), stop with serve's SIGTERM (exit 0),
and die with serve on a ``kill -9`` (no orphan keeps sending to a database nobody serves).
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from gateway.sandbox.fakes.webhook import Script, WebhookReceiver
from tests.conftest import ADMIN_KEY, task_data
from tests.e2e.engine_support import ENCRYPTION_KEY
from tests.e2e.test_crash_recovery import free_port, start_serve

EVENTS = 200
WAIT_SECONDS = 60


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux ``/proc``)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise AssertionError(what)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_serve_runs_worker_processes_that_stop_and_die_with_it(
    tmp_path: Path, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    for _ in range(EVENTS):
        rec.script("/procs", Script(200, delay=0.02))
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db",
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_WORKER_PROCESSES": "2",
    }
    port = free_port()
    serve = start_serve(env, port, tmp_path)
    try:
        wait_until(lambda: len(children(serve.pid)) == 2, "serve did not start 2 workers")
        workers = children(serve.pid)
        api = f"http://127.0.0.1:{port}"
        headers = {"x-api-key": ADMIN_KEY}
        r = httpx.post(
            f"{api}/integrations/destinations",
            headers=headers,
            json={
                "tenantId": "t1",
                "connector": "webhook",
                "url": f"{url}/procs",
                "eventTypes": ["task.completed"],
            },
        )
        assert r.status_code == 201, r.text
        events = [{"tenantId": "t1", "type": "task.completed", "data": task_data()}] * EVENTS
        r = httpx.post(
            f"{api}/integrations/events", headers=headers, json={"events": events}, timeout=30
        )
        assert r.status_code == 202
        rec.wait_for("/procs", EVENTS, timeout=WAIT_SECONDS)
        sent = Counter(g.headers["x-gateway-delivery-id"] for g in rec.on("/procs"))
        assert len(sent) == EVENTS and max(sent.values()) == 1
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=WAIT_SECONDS)
    assert serve.returncode == 0
    assert not any(alive(pid) for pid in workers)  # stopped with serve, not left behind

    serve = start_serve(env, port, tmp_path)
    try:
        wait_until(lambda: len(children(serve.pid)) == 2, "serve did not start 2 workers")
        workers = children(serve.pid)
    finally:
        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=WAIT_SECONDS)
    wait_until(lambda: not any(alive(pid) for pid in workers), "a worker outlived kill -9")
