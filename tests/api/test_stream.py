"""``GET /integrations/stream`` (Server-Sent Events) on a real uvicorn: order, tenants, resume."""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.settings import Settings
from gateway.store import open_store
from tests.conftest import ADMIN_KEY, task_data

Receiver = tuple[WebhookReceiver, str]
Event = dict[str, Any]


class SseClient:
    """Reads an SSE stream over a plain socket on a thread (so ``close`` really hangs up, as a
    closing browser tab does); ``take_until`` waits for parsed events with a deadline."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {target} HTTP/1.0",
            f"Host: {parts.netloc}",
            "Accept: text/event-stream",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.sock.settimeout(0.1)
        self.status: int | None = None
        self.seen: list[Event] = []
        self._queue: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._connected.wait(10), "stream did not open"

    def _run(self) -> None:
        buffer = b""
        try:
            while not self._stop.is_set():
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buffer += chunk
                if self.status is None and b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.status = int(head.split(b" ", 2)[1])
                    self._connected.set()
                while self.status is not None and b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._parse(block.decode())
        finally:
            self._connected.set()
            self.sock.close()

    def _parse(self, block: str) -> None:
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if "data" in fields:
            self._queue.put(
                {
                    "id": int(fields["id"]),
                    "event": fields.get("event"),
                    **json.loads(fields["data"]),
                }
            )

    def take_until(self, done: Callable[[list[Event]], bool], timeout: float = 20.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"stream: condition not met; saw {self.seen}")
            try:
                self.seen.append(self._queue.get(timeout=min(left, 0.2)))
            except queue.Empty:
                continue
        return self.seen

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with BackgroundServer(create_app(settings)) as srv:
        yield srv.url


def admin() -> dict[str, str]:
    return {"x-api-key": ADMIN_KEY}


def tenant_key(base: str, tenant: str) -> str:
    r = httpx.post(f"{base}/integrations/keys", headers=admin(), json={"tenantId": tenant})
    return str(r.json()["key"])


def destination(base: str, tenant: str, url: str, **extra: Any) -> dict[str, Any]:
    r = httpx.post(
        f"{base}/integrations/destinations",
        headers=admin(),
        json={
            "tenantId": tenant,
            "name": tenant,
            "connector": "webhook",
            "url": url,
            "eventTypes": ["task.completed"],
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def post_event(base: str, tenant: str) -> str:
    r = httpx.post(
        f"{base}/integrations/events",
        headers=admin(),
        json={"tenantId": tenant, "type": "task.completed", "data": task_data()},
    )
    [delivery_id] = r.json()["deliveryIds"]
    return str(delivery_id)


def statuses(events: list[Event], delivery_id: str) -> list[str]:
    return [e["status"] for e in events if e["deliveryId"] == delivery_id]


def reached(delivery_id: str, status: str) -> Callable[[list[Event]], bool]:
    return lambda events: status in statuses(events, delivery_id)


def test_each_change_in_order_and_only_the_tenants_own(server: str, receiver: Receiver) -> None:
    rec, url = receiver
    rec.script("/t1", 500, 200)
    destination(server, "t1", f"{url}/t1", retrySchedule=[0.3])
    destination(server, "t2", f"{url}/t2")
    key1, key2 = tenant_key(server, "t1"), tenant_key(server, "t2")
    # t1 authenticates as a browser's EventSource must (query parameter), t2 with the header.
    one = SseClient(f"{server}/integrations/stream?apiKey={key1}")
    two = SseClient(f"{server}/integrations/stream", {"x-api-key": key2})
    try:
        assert one.status == 200 and two.status == 200
        mine, theirs = post_event(server, "t1"), post_event(server, "t2")
        got_one = one.take_until(reached(mine, "succeeded"))
        got_two = two.take_until(reached(theirs, "succeeded"))
        assert statuses(got_one, mine) == ["pending", "sending", "pending", "sending", "succeeded"]
        assert statuses(got_two, theirs) == ["pending", "sending", "succeeded"]
        time.sleep(0.6)  # anything else would have arrived by now
        one.take_until(lambda _: True)
        assert {e["tenantId"] for e in one.seen} == {"t1"}
        assert {e["tenantId"] for e in two.seen} == {"t2"}
        for events in (one.seen, two.seen):
            assert [e["id"] for e in events] == sorted({e["id"] for e in events})  # ordered, once
            assert {e["event"] for e in events} == {"delivery"}
        last = got_one[-1]
        assert last["attemptCount"] == 2 and last["eventType"] == "task.completed"
    finally:
        one.close()
        two.close()


def test_last_event_id_resumes_without_gaps(
    server: str,
    receiver: Receiver,
    settings: Settings,
) -> None:
    _, url = receiver
    destination(server, "t1", f"{url}/ok")
    destination(server, "t2", f"{url}/other")
    first = SseClient(f"{server}/integrations/stream?tenantId=t1", admin())
    delivery = post_event(server, "t1")
    seen = first.take_until(reached(delivery, "succeeded"))
    first.close()
    last_id = seen[-1]["id"]
    missed = [post_event(server, "t1"), post_event(server, "t2"), post_event(server, "t1")]
    for delivery_id in missed:
        _wait_succeeded(server, delivery_id)
    resumed = SseClient(
        f"{server}/integrations/stream?tenantId=t1", {**admin(), "Last-Event-ID": str(last_id)}
    )
    try:
        more = resumed.take_until(
            lambda ev: reached(missed[0], "succeeded")(ev) and reached(missed[2], "succeeded")(ev)
        )
    finally:
        resumed.close()
    assert more[0]["id"] > last_id
    store = open_store(settings)
    everything = store.changes_after(0, upto=10**9, tenant_id="t1")
    store.engine.dispose()
    assert [e["id"] for e in seen + more] == [c.seq for c in everything]  # no gap, no repeat
    assert missed[1] not in {e["deliveryId"] for e in more}


def test_key_is_required_and_kept_out_of_the_access_log(settings: Settings) -> None:
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    access = logging.getLogger("uvicorn.access")
    handler, level = Capture(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=True,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/integrations/stream").status_code == 401
        assert httpx.get(f"{base}/integrations/stream?apiKey=wrong").status_code == 401
        key = tenant_key(base, "t1")
        stream = SseClient(f"{base}/integrations/stream?apiKey={key}&tenantId=t1")
        stream.close()
        other = httpx.get(f"{base}/integrations/stream?apiKey={key}&tenantId=t2")
        assert other.status_code == 404  # another tenant's changes are not there to see
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        access.removeHandler(handler)
        access.setLevel(level)
    streamed = [r for r in records if "/integrations/stream" in r]
    assert len(streamed) >= 3, records
    assert all("wrong" not in r and key not in r for r in streamed), streamed
    assert any("tenantId=t1" in r for r in streamed)


def test_a_revoked_key_ends_its_open_stream(server: str) -> None:
    key = tenant_key(server, "t1")
    stream = SseClient(f"{server}/integrations/stream", {"x-api-key": key})
    try:
        assert stream.status == 200
        key_id = httpx.get(f"{server}/hooks/me", headers={"x-api-key": key}).json()["keyId"]
        revoked = httpx.delete(f"{server}/integrations/keys/{key_id}", headers=admin())
        assert revoked.status_code == 204
        stream._thread.join(timeout=5)  # the server hangs up: the reader thread ends
        assert not stream._thread.is_alive()
        again = httpx.get(f"{server}/integrations/stream", headers={"x-api-key": key})
        assert again.status_code == 401
    finally:
        stream.close()


def _wait_succeeded(base: str, delivery_id: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{base}/integrations/deliveries/{delivery_id}", headers=admin()).json()
        if body["status"] == "succeeded":
            return
        time.sleep(0.05)
    raise AssertionError(f"{delivery_id} did not succeed")
