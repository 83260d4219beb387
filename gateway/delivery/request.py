"""Building one attempt's request: render, check, sign. Pure (``now`` comes in)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator

from gateway import __version__, signing
from gateway.adapters import Connector, RenderedRequest
from gateway.errors import ConnectorError, MappingError, RenderError
from gateway.models import DestinationView, ErrorClass, Event
from gateway.redaction import REDACTED

USER_AGENT = f"person-gateway/{__version__}"
_SENSITIVE = re.compile(r"authorization|token|secret|password|cookie|key", re.I)


@dataclass(frozen=True)
class PreparedRequest:
    url: str
    method: str
    body: bytes
    headers: dict[str, str]


def prepare(
    connector: Connector,
    event: Event,
    destination: DestinationView,
    *,
    delivery_id: str,
    attempt_number: int,
    is_test: bool,
    now: datetime,
    output_schema: dict[str, Any] | None,
) -> PreparedRequest:
    try:
        rendered: RenderedRequest = connector.render(event, destination, now)
    except MappingError as exc:  # the user's options or this event: permanent
        raise RenderError(f"cannot map this event: {exc.message}", ErrorClass.RENDER) from exc
    except Exception as exc:  # the connector seam: anything else is a bug in our code
        raise ConnectorError(connector.name, exc) from exc
    if connector.max_body_bytes is not None and len(rendered.body) > connector.max_body_bytes:
        raise RenderError(
            f"body of {len(rendered.body)} bytes exceeds the {connector.name} cap of "
            f"{connector.max_body_bytes}",
            ErrorClass.PAYLOAD_TOO_LARGE,
        )
    if output_schema:
        check_output_schema(rendered.body, output_schema)
    timestamp = int(now.timestamp())
    headers = {**destination.headers, **rendered.headers}
    headers.update(
        {
            "content-type": rendered.content_type,
            "user-agent": USER_AGENT,
            "x-gateway-delivery-id": delivery_id,
            "x-gateway-attempt": str(attempt_number),
        }
    )
    if is_test:
        headers["x-gateway-test"] = "true"
    secrets = [k.secret for k in destination.keys]
    if secrets:
        headers.update(signing.signature_headers(event.id, timestamp, rendered.body, secrets))
    else:
        headers.update({"webhook-id": event.id, "webhook-timestamp": str(timestamp)})
    return PreparedRequest(rendered.url, rendered.method, rendered.body, headers)


def check_output_schema(body: bytes, schema: dict[str, Any]) -> None:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise RenderError(
            "body is not JSON; outputSchema cannot apply", ErrorClass.SCHEMA_MISMATCH
        ) from exc
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        where = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in errors[:5]
        )
        raise RenderError(f"rendered body breaks outputSchema: {where}", ErrorClass.SCHEMA_MISMATCH)


def redact(headers: dict[str, str], extra_names: frozenset[str] = frozenset()) -> dict[str, str]:
    """Headers as stored on an attempt or shown on a destination: credentials masked
    (signatures are not secrets)."""
    return {
        name: REDACTED if _sensitive(name.lower(), extra_names) else value
        for name, value in headers.items()
    }


REQUEST_BODY_KEEP_BYTES = 64 * 1024


def body_text(body: bytes, credentials: dict[str, Any]) -> str:
    """The request body as an attempt keeps it: text, the first 64 KiB, and any credential value
    that a connector put into the body replaced by ``[redacted]``."""
    text = body[:REQUEST_BODY_KEEP_BYTES].decode("utf-8", "replace")
    for value in credentials.values():
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, REDACTED)
    if len(body) > REQUEST_BODY_KEEP_BYTES:
        text += f"\n[… {len(body) - REQUEST_BODY_KEEP_BYTES} more bytes not kept]"
    return text


@functools.lru_cache(maxsize=1024)
def _sensitive(name: str, extra_names: frozenset[str]) -> bool:
    # None of the gateway's own headers (webhook-*, x-gateway-*) matches the pattern.
    return name in extra_names or bool(_SENSITIVE.search(name))
