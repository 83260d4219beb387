"""API keys: stored as SHA-256 hashes; the plain key is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, insert, select, update

from gateway import ids
from gateway.store.base import StoreBase
from gateway.store.records import ApiKeyRecord, columns_of
from gateway.store.tables import api_keys as _keys

KEY_PREFIX = "pgw_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin sees every tenant; a tenant key sees one."""

    key_id: str
    tenant_id: str | None
    is_admin: bool
    name: str = ""

    def can_see(self, tenant_id: str) -> bool:
        return self.is_admin or self.tenant_id == tenant_id


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyVerbs(StoreBase):
    def create_api_key(
        self, *, tenant_id: str | None, name: str, is_admin: bool
    ) -> tuple[str, str]:
        """Returns ``(key_id, key)``; only the hash is stored."""
        key_id = ids.new_id(ids.KEY)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.tx() as conn:
            conn.execute(
                insert(_keys).values(
                    id=key_id,
                    tenant_id=tenant_id,
                    name=name,
                    key_hash=hash_key(key),
                    is_admin=is_admin,
                    created_at=self.clock(),
                )
            )
        return key_id, key

    def find_api_key(self, key: str) -> Principal | None:
        with self.read() as conn:
            row = conn.execute(
                select(_keys.c.id, _keys.c.tenant_id, _keys.c.is_admin, _keys.c.name).where(
                    _keys.c.key_hash == hash_key(key), _keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        return Principal(
            key_id=row.id, tenant_id=row.tenant_id, is_admin=bool(row.is_admin), name=row.name
        )

    def keys_fingerprint(self) -> tuple[int, int]:
        """``(keys, revoked keys)``: both only grow, so any create or revoke changes it. Every
        process's key cache reads it at most twice a second (``gateway.api.keycache``)."""
        with self.read() as conn:
            row = conn.execute(select(func.count(), func.count(_keys.c.revoked_at))).one()
        return int(row[0]), int(row[1])

    def list_api_keys(
        self, tenant_id: str | None = None, *, page: int = 1, page_size: int | None = None
    ) -> tuple[list[ApiKeyRecord], int]:
        """Active keys, oldest first, and how many there are; never the key or its hash.
        ``page_size=None``: all of them (the CLI)."""
        cond: list[ColumnElement[bool]] = [_keys.c.revoked_at.is_(None)]
        if tenant_id is not None:
            cond.append(_keys.c.tenant_id == tenant_id)
        with self.read() as conn:
            total = conn.execute(select(func.count()).select_from(_keys).where(*cond)).scalar_one()
            query = (
                select(*columns_of(ApiKeyRecord, _keys))
                .where(*cond)
                .order_by(_keys.c.created_at, _keys.c.id)
            )
            if page_size is not None:
                query = query.offset((page - 1) * page_size).limit(page_size)
            rows = conn.execute(query).all()
        return [ApiKeyRecord.from_row(r) for r in rows], int(total)

    def revoke_api_key(self, key_id: str) -> bool:
        """Revoke ``key_id``; ``False`` when no active key has that id."""
        with self.tx() as conn:
            done = conn.execute(
                update(_keys)
                .where(_keys.c.id == key_id, _keys.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            ).rowcount
        return bool(done)

    def touch_api_key(self, key_id: str) -> None:
        """Record that ``key_id`` was used now (the API calls this at most once a minute)."""
        with self.tx() as conn:
            conn.execute(
                update(_keys).where(_keys.c.id == key_id).values(last_used_at=self.clock())
            )
