"""Standard Webhooks signing and verification over raw bytes.

Follows the Standard Webhooks spec v1.0.0 (``spec/standard-webhooks.md``, "Signature scheme"):

- signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, body being the exact bytes sent;
- ``v1`` is base64(HMAC-SHA256) keyed with the base64-decoded part of a ``whsec_`` secret;
- ``v1a`` is base64(ed25519) by a ``whsk_`` secret key, checked with its ``whpk_`` public key;
- ``webhook-signature`` is a space-separated list of ``version,base64sig`` items, one per key,
  so that an old and a new secret both sign while a rotation overlaps.

Everything here is pure: no clock (``now`` is a parameter), no I/O. Only the ``generate_*``
functions draw randomness (from the OS, as keys must).

Malformed *configured* secrets are a caller bug and raise ``ValueError``; anything wrong with what
arrived over the wire raises :class:`gateway.errors.SignatureError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Mapping, Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.errors import SignatureError

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "check_secret",
    "generate_ed25519_keypair",
    "generate_secret",
    "public_key_for",
    "sign",
    "signature_headers",
    "verify",
]

SYMMETRIC_PREFIX = "whsec_"  # HMAC-SHA256 secret, signs and verifies v1
SECRET_KEY_PREFIX = "whsk_"  # ed25519 private seed, signs v1a
PUBLIC_KEY_PREFIX = "whpk_"  # ed25519 public key, verifies v1a

# The reference libraries accept a timestamp up to 5 minutes either side of now.
DEFAULT_TOLERANCE_SECONDS = 300
SYMMETRIC_SECRET_BYTES = 32
ED25519_KEY_BYTES = 32
# The spec asks for 24-64 random bytes in a whsec_ secret; we accept what others generate too.
_MIN_SYMMETRIC_BYTES = 16
_MAX_SYMMETRIC_BYTES = 128
_MAX_TIMESTAMP_DIGITS = 12


def generate_secret() -> str:
    """A new ``whsec_`` secret: 32 random bytes, base64."""
    return SYMMETRIC_PREFIX + _b64(_random.token_bytes(SYMMETRIC_SECRET_BYTES))


def generate_ed25519_keypair() -> tuple[str, str]:
    """A new ed25519 pair ``(whsk_<raw 32-byte seed>, whpk_<raw 32-byte public key>)``, base64."""
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    return SECRET_KEY_PREFIX + _b64(seed), PUBLIC_KEY_PREFIX + _b64(_public_raw(private))


def public_key_for(secret: str) -> str:
    """The ``whpk_`` public key of a ``whsk_`` secret key."""
    if not secret.startswith(SECRET_KEY_PREFIX):
        raise ValueError(f"expected a {SECRET_KEY_PREFIX} secret key")
    return PUBLIC_KEY_PREFIX + _b64(_public_raw(_private_key(secret)))


def check_secret(secret: str) -> None:
    """Raise ``ValueError`` unless ``secret`` can verify (a ``whsec_``, ``whsk_`` or ``whpk_`` key).

    For tools that take a secret from a person (``gateway verify``, ``gateway listen``) and should
    refuse a mistyped one at once, not only when the first signature is checked.
    """
    if secret.startswith(SYMMETRIC_PREFIX):
        _hmac_key(secret)
    elif secret.startswith((SECRET_KEY_PREFIX, PUBLIC_KEY_PREFIX)):
        _public_key(secret)
    else:
        raise ValueError(f"cannot verify with a {_prefix(secret)!r} key")


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """The ``webhook-signature`` value for ``body``: one item per secret, in the order given.

    ``whsec_`` secrets give ``v1,<b64 HMAC-SHA256>``, ``whsk_`` keys give ``v1a,<b64 ed25519>``.
    ``timestamp`` is Unix seconds and must be the value sent in ``webhook-timestamp``.
    Raises ``ValueError`` for no secrets or a malformed one.
    """
    if not secrets:
        raise ValueError("sign needs at least one secret")
    content = _signed_content(msg_id, timestamp, body)
    items: list[str] = []
    for secret in secrets:
        if secret.startswith(SYMMETRIC_PREFIX):
            items.append("v1," + _b64(_hmac(_hmac_key(secret), content)))
        elif secret.startswith(SECRET_KEY_PREFIX):
            items.append("v1a," + _b64(_private_key(secret).sign(content)))
        else:
            raise ValueError(f"cannot sign with a {_prefix(secret)!r} key")
    return " ".join(items)


def signature_headers(
    msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (CONTRACT.md §4)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(msg_id, timestamp, body, secrets),
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check that ``body`` and ``headers`` were signed by one of ``secrets`` within the tolerance.

    ``secrets`` may mix ``whsec_`` (checks ``v1``), ``whpk_`` and ``whsk_`` (check ``v1a``).
    Header names are case-insensitive. Items of unknown versions are ignored, as the spec asks.
    Returns ``None`` when one signature matches; raises :class:`SignatureError` for a missing
    header, a non-integer timestamp, a timestamp more than ``tolerance_seconds`` from ``now``,
    or no matching signature. Raises ``ValueError`` for no secrets or a malformed one.
    """
    if not secrets:
        raise ValueError("verify needs at least one secret")
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = _required(lowered, "webhook-id")
    timestamp = _parse_timestamp(_required(lowered, "webhook-timestamp"))
    signature = _required(lowered, "webhook-signature")
    if now - timestamp > tolerance_seconds:
        raise SignatureError(f"webhook-timestamp is too old ({now - timestamp} s before now)")
    if timestamp - now > tolerance_seconds:
        raise SignatureError(f"webhook-timestamp is too new ({timestamp - now} s after now)")

    offered = _parse_signatures(signature)
    content = _signed_content(msg_id, timestamp, body)
    for secret in secrets:
        if secret.startswith(SYMMETRIC_PREFIX):
            expected = _hmac(_hmac_key(secret), content)
            # Compare against every v1 item in constant time (spec: "Verifying signatures").
            if any(hmac.compare_digest(expected, sig) for sig in offered.get("v1", [])):
                return
        elif secret.startswith((PUBLIC_KEY_PREFIX, SECRET_KEY_PREFIX)):
            public = _public_key(secret)
            if any(_ed25519_ok(public, sig, content) for sig in offered.get("v1a", [])):
                return
        else:
            raise ValueError(f"cannot verify with a {_prefix(secret)!r} key")
    versions = ", ".join(f"{len(sigs)} {v}" for v, sigs in sorted(offered.items())) or "none"
    raise SignatureError(f"no matching signature (offered: {versions})")


