"""API schemas: ``…In`` / ``…Patch`` bodies (validated) and ``…_out`` renderers (camelCase)."""

from __future__ import annotations

import base64
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, ValidationInfo, field_validator

from gateway import netguard
from gateway.api.common import ApiModel
from gateway.api.responses import camel, times
from gateway.catalog import catalog
from gateway.models import SigningAlgorithm
from gateway.redaction import REDACTED
from gateway.registry import CONNECTORS, PLATFORMS
from gateway.store.records import DeliveryRecord, DestinationRecord, EventRecord, StoredAttempt

MAX_RETRY_STEPS = 20
MAX_RETRY_STEP_SECONDS = 7 * 86400


def _check_event_types(values: list[str]) -> list[str]:
    known = set(catalog())
    for value in values:
        if (
            value in known
            or value == "*"
            or (value.endswith(".*") and any(k.startswith(value[:-1]) for k in known))
        ):
            continue
        raise ValueError(f"unknown event type {value!r}; known: {sorted(known)}")
    return values


def _check_url(value: str) -> str:
    """The URL's shape (absolute http(s), a usable host, at most 2048 characters); whether its
    address is allowed is ``api/urlcheck.py``'s question, asked with the settings."""
    try:
        netguard.url_target(value)
    except netguard.UnusableUrl as exc:
        raise ValueError(f"the URL {exc}") from exc
    return value


class DestinationBase(ApiModel):
    filter: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    credentials: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    retry_schedule: list[float] | None = Field(None, max_length=MAX_RETRY_STEPS)
    timeout_seconds: float | None = Field(None, ge=1, le=60)
    rate_limit_per_second: float | None = Field(None, gt=0, le=10_000)
    ordered: bool | None = None
    output_schema: dict[str, Any] | None = None

    @field_validator("retry_schedule")
    @classmethod
    def _schedule(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(not 0 <= s <= MAX_RETRY_STEP_SECONDS for s in value):
            raise ValueError(f"each step is 0..{MAX_RETRY_STEP_SECONDS} seconds")
        return value

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
        return value


def one_of(value: str, names: tuple[str, ...]) -> str:
    """A name from one of the registry's lists (``connector``, a source's ``kind``)."""
    if value not in names:
        raise ValueError(f"unknown {value!r}; one of {list(names)}")
    return value


class DestinationIn(DestinationBase):
    tenant_id: str | None = Field(None, min_length=1, max_length=200)
    name: str = Field("", max_length=200)
    connector: str = Field(json_schema_extra={"enum": list(CONNECTORS)})
    url: str
    event_types: list[str] = Field(min_length=1)
    # ``signing`` before ``secret``: the secret's validator reads it (and so names ``secret``).
    signing: SigningAlgorithm = SigningAlgorithm.HMAC_SHA256
    secret: str | None = None

    _url = field_validator("url")(_check_url)
    _types = field_validator("event_types")(_check_event_types)
    _connector = field_validator("connector")(lambda v: one_of(v, CONNECTORS))

    @field_validator("secret")
    @classmethod
    def _secret_matches_signing(cls, secret: str | None, info: ValidationInfo) -> str | None:
        signing = info.data.get("signing")
        if secret is None or signing is None:  # an invalid ``signing`` is reported on its own
            return secret
        prefix = "whsk_" if signing is SigningAlgorithm.ED25519 else "whsec_"
        if not secret.startswith(prefix):
            raise ValueError(f"secret for {signing.value} must start with {prefix}")
        try:
            raw = base64.b64decode(secret[len(prefix) :], validate=True)
        except ValueError as exc:
            raise ValueError("secret is not valid base64 after its prefix") from exc
        if signing is SigningAlgorithm.HMAC_SHA256 and not 24 <= len(raw) <= 64:
            raise ValueError("a whsec_ secret holds 24 to 64 random bytes")
        if signing is SigningAlgorithm.ED25519 and len(raw) != 32:
            raise ValueError("a whsk_ key holds a 32-byte ed25519 seed")
        return secret


class DestinationPatch(DestinationBase):
    name: str | None = Field(None, max_length=200)
    url: str | None = None
    event_types: list[str] | None = Field(None, min_length=1)
    expected_version: int | None = None

    _url = field_validator("url")(lambda v: v if v is None else _check_url(v))
    _types = field_validator("event_types")(lambda v: v if v is None else _check_event_types(v))

    @field_validator("name", "url", "event_types", "timeout_seconds", "ordered")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Omit a field to keep it; these columns always hold a value, so null is no value.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class DisableIn(ApiModel):
    reason: str | None = Field(None, max_length=500)


class TestSendIn(ApiModel):
    event_type: str | None = None


class EventIn(ApiModel):
    id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-:]+$")
    tenant_id: str | None = Field(None, min_length=1, max_length=200)
    type: str
    data: dict[str, Any]


