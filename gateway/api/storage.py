"""Storage figures for ``/metrics`` and ``/health``: database size, rows pruned, erasures.

- ``gateway_database_bytes``: the SQLite file plus its WAL, or ``pg_database_size``
- ``gateway_retention_pruned_rows_total{kind}``: rows whose payload (``payload_events``,
  ``payload_attempts``) or whole history (``history_events``, ``history_deliveries``,
  ``history_attempts``, ``history_changes``) the retention job removed
- ``gateway_erased_events_total``, ``gateway_erasures{status}``: events erased, erasure jobs

``/health`` gets ``checks.storage``: ``warning`` once the database is larger than
``GATEWAY_DATABASE_WARN_BYTES`` (default 10 GiB): retention is not keeping up, or is set too long.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.settings import Settings
from gateway.store import Store

PRUNED_PREFIX = "pruned_"


@dataclass(frozen=True)
class StorageSnapshot:
    database_bytes: int
    counters: dict[str, int]  # retention_counters rows
    erasures: dict[str, int]  # erasure jobs by status


def storage_snapshot(store: Store) -> StorageSnapshot:
    return StorageSnapshot(
        database_bytes=store.database_bytes(),
        counters=store.retention_counters(),
        erasures=store.erasure_totals(),
    )


class StorageCollector(Collector):
    def __init__(self, snap: StorageSnapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "gateway_database_bytes",
            "Size of the database on disk (SQLite file + WAL, or pg_database_size).",
            value=self.snap.database_bytes,
        )
        pruned = CounterMetricFamily(
            "gateway_retention_pruned_rows",
            "Rows the retention job removed (payloads first, whole history later), by kind.",
            labels=["kind"],
        )
        for name, value in sorted(self.snap.counters.items()):
            if name.startswith(PRUNED_PREFIX):
                pruned.add_metric([name.removeprefix(PRUNED_PREFIX)], value)
        yield pruned
        yield CounterMetricFamily(
            "gateway_erased_events",
            "Events whose payload an erasure removed (by id or by match).",
            value=self.snap.counters.get("erased_events", 0),
        )
        jobs = GaugeMetricFamily("gateway_erasures", "Erasures by status.", labels=["status"])
        for status, count in sorted(self.snap.erasures.items()):
            jobs.add_metric([status], count)
        yield jobs


def storage_check(store: Store, settings: Settings) -> dict[str, Any]:
    size = store.database_bytes()
    limit = settings.database_warn_bytes
    return {"status": "warning" if size > limit else "ok", "bytes": size, "warnBytes": limit}
