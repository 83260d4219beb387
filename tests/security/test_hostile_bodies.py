"""Hostile bodies on every route (CONTRACT §3: bad input is a 4xx, never a 500; 413 past limits).

The routes are read from the app itself, so a route added later is covered without editing this
file. Path parameters are filled with real ids (a destination, a delivery, a replay, a source), so
each body reaches the code that reads it rather than a 404.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.payload import MAX_DEPTH
from tests.api.support import DEAD_URL, assert_error, make_destination, new_tenant, post_event
from tests.conftest import ADMIN_KEY, make_settings, task_data

MAX_REQUEST = 64 * 1024  # small limits in-process, so "oversized" costs nothing
MAX_EVENT = 8 * 1024


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


# Bodies no JSON route may accept, each with why. Every one must answer 4xx.
UNUSABLE: list[tuple[str, bytes]] = [
    ("10,000 levels", b"[" * 10_000 + b"]" * 10_000),
    ("300 levels", json.dumps(nested(300)).encode()),
    ("65 levels", json.dumps(nested(MAX_DEPTH)).encode()),  # an object around 64 = 65
    ("big integer", b'{"tenantId": 123456789012345678901234567890}'),
    ("NaN", b'{"tenantId": NaN}'),
    ("Infinity", b'{"name": Infinity}'),
    ("-Infinity", b'{"name": -Infinity}'),
    ("1e999", b'{"name": 1e999}'),
    ("invalid UTF-8", b'{"name": "\xff\xfe\xfa"}'),
    ("lone surrogate", b'{"name": "\\ud800"}'),
    ("NUL", b'{"name": "a\\u0000"}'),
    ("truncated", b'{"name": '),
]
# Bodies that are JSON but the wrong shape: 4xx on JSON routes, and never 5xx anywhere.
ODD: list[tuple[str, bytes]] = [
    ("array", b"[]"),
    ("string", b'"x"'),
    ("null", b"null"),
    ("number", b"12"),
    ("empty object", b"{}"),
    ("wrong types", b'{"tenantId": [], "name": {}, "events": "x", "url": 7, "eventTypes": 1}'),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("hostile")
    settings = make_settings(
        f"sqlite:///{tmp}/gateway.db",
        tmp,
        GATEWAY_MAX_REQUEST_BYTES=MAX_REQUEST,
        GATEWAY_MAX_EVENT_BYTES=MAX_EVENT,
    )
    app = create_app(settings, run_worker=False, run_scheduler=False)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
        tenant = new_tenant()
        dst = make_destination(client, tenant, DEAD_URL)
        event = post_event(client, tenant)
        replay = client.post(
            "/integrations/replays", json={"tenantId": tenant, "since": "2020-01-01T00:00:00Z"}
        )
        source = client.post("/integrations/sources", json={"tenantId": tenant, "kind": "typeform"})
        assert replay.status_code == 202 and source.status_code == 201, (replay.text, source.text)
        ids = {
            "id": dst["id"],
            "platform": "zapier",
            "event_type": "task.completed",
            "kind": "typeform",
            "source_id": source.json()["sourceId"],
        }
        yield {
            "client": client,
            "app": app,
            "tenant": tenant,
            "ids": ids,
            "delivery": event["deliveryIds"][0],
            "replay": replay.json()["replayId"],
        }


def concrete_routes(world: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (method, path) of the app with its parameters filled with real ids."""
    out = []
    for route in world["app"].routes:
        if not isinstance(route, Route):
            continue
        path = route.path
        ids = dict(world["ids"])
        if path.startswith("/integrations/deliveries/"):
            ids["id"] = world["delivery"]
        elif path.startswith("/integrations/replays/"):
            ids["id"] = world["replay"]
        elif path.startswith("/integrations/keys/") or path.startswith("/hooks/"):
            ids["id"] = "key_unknown"
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", ids[name]).replace(
                "{" + name + ":str}", ids[name]
            )
        for method in sorted(route.methods or []):
            if method != "HEAD" and "{" not in path:
                out.append((method, path))
    return out


def body_routes(world: dict[str, Any]) -> list[tuple[str, str]]:
    # DELETE routes read no body; everything that may is POST or PATCH.
    return [(m, p) for m, p in concrete_routes(world) if m in ("POST", "PATCH")]


def test_every_route_is_exercised(world: dict[str, Any]) -> None:
    routes = body_routes(world)
    assert len(routes) >= 14, routes  # the table below really covers the surface
    assert ("POST", "/integrations/events") in routes
    assert any(p.startswith("/ingest/typeform/src_") for _, p in routes)


