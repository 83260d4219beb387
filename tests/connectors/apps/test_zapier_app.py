"""The generated Zapier app, run in Zapier's own runtime (zapier-platform-core's createAppTester)
against a real gateway on loopback: validate, auth, subscribe, one delivery, perform, performList,
unsubscribe (issue 11, "What it must show")."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog import catalog
from tests.connectors.apps.live import (
    ZAPIER_APP,
    Gateway,
    receiver,
    running_gateway,
    zapier_node_modules,
)

pytestmark = pytest.mark.platform_apps

NODE_SECONDS = 60  # one harness step (node start, core load, a few loopback requests)
TRIGGER = "triggers.task_completed.operation"


def harness(modules: Path, step: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """One step of ``test/harness.js`` in a fresh node process; its JSON answer."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LOGGING_", "ZAPIER_"))  # core would ship logs to Zapier
    }
    env.update(NODE_PATH=str(modules), NODE_ENV="test")
    done = subprocess.run(
        ["node", "test/harness.js", step],
        cwd=ZAPIER_APP,
        input=json.dumps(payload or {}),
        capture_output=True,
        text=True,
        env=env,
        timeout=NODE_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def run(modules: Path, method: str, bundle: dict[str, Any]) -> Any:
    answer = harness(modules, "run", {"method": method, "bundle": bundle})
    assert answer["ok"], answer["error"]
    return answer["result"]


@pytest.fixture
def modules() -> Path:
    return zapier_node_modules()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path) as gw:
        yield gw


def test_validate_is_clean_offline(modules: Path) -> None:
    answer = harness(modules, "validate")
    assert answer["ok"], answer
    assert answer["result"]["core"] == []
    assert answer["result"]["schema"] == []
    definition = answer["result"]["definition"]
    assert sorted(definition["triggers"]) == sorted(t.replace(".", "_") for t in catalog())
    assert definition["authentication"]["type"] == "custom"


def test_auth_test_and_connection_label(modules: Path, gateway: Gateway) -> None:
    auth = {"baseUrl": gateway.url + "/", "apiKey": gateway.tenant_key}  # a trailing slash too
    me = run(modules, "authentication.test", {"authData": auth})
    assert me["tenantId"] == gateway.tenant_id and me["keyId"].startswith("key_")
    label = run(modules, "authentication.connectionLabel", {"authData": auth, "inputData": me})
    assert label == f"platform app ({gateway.tenant_id})"

    wrong = {"baseUrl": gateway.url, "apiKey": "not-a-key"}
    answer = harness(
        modules, "run", {"method": "authentication.test", "bundle": {"authData": wrong}}
    )
    assert not answer["ok"]
    assert answer["error"]["name"] == "AppError"  # z.errors.Error
    error = json.loads(answer["error"]["message"])
    with gateway.tenant() as tenant:
        refused = tenant.get("/hooks/me", headers={"x-api-key": "not-a-key"})
    assert refused.status_code == 401
    assert error == {
        "message": refused.json()["error"]["message"],
        "code": "AuthenticationError",
        "status": 401,
    }


def test_rest_hook_lifecycle(modules: Path, gateway: Gateway) -> None:
    auth = {"baseUrl": gateway.url, "apiKey": gateway.tenant_key}
    with receiver() as (rec, rec_url), gateway.tenant() as tenant:
        target = f"{rec_url}/hooks/catch/1/abc"
        subscribe = run(
            modules, f"{TRIGGER}.performSubscribe", {"authData": auth, "targetUrl": target}
        )
        assert subscribe["id"].startswith("dst_") and "secret" not in subscribe
        listed = tenant.get("/hooks/zapier", params={"url": target}).json()
        assert [(s["id"], s["event"]) for s in listed] == [(subscribe["id"], "task.completed")]

        data = copy.deepcopy(catalog()["task.completed"].example)
        event_id = gateway.push("task.completed", data)
        (delivery,) = rec.wait_for("/hooks/catch/1/abc", 1)
        assert delivery.headers["webhook-id"] == event_id
        delivered = json.loads(delivery.body)

        # Zapier adds a `querystring` key of its own to the parsed body (reference §1.1).
        cleaned = {**delivered, "querystring": {}}
        perform = run(modules, f"{TRIGGER}.perform", {"authData": auth, "cleanedRequest": cleaned})
        assert perform == [delivered] and perform[0]["id"] == event_id
        listing = run(modules, f"{TRIGGER}.performList", {"authData": auth})
        assert listing[0]["id"] == event_id  # the live event, newest first
        assert list(perform[0]) == list(listing[0])

        run(
            modules,
            f"{TRIGGER}.performUnsubscribe",
            {"authData": auth, "subscribeData": subscribe, "targetUrl": target},
        )
        assert tenant.get("/hooks/zapier", params={"url": target}).json() == []


def test_static_sample_is_the_performlist_shape(modules: Path, gateway: Gateway) -> None:
    """Before any data, performList answers the synthetic sample: the trigger's static sample."""
    auth = {"baseUrl": gateway.url, "apiKey": gateway.tenant_key}
    definition = harness(modules, "validate")["result"]["definition"]
    for event_type in sorted(catalog()):
        key = event_type.replace(".", "_")
        listing = run(modules, f"triggers.{key}.operation.performList", {"authData": auth})
        operation = definition["triggers"][key]["operation"]
        assert listing == [operation["sample"]]
        steady = {f["key"].split("[]")[0] for f in operation["outputFields"]}
        assert steady <= set(operation["sample"])
