"""gateway.signing: known-answer vectors, rotation, and every way a signature can fail."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from gateway import signing
from gateway.errors import SignatureError

VECTORS_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "signing" / "vectors.json"
VECTORS: dict[str, dict[str, Any]] = {
    v["name"]: v for v in json.loads(VECTORS_PATH.read_text())["vectors"]
}

NOW = 1_700_000_000
MSG_ID = "evt_01J0000000000000000000000"
BODY = b'{"id":"evt_01J0000000000000000000000","type":"run.completed","data":{"n":1}}'
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(32, 64))).decode()


def _headers(timestamp: int = NOW, secrets: list[str] | None = None) -> dict[str, str]:
    return signing.signature_headers(MSG_ID, timestamp, BODY, secrets or [SECRET])


# --- known answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_sign_reproduces_the_known_answer(name: str) -> None:
    v = VECTORS[name]
    assert (
        signing.sign(v["msg_id"], v["timestamp"], v["body"].encode(), [v["secret"]])
        == (v["signature"])
    )


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_verify_accepts_the_known_answer(name: str) -> None:
    v = VECTORS[name]
    headers = {
        "webhook-id": v["msg_id"],
        "webhook-timestamp": str(v["timestamp"]),
        "webhook-signature": v["signature"],
    }
    # The public key alone (v1a) or the secret (v1) is enough to verify.
    key = v.get("public_key", v["secret"])
    signing.verify(v["body"].encode(), headers, [key], now=v["timestamp"])


def test_public_key_for_derives_the_pinned_public_key() -> None:
    v = VECTORS["pinned-v1a"]
    assert signing.public_key_for(v["secret"]) == v["public_key"]


# --- generated keys --------------------------------------------------------------------------


def test_generate_secret_is_32_random_bytes() -> None:
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != signing.generate_secret()


def test_generated_keypair_signs_and_verifies() -> None:
    secret_key, public_key = signing.generate_ed25519_keypair()
    assert secret_key.startswith("whsk_") and public_key.startswith("whpk_")
    assert len(base64.b64decode(secret_key.removeprefix("whsk_"))) == 32
    assert len(base64.b64decode(public_key.removeprefix("whpk_"))) == 32
    assert signing.public_key_for(secret_key) == public_key
    headers = _headers(secrets=[secret_key])
    assert headers["webhook-signature"].startswith("v1a,")
    signing.verify(BODY, headers, [public_key], now=NOW)
    signing.verify(BODY, headers, [secret_key], now=NOW)  # a whsk_ derives its public key


# --- headers, rotation -----------------------------------------------------------------------


def test_signature_headers_carry_id_timestamp_and_signature() -> None:
    assert _headers() == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(NOW),
        "webhook-signature": signing.sign(MSG_ID, NOW, BODY, [SECRET]),
    }


def test_rotation_signs_with_each_secret_in_order_and_either_verifies() -> None:
    secret_key, public_key = signing.generate_ed25519_keypair()
    headers = _headers(secrets=[SECRET, OTHER_SECRET, secret_key])
    items = headers["webhook-signature"].split(" ")
    assert [item.split(",")[0] for item in items] == ["v1", "v1", "v1a"]
    assert items[0] == signing.sign(MSG_ID, NOW, BODY, [SECRET])
    assert items[1] == signing.sign(MSG_ID, NOW, BODY, [OTHER_SECRET])
    for key in (SECRET, OTHER_SECRET, public_key):
        signing.verify(BODY, headers, [key], now=NOW)


def test_verify_tries_every_configured_secret() -> None:
    # The consumer holds the old and the new secret; the sender already signs with the new one.
    signing.verify(BODY, _headers(secrets=[OTHER_SECRET]), [SECRET, OTHER_SECRET], now=NOW)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in _headers().items()}
    assert "Webhook-Signature" in headers
    signing.verify(BODY, headers, [SECRET], now=NOW)


def test_unknown_versions_are_skipped() -> None:
    header = "v2,AAAA v1," + _headers()["webhook-signature"].split(",", 1)[1]
    signing.verify(BODY, {**_headers(), "webhook-signature": header}, [SECRET], now=NOW)


def test_timestamp_exactly_at_the_tolerance_passes() -> None:
    signing.verify(BODY, _headers(NOW - 300), [SECRET], now=NOW)
    signing.verify(BODY, _headers(NOW + 300), [SECRET], now=NOW)
    signing.verify(BODY, _headers(NOW - 60), [SECRET], now=NOW, tolerance_seconds=60)


def test_body_bytes_are_signed_as_is() -> None:
    # Not valid UTF-8: the body must never be decoded.
    body = b"\xff\xfe\x00binary"
    headers = signing.signature_headers(MSG_ID, NOW, body, [SECRET])
    signing.verify(body, headers, [SECRET], now=NOW)


# --- negative cases --------------------------------------------------------------------------

_GOOD = _headers()
_GOOD_SIG = _GOOD["webhook-signature"].split(",", 1)[1]
_GOOD_RAW = base64.b64decode(_GOOD_SIG)
_FLIPPED = base64.b64encode(bytes([_GOOD_RAW[0] ^ 1]) + _GOOD_RAW[1:]).decode()


@pytest.mark.parametrize(
    ("body", "overrides", "secrets", "match"),
    [
        # one byte of the body changed in transit
        (BODY.replace(b'"n":1', b'"n":2'), {}, [SECRET], "no matching signature"),
        # a trailing newline added (re-serialised body)
        (BODY + b"\n", {}, [SECRET], "no matching signature"),
        # verified with a secret that did not sign
        (BODY, {}, [OTHER_SECRET], "no matching signature"),
        # one bit of the signature flipped
        (BODY, {"webhook-signature": f"v1,{_FLIPPED}"}, [SECRET], "no matching signature"),
        # a truncated signature
        (BODY, {"webhook-signature": f"v1,{_GOOD_SIG[:20]}"}, [SECRET], "no matching"),
        # the signature replayed under another message id
        (BODY, {"webhook-id": "evt_other"}, [SECRET], "no matching signature"),
        # the timestamp moved (replay with a fresh timestamp) without re-signing
        (BODY, {"webhook-timestamp": str(NOW + 1)}, [SECRET], "no matching signature"),
        # a v1 signature offered to a consumer holding only an ed25519 public key
        (BODY, {}, [VECTORS["pinned-v1a"]["public_key"]], "no matching signature"),
        # a v1 HMAC relabelled v1a
        (BODY, {"webhook-signature": f"v1a,{_GOOD_SIG}"}, [SECRET], "no matching signature"),
        # signed 301 s ago: stale
        (BODY, {"webhook-timestamp": str(NOW - 301)}, [SECRET], "too old"),
        # signed 301 s in the future
        (BODY, {"webhook-timestamp": str(NOW + 301)}, [SECRET], "too new"),
        # no webhook-id
        (BODY, {"webhook-id": None}, [SECRET], "missing webhook-id"),
        # no webhook-timestamp
        (BODY, {"webhook-timestamp": None}, [SECRET], "missing webhook-timestamp"),
        # no webhook-signature
        (BODY, {"webhook-signature": None}, [SECRET], "missing webhook-signature"),
        # an empty webhook-signature
        (BODY, {"webhook-signature": "  "}, [SECRET], "missing webhook-signature"),
        # a timestamp that is not a number
        (BODY, {"webhook-timestamp": "hello"}, [SECRET], "not an integer"),
        # a fractional timestamp
        (BODY, {"webhook-timestamp": f"{NOW}.5"}, [SECRET], "not an integer"),
        # a negative timestamp
        (BODY, {"webhook-timestamp": "-5"}, [SECRET], "not an integer"),
        # non-ASCII digits, which int() would accept
        (BODY, {"webhook-timestamp": "١٧٠٠٠٠٠٠٠٠"}, [SECRET], "not an integer"),
        # a signature without the version prefix
        (BODY, {"webhook-signature": _GOOD_SIG}, [SECRET], "malformed"),
        # a version with a signature that is not base64
        (BODY, {"webhook-signature": "v1,not*base64!"}, [SECRET], "malformed"),
        # only a comma
        (BODY, {"webhook-signature": ","}, [SECRET], "malformed"),
    ],
    ids=[
        "changed-byte",
        "trailing-newline",
        "wrong-secret",
        "flipped-bit",
        "truncated-signature",
        "other-msg-id",
        "moved-timestamp",
        "v1-to-public-key",
        "hmac-as-v1a",
        "stale",
        "future",
        "missing-id",
        "missing-timestamp",
        "missing-signature",
        "blank-signature",
        "timestamp-word",
        "timestamp-fraction",
        "timestamp-negative",
        "timestamp-arabic-digits",
        "signature-no-version",
        "signature-bad-base64",
        "signature-comma",
    ],
)
def test_verify_rejects(
    body: bytes, overrides: dict[str, str | None], secrets: list[str], match: str
) -> None:
    headers = {**_GOOD}
    for name, value in overrides.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(SignatureError, match=match):
        signing.verify(body, headers, secrets, now=NOW)


@pytest.mark.parametrize(
    "secret",
    [
        "sk_live_abc",  # not a Standard Webhooks key
        "whsec_***",  # not base64
        "whsec_AAAA",  # 3 bytes: too short to be a secret
        "whsk_AAAA",  # not a 32-byte ed25519 seed
    ],
)
def test_malformed_configured_secrets_are_value_errors(secret: str) -> None:
    with pytest.raises(ValueError):
        signing.sign(MSG_ID, NOW, BODY, [secret])


def test_no_secrets_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        signing.sign(MSG_ID, NOW, BODY, [])
    with pytest.raises(ValueError):
        signing.verify(BODY, _GOOD, [], now=NOW)


def test_errors_do_not_echo_the_secret() -> None:
    with pytest.raises(ValueError) as info:
        signing.sign(MSG_ID, NOW, BODY, ["supersecretvalue"])
    assert "supersecret" not in str(info.value)


# --- interoperability with the reference library ---------------------------------------------


def test_reference_library_verifies_our_v1_header() -> None:
    # standardwebhooks reads the wall clock, so this one test signs at the real time.
    now = int(time.time())
    secret_key, _ = signing.generate_ed25519_keypair()
    headers = signing.signature_headers(MSG_ID, now, BODY, [secret_key, OTHER_SECRET, SECRET])
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)
    assert Webhook(OTHER_SECRET).verify(BODY, headers) == json.loads(BODY)


def test_we_verify_the_reference_library_signature() -> None:
    v = VECTORS["standard-webhooks-v1"]
    when = datetime.fromtimestamp(v["timestamp"], tz=UTC)
    header = Webhook(v["secret"]).sign(v["msg_id"], when, v["body"])
    headers = {
        "webhook-id": v["msg_id"],
        "webhook-timestamp": str(v["timestamp"]),
        "webhook-signature": header,
    }
    signing.verify(v["body"].encode(), headers, [v["secret"]], now=v["timestamp"])
