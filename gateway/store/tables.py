"""The store's tables (SQLModel), shared by SQLite and PostgreSQL.

Timestamps are stored as naive UTC and come back as aware UTC (``UTCDateTime``), so ordering and
comparisons behave the same on both databases. JSON columns are JSONB on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, naive UTC on disk, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSONType, nullable=nullable))


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"
    id: str = Field(primary_key=True)
    tenant_id: str | None = Field(default=None, index=True)  # None only for admin keys
    name: str = ""
    key_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    is_admin: bool = False
    created_at: datetime = _ts(nullable=False)
    revoked_at: datetime | None = _ts()
    last_used_at: datetime | None = _ts()  # written at most once a minute per key and process


class DestinationRow(SQLModel, table=True):
    __tablename__ = "destinations"
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    name: str = ""
    connector: str
    # The URL as shown: any userinfo masked (``user:***@``); the userinfo itself is sealed apart.
    url: str = Field(sa_column=Column(Text, nullable=False))
    url_userinfo_enc: str | None = Field(default=None, sa_column=Column(Text))  # Fernet(JSON str)
    event_types: list[str] = _json(nullable=False)
    filter: dict[str, Any] | None = _json()
    signing: str = "hmac-sha256"
    secrets_enc: str = Field(
        sa_column=Column(Text, nullable=False)
    )  # Fernet(JSON [{secret, expiresAt}])
    headers: dict[str, str] | None = _json()  # the names only, each value "[redacted]"
    headers_enc: str | None = Field(default=None, sa_column=Column(Text))  # Fernet(JSON object)
    credentials_enc: str | None = Field(default=None, sa_column=Column(Text))  # Fernet(JSON object)
    options: dict[str, Any] | None = _json()
    retry_schedule: list[float] | None = _json()
    timeout_seconds: float = 15.0
    rate_limit_per_second: float | None = None
    ordered: bool = False
    subscription: bool = False  # created by a platform through /hooks/{platform}
    output_schema: dict[str, Any] | None = _json()
    status: str = "active"
    disabled_reason: str | None = None
    disabled_at: datetime | None = _ts()
    failing_since: datetime | None = _ts()  # first failed attempt of the current failure streak
    circuit: str = Field(
        default="closed", sa_column=Column(String, nullable=False, server_default="closed")
    )  # closed | open | halfOpen (gateway.outcome.Circuit)
    consecutive_failures: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )  # retryable failures since the last success
    probe_failures: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )  # failed probes since the circuit opened (the probe backoff's exponent)
    circuit_retry_at: datetime | None = _ts()  # open: next probe allowed; halfOpen: probe guard
    failing_alerted: int = 0  # highest gateway.destination.failing threshold (50, 90) emitted
    version: int = 1
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    deleted_at: datetime | None = _ts()


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_tenant_type_created", "tenant_id", "type", "created_at"),
        Index("ix_events_payload", "expired_at", "created_at", "id"),
        Index("ix_events_created", "created_at", "id"),
    )
    # Keyed by (id, tenant_id): an event id is scoped to its tenant (migration 0005).
    id: str = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True)
    type: str
    data: dict[str, Any] = _json(nullable=False)  # {} once expired or expunged
    origin: str = "api"  # api | poller | ingest | test | gateway
    created_at: datetime = _ts(nullable=False)
    expired_at: datetime | None = _ts()  # payload removed by retention
    expunged_at: datetime | None = _ts()  # payload removed by an erasure


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at", "id"),
        Index("ix_deliveries_destination", "destination_id", "id"),
        # The claim's walks (migration 0009): open deliveries only.
        Index(
            "ix_deliveries_pending",
            "destination_id",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_deliveries_open",
            "destination_id",
            "id",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_deliveries_tenant_created", "tenant_id", "created_at"),
    )
    id: str = Field(primary_key=True)
    tenant_id: str
    event_id: str = Field(index=True)
    event_type: str
    destination_id: str
    connector: str
    status: str = "pending"
    attempt_count: int = 0
    next_attempt_at: datetime | None = _ts()
    lease_until: datetime | None = _ts()
    leased_by: str | None = None
    is_test: bool = False
    trigger: str = "event"
    replay_of: str | None = Field(default=None, index=True)
    replay_id: str | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _ts()


class AttemptRow(SQLModel, table=True):
    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_delivery", "delivery_id", "number", unique=True),  # written once
        Index("ix_attempts_destination_started", "destination_id", "started_at"),
    )
    id: str = Field(primary_key=True)
    delivery_id: str
    destination_id: str
    number: int
    started_at: datetime = _ts(nullable=False, index=True)
    duration_ms: float = 0.0
    status_code: int | None = None
    request_url: str = Field(default="", sa_column=Column(Text, nullable=False))
    request_headers: dict[str, str] | None = _json()  # secrets redacted
    request_body: str | None = Field(default=None, sa_column=Column(Text))  # as sent, capped
    response_headers: dict[str, str] | None = _json()
    response_body: str | None = Field(default=None, sa_column=Column(Text))  # first 4 KiB
    error_class: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    outcome: str = ""  # success | retry | fail | disable


class PacingRow(SQLModel, table=True):
    """A rate-limited destination's next free send slot, shared by every worker process."""

    __tablename__ = "destination_pacing"
    destination_id: str = Field(primary_key=True)
    next_slot_at: datetime = _ts(nullable=False)


