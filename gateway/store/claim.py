"""The worker's hot path: claim due deliveries fairly, with what they need to be sent, in one go.

One transaction (``claim_due``) does it all, so a claim is never orphaned by a failed second read:

1. expired leases (a process that died mid-send) make their deliveries ``pending`` again;
2. destinations whose circuit is open and due for a probe get one (``halfOpen``, with a guard);
3. candidates: each due destination's oldest due deliveries, read from an index up to its cap
   and ranked per destination (``row_number() OVER (PARTITION BY destination_id …)``), so every
   due destination shows up, not only the oldest backlog, whatever the backlog's size; the
   caller's per-destination caps and its budget are shared round-robin over them (rank 1 of every
   destination first, then rank 2 …): a claim never takes more of one destination than the
   worker can start now, and one busy destination cannot crowd out the rest;
4. rate-limited destinations reserve send slots in ``destination_pacing`` (shared by every
   process, so N workers together keep ``rateLimitPerSecond``); a delivery without a slot within
   the horizon is not claimed;
5. the rows move to ``sending`` under a lease (on PostgreSQL through ``FOR UPDATE SKIP LOCKED``:
   concurrent workers skip each other's rows, and if all were taken the next ranks are read; on
   SQLite ``BEGIN IMMEDIATE`` makes the transaction the only writer), and their events are read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, update

from gateway.models import DeliveryStatus, StoredEvent
from gateway.outcome import Circuit
from gateway.store.attempts import AttemptRecord, AttemptVerbs, Recorded
from gateway.store.changes import Move, move_each, move_where
from gateway.store.destinations import destinations_by_id
from gateway.store.dialect import insert_ignore, locks_rows, name_of
from gateway.store.events import stored_events_by_key
from gateway.store.records import DestinationRecord
from gateway.store.tables import UTCDateTime
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import destination_pacing as _pace
from gateway.store.tables import destinations as _dst

__all__ = ["AttemptRecord", "Claimed", "ClaimVerbs", "Recorded"]


RATE_MARGIN = 0.85  # slots 15 % wider than 1/rate: late sends never make a window too many
SCAN_FACTOR = 3  # candidate rows read per delivery the claim may take
LOCK_ROUNDS = 4  # candidate reads when other workers hold the first ones locked

# Candidates: each due destination's first ``cap`` due deliveries, read from the partial index
# ``ix_deliveries_pending (destination_id, next_attempt_at, id) WHERE status = 'pending'`` and
# stopped at the cap (PostgreSQL: ``LATERAL … LIMIT``; SQLite: a correlated ``IN (… LIMIT)``),
# so a claim reads at most destinations × cap rows, never the whole backlog. An ``ordered``
# destination offers only its oldest open (pending or sending) delivery, found first in
# ``ix_deliveries_open (destination_id, id) WHERE status IN ('pending', 'sending')``, and only
# while that one is pending and due. Ranks (1 = a destination's oldest due) order the result.
_CANDIDATES_SQL = """
WITH due AS (
    SELECT id, ordered FROM destinations
    WHERE status = 'active' AND deleted_at IS NULL
      AND (circuit = 'closed' OR id IN :probes) AND id NOT IN :blocked
), picked AS (
    SELECT d.id, d.destination_id, d.next_attempt_at FROM due t {walk}
    WHERE NOT t.ordered
    UNION ALL
    SELECT d.id, d.destination_id, d.next_attempt_at FROM due t
    JOIN deliveries d ON d.id = (
        SELECT o.id FROM deliveries o
        WHERE o.destination_id = t.id AND o.status IN ('pending', 'sending')
        ORDER BY o.id LIMIT 1)
    WHERE t.ordered AND d.status = 'pending' AND d.next_attempt_at <= :now
      AND d.id NOT IN :skipped
)
SELECT id, destination_id, rn FROM (
    SELECT id, destination_id, next_attempt_at,
           row_number() OVER (PARTITION BY destination_id
                              ORDER BY next_attempt_at, id) AS rn
    FROM picked
) ranked
ORDER BY rn, next_attempt_at, id
LIMIT :scan
"""
_WALK = """
    SELECT e.id{columns} FROM deliveries e
    WHERE e.destination_id = t.id AND e.status = 'pending' AND e.next_attempt_at <= :now
      AND e.id NOT IN :skipped
    ORDER BY e.next_attempt_at, e.id LIMIT :cap"""
_WALKS = {
    "postgresql": "CROSS JOIN LATERAL ({}) d".format(
        _WALK.format(columns=", e.destination_id, e.next_attempt_at")
    ),
    "sqlite": "JOIN deliveries d ON d.id IN ({})".format(_WALK.format(columns="")),
}


def candidates_sql(dialect: str) -> str:
    """The candidate statement for this dialect (``bench/claim_cost.py`` explains it)."""
    return _CANDIDATES_SQL.format(walk=_WALKS.get(dialect, _WALKS["sqlite"]))


_candidates = {
    dialect: text(candidates_sql(dialect)).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("probes", expanding=True),
        bindparam("blocked", expanding=True),
        bindparam("skipped", expanding=True),
    )
    for dialect in _WALKS
}

# A probe is granted only where something is due to probe with.
_PROBE_SQL = text("""
UPDATE destinations SET circuit = 'halfOpen', circuit_retry_at = :guard
WHERE circuit <> 'closed' AND circuit_retry_at <= :now
  AND status = 'active' AND deleted_at IS NULL AND id NOT IN :blocked
  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.destination_id = destinations.id
              AND d.status = 'pending' AND d.next_attempt_at <= :now)
