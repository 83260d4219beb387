"""What the Zapier, Make and n8n tests share: their cases, events, destinations and answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gateway.adapters import Connector, RenderedRequest, ResponseInfo
from gateway.catalog import catalog
from gateway.models import DestinationView, Event
from tests.connectors.golden import assert_request_golden, event_from_case, load_json

NOW = datetime(2025, 11, 20, 14, 33, tzinfo=UTC)
# Every platform has these cases: both event types, full and minimal, and a transcript cut to fit.
COMMON_CASES = frozenset(
    {
        "task_completed",
        "survey_response",
        "task_completed_minimal",
        "survey_response_minimal",
        "long_transcript_cut",
    }
)
# (full case, the same study or form with optional fields missing): one key set per type
STABLE_KEY_CASES = [
    ("task_completed", "task_completed_minimal"),  # same study, optional fields missing
    ("survey_response", "survey_response_minimal"),  # same form, optional fields missing
]


def destination(connector: str, url: str, **kwargs: Any) -> DestinationView:
    return DestinationView(
        id="dst_test", tenant_id="ten_acme", connector=connector, url=url, **kwargs
    )


def load_case(connector: str, case: str) -> tuple[Event, DestinationView]:
    """A platform case file: ``{"event", "destination"}``."""
    spec = load_json(connector, f"{case}.json")
    dest = spec["destination"]
    return (
        event_from_case(spec["event"], created_at_key="timestamp"),
        destination(
            connector,
            dest["url"],
            credentials=dest.get("credentials", {}),
            options=dest.get("options", {}),
        ),
    )


def task_event(data: dict[str, Any], event_id: str = "evt_01") -> Event:
    return Event(event_id, "ten_acme", "task.completed", data, NOW)


def response(status: int, body: bytes = b"", **headers: str) -> ResponseInfo:
    return ResponseInfo(status_code=status, headers=headers, body=body)


def huge_transcript_data(turns: int, chars: int) -> dict[str, Any]:
    """The catalog's ``task.completed`` example with ``turns`` turns of about ``chars`` each."""
    data = dict(catalog()["task.completed"].example)
    data["turns"] = [
        {"index": i, "role": "persona", "text": f"{i}:" + "x" * chars, "at": "2025-11-20T14:31:00Z"}
        for i in range(1, turns + 1)
    ]
    return data


def assert_renders_golden(adapter: Connector, case: str) -> Any:
    """The adapter renders the case as its golden files say; returns the expected body."""
    event, dest = load_case(adapter.name, case)
    request: RenderedRequest = adapter.render(event, dest, NOW)
    return assert_request_golden(adapter.name, case, request, dest.url)


def assert_samples_are_live(adapter: Connector, case: str) -> None:
    """``samples`` for the case's event is exactly the body ``render`` sends."""
    event, dest = load_case(adapter.name, case)
    live = json.loads(adapter.render(event, dest, NOW).body)
    assert adapter.samples(event.type, event.data, event_id=event.id) == live
