"""A database outage (CONTRACT §3): 503 ``store_unavailable`` with ``Retry-After``, nothing
half-written, and service again once the database is back. Against a real PostgreSQL made
unreachable (connections refused and the open ones terminated), not a mock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.store import tables
from gateway.store.engine import normalise_url
from tests.api.support import assert_error
from tests.conftest import ADMIN_KEY, POSTGRES_ADMIN_URL, make_settings, task_data

pytestmark = pytest.mark.postgres


class Outage:
    """Switches one database off and on: no new connections, and every open one terminated."""

    def __init__(self, url: str) -> None:
        self.name = url.rsplit("/", 1)[1]
        self.admin: Engine = create_engine(
            normalise_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT"
        )

    def start(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": self.name},
            )

    def end(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


@pytest.fixture
def outage(postgres_url: str) -> Iterator[Outage]:
    o = Outage(postgres_url)
    try:
        yield o
    finally:
        o.end()
        o.admin.dispose()


def counts(url: str) -> tuple[int, int]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            events = conn.execute(select(func.count()).select_from(tables.events)).scalar()
            deliveries = conn.execute(select(func.count()).select_from(tables.deliveries)).scalar()
        return int(events or 0), int(deliveries or 0)
    finally:
        engine.dispose()


def test_writes_and_reads_answer_503_while_the_database_is_down(
    postgres_url: str,
    outage: Outage,
    tmp_path: Path,
    receiver: tuple[WebhookReceiver, str],
) -> None:
    rec, url = receiver
    settings = make_settings(postgres_url, tmp_path)
    app = create_app(settings)  # worker and scheduler too: they must outlive the outage
    event = {"tenantId": "t_out", "type": "task.completed", "data": task_data()}
    destination = {
        "tenantId": "t_out",
        "name": "d",
        "connector": "webhook",
        "url": f"{url}/out",
        "eventTypes": ["task.completed"],
    }
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
        r = client.post("/integrations/destinations", json=destination)
        assert r.status_code == 201, r.text
        assert client.post("/integrations/events", json=event).status_code == 202
        rec.wait_for("/out", 1)
        before = counts(postgres_url)
        assert before == (1, 1)

        outage.start()
        calls = [
            ("POST", "/integrations/events", event),
            ("POST", "/integrations/events", {"events": [event, event]}),
            ("POST", "/integrations/destinations", destination),
            ("GET", "/integrations/deliveries", None),
            ("GET", "/integrations/destinations", None),
            ("POST", "/integrations/keys", {"tenantId": "t_out", "name": "k"}),
        ]
        for method, path, body in calls:
            r = client.request(method, path, json=body)
            error = assert_error(r, 503, "store_unavailable")
            assert r.headers["retry-after"].isdigit(), r.headers
            assert "password" not in error["message"] and "psycopg" not in error["message"]
        health = client.get("/health", headers={"x-api-key": ""})
        assert health.status_code == 503
        assert health.json()["checks"]["database"] == {"status": "failing"}

        outage.end()
        assert counts(postgres_url) == before  # nothing half-written
        r = client.post("/integrations/events", json=event)  # the pool reconnects by itself
        assert r.status_code == 202, r.text
        assert counts(postgres_url) == (2, 2)
        rec.wait_for("/out", 2)  # and the worker delivers again


def test_serve_refuses_to_start_on_an_unreachable_database(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        # A port nothing listens on (discard): connection refused at once.
        "GATEWAY_DATABASE_URL": "postgresql+psycopg://postgres:hunter2@127.0.0.1:9/gw",
        "GATEWAY_ENCRYPTION_KEY": make_settings("sqlite://", tmp_path).encryption_key or "",
    }
    for command in (["migrate"], ["worker"], ["keys", "list"]):
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "hunter2" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