RETURNING id
""").bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("guard", type_=UTCDateTime()),
    bindparam("blocked", expanding=True),
)


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker now holds under a lease, with what sending it needs."""

    id: str
    tenant_id: str
    event_id: str
    event_type: str
    destination_id: str
    connector: str
    attempt_count: int
    is_test: bool
    trigger: str
    replay_of: str | None
    event: StoredEvent | None = None  # its event, ``data`` as stored JSON text (None: gone)
    destination: DestinationRecord | None = None  # the destinations row
    send_at: datetime | None = None  # its rate-limit slot (None: at once)
    slot_seconds: float = 0.0  # the destination's slot spacing (0: not rate-limited)
    probe: bool = False  # the circuit's probe: one at a time per destination


class ClaimVerbs(AttemptVerbs):
    def claim_due(
        self,
        *,
        owner: str,
        limit: int,
        lease_seconds: float,
        caps: Mapping[str, int] | None = None,
        default_cap: int | None = None,
        blocked: Collection[str] = (),
        rate_of: Callable[[DestinationRecord], float | None] | None = None,
        horizon_seconds: float = 1.0,
        housekeeping: bool = True,
    ) -> list[Claimed]:
        """Claim up to ``limit`` due deliveries: at most ``caps[d]`` (else ``default_cap``) of
        destination ``d``, none of ``blocked``; ``rate_of(destination row)`` gives a
        destination's rate limit (per second), whose slots must fall within the horizon.
        ``housekeeping`` (steps 1 and 2: expired leases, probes) may be skipped by a caller that
        claims often; it runs them every fraction of a second."""
        now = self.clock()
        caps = caps or {}
        cap_default = limit if default_cap is None else default_cap
        blocked_ids = sorted(set(blocked)) or ["-"]
        with self.tx() as conn:
            probes: set[str] = set()
            if housekeeping:
                self._recover_expired(conn, now)
                probes = {
                    r.id
                    for r in conn.execute(
                        _PROBE_SQL,
                        {
                            "now": now,
                            "guard": now + timedelta(seconds=lease_seconds),
                            "blocked": blocked_ids,
                        },
                    )
                }
            # Rows another worker holds locked are skipped and the next ranks read instead (a
            # few rounds), so contention never makes a worker think there is nothing to do.
            skipped: set[str] = set()
            claimed: list[Claimed] = []
            for _ in range(LOCK_ROUNDS):
                chosen = self._choose(
                    conn, now, probes, blocked_ids, caps, cap_default, limit, skipped
                )
                if not chosen:
                    break
                destinations = destinations_by_id(conn, {d for _, d in chosen})
                slots = _reserve_slots(conn, chosen, destinations, rate_of, now, horizon_seconds)
                claimed = self._take(conn, owner, slots, now, lease_seconds, destinations, probes)
                if claimed:
                    break
                skipped.update(i for i, _ in chosen)
            unused = probes - {c.destination_id for c in claimed}
            if unused:  # granted a probe but found nothing to send: open again, probe soon
                conn.execute(
                    update(_dst)
                    .where(_dst.c.id.in_(sorted(unused)), _dst.c.circuit == Circuit.HALF_OPEN.value)
                    .values(circuit=Circuit.OPEN.value, circuit_retry_at=now)
                )
        claimed.sort(key=lambda c: c.id)
        return claimed

    def _choose(
        self,
        conn: Connection,
        now: datetime,
        probes: set[str],
        blocked_ids: list[str],
        caps: Mapping[str, int],
        cap_default: int,
        limit: int,
        skipped: set[str],
    ) -> list[tuple[str, str]]:
        """The candidates, shared round-robin among their destinations within the caps."""
        rows = conn.execute(
            _candidates.get(name_of(conn), _candidates["sqlite"]),
            {
                "now": now,
                "probes": sorted(probes) or ["-"],
                "blocked": blocked_ids,
                "skipped": sorted(skipped) or ["-"],
                "cap": max([cap_default, *caps.values(), 1]),
                "scan": max(limit * SCAN_FACTOR, 16),
            },
        ).all()
        return _share(list(rows), limit, lambda d: 1 if d in probes else caps.get(d, cap_default))

    def _take(
        self,
        conn: Connection,
        owner: str,
        slots: dict[str, tuple[datetime | None, float]],
        now: datetime,
        lease_seconds: float,
        destinations: dict[str, DestinationRecord],
        probes: set[str],
    ) -> list[Claimed]:
        if not slots:
            return []
        ids = sorted(slots)
        if locks_rows(conn):  # skip what another worker has locked
            free = _dlv.alias("free")
            ids_clause: Any = _dlv.c.id.in_(
                select(free.c.id)
                .where(free.c.id.in_(ids), free.c.status == DeliveryStatus.PENDING.value)
                .with_for_update(skip_locked=True)
            )
        else:  # SQLite: BEGIN IMMEDIATE made this transaction the only writer
            ids_clause = _dlv.c.id.in_(ids)
        rows = move_where(
            conn,
            [ids_clause, _dlv.c.status == DeliveryStatus.PENDING.value],
            DeliveryStatus.SENDING,
            now,
            lease_until=now + timedelta(seconds=lease_seconds),
            leased_by=owner,
            returning=(
                _dlv.c.event_id,
                _dlv.c.event_type,
                _dlv.c.connector,
                _dlv.c.is_test,
                _dlv.c.trigger,
                _dlv.c.replay_of,
            ),
        )
        keys = {(r.event_id, r.tenant_id) for r in rows}
        events = stored_events_by_key(conn, keys)  # data spliced, not decoded
        return [
            Claimed(
                id=r.id,
                tenant_id=r.tenant_id,
                event_id=r.event_id,
                event_type=r.event_type,
                destination_id=r.destination_id,
                connector=r.connector,
                attempt_count=int(r.attempt_count),
                is_test=bool(r.is_test),
                trigger=r.trigger,
                replay_of=r.replay_of,
                event=events.get((r.event_id, r.tenant_id)),
                destination=destinations.get(r.destination_id),
                send_at=slots[r.id][0],
                slot_seconds=slots[r.id][1],
                probe=r.destination_id in probes,
            )
            for r in rows
        ]

    def _recover_expired(self, conn: Connection, now: datetime) -> None:
        """A lease that ran out belongs to a process that died mid-send: due again now."""
        move_where(
            conn,
            [_dlv.c.status == DeliveryStatus.SENDING.value, _dlv.c.lease_until < now],
            DeliveryStatus.PENDING,
            now,
            next_attempt_at=now,
            lease_until=None,
            leased_by=None,
        )

    def renew_leases(
        self, *, owner: str, delivery_ids: Collection[str], lease_seconds: float
    ) -> int:
        """Extend the leases of exactly these deliveries (those really in flight here)."""
        if not delivery_ids:
            return 0
        now = self.clock()
        with self.tx() as conn:
            return int(
                conn.execute(
                    update(_dlv)
                    .where(
                        _dlv.c.id.in_(sorted(delivery_ids)),
                        _dlv.c.leased_by == owner,
                        _dlv.c.status == DeliveryStatus.SENDING.value,
                    )
                    .values(lease_until=now + timedelta(seconds=lease_seconds))
                ).rowcount
            )

    def release(self, *, owner: str, items: list[tuple[Claimed, datetime]]) -> None:
        """Hand claimed deliveries back unsent (shutdown), due again at the given time; a released
        probe lets its circuit probe again at once."""
        if not items:
            return
        now = self.clock()
        with self.tx() as conn:
            held = set(
                conn.execute(
                    select(_dlv.c.id).where(
                        _dlv.c.id.in_([c.id for c, _ in items]),
                        _dlv.c.leased_by == owner,
                        _dlv.c.status == DeliveryStatus.SENDING.value,
                    )
                ).scalars()
            )
            mine = [(c, when) for c, when in items if c.id in held]
            move_each(
                conn,
                [
                    Move(
                        c.id,
                        c.tenant_id,
                        c.destination_id,
                        DeliveryStatus.PENDING,
                        c.attempt_count,
                        {"next_attempt_at": when, "lease_until": None, "leased_by": None},
                    )
                    for c, when in mine
                ],
                now,
            )
            probes = sorted({c.destination_id for c, _ in mine if c.probe})
            if probes:
                conn.execute(
                    update(_dst)
                    .where(_dst.c.id.in_(probes), _dst.c.circuit == Circuit.HALF_OPEN.value)
                    .values(circuit=Circuit.OPEN.value, circuit_retry_at=now)
                )


