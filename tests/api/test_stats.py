"""The dashboard's stats: success rate and latency per time bucket, and destination summaries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from gateway.adapters import Outcome, Verdict
from gateway.app import create_app
from gateway.settings import Settings
from gateway.store import AttemptRecord, Store, open_store
from tests.conftest import ADMIN_KEY

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    the_store = open_store(settings)
    the_store.clock = lambda: T0 + timedelta(hours=3)  # type: ignore[method-assign]
    yield the_store
    the_store.engine.dispose()


def attempt(
    destination_id: str,
    minutes: float,
    ok: bool,
    ms: float,
    error: str = "",
) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=f"dlv_{destination_id}_{minutes}",  # one attempt per delivery
        tenant_id="t1",
        destination_id=destination_id,
        number=1,
        started_at=T0 + timedelta(minutes=minutes),
        duration_ms=ms,
        request_url="http://x/",
        request_headers={},
        result=Outcome(Verdict.SUCCESS) if ok else Outcome(Verdict.RETRY, error),
        status_code=200 if ok else 503,
    )


def test_series_and_summary(store: Store, settings: Settings) -> None:
    dst, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": "d",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "event_types": ["*"],
        }
    )
    other, _ = store.create_destination(
        {
            "tenant_id": "t2",
            "name": "o",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "event_types": ["*"],
        }
    )
    store.record_history(
        [
            attempt(dst.id, 5, True, 100),
            attempt(dst.id, 20, False, 300, "HTTP 503"),
            attempt(dst.id, 59.9, True, 200),  # still the first hour
            attempt(dst.id, 60, True, 50),  # the second hour starts here
            attempt(dst.id, 150, False, 1000, "timed out"),  # the last error
            attempt(other.id, 10, False, 10, "someone else's"),
        ],
    )
    app = create_app(settings, store=store, run_worker=False, run_scheduler=False)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
        body = client.get(
            f"/integrations/destinations/{dst.id}/stats",
            params={
                "since": "2030-01-01T12:00:00Z",
                "until": "2030-01-01T15:00:00Z",
                "bucket": 3600,
            },
        ).json()
        assert body["bucketSeconds"] == 3600
        assert [(p["at"], p["attempts"], p["succeeded"]) for p in body["series"]] == [
            ("2030-01-01T12:00:00Z", 3, 2),
            ("2030-01-01T13:00:00Z", 1, 1),
            ("2030-01-01T14:00:00Z", 1, 0),
        ]
        first = body["series"][0]
        assert first["successRate"] == pytest.approx(2 / 3, abs=1e-4)
        assert (first["latencyMsAvg"], first["latencyMsMax"]) == (200, 300)
        summary = body["summary"]
        assert (summary["attempts"], summary["succeeded"], summary["failed"]) == (5, 3, 2)
        assert summary["lastError"] == "timed out" and summary["lastStatusCode"] == 503
        assert summary["lastErrorAt"] == "2030-01-01T14:30:00Z"
        # Default window: the last 24 h, in at most 48 buckets.
        default = client.get(f"/integrations/destinations/{dst.id}/stats").json()
        assert default["bucketSeconds"] == 1800 and len(default["series"]) == 4
        many = client.get(
            "/integrations/stats/destinations", params={"ids": f"{dst.id},{other.id}"}
        ).json()["items"]
        assert [(m["destinationId"], m["attempts"]) for m in many] == [
            (dst.id, 5),
            (other.id, 1),
        ]
        key = client.post("/integrations/keys", json={"tenantId": "t2"}).json()["key"]
        theirs = client.get(
            "/integrations/stats/destinations",
            headers={"x-api-key": key},
            params={"ids": f"{dst.id},{other.id}"},
        ).json()["items"]
        assert [m["destinationId"] for m in theirs] == [other.id]  # t1's is not visible
        assert (
            client.get(
                f"/integrations/destinations/{dst.id}/stats", headers={"x-api-key": key}
            ).status_code
            == 404
        )
        assert (
            client.get(
                f"/integrations/destinations/{dst.id}/stats",
                params={"bucket": 60, "since": "2029-12-01T00:00:00Z"},
            ).status_code
            == 422
        )
