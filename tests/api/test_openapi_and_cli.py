"""The private OpenAPI document matches the routes; ``gateway verify`` as a consumer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway import signing
from gateway.api import all_routes
from gateway.api.openapi import build_document

UNDOCUMENTED = {"/integrations/openapi.json", "/integrations/stats/destinations"}


def test_openapi_document_covers_every_operator_route(api: TestClient) -> None:
    r = api.get("/integrations/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    served = {
        (method.lower(), route.path)
        for route in all_routes()
        if isinstance(route, Route) and route.path.startswith("/integrations/")
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented <= served  # nothing documented that does not exist
    missing = {(m, p) for m, p in served - documented if p not in UNDOCUMENTED}
    assert missing == set()
    create = doc["paths"]["/integrations/destinations"]["post"]["requestBody"]
    ref = create["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props = doc["components"]["schemas"][ref]["properties"]
    assert {"tenantId", "eventTypes", "retrySchedule", "outputSchema"} <= set(props)


def test_openapi_needs_a_key(api: TestClient) -> None:
    assert api.get("/integrations/openapi.json", headers={"x-api-key": "nope"}).status_code == 401
    assert build_document() is build_document()  # built once


def run_verify(
    body: bytes, headers: dict[str, str], secret: str
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "gateway.cli", "verify", "--secret", secret]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    return subprocess.run(
        args, input=body.decode(), capture_output=True, text=True, timeout=60, env={**os.environ}
    )


@pytest.mark.parametrize(
    "tamper,code",
    [
        (False, 0),  # as sent: valid
        (True, 1),  # one byte changed: invalid
    ],
)
def test_gateway_verify_cli(tamper: bool, code: int) -> None:
    secret = signing.generate_secret()
    body = b'{"id":"evt_1","type":"task.completed","data":{}}'
    headers = signing.signature_headers("evt_1", int(time.time()), body, [secret])
    sent = body.replace(b"evt_1", b"evt_2") if tamper else body
    result = run_verify(sent, headers, secret)
    assert result.returncode == code, result.stderr
    assert ("valid" in result.stdout) if code == 0 else ("invalid" in result.stderr)


def test_gateway_verify_cli_v1a() -> None:
    private, public = signing.generate_ed25519_keypair()
    body = b'{"x":1}'
    headers = signing.signature_headers("evt_9", int(time.time()), body, [private])
    assert run_verify(body, headers, public).returncode == 0


def test_non_ascii_key_is_401_not_500(api: TestClient) -> None:
    # Sent as raw bytes, as curl does with a mis-pasted key.
    r = api.get("/integrations/deliveries", headers={"x-api-key": "pgw_\u00e9\u00e8".encode()})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
