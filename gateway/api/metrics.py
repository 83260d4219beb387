"""``GET /metrics``: Prometheus text format, derived from the database at scrape time.

Counting rows at scrape time (not process-local counters) keeps the numbers equal to what is on
disk, across restarts and across several gateway processes sharing one database; any process's
``/metrics`` shows the whole deployment. Families:

- ``gateway_deliveries{connector,status}`` (gauge) and ``gateway_deliveries_completed_total``
  (counter of deliveries that reached a final status, by connector and outcome)
- ``gateway_attempts_total{connector,outcome}`` and ``gateway_attempt_duration_seconds`` (histogram)
- ``gateway_connector_errors_total{connector}``: attempts recorded as ``internal`` (a bug in the
  gateway's code, e.g. a connector's ``render`` raising ``KeyError``; retried, never the user's
  permanent failure)
- ``gateway_queue_depth{state}``: due, scheduled (waiting for a retry), held (destination
  disabled), sending; ``gateway_queue_oldest_due_age_seconds``
- ``gateway_events_total{origin}`` (intake counter) and ``gateway_intake_events_per_second``
- ``gateway_poller_lag_seconds{tenant}``, ``gateway_poller_consecutive_failures{tenant}``
- ``gateway_replays{status}``, ``gateway_replay_deliveries_created_total``, ``gateway_destinations``
- ``gateway_destination_circuits{state}``: active destinations whose circuit is closed, open or
  halfOpen (CONTRACT §2 ``circuit``)
- storage (``gateway/api/storage.py``): database size, rows pruned, erasures
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import __version__
from gateway.api.auth import authenticate
from gateway.api.common import run, services
from gateway.api.storage import StorageCollector, storage_snapshot
from gateway.errors import AuthError, ForbiddenError
from gateway.models import DeliveryStatus
from gateway.store.stats import LATENCY_BUCKETS_SECONDS, MetricsSnapshot

FINAL = (
    DeliveryStatus.SUCCEEDED.value,
    DeliveryStatus.FAILED.value,
    DeliveryStatus.CANCELLED.value,
)


class SnapshotCollector(Collector):
    """Turns one ``MetricsSnapshot`` into metric families."""

    def __init__(self, snap: MetricsSnapshot, now_seconds: float) -> None:
        self.snap = snap
        self.now = now_seconds

    def collect(self) -> Iterator[Metric]:
        yield from self._deliveries()
        yield from self._attempts()
        yield from self._queue()
        yield from self._intake()
        yield from self._poller()
        yield from self._replays()
        info = GaugeMetricFamily("gateway_build_info", "The gateway's version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info

    def _deliveries(self) -> Iterator[Metric]:
        current = GaugeMetricFamily(
            "gateway_deliveries",
            "Deliveries by connector and status.",
            labels=["connector", "status"],
        )
        done = CounterMetricFamily(
            "gateway_deliveries_completed",
            "Deliveries that reached a final status, by outcome.",
            labels=["connector", "outcome"],
        )
        for (connector, status), count in sorted(self.snap.deliveries.items()):
            current.add_metric([connector, status], count)
            if status in FINAL:
                done.add_metric([connector, status], count)
        yield current
        yield done

    def _attempts(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "gateway_attempts",
            "HTTP attempts by connector and outcome.",
            labels=["connector", "outcome"],
        )
        for (connector, outcome), count in sorted(self.snap.attempts.items()):
            attempts.add_metric([connector, outcome], count)
        yield attempts
        latency = HistogramMetricFamily(
            "gateway_attempt_duration_seconds", "Duration of HTTP attempts.", labels=["connector"]
        )
        for connector, hist in sorted(self.snap.latency.items()):
            buckets = [
                (repr(bound), count)
                for bound, count in zip(LATENCY_BUCKETS_SECONDS, hist.buckets, strict=True)
            ]
            buckets.append(("+Inf", hist.count))
            latency.add_metric([connector], buckets, hist.sum_seconds)
        yield latency

    def _queue(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "gateway_queue_depth", "Deliveries not yet finished, by state.", labels=["state"]
        )
        for state, count in self.snap.queue.items():
            depth.add_metric([state], count)
        yield depth
        yield GaugeMetricFamily(
            "gateway_queue_oldest_due_age_seconds",
            "How long the most overdue deliverable delivery has waited past its due time.",
            value=self.snap.oldest_due_seconds,
        )

    def _intake(self) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "gateway_events", "Events taken in, by origin.", labels=["origin"]
        )
        rate = GaugeMetricFamily(
            "gateway_intake_events_per_second",
            "Events taken in per second over a recent window.",
            labels=["origin", "window"],
        )
        for origin, (count, last_1m, last_5m) in sorted(self.snap.events.items()):
            total.add_metric([origin], count)
            rate.add_metric([origin, "1m"], last_1m / 60)
            rate.add_metric([origin, "5m"], last_5m / 300)
        yield total
        yield rate

    def _poller(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "gateway_poller_lag_seconds",
            "Seconds since the person.run poller last succeeded per tenant.",
            labels=["tenant"],
        )
        failures = GaugeMetricFamily(
            "gateway_poller_consecutive_failures",
            "Failed polls since the last success per tenant.",
            labels=["tenant"],
        )
        for cursor in self.snap.cursors:
            success = cursor.last_success_at
            if success is not None:
                lag.add_metric([cursor.tenant_id], max(0.0, self.now - success.timestamp()))
            failures.add_metric([cursor.tenant_id], cursor.failures or 0)
        yield lag
        yield failures

    def _replays(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "gateway_replays", "Bulk replay jobs by status.", labels=["status"]
        )
        created = CounterMetricFamily(
            "gateway_replay_deliveries_created", "Deliveries created by bulk replays."
        )
        for status, (count, _, _) in sorted(self.snap.replays.items()):
            jobs.add_metric([status], count)
        created.add_metric([], sum(made for _, _, made in self.snap.replays.values()))
        yield jobs
        yield created
        destinations = GaugeMetricFamily(
            "gateway_destinations", "Destinations by status.", labels=["status"]
        )
        for status, count in sorted(self.snap.destinations.items()):
            destinations.add_metric([status], count)
        yield destinations
        circuits = GaugeMetricFamily(
            "gateway_destination_circuits",
            "Active destinations by circuit state (closed, open, halfOpen).",
            labels=["state"],
        )
        for state in ("closed", "open", "halfOpen"):
            circuits.add_metric([state], self.snap.circuits.get(state, 0))
        yield circuits


class ConnectorErrorCollector(Collector):
    """``gateway_connector_errors_total``: internal-error attempts by connector."""

    def __init__(self, errors: dict[str, int]) -> None:
        self.errors = errors

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "gateway_connector_errors",
            "Attempts that failed on an internal error (a bug, retried), by connector.",
            labels=["connector"],
        )
        for connector, count in sorted(self.errors.items()):
            family.add_metric([connector], count)
        yield family


async def authorize_scrape(request: Request) -> None:
    """``/metrics`` names tenants and volumes: an admin ``x-api-key`` or
    ``Authorization: Bearer $GATEWAY_METRICS_TOKEN`` (what Prometheus' ``authorization`` sends)."""
    svc = services(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = svc.settings.metrics_token
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected.encode())
    ):
        return
    if not request.headers.get("x-api-key"):
        raise AuthError(
            "/metrics needs an admin x-api-key or Authorization: Bearer <metrics token>"
        )
    principal = await authenticate(request)
    if not principal.is_admin:
        raise ForbiddenError("/metrics needs an admin key or the metrics token")


async def metrics(request: Request) -> Response:
    await authorize_scrape(request)
    store = services(request).store
    snap = await run(store.metrics_snapshot)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap, store.clock().timestamp()))
    registry.register(StorageCollector(await run(storage_snapshot, store)))
    registry.register(ConnectorErrorCollector(snap.connector_errors))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"])]
