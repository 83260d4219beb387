"""Helpers for the delivery-engine fault tests: a killable TCP proxy in front of PostgreSQL,
``gateway worker`` subprocesses, seeding and reading the store."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.store import EventIn, Store
from tests.conftest import ADMIN_KEY, task_data

ENCRYPTION_KEY = "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo="


class TcpProxy:
    """A loopback TCP proxy: ``kill()`` drops the listener and every open connection (the
    database is gone, as far as its clients can tell); ``start()`` brings it back on the same
    port. Lets a test take PostgreSQL away from one worker without touching the shared server."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def kill(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            _close(listener)
        for c in conns:
            _close(c)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(upstream)
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


def worker_env(db_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_AUTO_MIGRATE": "true",
        "GATEWAY_WORKER_IDLE_SECONDS": "0.05",
        **extra,
    }


def start_worker(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``gateway worker``, once it says it runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert "running" in line, line
    return proc


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def seed(store: Store, url: str, events: int, **destination: Any) -> tuple[str, set[str]]:
    """One webhook destination and ``events`` events for it; returns its id and the event ids."""
    dst, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": "engine",
            "connector": "webhook",
            "url": url,
            "event_types": ["task.completed"],
            **destination,
        }
    )
    event_ids: set[str] = set()
    for start in range(0, events, 1000):
        results = store.ingest_events(
            [
                EventIn(tenant_id="t1", type="task.completed", data=task_data())
                for _ in range(start, min(events, start + 1000))
            ]
        )
        event_ids.update(r.event_id for r in results)
    return dst.id, event_ids


def count(store: Store, status: str) -> int:
    with store.read() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM deliveries WHERE status = :s"), {"s": status}
            ).scalar_one()
        )


def duplicate_attempt_numbers(store: Store) -> int:
    with store.read() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT delivery_id, number FROM attempts"
                    " GROUP BY delivery_id, number HAVING count(*) > 1) d"
                )
            ).scalar_one()
        )


def sends_twice(rec: WebhookReceiver, path: str) -> int:
    """Deliveries the receiver got more than once (same delivery id)."""
    seen = Counter(r.headers["x-gateway-delivery-id"] for r in rec.on(path))
    return sum(n - 1 for n in seen.values() if n > 1)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")
