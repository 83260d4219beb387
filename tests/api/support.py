"""Helpers the API contract tests share (CONTRACT §3).

The API tests run many small requests, so each test module opens one app per database (a real
SQLite file, a fresh PostgreSQL database) and isolates its tests by tenant instead of paying a
database and a lifespan per test. Every test takes a fresh tenant id from ``new_tenant``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx import Response
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.sandbox.postgres import scratch_postgres_database
from tests.conftest import (
    ADMIN_KEY,
    POSTGRES_ADMIN_URL,
    make_settings,
    migrate_database,
    task_data,
)

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Nothing listens on the discard port: attempts fail at once with a connect error.
DEAD_URL = "http://127.0.0.1:9/"


@contextmanager
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The database URL for one module: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api')}/gateway.db"
        return
    if not request.getfixturevalue("postgres_ok"):
        pytest.skip("PostgreSQL not reachable")
    with scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_api") as url:
        yield migrate_database(url)


@contextmanager
def admin_client(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(db_url, tmp_path_factory.getbasetemp())
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as client:
        yield client


def anonymous(client: TestClient) -> TestClient:
    """A client on the same (running) app that sends no ``x-api-key``."""
    return TestClient(client.app)


def new_tenant() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def tenant_key(client: TestClient, tenant_id: str) -> dict[str, str]:
    """Headers carrying a fresh tenant key, created by the admin."""
    r = client.post("/integrations/keys", json={"tenantId": tenant_id, "name": "test"})
    assert r.status_code == 201, r.text
    return {"x-api-key": r.json()["key"]}


def assert_error(r: Response, status: int, code: str, *paths: str) -> dict[str, Any]:
    """The contract's error body, with ``details`` naming each of ``paths``."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    named = [d.get("path") for d in error["details"]]
    for path in paths:
        assert path in named, f"{path!r} not in {named}: {error}"
    return dict(error)


def make_destination(
    client: TestClient,
    tenant_id: str,
    url: str = DEAD_URL,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "tenantId": tenant_id,
        "name": "d",
        "connector": "webhook",
        "url": url,
        "eventTypes": ["task.completed"],
        "retrySchedule": [],
        **extra,
    }
    r = client.post("/integrations/destinations", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def post_event(
    client: TestClient, tenant_id: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"tenantId": tenant_id, "type": "task.completed", "data": task_data(), **extra}
    r = client.post("/integrations/events", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return dict(r.json())
