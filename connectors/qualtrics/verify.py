"""Qualtrics event-subscription callbacks: form-encoded, optionally HMAC-signed. Pure.

Qualtrics POSTs ``application/x-www-form-urlencoded`` bodies, never JSON (reference §5):

* without a ``sharedKey``: top-level fields ``Topic, Status, SurveyID, ResponseID,
  CompletedDate, BrandID``;
* with a ``sharedKey``: ``Topic, HMAC, MSG`` where ``MSG`` is a JSON object serialised as a string
  and ``HMAC`` is lowercase hex HMAC-SHA512(key = the shared key's UTF-8 bytes, msg = ``MSG``
  after form-decoding). Corroborated by consumer code and a known-answer vector, not spelled out
  in Qualtrics' docs. ``Topic`` is outside the HMAC: trust ``MSG``'s fields over it.

The callback never carries answers; the receiver fetches ``GET /surveys/{SurveyID}/responses/
{ResponseID}`` (``connectors.qualtrics.mapping.response_request``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from gateway.errors import SignatureError

_HEX_SHA512 = re.compile(r"^[0-9a-fA-F]{128}$")
_SURVEY_ID = re.compile(r"^SV_[A-Za-z0-9]+$")
_RESPONSE_ID = re.compile(r"^R_[A-Za-z0-9]+$")
_MAX_FIELDS = 64  # a callback has a handful; refuse form bombs early
COMPLETED_TOPIC = "surveyengine.completedResponse"


def sign_qualtrics_msg(msg: str, shared_key: str) -> str:
    """The ``HMAC`` field Qualtrics sends beside ``msg``: hex HMAC-SHA512."""
    return hmac.new(shared_key.encode("utf-8"), msg.encode("utf-8"), hashlib.sha512).hexdigest()


def verify_qualtrics_hmac(msg: str, signature: str, shared_key: str) -> None:
    """Raise ``SignatureError`` unless ``signature`` is the HMAC of ``msg`` (constant time)."""
    if not _HEX_SHA512.match(signature):
        raise SignatureError("HMAC must be 128 hex characters (HMAC-SHA512)")
    expected = bytes.fromhex(sign_qualtrics_msg(msg, shared_key))
    if not hmac.compare_digest(bytes.fromhex(signature), expected):
        raise SignatureError("HMAC does not match MSG")


def parse_qualtrics_callback(body: bytes, shared_key: str | None) -> dict[str, Any]:
    """The callback's fields: ``Topic``, ``Status``, ``SurveyID``, ``ResponseID``, ... .

    With ``shared_key`` the body must be the signed variant and its HMAC must match; without one
    it must be the plain variant (a signed body cannot be checked). Both mismatches raise
    ``SignatureError``; a body that is not a callback (bad encoding, no ids, unparsable ``MSG``,
    e.g. ``encrypt: true``) raises ``ValueError``. Unknown fields are kept.
    """
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a form-encoded callback: {exc}") from exc
    repeated = sorted(name for name, items in fields.items() if len(items) > 1)
    if repeated:
        raise ValueError(f"callback fields repeated: {', '.join(repeated)}")
    form = {name: items[0] for name, items in fields.items()}
    signed = "HMAC" in form or "MSG" in form
    if shared_key is None and signed:
        raise SignatureError("a signed callback arrived but the source has no shared key")
    if shared_key is not None and not signed:
        raise SignatureError("an unsigned callback arrived but the source has a shared key")
    callback: dict[str, Any] = dict(form)
    if signed:
        msg, signature = form.get("MSG", ""), form.get("HMAC", "")
        verify_qualtrics_hmac(msg, signature, str(shared_key))
        callback = {"Topic": form.get("Topic"), **_decode_msg(msg)}
    for name, pattern in (("SurveyID", _SURVEY_ID), ("ResponseID", _RESPONSE_ID)):
        value = callback.get(name)
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"callback {name} missing or malformed: {value!r}")
    return callback


def is_completed_response(callback: Mapping[str, Any]) -> bool:
    """True for a ``completedResponse`` of ``SurveyID`` with ``Status`` ``Complete``.

    The delivered topic is prefixed with the brand id (``acme.surveyengine.completedResponse.
    SV_...``), so it is matched by suffix. Anything else is acknowledged and ignored.
    """
    topic = callback.get("Topic")
    survey_id = callback.get("SurveyID")
    topic_ok = topic is None or str(topic).endswith(f"{COMPLETED_TOPIC}.{survey_id}")
    return callback.get("Status") == "Complete" and topic_ok


def _decode_msg(msg: str) -> dict[str, Any]:
    try:
        decoded = json.loads(msg)
    except json.JSONDecodeError as exc:
        raise ValueError(f"MSG is not JSON (encrypted callbacks are not supported): {exc}") from exc
    if not isinstance(decoded, dict):
        raise ValueError("MSG is not a JSON object")
    return decoded
