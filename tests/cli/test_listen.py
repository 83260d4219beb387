"""``gateway listen`` (a local receiver that checks signatures) and ``gateway events send`` (the
catalog's example as an event), each as a real subprocess against real servers on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway import signing
from gateway.app import create_app
from gateway.cli.listen import describe
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import WebhookReceiver
from tests.cli.test_help_and_startup import assert_one_line_failure, clean_env, free_port
from tests.conftest import ADMIN_KEY, make_settings

BODY = b'{"id":"evt_1","type":"task.completed","data":{"taskId":"t1"}}'


def signed(secret: str, body: bytes = BODY) -> dict[str, str]:
    return signing.signature_headers("evt_1", int(time.time()), body, [secret])


@pytest.mark.parametrize(
    "secrets,tamper,expected",
    [
        (True, False, "signature verified"),  # as sent
        (True, True, "signature INVALID"),  # one byte changed after signing
        (False, False, "signature not checked (no --secret)"),  # nothing to check with
    ],
)
def test_describe_reports_headers_signature_and_pretty_body(
    secrets: bool, tamper: bool, expected: str
) -> None:
    secret = signing.generate_secret()
    headers = {"content-type": "application/json", "x-other": "hidden", **signed(secret)}
    body = BODY.replace(b"t1", b"t2") if tamper else BODY
    report = describe("POST", "/hooks", headers, body, [secret] if secrets else [], 200)
    assert report.startswith("--> POST /hooks")
    assert "    webhook-id: evt_1" in report and "x-other" not in report
    assert f"    {expected}" in report
    assert '      "taskId": "t' in report  # pretty-printed, indented under the request


@pytest.fixture
def listener() -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    secret = signing.generate_secret()
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "listen",
            "--port",
            str(port),
            "--secret",
            secret,
            "--status",
            "503",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port} answers 503" in banner, banner
        yield proc, f"http://127.0.0.1:{port}", secret
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_listen_prints_each_delivery_and_answers_the_chosen_status(
    listener: tuple[subprocess.Popen[str], str, str],
) -> None:
    proc, url, secret = listener
    assert proc.stdout is not None
    r = httpx.post(f"{url}/hooks", content=BODY, headers=signed(secret), timeout=10)
    assert r.status_code == 503
    report = list(iter(proc.stdout.readline, "\n"))  # one report ends with a blank line
    assert report[0].startswith("--> POST /hooks") and "answered 503" in report[0]
    assert "    signature verified\n" in report
    bad = httpx.post(f"{url}/hooks", content=BODY + b" ", headers=signed(secret), timeout=10)
    assert bad.status_code == 503
    bad_report = list(iter(proc.stdout.readline, "\n"))
    assert any(line.startswith("    signature INVALID") for line in bad_report), bad_report
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert "stopped after 2 request(s)" in proc.stdout.read()


@pytest.mark.slow
def test_listen_refuses_a_bad_secret_and_a_taken_port_in_one_line() -> None:
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "listen",
            "--port",
            str(free_port()),
            "--secret",
            "whsec_???",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert_one_line_failure(bad, "--secret")
    with BackgroundServer(WebhookReceiver().app) as taken:
        clash = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "listen", "--port", str(taken.port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
        )
    assert_one_line_failure(clash, str(taken.port), "--port")


@pytest.fixture
def gateway_url(tmp_path: Path) -> Iterator[str]:
    settings = make_settings(f"sqlite:///{tmp_path}/gateway.db", tmp_path)
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


def send(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "events",
            "send",
            "--example",
            "task.completed",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=clean_env(),
    )


@pytest.mark.slow
def test_events_send_posts_the_example_and_waits_for_its_delivery(
    gateway_url: str, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, rec_url = receiver
    r = httpx.post(
        f"{gateway_url}/integrations/destinations",
        headers={"x-api-key": ADMIN_KEY},
        json={
            "tenantId": "acme",
            "connector": "webhook",
            "url": f"{rec_url}/in",
            "eventTypes": ["task.completed"],
        },
    )
    assert r.status_code == 201, r.text
    rec.expect_secret("/in", r.json()["secret"])
    result = send("--tenant", "acme", "--url", gateway_url, "--key", ADMIN_KEY, "--wait", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "created (202) for tenant acme: 1 delivery" in result.stdout
    assert "succeeded after 1 attempt(s) (last: HTTP 200)" in result.stdout
    [got] = rec.on("/in")
    assert got.verified
    from gateway.catalog import catalog

    assert json.loads(got.body)["data"] == catalog()["task.completed"].example


@pytest.mark.slow
def test_events_send_for_an_unconfigured_tenant_prints_the_warning(gateway_url: str) -> None:
    result = send("--tenant", "nobody", "--url", gateway_url, "--key", ADMIN_KEY)
    assert result.returncode == 0, result.stderr
    assert "0 deliveries" in result.stdout
    assert "warning: tenant nobody has no destination subscribed to task.completed" in (
        result.stdout
    )


@pytest.mark.slow
def test_events_send_without_a_gateway_fails_in_one_line() -> None:
    result = send("--tenant", "acme", "--url", f"http://127.0.0.1:{free_port()}", "--key", "k")
    assert_one_line_failure(result, "cannot reach the gateway", "gateway serve")
