"""The pure rules of operational events (gateway/opevents.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from gateway import opevents
from gateway.catalog import validate_event_data

T0 = datetime(2026, 12, 1, tzinfo=UTC)
WINDOW = timedelta(days=5)
# Any value with the attributes the notices read (the store passes its records).
DST = SimpleNamespace(id="dst_1", tenant_id="t1", name="crm")


@pytest.mark.parametrize(
    ("elapsed", "alerted", "due"),
    [
        (0.49, 0, []),  # under half the window: nothing
        (0.50, 0, [50]),  # exactly half: the first warning
        (0.60, 50, []),  # already told at 50 %
        (0.90, 50, [90]),  # the second warning
        (0.95, 0, [50, 90]),  # a long gap between scans: both, lowest first
        (1.50, 90, []),  # both told: never again in this streak
    ],
)
def test_thresholds_due(elapsed: float, alerted: int, due: list[int]) -> None:
    now = T0 + WINDOW * elapsed
    assert opevents.thresholds_due(failing_since=T0, now=now, window=WINDOW, alerted=alerted) == due


@pytest.mark.parametrize(
    ("types", "only"),
    [
        (["gateway.*"], True),  # the family
        (["gateway.destination.disabled", "gateway.delivery.exhausted"], True),
        (["*"], False),  # everything includes ordinary events
        (["task.completed", "gateway.*"], False),  # mixed
        ([], False),  # subscribes to nothing
    ],
)
def test_operational_only(types: list[str], only: bool) -> None:
    assert opevents.subscribes_to_operational_only(types) is only


def test_every_notice_matches_its_catalog_schema() -> None:
    notices = [
        opevents.failing(DST, threshold=50, failing_since=T0, window=WINDOW),
        opevents.disabled(DST, reason="HTTP 410", at=T0),
        opevents.recovered(DST, how="enabled", at=T0),
        opevents.exhausted(
            DST,
            SimpleNamespace(
                id="dlv_1",
                event_id="evt_1",
                event_type="task.completed",
                attempt_count=8,
                last_status_code=503,
            ),
            at=T0,
        ),
    ]
    for notice in notices:
        validate_event_data(notice.type.value, notice.data)  # raises on a mismatch
        assert notice.data["destinationId"] == "dst_1" and notice.tenant_id == "t1"
    assert notices[0].data["disableAt"] == "2026-12-06T00:00:00Z"


def test_platforms_get_operational_events_flat_and_snake_case() -> None:
    from connectors._shared import map_operational

    body = map_operational(
        "gateway.delivery.exhausted", {"destinationId": "dst_1", "lastStatusCode": 503}, "evt_9"
    )
    assert body == {
        "id": "evt_9",  # Zapier deduplicates on it
        "type": "gateway.delivery.exhausted",
        "destination_id": "dst_1",
        "last_status_code": 503,
    }
