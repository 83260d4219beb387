"""Fixture files and golden comparison, shared by the connector tests.

``fixtures/<connector>/<case>.json`` is an input and ``<case>.expected.json`` what it maps to;
the Zapier, Make and n8n cases add ``<case>.expected-headers.json`` (``{}`` when absent).
``UPDATE_GOLDEN=1 pytest tests/connectors/typeform tests/connectors/qualtrics`` makes
``assert_golden`` rewrite the expected files; review the diff before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors._shared import encode_body
from gateway.adapters import RenderedRequest
from gateway.models import DestinationView, Event, SigningKey

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EXPECTED_SUFFIXES = (".expected.json", ".expected-headers.json")


def load_json(connector: str, name: str) -> Any:
    return json.loads((FIXTURES / connector / name).read_text(encoding="utf-8"))


def load_bytes(connector: str, name: str) -> bytes:
    return (FIXTURES / connector / name).read_bytes()


def load_expected(connector: str, case: str) -> Any:
    """``fixtures/<connector>/<case>.expected.json``."""
    return load_json(connector, f"{case}.expected.json")


def input_cases(connector: str) -> list[str]:
    """The case names of ``fixtures/<connector>/``: every ``*.json`` that is not an expectation."""
    return sorted(
        p.name.removesuffix(".json")
        for p in (FIXTURES / connector).glob("*.json")
        if not p.name.endswith(EXPECTED_SUFFIXES)
    )


def assert_golden(connector: str, case: str, actual: Any) -> None:
    """``actual`` equals ``fixtures/<connector>/<case>.expected.json``."""
    path = FIXTURES / connector / f"{case}.expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert actual == json.loads(path.read_text(encoding="utf-8"))


def assert_request_golden(connector: str, case: str, request: RenderedRequest, url: str) -> Any:
    """A platform request: the body and headers equal the case's expected files, it is POSTed
    to ``url`` as JSON, and its bytes are the compact encoding. Returns the expected body."""
    expected = load_expected(connector, case)
    assert json.loads(request.body) == expected
    headers_name = f"{case}.expected-headers.json"
    has_headers = (FIXTURES / connector / headers_name).exists()
    assert request.headers == (load_json(connector, headers_name) if has_headers else {})
    assert (request.url, request.method, request.content_type) == (url, "POST", "application/json")
    assert request.body == encode_body(expected)
    return expected


def event_from_case(event: Mapping[str, Any], *, created_at_key: str) -> Event:
    """A case file's ``event``; the platform cases name its time ``timestamp``, the survey
    connectors' cases ``createdAt``."""
    return Event(
        id=event["id"],
        tenant_id=event["tenantId"],
        type=event["type"],
        data=event["data"],
        created_at=datetime.fromisoformat(event[created_at_key]),
    )


def load_case(connector: str, case: str) -> tuple[Event, DestinationView, datetime]:
    """A typeform or qualtrics outbound case file: ``{"event", "destination", "now"}``."""
    spec = load_json(connector, f"{case}.json")
    event, dest = spec["event"], spec["destination"]
    return (
        event_from_case(event, created_at_key="createdAt"),
        DestinationView(
            id=dest["id"],
            tenant_id=event["tenantId"],
            connector=connector,
            url=dest["url"],
            keys=tuple(SigningKey(k) for k in dest.get("keys", [])),
            credentials=dest.get("credentials", {}),
            options=dest.get("options", {}),
        ),
        datetime.fromisoformat(spec["now"]),
    )


def as_json(request: RenderedRequest) -> dict[str, Any]:
    """A rendered request as the golden files hold it (the body parsed)."""
    return {
        "method": request.method,
        "url": request.url,
        "contentType": request.content_type,
        "headers": request.headers,
        "body": json.loads(request.body),
    }
