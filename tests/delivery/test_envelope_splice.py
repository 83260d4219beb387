"""The webhook envelope splices the stored event JSON in: the same document as decoding and
encoding it again, on both stores (on SQLite the very same bytes)."""

from __future__ import annotations

from typing import Any

import orjson

from connectors.webhook.adapter import dumps, envelope_bytes
from gateway.models import Event, StoredEvent
from gateway.store import EventIn, open_store
from tests.conftest import make_settings, task_data


def test_spliced_envelope_is_the_decoded_one(db_url: str, tmp_path: Any) -> None:
    store = open_store(make_settings(db_url, tmp_path))
    store.create_destination(
        {
            "tenant_id": "t1",
            "name": "d",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "event_types": ["task.completed"],
        }
    )
    data = task_data(studyId="s")
    data["notes"] = {"text": 'quote " backslash \\ é 漢字 \u2028 ✓', "n": [1, 2.5, None, True]}
    store.ingest_events([EventIn(tenant_id="t1", type="task.completed", data=data)])
    (claimed,) = store.claim_due(owner="w", limit=5, lease_seconds=30)
    stored = claimed.event
    assert isinstance(stored, StoredEvent) and isinstance(stored.data_json, str)  # not decoded
    decoded = Event(stored.id, stored.tenant_id, stored.type, data, stored.created_at)
    spliced = envelope_bytes(stored)
    assert orjson.loads(spliced) == decoded.envelope()
    assert stored.data == data  # a connector that needs the dict decodes it (once)
    if db_url.startswith("sqlite"):
        assert spliced == dumps(decoded.envelope())
