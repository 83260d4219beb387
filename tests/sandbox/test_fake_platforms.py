"""The fake Zapier, Make and n8n receivers answer like the real ones."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from connectors.make.adapter import ADAPTER as MAKE
from connectors.n8n.adapter import ADAPTER as N8N
from connectors.zapier.adapter import ADAPTER as ZAPIER
from gateway import signing
from gateway.adapters import Connector, ResponseInfo, Verdict
from gateway.catalog import catalog
from gateway.models import DestinationView, Event
from gateway.sandbox.fakes.platforms import (
    PlatformRecorder,
    ScriptedResponse,
    create_platform_receiver,
)
from gateway.sandbox.fakes.server import BackgroundServer

CATCH_PATH = "/hooks/catch/1234567/0a1b2c3d/"
BODY = b'{"id":"evt_01","event":"task.completed"}'


def client_for(platform: str, **kwargs: Any) -> tuple[TestClient, PlatformRecorder]:
    app, recorder = create_platform_receiver(platform, **kwargs)
    return TestClient(app), recorder


# --- what each platform answers --------------------------------------------------------------


def test_zapier_catch_hook_answers_success_with_tracking_ids() -> None:
    client, recorder = client_for("zapier")
    answer = client.post(CATCH_PATH, content=BODY, headers={"content-type": "application/json"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    payload = answer.json()
    assert list(payload) == ["status", "attempt", "id", "request_id"]
    assert payload["status"] == "success"
    assert all(isinstance(payload[k], str) and payload[k] for k in ("attempt", "id", "request_id"))


def test_make_answers_accepted_as_text() -> None:
    client, _ = client_for("make")
    answer = client.post("/abc123def456", content=BODY)
    assert (answer.status_code, answer.text) == (200, "Accepted")
    assert answer.headers["content-type"].startswith("text/plain")


def test_n8n_answers_workflow_was_started() -> None:
    client, _ = client_for("n8n")
    answer = client.post("/webhook/task-completed", content=BODY)
    assert (answer.status_code, answer.json()) == (200, {"message": "Workflow was started"})


def test_n8n_registers_post_only() -> None:
    client, _ = client_for("n8n")
    answer = client.get("/webhook/task-completed")
    assert answer.status_code == 404
    assert "not registered for GET requests" in answer.json()["message"]


def test_unknown_platform_and_misplaced_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        create_platform_receiver("ifttt")
    with pytest.raises(ValueError, match="n8n"):
        create_platform_receiver("zapier", header_auth=("X-API-Key", "k"))
    with pytest.raises(ValueError, match="Make"):
        create_platform_receiver("n8n", api_key="k")


# --- recording -------------------------------------------------------------------------------


def test_every_request_is_recorded_with_its_raw_bytes() -> None:
    client, recorder = client_for("zapier")
    before = datetime.now(UTC)
    client.post(CATCH_PATH + "?a=1", content=BODY, headers={"X-Gateway-Attempt": "2"})
    (got,) = recorder.requests
    assert (got.method, got.path, got.query, got.body, got.status) == (
        "POST",
        CATCH_PATH,
        "a=1",
        BODY,
        200,
    )
    assert got.headers["x-gateway-attempt"] == "2"  # names lower-cased
    assert got.json() == json.loads(BODY)
    assert before <= got.received_at <= datetime.now(UTC)
    assert recorder.requests_to(CATCH_PATH) == [got]
    recorder.clear()
    assert recorder.requests == []


def test_signatures_are_verified_once_a_secret_is_set() -> None:
    client, recorder = client_for("make")
    secret = signing.generate_secret()
    recorder.expect_secret(secret)
    good = signing.signature_headers("evt_01", int(time.time()), BODY, [secret])
    client.post("/hook", content=BODY, headers=good)
    client.post("/hook", content=BODY + b" ", headers=good)  # the body changed after signing
    assert [r.verified for r in recorder.requests] == [True, False]


# --- scripting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "script", "statuses"),
    [
        ("zapier", [410], [410, 200]),  # a REST hook whose Zap was turned off, once
        ("make", [500, 500], [500, 500, 200]),  # two failures, then back to normal
        ("n8n", [404, 403], [404, 403, 200]),  # inactive workflow, then a wrong credential
        ("make", [429, 410], [429, 410, 200]),  # throttled, then the hook is gone
    ],
)
def test_script_answers_the_next_requests(
    platform: str, script: list[int], statuses: list[int]
) -> None:
    client, recorder = client_for(platform)
    recorder.script(script)
    got = [client.post("/webhook/x", content=BODY).status_code for _ in statuses]
    assert got == statuses
    assert [r.status for r in recorder.requests] == statuses


def test_scripted_statuses_carry_the_platforms_own_bodies() -> None:
    make, make_rec = client_for("make")
    make_rec.script([410])
    assert make.post("/hook", content=BODY).text == (
        "There is no scenario listening for this webhook."
    )
    n8n, n8n_rec = client_for("n8n")
    n8n_rec.script([404, 403])
    not_registered = n8n.post("/webhook/task-completed", content=BODY).json()
    assert not_registered["message"] == (
        'The requested webhook "POST task-completed" is not registered.'
    )
    wrong = n8n.post("/webhook/task-completed", content=BODY)
    assert wrong.text == "Authorization data is wrong!"
    assert wrong.headers["www-authenticate"] == 'Basic realm="Webhook"'


def test_a_scripted_response_sets_headers_and_body() -> None:
    client, recorder = client_for("zapier")
    recorder.script([ScriptedResponse(429, headers={"Retry-After": "7"})])
    answer = client.post(CATCH_PATH, content=BODY)
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "7")
    recorder.script([ScriptedResponse(503, b'{"busy":true}')])
    answer = client.post(CATCH_PATH, content=BODY)
    assert (answer.status_code, answer.json()) == (503, {"busy": True})


def test_a_path_script_comes_before_the_general_one_and_touches_no_other_path() -> None:
    client, recorder = client_for("zapier")
    recorder.script([410], path="/hooks/catch/1/dead/")
    recorder.script([500])
    assert client.post("/hooks/catch/1/live/", content=BODY).status_code == 500
    assert client.post("/hooks/catch/1/dead/", content=BODY).status_code == 410
    assert client.post("/hooks/catch/1/dead/", content=BODY).status_code == 200


# --- platform refusals -----------------------------------------------------------------------


def test_n8n_header_auth_refuses_a_wrong_credential_with_403() -> None:
    client, recorder = client_for("n8n", header_auth=("X-API-Key", "right"))
    for headers in ({"X-API-Key": "wrong"}, {}, {"x-api-key": "right"}):
        client.post("/webhook/x", content=BODY, headers=headers)
    assert [r.status for r in recorder.requests] == [403, 403, 200]


def test_n8n_basic_auth_asks_for_missing_credentials_with_401() -> None:
    client, recorder = client_for("n8n", basic_auth=("ada", "pw"))
    assert client.post("/webhook/x", content=BODY).text == "Authorization is required!"
    for user_password in (b"ada:nope", b"ada:pw"):
        token = base64.b64encode(user_password).decode()
        client.post("/webhook/x", content=BODY, headers={"Authorization": f"Basic {token}"})
    assert [r.status for r in recorder.requests] == [401, 403, 200]


def test_make_api_key_is_checked() -> None:
    client, _ = client_for("make", api_key="mk_1")
    assert client.post("/hook", content=BODY).status_code == 401
    assert client.post("/hook", content=BODY, headers={"x-make-apikey": "mk_1"}).text == "Accepted"


def test_a_body_over_the_cap_is_refused_with_413() -> None:
    client, _ = client_for("n8n", max_body_bytes=10)
    assert client.post("/webhook/x", content=b"x" * 11).status_code == 413
    assert client.post("/webhook/x", content=b"x" * 10).status_code == 200


# --- rates -----------------------------------------------------------------------------------


def test_peak_requests_per_second_uses_a_sliding_window() -> None:
    now = [100.0]
    app, recorder = create_platform_receiver("zapier", clock=lambda: now[0])
    client = TestClient(app)
    for at in (100.0, 100.6, 100.9, 101.2, 101.5, 103.0):
        now[0] = at
        client.post(CATCH_PATH if at != 101.5 else "/other/", content=BODY)
    # 100.6, 100.9, 101.2 and 101.5 fall within one second of each other.
    assert recorder.peak_requests_per_second() == 4
    assert recorder.peak_requests_per_second(path=CATCH_PATH) == 3
    assert recorder.peak_requests_per_second(window=0.5) == 2
    assert recorder.requests_per_second() == {0: 3, 1: 2, 3: 1}


# --- over real HTTP on 127.0.0.1, with the connectors ------------------------------------------


def destination(connector: Connector, url: str) -> DestinationView:
    return DestinationView(id="dst_1", tenant_id="ten_acme", connector=connector.name, url=url)


@pytest.mark.parametrize(
    ("connector", "path"),
    [
        (ZAPIER, CATCH_PATH),  # a Catch Hook URL
        (MAKE, "/abc123def456"),  # a Make custom webhook token
        (N8N, "/webhook/task-completed"),  # an n8n production webhook
    ],
)
def test_a_rendered_delivery_is_received_and_classified(connector: Connector, path: str) -> None:
    app, recorder = create_platform_receiver(connector.name)
    event = Event(
        "evt_01",
        "ten_acme",
        "task.completed",
        catalog()["task.completed"].example,
        datetime(2025, 11, 20, 14, 33, tzinfo=UTC),
    )
    with BackgroundServer(app) as server:
        dest = destination(connector, server.url + path)
        request = connector.render(event, dest, datetime.now(UTC))
        recorder.script([410])

        def send() -> ResponseInfo:
            answer = httpx.post(request.url, content=request.body, headers=request.headers)
            return ResponseInfo(answer.status_code, answer.headers, answer.content)

        first, second = send(), send()
        assert recorder.wait_for(2, timeout=5)
    assert recorder.requests[1].body == request.body  # the bytes sent are the bytes received
    assert connector.classify(second, dest).verdict is Verdict.SUCCESS
    # A scripted 410: Zapier and Make remove the subscription; n8n never sends 410 itself.
    outcome = connector.classify(first, dest)
    assert outcome.verdict is Verdict.DISABLE
    assert outcome.remove_subscription is (connector.name != "n8n")


def test_wait_for_wakes_when_another_thread_delivers() -> None:
    app, recorder = create_platform_receiver("make")
    with BackgroundServer(app) as server:
        thread = threading.Thread(
            target=lambda: [httpx.post(server.url + "/h", content=BODY) for _ in range(3)]
        )
        thread.start()
        assert recorder.wait_for(3, timeout=5)
        thread.join()
    assert not recorder.wait_for(4, timeout=0.05)


async def test_wait_for_async_on_the_serving_loop() -> None:
    app, recorder = create_platform_receiver("n8n")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        await client.post("/webhook/x", content=BODY)
    assert await recorder.wait_for_async(1, timeout=1)
    assert not await recorder.wait_for_async(2, timeout=0.05)
