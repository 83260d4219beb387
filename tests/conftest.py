"""Shared fixtures: real SQLite files, fresh PostgreSQL databases, loopback receivers, the app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.sandbox.postgres import scratch_postgres_database
from gateway.settings import Settings
from gateway.store import Store, make_engine, migrate, open_store

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ADMIN_KEY = "admin-test-key"


def _postgres_available() -> bool:
    try:
        with create_engine(POSTGRES_ADMIN_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_ok() -> bool:
    ok = _postgres_available()
    if not ok and os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} (CI must run these)")
    return ok


def migrate_database(url: str) -> str:
    """``gateway migrate`` for a test's database: on PostgreSQL the gateway does not migrate by
    itself (CONTRACT §1), so fixtures do it as an operator would."""
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def empty_postgres_url(postgres_ok: bool) -> Iterator[str]:
    """A fresh PostgreSQL database with no schema at all, dropped afterwards."""
    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    with scratch_postgres_database(POSTGRES_ADMIN_URL, "gw_test") as url:
        yield url


@pytest.fixture
def postgres_url(empty_postgres_url: str) -> str:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    return migrate_database(empty_postgres_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/gateway.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


def make_settings(db_url: str, tmp_path: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "GATEWAY_WORKER_IDLE_SECONDS": 0.05,
        "GATEWAY_ENCRYPTION_KEY": "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo=",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    rec = WebhookReceiver()
    with BackgroundServer(rec.app) as server:
        yield rec, server.url


@pytest.fixture
def settings(db_url: str, tmp_path: Any) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as c:
        yield c


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    the_store = open_store(settings)
    yield the_store
    the_store.engine.dispose()


@contextmanager
def runner_client(settings: Settings, store: Store) -> Iterator[TestClient]:
    """The API without worker or scheduler: the tests drive the runners themselves."""
    app = create_app(settings, store=store, run_worker=False, run_scheduler=False)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
        yield client


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[TestClient]:
    """The API without worker or scheduler (tests/api/ overrides ``api`` with its shared app)."""
    with runner_client(settings, store) as client:
        yield client


def task_data(**overrides: Any) -> dict[str, Any]:
    from copy import deepcopy

    from gateway.catalog import catalog

    data = deepcopy(catalog()["task.completed"].example)
    data.update(overrides)
    return data
