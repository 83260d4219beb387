"""connectors.typeform.adapter: signing secret choice, classification, samples."""

from __future__ import annotations

import dataclasses
import json

import pytest

from connectors.typeform.adapter import ADAPTER
from connectors.typeform.verify import sign_typeform, verify_typeform_signature
from gateway.adapters import Connector, ResponseInfo, Verdict
from gateway.catalog import catalog
from gateway.errors import MappingError
from gateway.models import SigningKey
from gateway.registry import get_connector
from tests.connectors.golden import load_case


def test_adapter_implements_the_protocol() -> None:
    connector: Connector = ADAPTER
    assert connector.name == "typeform"
    assert connector.max_body_bytes is None
    assert get_connector("typeform") is ADAPTER


@pytest.mark.parametrize(
    ("credentials", "keys", "secret"),
    [
        # typeformSecret wins over the destination secret
        ({"typeformSecret": "test-secret"}, ("whsec_abc",), "test-secret"),
        # else the primary secret string as-is (not base64-decoded)
        ({}, ("whsec_abc", "whsec_old"), "whsec_abc"),
        # no secret at all: unsigned, as Typeform does for a webhook without one
        ({}, (), None),
    ],
)
def test_signature_secret(
    credentials: dict[str, str], keys: tuple[str, ...], secret: str | None
) -> None:
    event, destination, now = load_case("typeform", "outbound_persona")
    destination = dataclasses.replace(
        destination, credentials=credentials, keys=tuple(SigningKey(k) for k in keys)
    )
    request = ADAPTER.render(event, destination, now)
    if secret is None:
        assert "Typeform-Signature" not in request.headers
    else:
        header = request.headers["Typeform-Signature"]
        verify_typeform_signature(request.body, header, secret)
        assert header == sign_typeform(request.body, secret)
    assert request.url == destination.url and request.method == "POST"
    assert request.content_type == "application/json"


def test_body_is_compact_utf8_like_typeform() -> None:
    event, destination, now = load_case("typeform", "outbound_persona")
    body = ADAPTER.render(event, destination, now).body
    compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    assert body == compact and "—".encode() in body  # non-ASCII raw, no spaces, no newline


def test_other_event_types_are_refused() -> None:
    event, destination, now = load_case("typeform", "outbound_persona")
    with pytest.raises(MappingError, match="task.completed"):
        ADAPTER.render(
            dataclasses.replace(event, type="survey.response.completed"), destination, now
        )


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.SUCCESS),  # 2xx delivered
        (204, Verdict.SUCCESS),
        (302, Verdict.RETRY),  # redirects are failures, never followed
        (400, Verdict.RETRY),  # classify_standard: a consumer may recover
        (410, Verdict.DISABLE),  # gone: disable the destination
        (429, Verdict.RETRY),
        (503, Verdict.RETRY),
    ],
)
def test_classify_is_standard(status: int, verdict: Verdict) -> None:
    _, destination, _ = load_case("typeform", "outbound_persona")
    outcome = ADAPTER.classify(ResponseInfo(status, {}, b""), destination)
    assert outcome.verdict is verdict


def test_samples_render_the_catalog_example() -> None:
    example = catalog()["task.completed"].example
    sample = ADAPTER.samples("task.completed", example)
    assert sample["event_type"] == "form_response"
    assert len(sample["form_response"]["answers"]) == len(example["results"]["answers"])
    json.dumps(sample)  # plain JSON
    live = ADAPTER.samples("task.completed", example, "evt_01JD6Q8M6Y7C3T9V2N4K5P8R1A")
    assert live["event_id"] == "01JD6Q8M6Y7C3T9V2N4K5P8R1A"  # as render would send it
    with pytest.raises(MappingError):
        ADAPTER.samples("survey.response.completed", {})
