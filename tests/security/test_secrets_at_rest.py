"""Secrets never in clear: after destinations with every kind of secret (header values,
credentials, signing secret, URL password, a Qualtrics API token) are created, patched and
delivered to, no plaintext is in the SQLite file, its WAL, a ``pg_dump``, the API's answers, the
attempts or the logs; the database password is masked in every log line and in ``serve``'s
start-up line. And migration 0006 seals what older versions stored in clear.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import select
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.secretbox import SecretBox
from gateway.store.engine import make_engine, migrate
from tests.conftest import ADMIN_KEY, make_settings
from tests.delivery.test_worker import wait_delivery

HEADER_SECRET = "hdr-Bearer-6b1f0c2e9a"
HEADER_OTHER = "hdr-tenant-4d7a1c"  # not a "sensitive" name: sealed all the same
URL_PASSWORD = "urlpw-93kd02la7x"
URL_PASSWORD_2 = "urlpw-patched-55ab"
MAKE_API_KEY = "cred-make-key-1f8e2d"
N8N_HEADER_VALUE = "cred-n8n-value-7c6b5a"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"secret-at-rest-test-32-bytes!!!!").decode()
QUALTRICS_TOKEN = "qtok-2b9c8d7e6f"
DB_PASSWORD = "dbpw-Zx81qq70"
PLAINTEXTS = [
    HEADER_SECRET,
    HEADER_OTHER,
    URL_PASSWORD,
    URL_PASSWORD_2,
    MAKE_API_KEY,
    N8N_HEADER_VALUE,
    SIGNING_SECRET,
    QUALTRICS_TOKEN,
]


def with_password(db_url: str) -> str:
    """The PostgreSQL test URL with a password (trust auth ignores it; the logs must not)."""
    return re.sub(r"^(postgresql\+psycopg://)([^:@/]+)@", rf"\1\2:{DB_PASSWORD}@", db_url)


def _create_everything(client: TestClient, url: str) -> list[str]:
    host = url.split("://", 1)[1]
    bodies = [
        {
            "connector": "webhook",
            "url": f"http://hookuser:{URL_PASSWORD}@{host}/w",
            # (aiohttp sends the userinfo as Authorization, so the header secret has its own name)
            "headers": {"X-Api-Token": HEADER_SECRET, "X-Tenant": HEADER_OTHER},
            "secret": SIGNING_SECRET,
        },
        {"connector": "make", "url": f"{url}/m", "credentials": {"apiKey": MAKE_API_KEY}},
        {
            "connector": "n8n",
            "url": f"{url}/n",
            "credentials": {"headerName": "X-N8n-Auth", "headerValue": N8N_HEADER_VALUE},
        },
    ]
    ids = []
    for body in bodies:
        r = client.post(
            "/integrations/destinations",
            json={"tenantId": "t1", "name": "s", "eventTypes": ["task.completed"], **body},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = client.post(
        "/integrations/sources",
        json={
            "tenantId": "t1",
            "kind": "qualtrics",
            "qualtrics": {"baseUrl": "https://acme.qualtrics.example", "apiToken": QUALTRICS_TOKEN},
        },
    )
    assert r.status_code == 201, r.text
    return ids


def _deliver(client: TestClient) -> list[str]:
    from tests.conftest import task_data

    r = client.post(
        "/integrations/events",
        json={"tenantId": "t1", "type": "task.completed", "data": task_data()},
    )
    assert r.status_code == 202, r.text
    ids: list[str] = r.json()["deliveryIds"]
    for delivery_id in ids:
        wait_delivery(client, delivery_id, "succeeded")
    return ids


def _scenario(client: TestClient, rec: WebhookReceiver, url: str) -> None:
    webhook_id, make_id, n8n_id = _create_everything(client, url)
    rec.script("/n", 200)
    deliveries = _deliver(client)
    [sent] = rec.wait_for("/w", 1)
    # what goes on the wire is the real thing: the header, and the userinfo as Basic auth
    basic = base64.b64encode(f"hookuser:{URL_PASSWORD}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {basic}"
    assert sent.headers["x-api-token"] == HEADER_SECRET
    assert sent.headers["x-tenant"] == HEADER_OTHER
    # answers after the create: header values and the URL password masked
    shown = client.get(f"/integrations/destinations/{webhook_id}").json()
    assert shown["headers"] == {"X-Api-Token": "[redacted]", "X-Tenant": "[redacted]"}
    assert shown["url"].startswith("http://hookuser:***@")
    listed = client.get("/integrations/destinations", params={"pageSize": 100}).text
    # a dashboard edit sends back what it was shown: the sealed values stay
    r = client.patch(
        f"/integrations/destinations/{webhook_id}",
        json={"url": shown["url"], "headers": shown["headers"]},
    )
    assert r.status_code == 200, r.text
    # a real change of password is sealed too
    host = url.split("://", 1)[1]
    r = client.patch(
        f"/integrations/destinations/{webhook_id}",
        json={"url": f"http://hookuser:{URL_PASSWORD_2}@{host}/w"},
    )
    assert r.status_code == 200 and URL_PASSWORD_2 not in r.text, r.text
    redelivered = _deliver(client)
    sent_again = rec.wait_for("/w", 2)[-1]
    assert sent_again.headers["x-tenant"] == HEADER_OTHER  # kept through the masked PATCH
    basic = base64.b64encode(f"hookuser:{URL_PASSWORD_2}".encode()).decode()
    assert sent_again.headers["authorization"] == f"Basic {basic}"
    answers = [listed, r.text]
    for delivery_id in deliveries + redelivered:
        answers.append(
            client.get(
                f"/integrations/deliveries/{delivery_id}", params={"includeAttempts": "true"}
            ).text
        )
    answers.append(client.get("/integrations/deliveries.csv").text)
    for answer in answers:
        for plaintext in PLAINTEXTS:
            assert plaintext not in answer
    attempt = client.get(
        f"/integrations/deliveries/{redelivered[0]}", params={"includeAttempts": "true"}
    ).json()["attempts"]
    assert all("@" not in a["requestUrl"] for a in attempt)
    del make_id, n8n_id


def _assert_absent(blob: bytes, where: str) -> None:
    for plaintext in PLAINTEXTS:
        assert plaintext.encode() not in blob, f"{plaintext} found in {where}"


@pytest.fixture
def receiver_app() -> Any:
    from gateway.sandbox.fakes.server import BackgroundServer

    rec = WebhookReceiver()
    with BackgroundServer(rec.app) as server:
        yield rec, server.url


def test_no_secret_in_the_sqlite_file_wal_answers_or_logs(
    tmp_path: Path, receiver_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rec, url = receiver_app
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "gateway.db"
    settings = make_settings(f"sqlite:///{db}", tmp_path)
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as client:
        _scenario(client, rec, url)
        wal = Path(f"{db}-wal")
        assert wal.exists()
        _assert_absent(wal.read_bytes(), "the WAL")
        _assert_absent(db.read_bytes(), "the SQLite file")
    _assert_absent(db.read_bytes(), "the SQLite file after close")
    _assert_absent(caplog.text.encode(), "the logs")


@pytest.mark.postgres
def test_no_secret_in_pg_dump_and_the_db_password_is_masked(
    postgres_url: str, tmp_path: Path, receiver_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rec, url = receiver_app
    caplog.set_level(logging.DEBUG)
    db_url = with_password(postgres_url)
    assert DB_PASSWORD in db_url
    settings = make_settings(db_url, tmp_path)
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as client:
        _scenario(client, rec, url)
        logging.getLogger("gateway.test").warning("connecting to %s", db_url)
        logging.getLogger("gateway.test").error("raw %s", f"password is {DB_PASSWORD}")
    dump = _pg_dump(postgres_url)
    assert "destinations" in dump  # the dump is real
    _assert_absent(dump.encode(), "pg_dump")
    assert DB_PASSWORD not in caplog.text
    assert "connecting to postgresql+psycopg://postgres:***@" in caplog.text
    _assert_absent(caplog.text.encode(), "the logs")


def _pg_dump(db_url: str) -> str:
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    run = subprocess.run(
        ["pg_dump", "--no-owner", plain], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_start_up_line_masks_the_database_password(postgres_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": with_password(postgres_url),
        "GATEWAY_ENCRYPTION_KEY": "x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo=",
        "GATEWAY_AUTO_MIGRATE": "true",
    }
    with socket.socket() as probe:  # a free loopback port for serve to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = ""
    try:
        deadline = time.monotonic() + 120  # a loaded 2-core CI machine: imports + 6 migrations
        while "serving on" not in seen and time.monotonic() < deadline and proc.poll() is None:
            # Raw reads: a buffered readline() can pull several lines into Python's buffer and
            # leave select() waiting on an empty pipe with the banner already read.
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                seen += os.read(proc.stdout.fileno(), 65536).decode(errors="replace")
    finally:
        proc.terminate()
        try:
            rest, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
    output = seen + rest
    assert "serving on" in output, output
    assert DB_PASSWORD not in output
    assert "postgres:***@" in output


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema yet (the ``db_url`` fixture's PostgreSQL is migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/gateway.db"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


def test_migration_0006_seals_what_was_in_clear(unmigrated_db_url: str, tmp_path: Path) -> None:
    """A store written by 0004 with a header value and a URL password in clear, and an attempt
    that recorded both: after the upgrade none of them is stored in clear (the SQLite file and
    WAL, or a pg_dump)."""
    import sqlalchemy as sa

    engine = make_engine(unmigrated_db_url)
    _upgrade_to(engine, "0004")
    meta = sa.MetaData()
    dst = sa.Table("destinations", meta, autoload_with=engine)
    att = sa.Table("attempts", meta, autoload_with=engine)
    old_url = f"https://u:{URL_PASSWORD}@hooks.example/x"
    then = datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(dst).values(
                id="dst_old",
                tenant_id="t1",
                name="o",
                connector="webhook",
                url=old_url,
                event_types=["task.completed"],
                signing="hmac-sha256",
                secrets_enc="x",
                headers={"X-Tenant": HEADER_OTHER},
                timeout_seconds=15.0,
                ordered=False,
                subscription=False,
                status="active",
                version=1,
                created_at=then,
                updated_at=then,
            )
        )
        conn.execute(
            sa.insert(att).values(
                id="att_old",
                delivery_id="dlv_old",
                destination_id="dst_old",
                number=1,
                started_at=then,
                duration_ms=1.0,
                request_url=old_url,
                outcome="success",
                request_headers={"X-Tenant": HEADER_OTHER, "webhook-id": "evt_1"},
            )
        )
    box = SecretBox("x7rV4q3pZ5m2Y0b9P8Kj1QyTn6Ws3Hd2Lc0Fv5Ga8Eo=")
    migrate(engine, box)
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT url, headers, headers_enc, url_userinfo_enc FROM destinations")
        ).one()
        attempt = conn.execute(text("SELECT request_url, request_headers FROM attempts")).one()
    assert row.url == "https://u:***@hooks.example/x"
    assert box.open(row.url_userinfo_enc) == f"u:{URL_PASSWORD}"
    assert box.open(row.headers_enc) == {"X-Tenant": HEADER_OTHER}
    assert attempt.request_url == "https://hooks.example/x"
    headers = attempt.request_headers
    headers = json.loads(headers) if isinstance(headers, str) else headers
    assert headers == {"X-Tenant": "[redacted]", "webhook-id": "evt_1"}
    if unmigrated_db_url.startswith("sqlite"):
        raw = engine.raw_connection()  # outside any transaction: fold the WAL into the file
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        db = Path(unmigrated_db_url.removeprefix("sqlite:///"))
        wal = Path(f"{db}-wal")
        blob = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    else:
        blob = _pg_dump(unmigrated_db_url).encode()
    engine.dispose()
    assert URL_PASSWORD.encode() not in blob and HEADER_OTHER.encode() not in blob


def _upgrade_to(engine: Any, revision: str) -> None:
    from alembic import command

    from gateway.store.engine import _alembic_config

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
