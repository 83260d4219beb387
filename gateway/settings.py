"""Settings, read once in ``create_app``/the CLI and passed down (no import-time globals).

Names are fixed by CONTRACT §1; a ``.env`` file in the working directory may set them too.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.netguard import Allowlist, parse_allowlist

DEFAULT_DATABASE_URL = "sqlite:///./gateway.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="GATEWAY_DATABASE_URL")
    admin_key: str | None = Field(None, alias="GATEWAY_ADMIN_KEY")
    encryption_key: str | None = Field(None, alias="GATEWAY_ENCRYPTION_KEY")
    allow_private_networks: str = Field("", alias="GATEWAY_ALLOW_PRIVATE_NETWORKS")
    person_api_base_url: str | None = Field(None, alias="PERSON_API_BASE_URL")
    person_api_key: str | None = Field(None, alias="PERSON_API_KEY")
    person_tenant_ids: str = Field(
        "", alias="PERSON_TENANT_IDS"
    )  # comma list; empty = default tenant
    poll_interval_seconds: float = Field(30.0, alias="GATEWAY_POLL_INTERVAL_SECONDS", gt=0)
    auto_migrate: bool = Field(False, alias="GATEWAY_AUTO_MIGRATE")  # PostgreSQL only
    max_event_bytes: int = Field(1024 * 1024, alias="GATEWAY_MAX_EVENT_BYTES", ge=1)
    max_request_bytes: int = Field(16 * 1024 * 1024, alias="GATEWAY_MAX_REQUEST_BYTES", ge=1)
    metrics_token: str | None = Field(None, alias="GATEWAY_METRICS_TOKEN")

    # Worker tuning (not in the contract; sensible defaults, overridable for tests/benchmarks).
    worker_batch_size: int = Field(200, alias="GATEWAY_WORKER_BATCH_SIZE", ge=1, le=5000)
    worker_concurrency: int = Field(256, alias="GATEWAY_WORKER_CONCURRENCY", ge=1)
    destination_concurrency: int = Field(32, alias="GATEWAY_DESTINATION_CONCURRENCY", ge=1)
    worker_idle_seconds: float = Field(0.2, alias="GATEWAY_WORKER_IDLE_SECONDS", gt=0)
    # `gateway serve` also starts this many `gateway worker` subprocesses: a second core for
    # draining a backlog (bench/processes.py: 1.15-1.3x on SQLite, 1.3-1.5x on PostgreSQL). 0 (one
    # process, CONTRACT §1) by default: on SQLite nothing wakes another process on intake.
    worker_processes: int = Field(0, alias="GATEWAY_WORKER_PROCESSES", ge=0, le=64)
    lease_seconds: float = Field(60.0, alias="GATEWAY_LEASE_SECONDS", gt=0)
    auto_disable_after_seconds: float = Field(5 * 86400, alias="GATEWAY_AUTO_DISABLE_AFTER_SECONDS")
    shutdown_seconds: float = Field(10.0, alias="GATEWAY_SHUTDOWN_SECONDS", ge=0)  # CONTRACT §1
    circuit_failures: int = Field(5, alias="GATEWAY_CIRCUIT_FAILURES", ge=1)
    circuit_max_probe_seconds: float = Field(60.0, alias="GATEWAY_CIRCUIT_MAX_PROBE_SECONDS", ge=1)
    replay_rate_per_second: float = Field(200.0, alias="GATEWAY_REPLAY_RATE_PER_SECOND", gt=0)

    # Retention and erasure (CONTRACT §1; fractions of a day allowed, e.g. 0.01 = 14.4 minutes).
    payload_retention_days: float = Field(30.0, alias="GATEWAY_PAYLOAD_RETENTION_DAYS", gt=0)
    history_retention_days: float = Field(90.0, alias="GATEWAY_HISTORY_RETENTION_DAYS", gt=0)
    erasure_rate_per_second: float = Field(200.0, alias="GATEWAY_ERASURE_RATE_PER_SECOND", gt=0)
    # /health warns (checks.storage "warning") once the database is larger than this.
    database_warn_bytes: int = Field(10 * 1024**3, alias="GATEWAY_DATABASE_WARN_BYTES", gt=0)

    def allowed_networks(self) -> Allowlist:
        """The CIDRs destinations may resolve to besides public ones; ``None`` means any (``*``)."""
        return parse_allowlist(self.allow_private_networks)

    def database_dir(self) -> Path:
        """The directory of the SQLite file (where the generated encryption key lives)."""
        url = self.database_url
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                return Path(path).expanduser().resolve().parent
        return Path.cwd()

    def tenant_ids(self) -> list[str]:
        return [t.strip() for t in self.person_tenant_ids.split(",") if t.strip()]