# --- parsing the wire -----------------------------------------------------------------------


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _parse_timestamp(value: str) -> int:
    # Integer Unix seconds only: no sign, fraction, exponent or non-ASCII digits.
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_TIMESTAMP_DIGITS):
        raise SignatureError(f"webhook-timestamp is not an integer of Unix seconds: {value[:32]!r}")
    return int(value)


def _parse_signatures(header: str) -> dict[str, list[bytes]]:
    """``version -> [signature bytes]``; a header with no well-formed item is an error."""
    offered: dict[str, list[bytes]] = {}
    for item in header.split():
        version, sep, encoded = item.partition(",")
        if not sep or not version:
            continue
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        offered.setdefault(version, []).append(raw)
    if not offered:
        raise SignatureError("malformed webhook-signature header: no 'version,base64' item")
    return offered


# --- keys and primitives --------------------------------------------------------------------


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _hmac(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def _ed25519_ok(public: Ed25519PublicKey, signature: bytes, content: bytes) -> bool:
    try:
        public.verify(signature, content)
    except InvalidSignature:
        return False
    return True


# Parsing a key is cheap but not free (ed25519 derives the public point); keys are few and reused.
@lru_cache(maxsize=512)
def _hmac_key(secret: str) -> bytes:
    key = _b64decode(secret, SYMMETRIC_PREFIX)
    if not _MIN_SYMMETRIC_BYTES <= len(key) <= _MAX_SYMMETRIC_BYTES:
        raise ValueError(f"{SYMMETRIC_PREFIX} secret must decode to 16-128 bytes, not {len(key)}")
    return key


@lru_cache(maxsize=512)
def _private_key(secret: str) -> Ed25519PrivateKey:
    seed = _b64decode(secret, SECRET_KEY_PREFIX)
    if len(seed) != ED25519_KEY_BYTES:
        raise ValueError(f"{SECRET_KEY_PREFIX} key must decode to 32 bytes, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


@lru_cache(maxsize=512)
def _public_key(secret: str) -> Ed25519PublicKey:
    if secret.startswith(SECRET_KEY_PREFIX):
        return _private_key(secret).public_key()
    raw = _b64decode(secret, PUBLIC_KEY_PREFIX)
    if len(raw) != ED25519_KEY_BYTES:
        raise ValueError(f"{PUBLIC_KEY_PREFIX} key must decode to 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def _public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64decode(secret: str, prefix: str) -> bytes:
    encoded = secret.removeprefix(prefix)
    # Some issuers drop the padding; restore it before a strict decode.
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{prefix} key is not valid base64") from exc


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _prefix(secret: str) -> str:
    # Name the kind of key in errors without echoing any of the key itself.
    match = re.match(r"[a-z]{2,8}_", secret)
    return match.group(0) if match else "(unprefixed)"