class KeyIn(ApiModel):
    tenant_id: str = Field(min_length=1, max_length=200)
    name: str = Field("", max_length=200)
    admin: bool = False


def destination_out(row: DestinationRecord, secret: str | None = None) -> dict[str, Any]:
    headers = dict.fromkeys(row.headers or {}, REDACTED)  # values are sealed (CONTRACT §1)
    out: dict[str, Any] = camel(
        {
            "id": row.id,
            "tenant_id": row.tenant_id,
            "name": row.name,
            "connector": row.connector,
            "url": row.url,
            "event_types": row.event_types,
            "signing": row.signing,
            "retry_schedule": row.retry_schedule,
            "timeout_seconds": row.timeout_seconds,
            "rate_limit_per_second": row.rate_limit_per_second,
            "ordered": row.ordered,
            "status": row.status,
            "disabled_reason": row.disabled_reason,
            "disabled_at": row.disabled_at,
            "circuit": row.circuit or "closed",  # CONTRACT §2: closed | open | halfOpen
            "version": row.version,
            "has_credentials": row.credentials_enc is not None,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "is_subscription": row.connector in PLATFORMS,
        }
    )
    # User-shaped objects keep their keys as given.
    out["filter"] = row.filter
    out["headers"] = headers
    out["options"] = row.options
    out["outputSchema"] = row.output_schema
    if secret is not None:
        out["secret"] = secret
    return out


DELIVERY_FIELDS = (
    "id",
    "tenant_id",
    "event_id",
    "event_type",
    "destination_id",
    "connector",
    "status",
    "attempt_count",
    "next_attempt_at",
    "is_test",
    "trigger",
    "replay_of",
    "replay_id",
    "last_status_code",
    "last_error",
    "created_at",
    "updated_at",
    "completed_at",
)


def delivery_out(
    row: DeliveryRecord, attempts: list[StoredAttempt] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = camel({k: getattr(row, k) for k in DELIVERY_FIELDS})
    if attempts is not None:
        out["attempts"] = [attempt_out(a) for a in attempts]
    return out


def attempt_out(row: StoredAttempt) -> dict[str, Any]:
    out: dict[str, Any] = camel(
        {
            "id": row.id,
            "delivery_id": row.delivery_id,
            "destination_id": row.destination_id,
            "number": row.number,
            "started_at": row.started_at,
            "duration_ms": row.duration_ms,
            "status_code": row.status_code,
            "request_url": row.request_url,
            "request_body": row.request_body,
            "response_body": row.response_body,
            "error_class": row.error_class,
            "error": row.error,
            "outcome": row.outcome,
        }
    )
    # Headers as sent and received: camel() would rename a header name with an underscore.
    out["requestHeaders"] = row.request_headers
    out["responseHeaders"] = row.response_headers
    return out


def event_out(row: EventRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenantId": row.tenant_id,
        "type": row.type,
        "timestamp": times(row.created_at),
        "origin": row.origin,
        **payload_out(row),
    }


def payload_out(row: EventRecord) -> dict[str, Any]:
    """``data``, or ``data: null`` with ``expunged``/``expired`` once erased or pruned (§3)."""
    if row.expunged_at is not None:
        return {"data": None, "expunged": True}
    if row.expired_at is not None:
        return {"data": None, "expired": True}
    return {"data": row.data}
