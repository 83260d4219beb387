"""What an attempt records when the connector's ``render`` raises (CONTRACT §4, issue #13).

A ``MappingError`` is the user's configuration or event: the delivery fails for good with
``render``. Anything else a connector raises is a bug in the gateway's code: the attempt is
``internal``, the delivery is retried, the log names the connector and the delivery, and
``/metrics`` counts it by connector (from the database, so it survives restarts).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gateway.errors import MappingError
from gateway.models import DestinationView, ErrorClass, Event
from gateway.registry import get_connector
from tests.conftest import ADMIN_KEY
from tests.delivery.test_worker import Receiver, make_destination, post_event, wait_delivery


def raising(exc: Exception) -> Any:
    def render(self: Any, event: Event, destination: DestinationView, now: datetime) -> Any:
        raise exc

    return render


def delivery(client: TestClient, delivery_id: str) -> dict[str, Any]:
    r = client.get(f"/integrations/deliveries/{delivery_id}", params={"includeAttempts": "true"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_attempts(client: TestClient, delivery_id: str, count: int) -> dict[str, Any]:
    """The delivery once ``count`` attempts are recorded and it is no longer being sent (the
    delivery and its attempts are two reads: one may see the attempt, the other not yet)."""

    def settled(body: dict[str, Any]) -> bool:
        return len(body["attempts"]) >= count and body["status"] != "sending"

    deadline = time.monotonic() + 20
    body = delivery(client, delivery_id)
    while not settled(body) and time.monotonic() < deadline:
        time.sleep(0.05)
        body = delivery(client, delivery_id)
    assert settled(body), body
    return body


def connector_errors(client: TestClient) -> dict[str, float]:
    r = client.get("/metrics", headers={"x-api-key": ADMIN_KEY})
    assert r.status_code == 200, r.text
    return {
        sample.labels["connector"]: sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
        if sample.name == "gateway_connector_errors_total"
    }


@pytest.mark.parametrize("bug", [KeyError("turns"), TypeError("'NoneType'"), AttributeError("x")])
def test_a_connector_bug_is_internal_and_retried(
    client: TestClient,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    bug: Exception,
) -> None:
    rec, url = receiver
    monkeypatch.setattr(type(get_connector("webhook")), "render", raising(bug))
    make_destination(client, f"{url}/bug", retrySchedule=[3600])
    with caplog.at_level(logging.ERROR, logger="gateway.delivery.attempt"):
        [delivery_id] = post_event(client)["deliveryIds"]
        body = wait_attempts(client, delivery_id, 1)
    [attempt] = body["attempts"]
    assert attempt["errorClass"] == "internal"
    store = client.app.state.services.store  # type: ignore[attr-defined]
    [stored] = store.attempts_for([delivery_id])[delivery_id]
    assert stored.error_class is ErrorClass.INTERNAL  # read back as the enum, not a string
    assert type(bug).__name__ in attempt["error"]
    assert body["status"] == "pending"  # retried, not the user's permanent failure
    assert body["nextAttemptAt"] is not None
    assert rec.on("/bug") == []  # nothing went on the wire
    assert connector_errors(client) == {"webhook": 1.0}
    [record] = [r for r in caplog.records if getattr(r, "delivery_id", None) == delivery_id]
    assert getattr(record, "connector", None) == "webhook"
    assert "webhook" in record.getMessage() and delivery_id in record.getMessage()
    assert record.exc_info is not None  # log.exception: the traceback of the bug is kept


def test_a_mapping_error_fails_the_delivery_with_render(
    client: TestClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, url = receiver
    monkeypatch.setattr(
        type(get_connector("webhook")),
        "render",
        raising(MappingError("options.questions.q1: no such question")),
    )
    make_destination(client, f"{url}/unmappable", retrySchedule=[1, 1])
    [delivery_id] = post_event(client)["deliveryIds"]
    wait_delivery(client, delivery_id, "failed")
    body = delivery(client, delivery_id)
    [attempt] = body["attempts"]
    assert attempt["errorClass"] == "render"
    assert "no such question" in attempt["error"]
    assert body["nextAttemptAt"] is None
    assert rec.on("/unmappable") == []
    assert connector_errors(client) == {}


def test_a_real_connector_mapping_error_is_render(client: TestClient, receiver: Receiver) -> None:
    """Zapier's own check of ``options.maxBodyBytes`` raises ``MappingError``, not a bug."""
    _, url = receiver
    make_destination(
        client, f"{url}/zap", connector="zapier", options={"maxBodyBytes": -1}, retrySchedule=[1]
    )
    [delivery_id] = post_event(client)["deliveryIds"]
    wait_delivery(client, delivery_id, "failed")
    [attempt] = delivery(client, delivery_id)["attempts"]
    assert attempt["errorClass"] == "render"
    assert "maxBodyBytes" in attempt["error"]
