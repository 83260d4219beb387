"""Destinations: CRUD, optimistic versions, secret rotation, enable/disable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, update

from gateway import ids, signing
from gateway.errors import ConflictError, NotFoundError
from gateway.models import (
    DeliveryStatus,
    DestinationStatus,
    DestinationView,
    SigningAlgorithm,
    SigningKey,
)
from gateway.redaction import REDACTED, is_mask, join_userinfo, split_userinfo
from gateway.store.base import StoreBase, page_bounds
from gateway.store.changes import move_where
from gateway.store.notify import notify_due
from gateway.store.opevents import emit_notices, status_change_notices
from gateway.store.records import DestinationRecord
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import destinations as _dst

ROTATION_OVERLAP = timedelta(hours=24)

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
    def create_destination(self, values: dict[str, Any]) -> tuple[DestinationRecord, str]:
        """Insert a destination; returns the row and its secret (shown once)."""
        algorithm = SigningAlgorithm(values.pop("signing", None) or SigningAlgorithm.HMAC_SHA256)
        secret = values.pop("secret", None) or new_secret(algorithm)
        credentials = values.pop("credentials", None)
        values.update(self._seal_url(values["url"]))
        values.update(self._seal_headers(values.pop("headers", None)))
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
        return self.get_destination(str(row["id"])), consumer_secret(secret)

    def get_destination(
        self, destination_id: str, *, include_deleted: bool = False
    ) -> DestinationRecord:
        query = select(_dst).where(_dst.c.id == destination_id)
        if not include_deleted:
            query = query.where(_dst.c.deleted_at.is_(None))
        with self.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"destination {destination_id} not found")
        return DestinationRecord.from_row(row)

    def list_destinations(
        self,
        *,
        tenant_id: str | None,
        page: int,
        page_size: int,
        connector: str | None = None,
        url: str | None = None,
        event_type: str | None = None,
    ) -> tuple[list[DestinationRecord], int]:
        cond: list[ColumnElement[bool]] = [_dst.c.deleted_at.is_(None)]
        if tenant_id is not None:
            cond.append(_dst.c.tenant_id == tenant_id)
        if connector is not None:
            cond.append(_dst.c.connector == connector)
        if url is not None:  # stored in display form: compare like with like
            cond.append(_dst.c.url == split_userinfo(url)[0])
        offset, limit = page_bounds(page, page_size)
        with self.read() as conn:
            total = conn.execute(select(func.count()).select_from(_dst).where(*cond)).scalar_one()
            rows = conn.execute(
                select(_dst).where(*cond).order_by(_dst.c.id).offset(offset).limit(limit)
            ).all()
        items = [DestinationRecord.from_row(r) for r in rows]
        if event_type is not None:  # event_types is JSON; filter the (small) page in Python
            items = [d for d in items if event_type in d.event_types]
        return items, int(total)

    def patch_destination(
        self, destination_id: str, changes: dict[str, Any], expected_version: int | None
    ) -> DestinationRecord:
        current = self.get_destination(destination_id)
        if expected_version is not None and expected_version != current.version:
            raise ConflictError(
                f"destination {destination_id} is at version {current.version}, "
                f"not {expected_version}",
                details=[{"path": "expectedVersion", "currentVersion": current.version}],
            )
        values = {
            k: v
            for k, v in changes.items()
            if k in PATCHABLE and k not in ("credentials", "url", "headers")
        }
        if "url" in changes:
            values.update(self._patched_url(current, changes["url"]))
        if "headers" in changes:
            values.update(self._patched_headers(current, changes["headers"]))
        if "credentials" in changes:
            creds = changes["credentials"]
            values["credentials_enc"] = self.box.seal(creds) if creds else None
        values["version"] = current.version + 1
        values["updated_at"] = self.clock()
        with self.tx() as conn:
            result = conn.execute(
                update(_dst)
                .where(_dst.c.id == destination_id, _dst.c.version == current.version)
                .values(**values)
            )
            if result.rowcount != 1:
                raise ConflictError(f"destination {destination_id} changed concurrently")
        return self.get_destination(destination_id)

    # -- secrets at rest: URL userinfo and header values are sealed, the row shows masks ---------
    def _seal_url(self, url: str) -> dict[str, Any]:
        display, userinfo = split_userinfo(url)
        return {"url": display, "url_userinfo_enc": self.box.seal(userinfo) if userinfo else None}

    def _seal_headers(self, headers: dict[str, str] | None) -> dict[str, Any]:
        if not headers:
            return {"headers": headers, "headers_enc": None}
        return {"headers": dict.fromkeys(headers, REDACTED), "headers_enc": self.box.seal(headers)}

    def _patched_url(self, current: DestinationRecord, url: str) -> dict[str, Any]:
        display, userinfo = split_userinfo(url)
        if userinfo is not None and is_mask(userinfo) and display == current.url:
            return {"url": display}  # the URL typed back as shown: its userinfo stays
        return self._seal_url(url)

    def _patched_headers(
        self, current: DestinationRecord, headers: dict[str, str] | None
    ) -> dict[str, Any]:
        # A value typed back as shown ("[redacted]") keeps the stored value of that header.
        stored = dict(self.box.open(current.headers_enc) or {})
        merged = {
            name: stored[name] if value == REDACTED and name in stored else value
            for name, value in (headers or {}).items()
        }
        return self._seal_headers(merged or None)

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

    def rotate_secret(self, destination_id: str) -> tuple[DestinationRecord, str]:
        """A new primary secret; the previous one keeps signing beside it for 24 h."""
        current = self.get_destination(destination_id)
        now = self.clock()
        keys = [k for k in self.box.open(current.secrets_enc) if not _expired(k, now)]
        new = new_secret(SigningAlgorithm(current.signing))
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
    ) -> DestinationRecord:
        """Enable (held deliveries resume, oldest first, now) or disable with a reason."""
        now = self.clock()
        values: dict[str, Any] = {
            "status": status.value,
            "updated_at": now,
            "version": _dst.c.version + 1,
        }
        if status is DestinationStatus.ACTIVE:  # a fresh start: streak and circuit forgotten
            values.update(
                disabled_reason=None,
                disabled_at=None,
                failing_since=None,
                consecutive_failures=0,
                circuit="closed",
                probe_failures=0,
                circuit_retry_at=None,
                failing_alerted=0,
            )
        else:
            values.update(disabled_reason=reason or "disabled by operator", disabled_at=now)
        if remove:
            values["deleted_at"] = now
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
                release_held(conn, destination_id, now)
            if remove:
                cancel_pending(conn, destination_id, now)
        return self.get_destination(destination_id, include_deleted=remove)

    def destination_view(self, row: DestinationRecord) -> DestinationView:
        now = self.clock()
        keys = tuple(
            SigningKey(
                k["secret"], datetime.fromisoformat(k["expiresAt"]) if k["expiresAt"] else None
            )
            for k in self.box.open(row.secrets_enc)
            if not _expired(k, now)
        )
        return DestinationView(
            id=row.id,
            tenant_id=row.tenant_id,
            connector=row.connector,
            url=join_userinfo(row.url, self.box.open(row.url_userinfo_enc)),
            signing=SigningAlgorithm(row.signing),
            keys=keys,
            headers=dict(self.box.open(row.headers_enc) or {}),
            credentials=dict(self.box.open(row.credentials_enc) or {}),
            options=dict(row.options or {}),
            timeout_seconds=float(row.timeout_seconds),
        )

    def destinations_by_ids(self, destination_ids: list[str]) -> dict[str, DestinationRecord]:
        if not destination_ids:
            return {}
        with self.read() as conn:
            return destinations_by_id(conn, set(destination_ids))


def destinations_by_id(conn: Connection, ids: set[str]) -> dict[str, DestinationRecord]:
    """Destinations by id, in ``conn`` (the claim's transaction, or a read)."""
    if not ids:
        return {}
    rows = conn.execute(select(_dst).where(_dst.c.id.in_(sorted(ids)))).all()
    return {r.id: DestinationRecord.from_row(r) for r in rows}


def _expired(key: dict[str, Any], now: datetime) -> bool:
    return key["expiresAt"] is not None and datetime.fromisoformat(key["expiresAt"]) <= now


def cancel_pending(conn: Any, destination_id: str, now: datetime) -> None:
    """Cancel a destination's pending deliveries (deleted, unsubscribed, or gone: 410)."""
    move_where(
        conn,
        [_dlv.c.destination_id == destination_id, _dlv.c.status == DeliveryStatus.PENDING.value],
        DeliveryStatus.CANCELLED,
        now,
        completed_at=now,
        next_attempt_at=None,
    )


def release_held(conn: Any, destination_id: str, now: datetime) -> None:
    """Every delivery waiting on the destination is due now (enable).

    All get the same ``next_attempt_at``, so the claim's ``ORDER BY next_attempt_at, id`` sends
    them oldest first (ids sort by creation time), the one whose attempt disabled it included.
    """
    conn.execute(
        update(_dlv)
        .where(
            _dlv.c.destination_id == destination_id,
            _dlv.c.status == DeliveryStatus.PENDING.value,
        )
        .values(next_attempt_at=now)
    )
    notify_due(conn)
