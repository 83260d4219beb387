"""Read models for operations: the metrics snapshot, the dashboard's per-destination stats, and
the change feed the live stream reads.

Everything here is derived from the database at read time, so ``/metrics`` agrees with the
deliveries and attempts on disk across restarts and across several gateway processes. Its dialect
differences (a timestamp's Unix seconds, waiting for the change feed's writers) are in
``dialect.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from gateway.models import DeliveryStatus, ErrorClass
from gateway.store import dialect
from gateway.store.base import StoreBase
from gateway.store.records import ChangeRecord, CursorRecord, DestinationSummary, SeriesPoint
from gateway.store.tables import attempts as _att
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import delivery_changes as _chg
from gateway.store.tables import destinations as _dst
from gateway.store.tables import events as _evt
from gateway.store.tables import replays as _rpl
from gateway.store.tables import upstream_cursors as _cur

# Attempt latency histogram bounds, in seconds (Prometheus ``le`` labels).
LATENCY_BUCKETS_SECONDS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
CHANGE_FEED_LIMIT = 500


@dataclass
class LatencyHistogram:
    """Cumulative counts per bound (same order as ``LATENCY_BUCKETS_SECONDS``), count, sum."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_SECONDS))
    count: int = 0
    sum_seconds: float = 0.0


@dataclass
class MetricsSnapshot:
    """One consistent read of everything ``/metrics`` exposes."""

    deliveries: dict[tuple[str, str], int]  # (connector, status) -> deliveries
    queue: dict[str, int]  # due | scheduled | held | sending -> deliveries
    oldest_due_seconds: float  # how long the most overdue deliverable delivery has waited
    attempts: dict[tuple[str, str], int]  # (connector, outcome) -> attempts
    latency: dict[str, LatencyHistogram]  # connector -> histogram of attempt durations
    events: dict[str, tuple[int, int, int]]  # origin -> (total, last 1 min, last 5 min)
    cursors: list[CursorRecord]  # the poller's rows
    replays: dict[str, tuple[int, int, int]]  # status -> (jobs, matched, created)
    destinations: dict[str, int]  # status -> non-deleted destinations
    circuits: dict[str, int] = field(default_factory=dict)  # circuit -> active destinations
    connector_errors: dict[str, int] = field(default_factory=dict)  # connector -> internal attempts


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


