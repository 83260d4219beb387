"""Destinations: CRUD, optimistic versions, secret rotation, enable/disable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from gateway import ids, signing
from gateway.errors import ConflictError, NotFoundError
from gateway.models import (
    DeliveryStatus,
    DestinationStatus,
    DestinationView,
    SigningAlgorithm,
    SigningKey,
)
from gateway.store.base import StoreBase, page_bounds, row_dict
from gateway.store.tables import DeliveryChangeRow, DeliveryRow, DestinationRow

ROTATION_OVERLAP = timedelta(hours=24)
_dst = DestinationRow.__table__  # type: ignore[attr-defined]
_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
_chg = DeliveryChangeRow.__table__  # type: ignore[attr-defined]

# Fields a PATCH may change (snake_case); secrets and credentials are sealed separately.
PATCHABLE = {
    "name",
    "url",
    "event_types",
    "filter",
    "headers",
    "options",
    "retry_schedule",
    "timeout_seconds",
    "rate_limit_per_second",
    "ordered",
    "output_schema",
    "credentials",
}


def new_secret(algorithm: SigningAlgorithm) -> str:
    if algorithm is SigningAlgorithm.ED25519:
        return signing.generate_ed25519_keypair()[0]
    return signing.generate_secret()


def consumer_secret(secret: str) -> str:
    """What a consumer verifies with: the ``whsec_`` itself, or the ``whpk_`` of a ``whsk_``."""
    return signing.public_key_for(secret) if secret.startswith("whsk_") else secret


class DestinationVerbs(StoreBase):
    def create_destination(self, values: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Insert a destination; returns the row and its secret (shown once)."""
        algorithm = SigningAlgorithm(values.pop("signing", None) or SigningAlgorithm.HMAC_SHA256)
        secret = values.pop("secret", None) or new_secret(algorithm)
        credentials = values.pop("credentials", None)
        now = self.clock()
        row = {
            "id": ids.new_id(ids.DESTINATION),
            "signing": algorithm.value,
            "secrets_enc": self.box.seal([{"secret": secret, "expiresAt": None}]),
            "credentials_enc": self.box.seal(credentials) if credentials else None,
            "status": DestinationStatus.ACTIVE.value,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        with self.tx() as conn:
            conn.execute(insert(_dst).values(**row))
        return self.get_destination(row["id"]), consumer_secret(secret)

    def get_destination(
        self, destination_id: str, *, include_deleted: bool = False
    ) -> dict[str, Any]:
        query = select(_dst).where(_dst.c.id == destination_id)
        if not include_deleted:
            query = query.where(_dst.c.deleted_at.is_(None))
        with self.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"destination {destination_id} not found")
        return row_dict(row)

    def list_destinations(
        self,
        *,
        tenant_id: str | None,
        page: int,
        page_size: int,
        connector: str | None = None,
        url: str | None = None,
        event_type: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        cond = [_dst.c.deleted_at.is_(None)]
        if tenant_id is not None:
            cond.append(_dst.c.tenant_id == tenant_id)
        if connector is not None:
            cond.append(_dst.c.connector == connector)
        if url is not None:
            cond.append(_dst.c.url == url)
        offset, limit = page_bounds(page, page_size)
        with self.read() as conn:
            total = conn.execute(select(func.count()).select_from(_dst).where(*cond)).scalar_one()
            rows = conn.execute(
                select(_dst).where(*cond).order_by(_dst.c.id).offset(offset).limit(limit)
            ).all()
        items = [row_dict(r) for r in rows]
        if event_type is not None:  # event_types is JSON; filter the (small) page in Python
            items = [d for d in items if event_type in d["event_types"]]
        return items, int(total)

    def patch_destination(
        self, destination_id: str, changes: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        current = self.get_destination(destination_id)
        if expected_version is not None and expected_version != current["version"]:
            raise ConflictError(
                f"destination {destination_id} is at version {current['version']}, "
                f"not {expected_version}",
                details=[{"path": "expectedVersion", "currentVersion": current["version"]}],
            )
        values = {k: v for k, v in changes.items() if k in PATCHABLE and k != "credentials"}
        if "credentials" in changes:
            creds = changes["credentials"]
            values["credentials_enc"] = self.box.seal(creds) if creds else None
        values["version"] = current["version"] + 1
        values["updated_at"] = self.clock()
        with self.tx() as conn:
            result = conn.execute(
                update(_dst)
                .where(_dst.c.id == destination_id, _dst.c.version == current["version"])
                .values(**values)
            )
            if result.rowcount != 1:
                raise ConflictError(f"destination {destination_id} changed concurrently")
        return self.get_destination(destination_id)

    def delete_destination(self, destination_id: str) -> None:
        """Soft delete: the row and its deliveries stay; pending deliveries are cancelled."""
        now = self.clock()
        with self.tx() as conn:
            result = conn.execute(
                update(_dst)
                .where(_dst.c.id == destination_id, _dst.c.deleted_at.is_(None))
                .values(
                    deleted_at=now,
                    status=DestinationStatus.DISABLED.value,
                    disabled_reason="deleted",
                    updated_at=now,
                    version=_dst.c.version + 1,
                )
            )
            if result.rowcount != 1:
                raise NotFoundError(f"destination {destination_id} not found")
            cancel_pending(conn, destination_id, now)

    def rotate_secret(self, destination_id: str) -> tuple[dict[str, Any], str]:
        """A new primary secret; the previous one keeps signing beside it for 24 h."""
        current = self.get_destination(destination_id)
        now = self.clock()
        keys = [k for k in self.box.open(current["secrets_enc"]) if not _expired(k, now)]
        new = new_secret(SigningAlgorithm(current["signing"]))
        old = keys[0]["secret"]
        rotated = [
            {"secret": new, "expiresAt": None},
            {"secret": old, "expiresAt": (now + ROTATION_OVERLAP).isoformat()},
        ]
        with self.tx() as conn:
            conn.execute(
                update(_dst)
                .where(_dst.c.id == destination_id)
                .values(
                    secrets_enc=self.box.seal(rotated), updated_at=now, version=_dst.c.version + 1
                )
            )
        return self.get_destination(destination_id), consumer_secret(new)

    def set_destination_status(
        self,
        destination_id: str,
        status: DestinationStatus,
        reason: str | None = None,
        *,
        remove: bool = False,
    ) -> dict[str, Any]:
        """Enable (held deliveries resume, oldest first, now) or disable with a reason."""
        now = self.clock()
        values: dict[str, Any] = {
            "status": status.value,
            "updated_at": now,
            "version": _dst.c.version + 1,
        }
        if status is DestinationStatus.ACTIVE:
            values.update(
                disabled_reason=None, disabled_at=None, failing_since=None, failing_alerted=0
            )
        else:
            values.update(disabled_reason=reason or "disabled by operator", disabled_at=now)
        if remove:
            values["deleted_at"] = now
        from gateway.store.opevents import emit_notices, status_change_notices  # (import cycle)

        with self.tx() as conn:
            notices = (
                []
                if remove
                else status_change_notices(
                    conn, destination_id, status, values.get("disabled_reason") or "", now
                )
            )
            result = conn.execute(
                update(_dst)
                .where(_dst.c.id == destination_id, _dst.c.deleted_at.is_(None))
                .values(**values)
            )
            if result.rowcount != 1:
                raise NotFoundError(f"destination {destination_id} not found")
            emit_notices(conn, notices, now)
            if status is DestinationStatus.ACTIVE:
                # Catch-up: held deliveries become due now; the claim orders by next_attempt_at
                # then id, so the oldest go first.
                conn.execute(
                    update(_dlv)
                    .where(
                        _dlv.c.destination_id == destination_id,
                        _dlv.c.status == DeliveryStatus.PENDING.value,
                        _dlv.c.next_attempt_at > now,
                    )
                    .values(next_attempt_at=now)
                )
            if remove:
                cancel_pending(conn, destination_id, now)
        return self.get_destination(destination_id, include_deleted=remove)

    def destination_view(self, row: dict[str, Any]) -> DestinationView:
        now = self.clock()
        keys = tuple(
            SigningKey(
                k["secret"], datetime.fromisoformat(k["expiresAt"]) if k["expiresAt"] else None
            )
            for k in self.box.open(row["secrets_enc"])
            if not _expired(k, now)
        )
        return DestinationView(
            id=row["id"],
            tenant_id=row["tenant_id"],
            connector=row["connector"],
            url=row["url"],
            signing=SigningAlgorithm(row["signing"]),
            keys=keys,
            headers=dict(row["headers"] or {}),
            credentials=dict(self.box.open(row["credentials_enc"]) or {}),
            options=dict(row["options"] or {}),
            timeout_seconds=float(row["timeout_seconds"]),
        )

    def destinations_by_ids(self, destination_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not destination_ids:
            return {}
        with self.read() as conn:
            rows = conn.execute(select(_dst).where(_dst.c.id.in_(destination_ids))).all()
        return {r.id: row_dict(r) for r in rows}

    def subscribed_destinations(self, conn: Any, tenant_ids: set[str]) -> list[dict[str, Any]]:
        """Every non-deleted destination of these tenants (fan-out matches them in Python)."""
        rows = conn.execute(
            select(
                _dst.c.id,
                _dst.c.tenant_id,
                _dst.c.connector,
                _dst.c.event_types,
                _dst.c.filter,
                _dst.c.status,
            ).where(and_(_dst.c.tenant_id.in_(tenant_ids), _dst.c.deleted_at.is_(None)))
        ).all()
        return [row_dict(r) for r in rows]


def _expired(key: dict[str, Any], now: datetime) -> bool:
    return key["expiresAt"] is not None and datetime.fromisoformat(key["expiresAt"]) <= now


def cancel_pending(conn: Any, destination_id: str, now: datetime) -> None:
    """Cancel a destination's pending deliveries (deleted or unsubscribed); rows are kept."""
    cancelled = conn.execute(
        update(_dlv)
        .where(
            _dlv.c.destination_id == destination_id, _dlv.c.status == DeliveryStatus.PENDING.value
        )
        .values(
            status=DeliveryStatus.CANCELLED.value,
            updated_at=now,
            completed_at=now,
            next_attempt_at=None,
        )
        .returning(_dlv.c.id, _dlv.c.tenant_id, _dlv.c.attempt_count)
    ).all()
    if cancelled:
        conn.execute(
            insert(_chg),
            [
                {
                    "delivery_id": r.id,
                    "tenant_id": r.tenant_id,
                    "destination_id": destination_id,
                    "status": DeliveryStatus.CANCELLED.value,
                    "attempt_count": r.attempt_count,
                    "at": now,
                }
                for r in cancelled
            ],
        )
