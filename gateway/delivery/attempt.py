"""One attempt of one claimed delivery: render, sign, send, classify; the record it leaves.

The record carries the facts only (what was sent, what came back, the connector's reading, the
Retry-After, a jitter draw); what follows from them is decided when the store writes it
(``gateway.outcome.after_attempt`` inside ``record_attempts``).
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime
from typing import Any

from gateway.adapters import Outcome, ResponseInfo, Verdict, header_value
from gateway.delivery.client import DeliveryClient
from gateway.delivery.request import body_text, prepare, redact
from gateway.errors import ConnectorError, DeliveryError, RenderError
from gateway.models import DestinationView, ErrorClass, Event
from gateway.redaction import strip_userinfo
from gateway.registry import get_connector
from gateway.retry import parse_retry_after
from gateway.store import AttemptRecord, Claimed
from gateway.store.records import DestinationRecord

log = logging.getLogger(__name__)


async def attempt(
    client: DeliveryClient,
    item: Claimed,
    event: Event,
    dst: DestinationRecord,
    view: DestinationView,
    *,
    clock: Any,
    rng: random.Random,
) -> AttemptRecord:
    connector = get_connector(dst.connector)
    number = item.attempt_count + 1
    started: datetime = clock()
    t0 = time.perf_counter()
    response: ResponseInfo | None = None
    request_url, request_headers, request_body = strip_userinfo(view.url), {}, None
    try:
        prepared = prepare(
            connector,
            event,
            view,
            delivery_id=item.id,
            attempt_number=number,
            is_test=item.is_test,
            now=started,
            output_schema=dst.output_schema,
        )
        request_url = strip_userinfo(prepared.url)
        request_headers = redact(prepared.headers, _secret_header_names(view, prepared.headers))
        request_body = body_text(prepared.body, view.credentials)
        response = await client.send(
            prepared.url, prepared.body, prepared.headers, view.timeout_seconds, prepared.method
        )
        outcome = connector.classify(response, view)
    except RenderError as exc:
        outcome = Outcome(Verdict.FAIL, exc.message, exc.error_class)
    except ConnectorError as exc:  # our bug, never the user's permanent failure: retried
        log.exception(
            "the %s connector failed rendering delivery %s",
            exc.connector,
            item.id,
            extra={"connector": exc.connector, "delivery_id": item.id},
        )
        outcome = Outcome(Verdict.RETRY, exc.message, exc.error_class)
    except DeliveryError as exc:
        verdict = Verdict.FAIL if exc.error_class is ErrorClass.BLOCKED else Verdict.RETRY
        outcome = Outcome(verdict, exc.message, exc.error_class)
    record = build_record(
        item,
        dst,
        started,
        (time.perf_counter() - t0) * 1000,
        request_url,
        request_headers,
        response,
        outcome,
        clock=clock,
        rng=rng,
    )
    record.request_body = request_body
    return record


def build_record(
    item: Claimed,
    dst: DestinationRecord | None,
    started: datetime,
    duration_ms: float,
    request_url: str,
    request_headers: dict[str, str],
    response: ResponseInfo | None,
    outcome: Outcome,
    *,
    clock: Any,
    rng: random.Random,
) -> AttemptRecord:
    retry_after = None
    if response is not None and outcome.verdict is Verdict.RETRY:
        retry_after = parse_retry_after(header_value(response.headers, "retry-after"), clock())
    raw_schedule = dst.retry_schedule if dst is not None else None
    return AttemptRecord(
        delivery_id=item.id,
        tenant_id=item.tenant_id,
        destination_id=item.destination_id,
        number=item.attempt_count + 1,
        started_at=started,
        duration_ms=round(duration_ms, 3),
        request_url=request_url,
        request_headers=request_headers,
        result=outcome,
        status_code=response.status_code if response else None,
        response_headers=dict(response.headers) if response else None,
        response_body=response.body.decode("utf-8", "replace") if response else None,
        retry_after_seconds=retry_after,
        schedule=None if raw_schedule is None else tuple(float(s) for s in raw_schedule),
        jitter=rng.uniform(-1.0, 1.0),
        probe=item.probe,
    )


def _secret_header_names(view: Any, sent: dict[str, str]) -> frozenset[str]:
    """Headers an attempt keeps as ``[redacted]``: the destination's own (their values are sealed
    at rest), unless the gateway overwrote one, and the connector's credential header."""
    names = {name.lower() for name, value in view.headers.items() if sent.get(name) == value}
    credential = view.credentials.get("headerName")
    if credential:
        names.add(str(credential).lower())
    return frozenset(names)
