"""Building one attempt's request (``gateway/delivery/request.py``): pure, ``now`` passed in.

The output-schema check (CONTRACT §3 ``outputSchema``: a rendered body that breaks it fails with
``schema_mismatch``, nothing sent) and the errors ``prepare`` turns a connector's failures into.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.adapters import Outcome, RenderedRequest, ResponseInfo, Verdict
from gateway.delivery.request import check_output_schema, prepare
from gateway.errors import ConnectorError, MappingError, RenderError
from gateway.models import DestinationView, ErrorClass, Event, SigningKey

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SCHEMA = {
    "type": "object",
    "required": ["id", "score"],
    "properties": {
        "id": {"type": "string"},
        "score": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        # fits: nothing raised
        ({"id": "a", "score": 1}, None),
        # extra properties are allowed unless the schema says otherwise
        ({"id": "a", "score": 1, "other": True}, None),
        # a missing required field is reported at the root
        ({"id": "a"}, "(root): 'score' is a required property"),
        # a wrong type names the field's path
        ({"id": "a", "score": "high"}, "score: 'high' is not of type 'integer'"),
        # a nested failure names the full path, joined by /
        ({"id": "a", "score": 1, "tags": ["x", 2]}, "tags/1: 2 is not of type 'string'"),
        # a keyword other than type
        ({"id": "a", "score": -1}, "score: -1 is less than the minimum of 0"),
    ],
)
def test_output_schema_check(body: dict[str, Any], where: str | None) -> None:
    raw = json.dumps(body).encode()
    if where is None:
        check_output_schema(raw, SCHEMA)
        return
    with pytest.raises(RenderError) as info:
        check_output_schema(raw, SCHEMA)
    assert info.value.error_class is ErrorClass.SCHEMA_MISMATCH
    assert where in info.value.message


def test_a_body_that_is_not_json_cannot_meet_an_output_schema() -> None:
    with pytest.raises(RenderError, match="not JSON") as info:
        check_output_schema(b"name=value", SCHEMA)
    assert info.value.error_class is ErrorClass.SCHEMA_MISMATCH


def test_output_schema_errors_are_sorted_by_path_and_capped_at_five() -> None:
    schema = {"type": "object", "properties": {k: {"type": "string"} for k in "abcdefg"}}
    body = json.dumps({k: 1 for k in "gfedcba"}).encode()
    with pytest.raises(RenderError) as info:
        check_output_schema(body, schema)
    named = [part.split(":")[0] for part in info.value.message.split(": ", 1)[1].split("; ")]
    assert named == ["a", "b", "c", "d", "e"]


# -- prepare: what a connector's failure becomes ------------------------------------------------


@dataclass
class FakeConnector:
    """A connector whose ``render`` returns ``body`` or raises ``error``."""

    error: Exception | None = None
    body: bytes = b'{"id":"a","score":1}'
    name: str = "fake"
    max_body_bytes: int | None = None
    default_rate_limit_per_second: float | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        if self.error is not None:
            raise self.error
        return RenderedRequest(url=destination.url, body=self.body, headers=self.headers)

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        return Outcome(Verdict.SUCCESS)

    def samples(self, event_type: str, data: Any, event_id: str | None = None) -> dict[str, Any]:
        return {}


EVENT = Event(id="evt_1", tenant_id="t1", type="task.completed", data={}, created_at=NOW)
VIEW = DestinationView(
    id="dst_1",
    tenant_id="t1",
    connector="fake",
    url="http://127.0.0.1:9/hook",
    keys=(SigningKey("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),),
)


def run_prepare(connector: FakeConnector, schema: dict[str, Any] | None = None) -> Any:
    return prepare(
        connector,
        EVENT,
        VIEW,
        delivery_id="dlv_1",
        attempt_number=2,
        is_test=False,
        now=NOW,
        output_schema=schema,
    )


def test_a_mapping_error_is_a_permanent_render_error() -> None:
    with pytest.raises(RenderError) as info:
        run_prepare(FakeConnector(MappingError("options.surveyId is required")))
    assert info.value.error_class is ErrorClass.RENDER
    assert info.value.message == "cannot map this event: options.surveyId is required"
    assert not isinstance(info.value, ConnectorError)


@pytest.mark.parametrize(
    "bug", [KeyError("turns"), TypeError("unhashable"), AttributeError("x"), ValueError("nan")]
)
def test_anything_else_a_connector_raises_is_an_internal_connector_error(bug: Exception) -> None:
    with pytest.raises(ConnectorError) as info:
        run_prepare(FakeConnector(bug))
    assert info.value.error_class is ErrorClass.INTERNAL
    assert info.value.connector == "fake"
    assert info.value.__cause__ is bug
    assert type(bug).__name__ in info.value.message


def test_a_body_over_the_connector_cap_is_payload_too_large() -> None:
    with pytest.raises(RenderError, match="exceeds the fake cap of 4") as info:
        run_prepare(FakeConnector(max_body_bytes=4))
    assert info.value.error_class is ErrorClass.PAYLOAD_TOO_LARGE


def test_the_output_schema_applies_to_the_rendered_body() -> None:
    with pytest.raises(RenderError) as info:
        run_prepare(FakeConnector(body=b'{"id":"a"}'), SCHEMA)
    assert info.value.error_class is ErrorClass.SCHEMA_MISMATCH
    prepared = run_prepare(FakeConnector(), SCHEMA)
    assert prepared.body == b'{"id":"a","score":1}'


def test_the_gateway_headers_win_over_the_connector_and_the_body_is_signed() -> None:
    prepared = run_prepare(FakeConnector(headers={"x-gateway-attempt": "99", "x-zap": "1"}))
    assert prepared.headers["x-gateway-attempt"] == "2"
    assert prepared.headers["x-gateway-delivery-id"] == "dlv_1"
    assert prepared.headers["x-zap"] == "1"
    assert prepared.headers["webhook-id"] == "evt_1"
    assert prepared.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert prepared.headers["webhook-signature"].startswith("v1,")
    assert "x-gateway-test" not in prepared.headers
