"""Erasure: the bytes of an erased event are gone from every table, the SQLite file and its WAL,
and a ``pg_dump``; another event's bytes stay. Match erasures are durable jobs with an audit row."""

from __future__ import annotations

import subprocess
import time
import uuid
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.adapters import Outcome, Verdict
from gateway.app import create_app
from gateway.catalog import catalog
from gateway.retention import run_erasures
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.settings import Settings
from gateway.store import Store, open_store
from gateway.store.erasure import match_hash
from gateway.store.tables import ErasureRow
from tests.conftest import ADMIN_KEY, make_settings

SURVEY = "survey.response.completed"


def survey(email: str, marker: str) -> dict[str, Any]:
    data = deepcopy(catalog()[SURVEY].example)
    data["hidden"] = {"email": email}
    data["answers"][0]["value"] = marker
    return data


def wait_until(read: Any, done: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"timed out; last: {value}"
        time.sleep(0.05)
        value = read()
    return value


def database_bytes(settings: Settings) -> bytes:
    """Everything the database holds on disk (SQLite file + WAL) or in a dump (PostgreSQL)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    dumped = subprocess.run(["pg_dump", "--dbname", dsn], capture_output=True, check=True)
    return dumped.stdout


def test_erased_event_leaves_no_bytes_anywhere_and_the_other_event_stays(
    db_url: str, tmp_path: Any, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    gone, kept = f"GONE-{uuid.uuid4().hex}", f"KEPT-{uuid.uuid4().hex}"
    rec.script("/flaky", 500, 500, 500, 500)  # two attempts of each event carry the body
    settings = make_settings(db_url, tmp_path)
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as api:
        flaky = api.post(
            "/integrations/destinations",
            json={
                "tenantId": "t1",
                "connector": "webhook",
                "url": f"{url}/flaky",
                "eventTypes": [SURVEY],
                "retrySchedule": [0.1, 3600],
            },
        ).json()
        held = api.post(
            "/integrations/destinations",
            json={
                "tenantId": "t1",
                "connector": "zapier",
                "url": f"{url}/held",
                "eventTypes": [SURVEY],
            },
        ).json()
        assert api.post(f"/integrations/destinations/{held['id']}/disable").status_code == 200
        ids = {
            marker: api.post(
                "/integrations/events",
                json={"tenantId": "t1", "type": SURVEY, "data": survey(f"{marker}@x", marker)},
            ).json()["eventId"]
            for marker in (gone, kept)
        }
        wait_until(
            lambda: api.get(
                "/integrations/deliveries",
                params={"destinationId": flaky["id"], "includeAttempts": "true"},
            ).json()["items"],
            lambda items: len(items) == 2 and all(len(d["attempts"]) == 2 for d in items),
        )
        before = database_bytes(settings)
        assert gone.encode() in before and kept.encode() in before  # the test can fail

        assert api.delete(f"/integrations/events/{ids[gone]}").status_code == 204

        after = database_bytes(settings)
        assert gone.encode() not in after
        assert kept.encode() in after
        event = api.get(f"/integrations/events/{ids[gone]}").json()
        assert event["data"] is None and event["expunged"] is True
        by_destination = {d["destinationId"]: d for d in event["deliveries"]}
        assert by_destination[held["id"]]["status"] == "cancelled"  # pending: cancelled
        attempts = api.get(f"/integrations/deliveries/{by_destination[flaky['id']]['id']}").json()[
            "attempts"
        ]
        assert len(attempts) == 2  # ids, statuses and timings stay
        assert all(a["requestBody"] is None and a["responseBody"] is None for a in attempts)
        assert all(a["statusCode"] == 500 and a["startedAt"] for a in attempts)
        other = api.get(f"/integrations/events/{ids[kept]}").json()
        assert other["data"]["answers"][0]["value"] == kept and "expunged" not in other
        replay = api.post(f"/integrations/deliveries/{by_destination[flaky['id']]['id']}/replay")
        assert replay.status_code == 409 and replay.json()["error"]["code"] == "payload_expired"


@pytest.fixture
def store(settings: Settings) -> Any:
    the_store = open_store(settings)
    yield the_store
    the_store.engine.dispose()


def test_match_erasure_is_a_durable_rate_capped_job_with_an_audit_row(
    settings: Settings, store: Store, tmp_path: Any
) -> None:
    app = create_app(settings, store=store, run_worker=False, run_scheduler=False)
    email = "ada@example.com"
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as api:
        key = api.post("/integrations/keys", json={"tenantId": "t1", "name": "dpo"}).json()
        events = [
            {"tenantId": "t1", "type": SURVEY, "data": survey(email, f"m{i}")} for i in range(5)
        ]
        events.append({"tenantId": "t1", "type": SURVEY, "data": survey("bob@example.com", "b")})
        events.append({"tenantId": "t2", "type": SURVEY, "data": survey(email, "other tenant")})
        results = api.post("/integrations/events", json={"events": events}).json()["results"]
        tenant_key = {"x-api-key": key["key"]}
        created = api.post(
            "/integrations/erasures",
            json={"match": {"hidden.email": email}},
            headers=tenant_key,
        )
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["matched"] == 5 and job["status"] == "pending"

        # Two events per step; a "restart" (a new store on the same database) between steps.
        capped = settings.model_copy(update={"erasure_rate_per_second": 2.0})
        import asyncio

        asyncio.run(run_erasures(store, capped))
        progress = api.get(f"/integrations/erasures/{job['erasureId']}", headers=tenant_key).json()
        assert (progress["status"], progress["erased"]) == ("running", 2)
        restarted = open_store(settings)
        try:
            for _ in range(5):
                asyncio.run(run_erasures(restarted, capped))
        finally:
            restarted.engine.dispose()
        done = api.get(f"/integrations/erasures/{job['erasureId']}", headers=tenant_key).json()
        assert (done["status"], done["matched"], done["erased"]) == ("completed", 5, 5)
        shown = [api.get(f"/integrations/events/{r['eventId']}").json() for r in results]
        assert [e.get("expunged", False) for e in shown] == [True] * 5 + [False, False]
        assert shown[5]["data"]["hidden"]["email"] == "bob@example.com"
        assert shown[6]["data"]["hidden"]["email"] == email  # another tenant's: untouched
        # Another tenant cannot see the job.
        other = api.post("/integrations/keys", json={"tenantId": "t2", "name": "x"}).json()
        assert (
            api.get(
                f"/integrations/erasures/{job['erasureId']}", headers={"x-api-key": other["key"]}
            ).status_code
            == 404
        )

    with store.read() as conn:
        audit = conn.execute(
            select(ErasureRow.__table__).where(ErasureRow.__table__.c.id == job["erasureId"])  # type: ignore[attr-defined]
        ).one()
    assert audit.key_id == key["keyId"] and audit.tenant_id == "t1"
    assert audit.match_hash == match_hash({"hidden.email": email})
    assert audit.match_enc is None  # the sealed match is dropped once the job completes
    assert email not in repr(tuple(audit))  # the value itself is nowhere in the audit row


def test_erasure_input_errors(api: TestClient) -> None:
    bad = api.post("/integrations/erasures", json={"tenantId": "t1", "match": {}})
    assert bad.status_code == 422
    assert (
        api.post(
            "/integrations/erasures", json={"tenantId": "t1", "match": {"a..b": "x"}}
        ).status_code
        == 422
    )
    assert api.delete("/integrations/events/evt_nope").status_code == 404
    assert api.get("/integrations/erasures/ers_nope").status_code == 404


def test_an_attempt_in_flight_during_the_erasure_keeps_no_body(store: Store) -> None:
    from gateway.store import AttemptRecord, EventIn

    store.create_destination(
        {
            "tenant_id": "t1",
            "name": "d",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "event_types": [SURVEY],
        }
    )
    [result] = store.ingest_events(
        [EventIn(tenant_id="t1", type=SURVEY, data=survey("x@y", "in-flight"))]
    )
    [claimed] = store.claim_due(owner="w", limit=1, lease_seconds=60)  # now sending
    store.erase_event(result.event_id, key_id=None)
    store.record_attempts(
        owner="w",
        records=[
            AttemptRecord(
                delivery_id=claimed.id,
                tenant_id="t1",
                destination_id=claimed.destination_id,
                number=1,
                started_at=store.clock(),
                duration_ms=1.0,
                request_url="http://127.0.0.1:9/",
                request_headers={},
                request_body='{"answers": "in-flight"}',
                response_body="echo in-flight",
                status_code=200,
                result=Outcome(Verdict.SUCCESS),
            )
        ],
    )
    [attempt] = store.attempts_for([claimed.id])[claimed.id]
    assert attempt.request_body is None and attempt.response_body is None
    assert attempt.status_code == 200