def _share(rows: list[Any], limit: int, cap: Callable[[str], int]) -> list[tuple[str, str]]:
    """Round-robin over destinations (rows come rank 1 of all, then rank 2 …) within caps."""
    taken: dict[str, int] = defaultdict(int)
    chosen: list[tuple[str, str]] = []
    for row in rows:
        if len(chosen) >= limit:
            break
        if taken[row.destination_id] < cap(row.destination_id):
            taken[row.destination_id] += 1
            chosen.append((row.id, row.destination_id))
    return chosen


def _reserve_slots(
    conn: Connection,
    chosen: list[tuple[str, str]],
    destinations: dict[str, DestinationRecord],
    rate_of: Callable[[DestinationRecord], float | None] | None,
    now: datetime,
    horizon_seconds: float,
) -> dict[str, tuple[datetime | None, float]]:
    """Each chosen delivery's send slot and the slot spacing; rate-limited deliveries without a
    slot within the horizon drop out.

    Slots are a generic cell rate algorithm over ``destination_pacing.next_slot_at``: a send takes
    the next slot ``1 / (rate × RATE_MARGIN)`` after the last, whichever process reserves it.
    """
    by_destination: dict[str, list[str]] = defaultdict(list)
    for delivery_id, destination_id in chosen:
        by_destination[destination_id].append(delivery_id)
    slots: dict[str, tuple[datetime | None, float]] = {}
    rates = {
        d: rate_of(destinations[d]) if rate_of is not None and d in destinations else None
        for d in by_destination
    }
    limited = sorted(d for d, rate in rates.items() if rate)
    pacing: dict[str, datetime] = {}
    if limited:
        conn.execute(
            insert_ignore(conn, _pace),
            [{"destination_id": d, "next_slot_at": now} for d in limited],
        )
        rows = conn.execute(
            select(_pace.c.destination_id, _pace.c.next_slot_at)
            .where(_pace.c.destination_id.in_(limited))
            .order_by(_pace.c.destination_id)
            .with_for_update()
        ).all()
        pacing = {r.destination_id: r.next_slot_at for r in rows}
    for destination_id, deliveries in by_destination.items():
        rate = rates[destination_id]
        if not rate:
            slots.update(dict.fromkeys(deliveries, (None, 0.0)))
            continue
        interval = 1.0 / (rate * RATE_MARGIN)
        start = max(now, pacing[destination_id])
        room = (now + timedelta(seconds=horizon_seconds) - start).total_seconds()
        count = 0 if room < 0 else min(len(deliveries), math.floor(room / interval) + 1)
        for i, delivery_id in enumerate(deliveries[:count]):
            slots[delivery_id] = (start + timedelta(seconds=i * interval), interval)
        if count:
            conn.execute(
                update(_pace)
                .where(_pace.c.destination_id == destination_id)
                .values(next_slot_at=start + timedelta(seconds=count * interval))
            )
    return slots
