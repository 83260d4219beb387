"""What the store's verbs return: one frozen record per resource, built from a row in one place.

Each record names its table's columns with their Python types, so a caller reads ``dst.connector``
and mypy checks it; ``from_row`` (one per class, inherited) is the only place a SQLAlchemy ``Row``
becomes a value. The field names are the column names, so ``from_row`` is ``cls(**row._mapping)``:
a query must select exactly the record's columns (``select(table)`` for the full rows,
``select(*columns_of(Record, table))`` for the partial ones).

Plain dataclasses, not ORM instances: the claim and the API read thousands of rows a second, and
an ORM object brings a session, an identity map and lazy loads for values that are read once.
JSON columns are typed as precisely as the gateway controls them; user-shaped JSON (an event's
``data``, a destination's ``filter`` and ``options``) stays ``dict[str, Any]``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol, Self

from sqlalchemy import Column, Row, Table

from gateway.models import ErrorClass


class FromRow:
    """A record built from a row whose columns are its fields."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: Row[*tuple[Any, ...]]) -> Self:
        """The record of ``row``, whose columns are exactly this record's fields."""
        return cls(**row._mapping)


def columns_of(record: Any, table: Table) -> list[Column[Any]]:
    """``table``'s columns named by ``record``'s fields: what to select for a partial record."""
    return [table.c[f.name] for f in fields(record)]


class Target(Protocol):
    """What a new delivery needs of its destination (``rows.delivery_values``)."""

    @property
    def id(self) -> str: ...
    @property
    def connector(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TargetRecord:
    """A ``Target`` known only by its id and connector (a bulk replay's original delivery)."""

    id: str
    connector: str


@dataclass(frozen=True, slots=True)
class DestinationRecord(FromRow):
    """A ``destinations`` row; secrets stay sealed (``*_enc``), ``Store.destination_view`` opens."""

    id: str
    tenant_id: str
    name: str
    connector: str
    url: str  # as shown: userinfo masked
    url_userinfo_enc: str | None
    event_types: list[str]
    filter: dict[str, Any] | None
    signing: str
    secrets_enc: str
    headers: dict[str, str] | None  # names only, each value "[redacted]"
    headers_enc: str | None
    credentials_enc: str | None
    options: dict[str, Any] | None
    retry_schedule: list[float] | None
    timeout_seconds: float
    rate_limit_per_second: float | None
    ordered: bool
    subscription: bool
    output_schema: dict[str, Any] | None
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    circuit: str
    consecutive_failures: int
    probe_failures: int
    circuit_retry_at: datetime | None
    failing_alerted: int
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class SubjectRecord(FromRow):
    """The destination an operational event is about: id, tenant and name."""

    id: str
    tenant_id: str
    name: str


@dataclass(frozen=True, slots=True)
class EventRecord(FromRow):
    """An ``events`` row; ``data`` is ``{}`` once expired or expunged."""

    id: str
    tenant_id: str
    type: str
    data: dict[str, Any]
    origin: str
    created_at: datetime
    expired_at: datetime | None
    expunged_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord(FromRow):
    """A ``deliveries`` row."""

    id: str
    tenant_id: str
    event_id: str
    event_type: str
    destination_id: str
    connector: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    leased_by: str | None
    is_test: bool
    trigger: str
    replay_of: str | None
    replay_id: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredAttempt(FromRow):
    """An ``attempts`` row (what was sent and answered; secrets redacted, bodies capped)."""

    id: str
    delivery_id: str
    destination_id: str
    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    request_url: str
    request_headers: dict[str, str] | None
    request_body: str | None
    response_headers: dict[str, str] | None
    response_body: str | None
    error_class: ErrorClass | None
    error: str | None
    outcome: str

    @classmethod
    def from_row(cls, row: Row[*tuple[Any, ...]]) -> Self:
        """``error_class`` is stored as its value and read back as the enum."""
        values = dict(row._mapping)
        values["error_class"] = values["error_class"] and ErrorClass(values["error_class"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ChangeRecord(FromRow):
    """A ``delivery_changes`` row with its delivery's identity (the SSE stream's item)."""

    seq: int
    delivery_id: str
    tenant_id: str
    destination_id: str
    status: str
    attempt_count: int
    at: datetime
    event_id: str
    event_type: str
    connector: str
    trigger: str
    replay_of: str | None
    is_test: bool


@dataclass(frozen=True, slots=True)
class ApiKeyRecord(FromRow):
    """An active API key as listed: never the key or its hash."""

    id: str
    tenant_id: str | None
    name: str
    is_admin: bool
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReplayRecord(FromRow):
    """A bulk replay job (``filters`` is ``ReplayFilter.to_json()``)."""

    id: str
    tenant_id: str | None
    filters: dict[str, Any]
    status: str
    matched: int
    created: int
    cursor: str | None
    lease_until: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ErasureRecord(FromRow):
    """An erasure's audit row (the match itself only as a hash; sealed while it runs)."""

    id: str
    tenant_id: str
    kind: str
    key_id: str | None
    match_paths: list[str] | None
    match_hash: str
    match_enc: str | None
    status: str
    matched: int
    erased: int
    cursor: str | None
    until: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class CursorRecord(FromRow):
    """The person.run poller's position for one tenant."""

    tenant_id: str
    updated_after: str | None
    task_ids_at: list[str] | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    backoff_until: datetime | None
    failures: int


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """An inbound survey source with its secret and config opened."""

    id: str
    tenant_id: str
    kind: str
    secret: str | None
    config: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket of a destination's attempts (``bucket``: its index from the window's start)."""

    bucket: int
    attempts: int
    succeeded: int
    latency_ms_avg: float
    latency_ms_max: float


@dataclass(frozen=True, slots=True)
class DestinationSummary:
    """A destination's attempts since a time, and its last failure (zeros: none yet)."""

    attempts: int = 0
    succeeded: int = 0
    latency_ms_avg: float | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_status_code: int | None = None
