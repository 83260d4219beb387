"""Typeform's webhook signature: ``Typeform-Signature: sha256=<base64 HMAC-SHA256>``.

The HMAC is keyed with the secret's UTF-8 bytes and computed over the exact request body bytes;
nothing else (no timestamp, no id) is signed, so replay protection is the receiver's dedupe on
``event_id`` / ``form_response.token`` (typeform.com/developers/webhooks/secure-your-webhooks).
Pure: bytes in, a string or an exception out. Never parse and re-serialise the body first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from gateway.errors import SignatureError

SIGNATURE_HEADER = "Typeform-Signature"
_PREFIX = "sha256="


def sign_typeform(body: bytes, secret: str) -> str:
    """The ``Typeform-Signature`` header value for ``body``: ``sha256=`` + standard base64."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return _PREFIX + base64.b64encode(digest).decode("ascii")


def verify_typeform_signature(body: bytes, header: str | None, secret: str) -> None:
    """Raise ``SignatureError`` unless ``header`` is Typeform's signature of ``body``.

    ``body`` must be the raw request bytes as received. A missing header, another algorithm prefix,
    a hex digest or any byte of difference (a trailing newline, re-serialised JSON) is rejected.
    The comparison is constant time (the official JS helper's ``===`` is not).
    """
    if not header:
        raise SignatureError("missing Typeform-Signature header")
    value = header.strip()
    if not value.startswith(_PREFIX):
        raise SignatureError("Typeform-Signature must start with 'sha256='")
    expected = sign_typeform(body, secret)
    if not hmac.compare_digest(value.encode("ascii", "replace"), expected.encode("ascii")):
        raise SignatureError("Typeform-Signature does not match the body")
