"""Fixture loading and golden comparison shared by the typeform and qualtrics tests.

``UPDATE_GOLDEN=1 pytest tests/connectors/typeform tests/connectors/qualtrics`` rewrites the
``*.expected.json`` files; review the diff before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.adapters import RenderedRequest
from gateway.models import DestinationView, Event, SigningKey

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def load_json(connector: str, name: str) -> Any:
    return json.loads((FIXTURES / connector / name).read_text(encoding="utf-8"))


def load_bytes(connector: str, name: str) -> bytes:
    return (FIXTURES / connector / name).read_bytes()


def assert_golden(connector: str, case: str, actual: Any) -> None:
    """``actual`` equals ``fixtures/<connector>/<case>.expected.json``."""
    path = FIXTURES / connector / f"{case}.expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert actual == json.loads(path.read_text(encoding="utf-8"))


def load_case(connector: str, case: str) -> tuple[Event, DestinationView, datetime]:
    """An outbound case file: ``{"event", "destination", "now"}``."""
    spec = load_json(connector, f"{case}.json")
    event, dest = spec["event"], spec["destination"]
    return (
        Event(
            id=event["id"],
            tenant_id=event["tenantId"],
            type=event["type"],
            data=event["data"],
            created_at=datetime.fromisoformat(event["createdAt"]),
        ),
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
