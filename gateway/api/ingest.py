"""Inbound survey responses: ``POST /integrations/sources`` and ``/ingest/{typeform,qualtrics}``.

``/ingest/*`` is authenticated by each platform's own signature, not ``x-api-key``. A valid
delivery is never answered 404 or 410 (both make Typeform drop the webhook); an unknown source
or a bad signature is 401. The same response delivered twice is one event (ids derive from the
response, not the delivery).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import payload
from gateway.adapters import SourceView
from gateway.api.auth import body_tenant, endpoint
from gateway.api.common import ApiModel, Services, run, services
from gateway.api.events import check_event_size
from gateway.api.parsing import checked, parse_body
from gateway.api.responses import json_response
from gateway.api.schemas import one_of
from gateway.api.urlcheck import guard_url
from gateway.catalog import validate_event_data
from gateway.errors import (
    BlockedDestinationError,
    DeliveryError,
    MappingError,
    NotFoundError,
    SignatureError,
    UpstreamFetchError,
    UpstreamResponseError,
    ValidationError,
)
from gateway.registry import SOURCE_KINDS, get_inbound
from gateway.store import EventIn, Principal

log = logging.getLogger(__name__)
FETCH_TRIES = 3
FETCH_BACKOFF_SECONDS = (0.5, 2.0)
FETCH_TIMEOUT_SECONDS = 15.0
FETCH_BODY_LIMIT = 8 * 1024 * 1024  # a full Qualtrics response is a few KiB; refuse absurd ones


class QualtricsConfig(ApiModel):
    base_url: str = Field(pattern=r"^https?://")
    api_token: str = Field(min_length=1)
    questions: dict[str, Any] | None = None


class SourceIn(ApiModel):
    tenant_id: str | None = None
    kind: str = Field(json_schema_extra={"enum": list(SOURCE_KINDS)})

    _kind = field_validator("kind")(lambda v: one_of(v, SOURCE_KINDS))
    secret: str | None = Field(None, min_length=1, max_length=500)
    qualtrics: QualtricsConfig | None = None


@endpoint
async def create_source(request: Request, principal: Principal) -> Response:
    body = await parse_body(request, SourceIn)
    tenant_id = body_tenant(principal, body.tenant_id)
    if body.kind == "qualtrics" and body.qualtrics is None:
        raise ValidationError(
            "a Qualtrics source needs qualtrics.baseUrl and qualtrics.apiToken",
            details=[{"path": "qualtrics", "message": "required"}],
        )
    if body.qualtrics is not None:  # its responses are fetched from there: the same guard
        await guard_url(services(request), body.qualtrics.base_url, "qualtrics.baseUrl")
    secret = body.secret
    if body.kind == "typeform" and secret is None:
        secret = secrets.token_urlsafe(32)  # set it as the Typeform webhook's secret
    config = body.qualtrics.model_dump(by_alias=True) if body.qualtrics else None
    row = await run(
        services(request).store.create_source,
        tenant_id=tenant_id,
        kind=body.kind,
        secret=secret,
        config=config,
    )
    ingest_url = str(request.url_for("ingest", kind=body.kind, source_id=row.id))
    out: dict[str, Any] = {
        "sourceId": row.id,
        "tenantId": tenant_id,
        "kind": body.kind,
        "ingestUrl": ingest_url,
    }
    if secret is not None and body.secret is None:
        out["secret"] = secret  # generated: shown once
    return json_response(out, 201)


async def ingest(request: Request) -> Response:
    kind = str(request.path_params["kind"])
    svc = services(request)
    try:
        row = await run(svc.store.get_source, request.path_params["source_id"])
    except NotFoundError:
        raise SignatureError("unknown source; cannot verify this delivery") from None
    if row.kind != kind:
        raise SignatureError("unknown source; cannot verify this delivery")
    source = SourceView(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=kind,
        secret=row.secret,
        config=row.config or {},
    )
    inbound = get_inbound(kind)
    body = await request.body()
    try:
        step = inbound.accept(body, dict(request.headers), source)
    except RecursionError:  # the connector's own JSON parser on absurd nesting
        raise ValidationError(
            f"not a {kind} callback: nesting deeper than {payload.MAX_DEPTH}",
            details=[{"path": "", "message": "too deep"}],
        ) from None
    except (MappingError, ValueError) as exc:
        raise ValidationError(f"not a {kind} callback: {exc}") from exc
    if step.event_id is None:
        return json_response({"status": "ignored"})
    data = step.data
    if data is None:
        existing = await run(svc.store.event_exists, step.event_id, source.tenant_id)
        if existing:
            return json_response({"status": "duplicate", "eventId": step.event_id})
        fetched = await _fetch(svc, step.fetch, kind)
        try:
            data = inbound.finish(step, fetched, source)
        except (MappingError, ValueError) as exc:
            log.warning("%s response could not be read: %s", kind, exc, extra={"source": source.id})
            raise UpstreamResponseError(str(exc)) from exc
    checked(data, "data")
    check_event_size(data, svc.settings.max_event_bytes)
    validate_event_data("survey.response.completed", data)
    [result] = await run(
        svc.store.ingest_events,
        [
            EventIn(
                id=step.event_id,
                tenant_id=source.tenant_id,
                type="survey.response.completed",
                data=data,
                origin="ingest",
            )
        ],
    )
    svc.wake_worker()
    return json_response({"status": result.status, "eventId": result.event_id})


async def _fetch(svc: Services, fetch: Any, kind: str) -> Any:
    """The follow-up GET (SSRF-guarded client), retried; 502 so the platform retries later."""
    client = svc.client
    if client is None:
        raise RuntimeError("this app was built without an outbound client")
    last = "no attempt"
    for attempt in range(FETCH_TRIES):
        try:
            response = await client.send(
                fetch.url,
                fetch.body,
                fetch.headers,
                FETCH_TIMEOUT_SECONDS,
                fetch.method,
                body_limit=FETCH_BODY_LIMIT,
            )
            if 200 <= response.status_code < 300:
                document = payload.load(response.body)
                if problems := payload.check(document):
                    raise ValueError(f"{problems[0]['path']}: {problems[0]['message']}")
                return document
            last = f"HTTP {response.status_code}"
        except BlockedDestinationError as exc:  # the guard refused it: no retry will differ
            last = exc.message
            break
        except DeliveryError as exc:
            last = exc.message
        except ValueError as exc:
            last = f"bad JSON: {exc}"
        if attempt < FETCH_TRIES - 1:
            await asyncio.sleep(FETCH_BACKOFF_SECONDS[min(attempt, len(FETCH_BACKOFF_SECONDS) - 1)])
    log.warning("fetching the %s response failed: %s", kind, last)
    raise UpstreamFetchError(f"could not fetch the {kind} response: {last}")


routes = [
    Route("/integrations/sources", create_source, methods=["POST"]),
    Route("/ingest/{kind:str}/{source_id:str}", ingest, methods=["POST"], name="ingest"),
]