def test_unusable_bodies_answer_4xx_on_every_route(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    seen: dict[int, int] = {}
    for method, path in body_routes(world):
        for why, body in UNUSABLE + ODD:
            r = client.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
            assert r.status_code < 500, (method, path, why, r.text)
            if (why, body) in UNUSABLE and r.status_code < 400:
                # Only routes that read no body at all may say yes to these.
                assert path.endswith(("/rotate-secret", "/enable", "/replay", "/cancel")), (
                    method,
                    path,
                    why,
                    r.status_code,
                )
    assert 500 not in seen


def test_unusable_json_names_the_path(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    tenant = world["tenant"]
    cases = [
        (nested(300), "data" + ".a" * (MAX_DEPTH - 1)),  # data is level 2
        ({"n": 2**64}, "data.n"),
        ({"n": float("nan")}, "data.n"),
    ]
    for data, path in cases:
        body = json.dumps({"tenantId": tenant, "type": "task.completed", "data": data})
        r = client.post("/integrations/events", content=body.encode())
        error = assert_error(r, 422, "validation_error", path)
        assert path in error["message"] or error["details"][0]["path"] == path


def test_nan_is_refused_not_stored_as_null(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    body = b'{"id": "evt_nan_1", "type": "task.completed", "data": {"score": NaN}}'
    body = body.replace(b'"type"', f'"tenantId": "{world["tenant"]}", "type"'.encode())
    assert_error(client.post("/integrations/events", content=body), 422, "validation_error")
    r = client.get("/integrations/events/evt_nan_1", params={"tenantId": world["tenant"]})
    assert_error(r, 404, "not_found")


def test_a_bad_batch_item_fails_alone(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    tenant = world["tenant"]
    good = {"tenantId": tenant, "type": "task.completed", "data": task_data()}
    items = [
        good,
        {**good, "data": nested(200)},
        {**good, "data": {**task_data(), "huge": "x" * (MAX_EVENT + 1)}},
        {**good, "data": {**task_data(), "n": 2**70}},
        good,
    ]
    r = client.post("/integrations/events", json={"events": items})
    assert r.status_code == 202, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [
        "created",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    assert results[1]["error"]["code"] == "validation_error"
    assert results[2]["error"]["code"] == "payload_too_large"
    assert results[2]["error"]["details"][0]["path"] == "data"
    assert results[3]["error"]["details"][0]["path"] == "data.n"


def test_event_data_over_the_event_limit_is_413(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    data = {**task_data(), "blob": "x" * MAX_EVENT}
    r = client.post(
        "/integrations/events",
        json={"tenantId": world["tenant"], "type": "task.completed", "data": data},
    )
    assert_error(r, 413, "payload_too_large", "data")
    assert "GATEWAY_MAX_EVENT_BYTES" in r.json()["error"]["message"]


def test_oversized_bodies_answer_413_on_every_route(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    body = b"x" * (MAX_REQUEST + 1)
    routes = concrete_routes(world) + [("POST", "/no/such/route")]
    for method, path in routes:
        r = client.request(method, path, content=body)
        assert_error(r, 413, "payload_too_large")
        assert r.headers["connection"] == "close"
    # The limit itself is accepted by the limit (the route then judges it).
    r = client.post("/integrations/events", content=b" " * MAX_REQUEST)
    assert r.status_code == 422


def test_a_chunked_body_is_cut_off_at_the_limit(world: dict[str, Any]) -> None:
    """No Content-Length: the bytes are counted as they arrive."""
    client: TestClient = world["client"]
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(4 * MAX_REQUEST // 1024):
            sent += 1024
            yield b" " * 1024

    for path in ("/integrations/events", f"/ingest/typeform/{world['ids']['source_id']}"):
        r = client.post(path, content=chunks())
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "payload_too_large")


def test_nul_in_a_query_or_path_is_422(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    assert_error(client.get("/integrations/deliveries?tenantId=a%00b"), 422, "validation_error")
    assert_error(client.get("/integrations/destinations/dst%00x"), 422, "validation_error")


# ---- a real server: 20 requests of 50 MB, all 413, RSS bounded --------------------------------

UPLOAD_BYTES = 50 * 1024 * 1024
RSS_LIMIT_KB = 250 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def upload(port: int, path: str, chunked: bool) -> tuple[int, int]:
    """POST 50 MB of JSON-ish bytes, the way a client that does not wait would: it keeps sending
    until the server answers or hangs up. Returns (status, bytes sent)."""
    chunk = memoryview(b" " * (256 * 1024))
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    head += f"x-api-key: {ADMIN_KEY}\r\n"  # authenticated: the route really reads the body
    head += "transfer-encoding: chunked\r\n" if chunked else f"content-length: {UPLOAD_BYTES}\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall((head + "\r\n").encode())
        try:
            while sent < UPLOAD_BYTES:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server has answered: a real client stops here too
                if chunked:
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                else:
                    sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while b"\r\n" not in reply:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except ConnectionResetError:
            pass
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    return status, sent


@pytest.mark.slow
def test_fifty_megabyte_uploads_are_refused_with_bounded_memory(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db",
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ENCRYPTION_KEY": make_settings("sqlite://", tmp_path).encryption_key or "",
    }
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
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving on" in line, line
        deadline = time.monotonic() + 20
        while True:  # "serving on" is printed before uvicorn binds: wait for the port
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not bind"
                time.sleep(0.05)
        source = _make_source(port)
        baseline = rss_kb(proc.pid, "VmRSS")
        paths = ["/integrations/events", f"/ingest/typeform/{source}"]
        started = time.monotonic()
        results = []
        for i in range(20):
            status, sent = upload(port, paths[i % 2], chunked=i % 4 >= 2)
            results.append((status, sent))
        elapsed = time.monotonic() - started
        peak = rss_kb(proc.pid, "VmHWM")
        print(
            f"\n20 x 50 MB uploads: {elapsed:.1f} s; server RSS {baseline // 1024} MiB at start, "
            f"peak {peak // 1024} MiB; bytes sent per request "
            f"{min(s for _, s in results) // 1024} to {max(s for _, s in results) // 1024} KiB"
        )
        assert [s for s, _ in results] == [413] * 20, results
        assert peak < RSS_LIMIT_KB, f"peak RSS {peak} kB"
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _make_source(port: int) -> str:
    import httpx

    r = httpx.post(
        f"http://127.0.0.1:{port}/integrations/sources",
        json={"tenantId": "t_rss", "kind": "typeform", "secret": "s"},
        headers={"x-api-key": ADMIN_KEY},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["sourceId"])