class StatsVerbs(StoreBase):
    # -- /metrics --------------------------------------------------------------------------
    def metrics_snapshot(self) -> MetricsSnapshot:
        now = self.clock()
        with self.read() as conn:
            deliveries = {
                (r[0], r[1]): int(r[2])
                for r in conn.execute(
                    select(_dlv.c.connector, _dlv.c.status, func.count()).group_by(
                        _dlv.c.connector, _dlv.c.status
                    )
                ).all()
            }
            queue, oldest = self._queue(conn, now)
            attempts, latency, connector_errors = self._attempts(conn)
            events = {
                r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0))
                for r in conn.execute(
                    select(
                        _evt.c.origin,
                        func.count(),
                        _count_if(_evt.c.created_at >= now - timedelta(minutes=1)),
                        _count_if(_evt.c.created_at >= now - timedelta(minutes=5)),
                    ).group_by(_evt.c.origin)
                ).all()
            }
            cursors = [CursorRecord.from_row(r) for r in conn.execute(select(_cur)).all()]
            replays = {
                r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0))
                for r in conn.execute(
                    select(
                        _rpl.c.status,
                        func.count(),
                        func.sum(_rpl.c.matched),
                        func.sum(_rpl.c.created),
                    ).group_by(_rpl.c.status)
                ).all()
            }
            destinations = {
                r[0]: int(r[1])
                for r in conn.execute(
                    select(_dst.c.status, func.count())
                    .where(_dst.c.deleted_at.is_(None))
                    .group_by(_dst.c.status)
                ).all()
            }
            circuits = {
                r[0]: int(r[1])
                for r in conn.execute(
                    select(_dst.c.circuit, func.count())
                    .where(_dst.c.deleted_at.is_(None), _dst.c.status == "active")
                    .group_by(_dst.c.circuit)
                ).all()
            }
        return MetricsSnapshot(
            deliveries,
            queue,
            oldest,
            attempts,
            latency,
            events,
            cursors,
            replays,
            destinations,
            circuits,
            connector_errors,
        )

    def _queue(self, conn: Any, now: datetime) -> tuple[dict[str, int], float]:
        is_due = case((_dlv.c.next_attempt_at <= now, 1), else_=0).label("is_due")
        rows = conn.execute(
            select(
                _dlv.c.status,
                _dst.c.status.label("dst_status"),
                is_due,
                func.count(),
                func.min(_dlv.c.next_attempt_at),
            )
            .select_from(_dlv.join(_dst, _dst.c.id == _dlv.c.destination_id))
            .where(_dlv.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]))
            .group_by(_dlv.c.status, _dst.c.status, is_due)
        ).all()
        queue = {"due": 0, "scheduled": 0, "held": 0, "sending": 0}
        oldest = 0.0
        for status, dst_status, is_due, count, first in rows:
            if status == DeliveryStatus.SENDING.value:
                kind = "sending"
            elif dst_status != "active":
                kind = "held"
            else:
                kind = "due" if is_due else "scheduled"
            queue[kind] += int(count)
            if kind == "due" and first is not None:
                oldest = max(oldest, (now - first).total_seconds())
        return queue, oldest

    def _attempts(
        self, conn: Any
    ) -> tuple[dict[tuple[str, str], int], dict[str, LatencyHistogram], dict[str, int]]:
        """Attempts by connector and outcome, their latency histogram (bucketed in SQL), and the
        attempts recorded as ``internal`` (a bug in the gateway's code) by connector: one scan."""
        bounds = [_count_if(_att.c.duration_ms <= b * 1000) for b in LATENCY_BUCKETS_SECONDS]
        rows = conn.execute(
            select(
                _att.c.destination_id,
                _att.c.outcome,
                func.count(),
                func.sum(_att.c.duration_ms),
                _count_if(_att.c.error_class == ErrorClass.INTERNAL.value),
                *bounds,
            ).group_by(_att.c.destination_id, _att.c.outcome)
        ).all()
        connectors = dict(conn.execute(select(_dst.c.id, _dst.c.connector)).all())
        attempts: dict[tuple[str, str], int] = {}
        latency: dict[str, LatencyHistogram] = {}
        internal: dict[str, int] = {}
        for row in rows:
            connector = connectors.get(row[0], "unknown")
            key = (connector, row[1])
            attempts[key] = attempts.get(key, 0) + int(row[2])
            hist = latency.setdefault(connector, LatencyHistogram())
            hist.count += int(row[2])
            hist.sum_seconds += float(row[3] or 0) / 1000
            if row[4]:
                internal[connector] = internal.get(connector, 0) + int(row[4])
            for index, value in enumerate(row[5:]):
                hist.buckets[index] += int(value or 0)
        return attempts, latency, internal

    # -- the dashboard -----------------------------------------------------------------------
    def destination_series(
        self, destination_id: str, *, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[SeriesPoint]:
        """Attempts per time bucket: count, successes, mean and max latency (ms).

        ``since`` should be aligned to the bucket; buckets without attempts are omitted.
        """
        start = int(since.timestamp())
        index = (
            (dialect.epoch_seconds(self.engine, _att.c.started_at) - start) // bucket_seconds
        ).label("b")
        with self.read() as conn:
            rows = conn.execute(
                select(
                    index,
                    func.count(),
                    _count_if(_att.c.outcome == "success"),
                    func.avg(_att.c.duration_ms),
                    func.max(_att.c.duration_ms),
                )
                .where(
                    _att.c.destination_id == destination_id,
                    _att.c.started_at >= since,
                    _att.c.started_at < until,
                )
                .group_by(index)
                .order_by(index)
            ).all()
        return [
            SeriesPoint(
                bucket=int(r[0]),
                attempts=int(r[1]),
                succeeded=int(r[2] or 0),
                latency_ms_avg=float(r[3] or 0),
                latency_ms_max=float(r[4] or 0),
            )
            for r in rows
        ]

    def destination_summaries(
        self, destination_ids: list[str], *, since: datetime
    ) -> dict[str, DestinationSummary]:
        """Per destination since ``since``: attempts, successes, mean latency, the last error."""
        if not destination_ids:
            return {}
        out = {d: DestinationSummary() for d in destination_ids}
        in_window = (_att.c.destination_id.in_(destination_ids), _att.c.started_at >= since)
        ranked = (
            select(
                _att.c.destination_id,
                _att.c.error,
                _att.c.status_code,
                _att.c.started_at,
                func.row_number()
                .over(
                    partition_by=_att.c.destination_id,
                    order_by=(_att.c.started_at.desc(), _att.c.id.desc()),
                )
                .label("rank"),
            )
            .where(_att.c.destination_id.in_(destination_ids), _att.c.outcome != "success")
            .subquery()
        )
        with self.read() as conn:
            for r in conn.execute(
                select(
                    _att.c.destination_id,
                    func.count(),
                    _count_if(_att.c.outcome == "success"),
                    func.avg(_att.c.duration_ms),
                    func.max(_att.c.started_at),
                )
                .where(*in_window)
                .group_by(_att.c.destination_id)
            ).all():
                out[r[0]] = replace(
                    out[r[0]],
                    attempts=int(r[1]),
                    succeeded=int(r[2] or 0),
                    latency_ms_avg=float(r[3]) if r[3] is not None else None,
                    last_attempt_at=r[4],
                )
            for r in conn.execute(select(ranked).where(ranked.c.rank == 1)).all():
                out[r.destination_id] = replace(
                    out[r.destination_id],
                    last_error=r.error,
                    last_error_at=r.started_at,
                    last_status_code=r.status_code,
                )
        return out

    # -- the change feed (SSE) ---------------------------------------------------------------
    def change_horizon(self) -> int:
        """The highest change ``seq`` at or below which every change is visible for good.

        Sequence numbers are taken at insert but become visible at commit, so on PostgreSQL a
        reader that saw seq 11 may later see seq 10 commit. ``SHARE`` mode waits for every
        transaction that inserted changes to finish (and holds new ones off for a moment), so the
        max seen under it has no gaps left to fill. SQLite has one writer at a time: commit order
        is seq order already.
        """
        with self.tx() as conn:
            dialect.wait_for_writers(conn, _chg.name)
            return int(conn.execute(select(func.coalesce(func.max(_chg.c.seq), 0))).scalar_one())

    def changes_after(
        self,
        seq: int,
        *,
        upto: int,
        tenant_id: str | None,
        destination_id: str | None = None,
        limit: int = CHANGE_FEED_LIMIT,
    ) -> list[ChangeRecord]:
        """Delivery status changes with ``seq`` in ``(seq, upto]``, in order."""
        query = (
            select(
                _chg.c.seq,
                _chg.c.delivery_id,
                _chg.c.tenant_id,
                _chg.c.destination_id,
                _chg.c.status,
                _chg.c.attempt_count,
                _chg.c.at,
                _dlv.c.event_id,
                _dlv.c.event_type,
                _dlv.c.connector,
                _dlv.c.trigger,
                _dlv.c.replay_of,
                _dlv.c.is_test,
            )
            .select_from(_chg.join(_dlv, _dlv.c.id == _chg.c.delivery_id))
            .where(_chg.c.seq > seq, _chg.c.seq <= upto)
            .order_by(_chg.c.seq)
            .limit(limit)
        )
        if tenant_id is not None:
            query = query.where(_chg.c.tenant_id == tenant_id)
        if destination_id is not None:
            query = query.where(_chg.c.destination_id == destination_id)
        with self.read() as conn:
            return [ChangeRecord.from_row(r) for r in conn.execute(query).all()]
