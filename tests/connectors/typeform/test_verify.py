"""Typeform-Signature known-answer and negative vectors (reference §2 and its sample files)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.typeform.verify import sign_typeform, verify_typeform_signature
from gateway.errors import SignatureError
from tests.connectors.golden import load_bytes, load_json

VECTORS: list[dict[str, Any]] = load_json("typeform", "signature_vectors.json")["vectors"]


def transformed(vector: dict[str, Any]) -> bytes:
    body = load_bytes("typeform", vector["body"])
    transform = vector["transform"]
    if transform == "trailing_newline":
        return body + b"\n"
    if transform == "indent2":
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode()
    if transform == "ensure_ascii":
        return json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert transform == "none"
    return body


@pytest.mark.parametrize("vector", VECTORS, ids=[v["case"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    body = transformed(vector)
    if vector["valid"]:
        verify_typeform_signature(body, vector["header"], vector["secret"])
    else:
        with pytest.raises(SignatureError):
            verify_typeform_signature(body, vector["header"], vector["secret"])


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if "signatureOfBody" in v],
    ids=[v["case"] for v in VECTORS if "signatureOfBody" in v],
)
def test_the_altered_body_has_the_signature_the_reference_lists(vector: dict[str, Any]) -> None:
    # proves each negative vector changes exactly what the reference says it changes
    assert sign_typeform(transformed(vector), vector["secret"]) == vector["signatureOfBody"]


def test_sign_matches_the_reference_sample() -> None:
    body = load_bytes("typeform", "inbound_all_types.json")
    assert len(body) == 5797  # the fixture is the reference file byte for byte
    assert (
        sign_typeform(body, "test-secret") == "sha256=gx4+kr8XFZQK5XeVnmFEfQXwieeGbA6nqPqrn07K7n0="
    )


def test_header_whitespace_is_tolerated_but_case_of_digest_is_not() -> None:
    body = b'{"event_id":"x"}'
    header = sign_typeform(body, "s")
    verify_typeform_signature(body, f"  {header} ", "s")  # proxies may pad header values
    with pytest.raises(SignatureError):
        verify_typeform_signature(body, "sha256=" + header[7:].swapcase(), "s")


def test_non_ascii_header_is_rejected_not_crashing() -> None:
    with pytest.raises(SignatureError):
        verify_typeform_signature(b"{}", "sha256=é", "s")
