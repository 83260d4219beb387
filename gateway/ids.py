"""Prefixed, time-sortable ids: ``evt_ dst_ dlv_ att_ src_ key_ rpl_``.

The body is a 26-character Crockford base32 ULID (48 bits of milliseconds, 80 random bits), so ids
sort by creation time as plain strings in both SQLite and PostgreSQL. Derived ids (an event id made
from a person.run task id) use a hash instead, so the same input always yields the same id.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

EVENT = "evt"
DESTINATION = "dst"
DELIVERY = "dlv"
ATTEMPT = "att"
SOURCE = "src"
KEY = "key"
REPLAY = "rpl"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, random part) of the newest id made in this process


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new ULID-bodied id; ``now_ms`` (Unix milliseconds) is for tests.

    Monotonic within a process: ids made in the same millisecond increment the random part, so
    the order ids were made in is their sort order (fan-out order = delivery order for
    ``ordered`` destinations).
    """
    global _last
    if now_ms is None:
        return new_ids(prefix, 1)[0]
    rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
    with _lock:
        _last = (now_ms, rand)
    return f"{prefix}_{_b32(now_ms, 10)}{_b32(rand, 16)}"


_PAIRS = [_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024)]  # 10 bits -> 2 chars


def _b32_80(value: int) -> str:
    """``_b32(value, 16)`` by 10-bit pairs (a bulk fan-out makes thousands of ids at once)."""
    p = _PAIRS
    return (
        p[(value >> 70) & 1023]
        + p[(value >> 60) & 1023]
        + p[(value >> 50) & 1023]
        + p[(value >> 40) & 1023]
        + p[(value >> 30) & 1023]
        + p[(value >> 20) & 1023]
        + p[(value >> 10) & 1023]
        + p[value & 1023]
    )


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` new ids, in the order they were made (see ``new_id``), for a fan-out to
    thousands of destinations: one lock and one clock read."""
    global _last
    if count <= 0:
        return []
    ms = int(time.time() * 1000)
    with _lock:
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, first = last_ms, last_rand + 1
        else:
            first = int.from_bytes(os.urandom(10), "big") >> 1
        mask = (1 << 80) - 1
        _last = (ms, (first + count - 1) & mask)
    head = f"{prefix}_{_b32(ms, 10)}"
    return [head + _b32_80((first + k) & mask) for k in range(count)]


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id for an outside identity (e.g. a person.run task): same parts, same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"{prefix}_{_b32(int.from_bytes(digest[:17], 'big') >> 6, 26)}"
