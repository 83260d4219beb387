"""Qualtrics callbacks: both variants, the HMAC-SHA512 known-answer vector and its negatives."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.qualtrics.verify import (
    is_completed_response,
    parse_qualtrics_callback,
    sign_qualtrics_msg,
    verify_qualtrics_hmac,
)
from gateway.errors import SignatureError
from tests.connectors.golden import assert_golden, load_bytes, load_json

VECTORS: list[dict[str, Any]] = load_json("qualtrics", "callback_vectors.json")["vectors"]
CALLBACKS = [
    ("callback_plain", None),
    ("callback_signed", "test-shared-key"),
    ("persona_callback_plain", None),
    ("persona_callback_signed", "test-shared-key"),
]


@pytest.mark.parametrize(("case", "shared_key"), CALLBACKS)
def test_callback_golden(case: str, shared_key: str | None) -> None:
    callback = parse_qualtrics_callback(load_bytes("qualtrics", f"{case}.txt"), shared_key)
    assert is_completed_response(callback)
    assert_golden("qualtrics", case, callback)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["case"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    body = vector["body"].encode()
    if vector["valid"]:
        callback = parse_qualtrics_callback(body, vector["sharedKey"])
        assert callback["ResponseID"].startswith("R_")
        return
    error = SignatureError if vector["error"] == "signature" else ValueError
    with pytest.raises(error):
        parse_qualtrics_callback(body, vector["sharedKey"])


def test_kyma_known_answer() -> None:
    msg = (
        '{"Status":"Complete","SurveyID":"SV_1AmkKSDmoZ4XlQx","ResponseID":"R_0B7IcnXszjEUHLP",'
        '"CompletedDate":"2019-06-25 07:58:25","BrandID":"sapdevelopment"}'
    )
    assert sign_qualtrics_msg(msg, "kyma4ever") == (
        "c2c585a404c239aa3063b462cc33551d3ed3ed2de0899f58d456fc0ef7ebef6f"
        "3c3af44957989bd0592603e41edde9528f7d9ed09ee128bf719aa12f46e5c598"
    )


@pytest.mark.parametrize(
    "signature",
    [
        "",  # empty
        "zz" * 64,  # right length, not hex
        "ab" * 32,  # SHA-256 length
        "ab" * 65,  # too long
    ],
)
def test_malformed_hmac_is_a_signature_error(signature: str) -> None:
    with pytest.raises(SignatureError):
        verify_qualtrics_hmac("{}", signature, "k")


def test_uppercase_hex_is_the_same_digest() -> None:
    verify_qualtrics_hmac("{}", sign_qualtrics_msg("{}", "k").upper(), "k")


@pytest.mark.parametrize(
    ("callback", "completed"),
    [
        # brand-prefixed topic, matched by suffix
        (
            {
                "Topic": "acme.surveyengine.completedResponse.SV_a",
                "Status": "Complete",
                "SurveyID": "SV_a",
            },
            True,
        ),
        # a topic for another survey than SurveyID: ignore
        (
            {
                "Topic": "acme.surveyengine.completedResponse.SV_b",
                "Status": "Complete",
                "SurveyID": "SV_a",
            },
            False,
        ),
        # another event type
        (
            {"Topic": "acme.controlpanel.activateSurvey", "Status": "Complete", "SurveyID": "SV_a"},
            False,
        ),
        # not complete
        (
            {
                "Topic": "acme.surveyengine.completedResponse.SV_a",
                "Status": "Partial",
                "SurveyID": "SV_a",
            },
            False,
        ),
        # no topic at all (a hand-made plain post): Status decides
        ({"Status": "Complete", "SurveyID": "SV_a"}, True),
    ],
)
def test_is_completed_response(callback: dict[str, str], completed: bool) -> None:
    assert is_completed_response(callback) is completed


def test_signed_callback_keeps_unknown_msg_keys_and_topic() -> None:
    msg = (
        '{"Status":"Complete","SurveyID":"SV_a1","ResponseID":"R_b2","BrandID":"acme",'
        '"ResponseEventContext":{"x":1}}'
    )
    from urllib.parse import urlencode

    body = urlencode(
        {
            "Topic": "acme.surveyengine.completedResponse.SV_a1",
            "HMAC": sign_qualtrics_msg(msg, "k"),
            "MSG": msg,
        }
    ).encode()
    callback = parse_qualtrics_callback(body, "k")
    assert callback["ResponseEventContext"] == {"x": 1}
    assert callback["Topic"] == "acme.surveyengine.completedResponse.SV_a1"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",  # not UTF-8
        b"SurveyID=SV_a&SurveyID=SV_b&ResponseID=R_c",  # repeated fields
        b"&".join(b"f%d=1" % i for i in range(100)),  # a form bomb
    ],
)
def test_garbage_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_qualtrics_callback(body, None)