class DeliveryChangeRow(SQLModel, table=True):
    """Append-only log of delivery status changes: the SSE stream's source (resumable by seq)."""

    __tablename__ = "delivery_changes"
    __table_args__ = (Index("ix_delivery_changes_at", "at", "seq"),)
    seq: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    delivery_id: str
    tenant_id: str = Field(index=True)
    destination_id: str
    status: str
    attempt_count: int = 0
    at: datetime = _ts(nullable=False)


class SourceRow(SQLModel, table=True):
    __tablename__ = "sources"
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    kind: str  # typeform | qualtrics
    secret_enc: str | None = Field(default=None, sa_column=Column(Text))
    config_enc: str | None = Field(
        default=None, sa_column=Column(Text)
    )  # Fernet(JSON qualtrics cfg)
    created_at: datetime = _ts(nullable=False)


class ReplayRow(SQLModel, table=True):
    __tablename__ = "replays"
    __table_args__ = (Index("ix_replays_status_created", "status", "created_at"),)
    id: str = Field(primary_key=True)
    tenant_id: str | None = None
    filters: dict[str, Any] = _json(nullable=False)
    status: str = "pending"  # pending | running | completed | failed | cancelled
    matched: int = 0
    created: int = 0
    cursor: str | None = None  # last original delivery id replayed (ids sort by time)
    lease_until: datetime | None = _ts()
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class ErasureRow(SQLModel, table=True):
    """One audit row per erasure: when, which key, how many; the matched value only as a hash."""

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_status_created", "status", "created_at"),)
    id: str = Field(primary_key=True)
    tenant_id: str
    kind: str  # event (DELETE /integrations/events/{id}) | match (POST /integrations/erasures)
    key_id: str | None = None  # the API key that asked (None: the bootstrap admin key)
    match_paths: list[str] | None = _json()  # the dotted paths matched on (never the values)
    match_hash: str = Field(sa_column=Column(String(64), nullable=False))  # SHA-256 hex
    match_enc: str | None = Field(default=None, sa_column=Column(Text))  # sealed while running
    status: str = "pending"  # pending | running | completed
    matched: int = 0
    erased: int = 0
    cursor: str | None = None  # last event id examined (events are walked in id order)
    until: datetime = _ts(nullable=False)  # events stored after this are not matched
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _ts()


class RetentionCounterRow(SQLModel, table=True):
    """Running totals of rows pruned and erased, by name (``/metrics``)."""

    __tablename__ = "retention_counters"
    name: str = Field(primary_key=True)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class CursorRow(SQLModel, table=True):
    """The person.run poller's position per tenant."""

    __tablename__ = "upstream_cursors"
    tenant_id: str = Field(primary_key=True)
    updated_after: str | None = None  # the upstream's updatedAt of the last task taken (as sent)
    task_ids_at: list[str] | None = _json()  # task ids already taken at exactly updated_after
    last_success_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: datetime | None = _ts()
    backoff_until: datetime | None = _ts()
    failures: int = 0


class TickRow(SQLModel, table=True):
    """One row per periodic job tick: the unique key makes a tick run once across processes."""

    __tablename__ = "scheduler_ticks"
    job: str = Field(primary_key=True)
    tick: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    owner: str = ""
    at: datetime = _ts(nullable=False)


class HeartbeatRow(SQLModel, table=True):
    """Each process's scheduler writes here; /health reads it."""

    __tablename__ = "heartbeats"
    owner: str = Field(primary_key=True)
    role: str = ""
    at: datetime = _ts(nullable=False)


metadata = SQLModel.metadata

# The tables as typed ``sqlalchemy.Table`` objects, the store's one way to reach them in
# statements (SQLModel declares them; the classes are not used as ORM models: see records.py).
_tables = metadata.tables
api_keys: Table = _tables["api_keys"]
destinations: Table = _tables["destinations"]
events: Table = _tables["events"]
deliveries: Table = _tables["deliveries"]
attempts: Table = _tables["attempts"]
destination_pacing: Table = _tables["destination_pacing"]
delivery_changes: Table = _tables["delivery_changes"]
sources: Table = _tables["sources"]
replays: Table = _tables["replays"]
erasures: Table = _tables["erasures"]
retention_counters: Table = _tables["retention_counters"]
upstream_cursors: Table = _tables["upstream_cursors"]
scheduler_ticks: Table = _tables["scheduler_ticks"]
heartbeats: Table = _tables["heartbeats"]
