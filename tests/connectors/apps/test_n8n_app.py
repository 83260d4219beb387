"""The n8n node package, built with npm and loaded into a real n8n 2.8.4 against a real gateway.

What it shows (issue #11): the built package loads (``CUSTOM.personGatewayTrigger`` is known, its
credential tests on ``/hooks/me``); activating a workflow with the trigger subscribes on
``/hooks/n8n``; a pushed event reaches the next node with the same event id; a forged or missing
signature is answered 401 and runs nothing; deactivating removes the subscription. The verifier
itself is checked against the gateway's own signer with node alone.

Needs Node/npm and n8n installed by ``.ci/install-n8n``; skipped locally when they are missing,
failed in CI.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.catalog import catalog
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.signing import generate_ed25519_keypair, generate_secret, sign
from tests.conftest import ADMIN_KEY, make_settings, task_data
from tests.connectors.apps.n8n_harness import (
    APP,
    N8n,
    Package,
    build_package,
    install_package,
    n8n_installed,
    require,
    wait_for,
)

pytestmark = [pytest.mark.platform_apps, pytest.mark.timeout(900)]

PACKAGE_NAME = "n8n-nodes-person-gateway"
CREDENTIAL_TYPE = "personGatewayApi"
TENANT = "acme"
PUBLISHED_TOP_LEVEL = {"package.json", "README.md", "LICENSE"}  # npm adds these to "files"


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    require(shutil.which("npm") is not None, "npm is not installed")
    return build_package(tmp_path_factory.mktemp("n8n-package"))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A real gateway on loopback (deliveries to 127.0.0.0/8 allowed) and a tenant key."""
    folder = tmp_path_factory.mktemp("gateway")
    settings = make_settings(f"sqlite:///{folder}/gateway.db", folder)
    with BackgroundServer(create_app(settings)) as server:
        answer = httpx.post(
            f"{server.url}/integrations/keys",
            headers={"x-api-key": ADMIN_KEY},
            json={"tenantId": TENANT, "name": "n8n test"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        yield server.url, {"x-api-key": answer.json()["key"]}


@dataclass
class Running:
    instance: N8n
    rest: httpx.Client  # the owner's session on the editor's REST API
    api: httpx.Client  # the public API, with an API key
    node_type: str  # how this n8n names the trigger


# n8n loads the package two ways: from a custom extension folder (N8N_CUSTOM_EXTENSIONS, types
# prefixed CUSTOM.) and as an npm-installed package in ~/.n8n/nodes (by its manifest, types
# prefixed with the package name): the way a self-hosted user installs the `npm pack` tarball.
LOADERS = {
    "extension-folder": "CUSTOM.personGatewayTrigger",
    "npm-package": f"{PACKAGE_NAME}.personGatewayTrigger",
}


@pytest.fixture(scope="module", params=list(LOADERS))
def n8n(
    request: pytest.FixtureRequest, package: Package, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    require(n8n_installed(), "n8n 2.8.4 is not installed: run .ci/install-n8n")
    home = tmp_path_factory.mktemp("n8n-home")
    if request.param == "npm-package":
        install_package(package.tarball, home)
    instance = N8n(home, package.dist if request.param == "extension-folder" else None)
    started = time.monotonic()
    instance.start()
    print(f"n8n ({request.param}) ready in {time.monotonic() - started:.1f} s")
    try:
        rest = instance.owner_session()
        api = instance.public_api(rest)
        yield Running(instance, rest, api, LOADERS[request.param])
        rest.close()
        api.close()
    finally:
        instance.stop()


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((APP / "package.json").read_text())
    return manifest


def test_package_builds_what_its_manifest_names_and_depends_on_nothing(package: Package) -> None:
    dist, packed = package.dist, package.files
    manifest = _manifest()
    assert "dependencies" not in manifest  # n8n's verification: no runtime dependencies
    assert "n8n-community-node-package" in manifest["keywords"]
    assert manifest["license"] == "MIT" and manifest["files"] == ["dist"]
    named = [path for key in ("credentials", "nodes") for path in manifest["n8n"][key]]
    assert len(named) == 2 and all(path in packed for path in named), (named, packed)
    assert all((dist.parent / path).is_file() for path in named)
    for asset in ("PersonGatewayTrigger.node.json", "personGateway.svg"):
        assert f"dist/nodes/PersonGatewayTrigger/{asset}" in packed
    assert [p for p in packed if not p.startswith("dist/")] == sorted(PUBLISHED_TOP_LEVEL)
    # The compiled code needs nothing but node's built-ins and its own files.
    required = {
        name
        for js in dist.rglob("*.js")
        for name in re.findall(r'require\("([^"]+)"\)', js.read_text())
    }
    assert required == {"crypto", "./events", "./signature"}


def test_verifier_agrees_with_the_gateway_signer(package: Package) -> None:
    """The node's verifier, run by node, on deliveries signed by ``gateway.signing``."""
    dist = package.dist
    secret, other = generate_secret(), generate_secret()
    ed_secret, _ = generate_ed25519_keypair()
    now = 1_800_000_000
    body = json.dumps({"id": "evt_1", "data": {"name": "Zoë"}}, ensure_ascii=False).encode()

    def case(
        *,
        secrets: list[str] | None = None,
        ts: int = now,
        sent: bytes = body,
        node: str | None = secret,
    ) -> dict[str, Any]:
        headers = {"webhook-id": "evt_1", "webhook-timestamp": str(ts)}
        if secrets is not None:
            headers["webhook-signature"] = sign("evt_1", ts, body, secrets)
        return {
            "secret": node,
            "headers": headers,
            "body": base64.b64encode(sent).decode(),
            "now": now,
        }

    cases = {
        "valid": (case(secrets=[secret]), True),
        "rotation: the second of two signatures is ours": (case(secrets=[other, secret]), True),
        "299 s old: inside the tolerance": (case(secrets=[secret], ts=now - 299), True),
        "301 s old": (case(secrets=[secret], ts=now - 301), False),
        "301 s ahead": (case(secrets=[secret], ts=now + 301), False),
        "body changed after signing": (case(secrets=[secret], sent=body + b" "), False),
        "signed with another secret": (case(secrets=[other]), False),
        "ed25519 (v1a) only": (case(secrets=[ed_secret]), False),
        "no signature header": (case(), False),
        "the node holds no secret": (case(secrets=[secret], node=None), False),
    }
    script = (
        "const { signatureProblem } = require(process.argv[1]);"
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(cases.map((c) =>"
        " signatureProblem(c.secret, c.headers, Buffer.from(c.body, 'base64'), c.now))));"
    )
    verifier = dist / "nodes" / "PersonGatewayTrigger" / "signature.js"
    done = subprocess.run(
        ["node", "-e", script, str(verifier)],
        input=json.dumps([c for c, _ in cases.values()]),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    problems = dict(zip(cases, json.loads(done.stdout), strict=True))
    assert {name: problems[name] is None for name in cases} == {
        name: valid for name, (_, valid) in cases.items()
    }, problems


def test_n8n_loads_the_node_and_tests_the_credential(
    n8n: Running, gateway: tuple[str, dict[str, str]]
) -> None:
    rest = n8n.rest
    gateway_url, tenant = gateway
    described = rest.post(
        "/node-types", json={"nodeInfos": [{"name": n8n.node_type, "version": 1}]}
    )
    assert described.status_code == 200, described.text
    [node] = described.json()["data"]
    assert node["name"] == "personGatewayTrigger" and node["group"] == ["trigger"]
    [event] = [p for p in node["properties"] if p["name"] == "event"]
    assert [o["value"] for o in event["options"]] == list(catalog())
    credential = _create_credential(rest, gateway_url, tenant["x-api-key"])
    verdicts = {}
    for label, key in (("right key", tenant["x-api-key"]), ("wrong key", "not-a-key")):
        data = {"baseUrl": f"{gateway_url}/", "apiKey": key}  # a trailing slash is fine
        answer = rest.post(
            "/credentials/test",
            json={"credentials": {**credential, "type": CREDENTIAL_TYPE, "data": data}},
        )
        assert answer.status_code == 200, answer.text
        verdicts[label] = answer.json()["data"]["status"]
    assert verdicts == {"right key": "OK", "wrong key": "Error"}


def test_activated_trigger_subscribes_runs_on_an_event_refuses_forgeries_and_unsubscribes(
    n8n: Running, gateway: tuple[str, dict[str, str]]
) -> None:
    instance, rest, api = n8n.instance, n8n.rest, n8n.api
    gateway_url, tenant = gateway
    hooks = httpx.Client(base_url=gateway_url, headers=tenant, timeout=10)
    credential = _create_credential(rest, gateway_url, tenant["x-api-key"])
    webhook_id = str(uuid.uuid4())
    webhook_url = f"{instance.url}/webhook/{webhook_id}/webhook"
    created = api.post("/workflows", json=_workflow(n8n.node_type, webhook_id, credential))
    assert created.status_code == 200, created.text
    workflow_id = created.json()["id"]

    # Activation: n8n calls checkExists, then create -> POST /hooks/n8n.
    activated = api.post(f"/workflows/{workflow_id}/activate")
    assert activated.status_code == 200, f"{activated.text}\n{instance.log_tail()}"
    [sub] = hooks.get("/hooks/n8n").json()
    assert sub["url"] == webhook_url and sub["event"] == "task.completed", sub

    # One pushed event runs the workflow; the next node holds the same event id.
    first = _push(hooks, "task_n8n_1")
    assert _received(api, workflow_id, 1) == [first]

    # Straight at the webhook URL: a forged signature and none at all are refused, nothing runs.
    body = json.dumps({"id": "evt_forged", "type": "task.completed", "data": {}}).encode()
    stamp = int(time.time())
    forged = {
        "content-type": "application/json",
        "webhook-id": "evt_forged",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign("evt_forged", stamp, body, [generate_secret()]),
    }
    unsigned = {"content-type": "application/json"}
    for headers in (forged, unsigned):
        answer = httpx.post(webhook_url, content=body, headers=headers, timeout=10)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "invalid_signature"
    # A second real event after them: exactly the two real events ran, in order.
    second = _push(hooks, "task_n8n_2")
    assert _received(api, workflow_id, 2) == [first, second]

    # Deactivation: n8n calls delete -> DELETE /hooks/n8n/{id}.
    deactivated = api.post(f"/workflows/{workflow_id}/deactivate")
    assert deactivated.status_code == 200, deactivated.text
    assert hooks.get("/hooks/n8n").json() == []
    hooks.close()


def _create_credential(rest: httpx.Client, gateway_url: str, key: str) -> dict[str, str]:
    """Through the editor's REST API: the public one's schema for it wants n8n's own added
    ``allowedDomains`` field even when domain restriction is off."""
    answer = rest.post(
        "/credentials",
        json={
            "name": f"gateway {uuid.uuid4().hex[:6]}",
            "type": CREDENTIAL_TYPE,
            "data": {"baseUrl": gateway_url, "apiKey": key},
        },
    )
    assert answer.status_code == 200, answer.text
    saved = answer.json()["data"]
    return {"id": saved["id"], "name": saved["name"]}


def _workflow(node_type: str, webhook_id: str, credential: dict[str, str]) -> dict[str, Any]:
    trigger, received = "Person Gateway Trigger", "Received"
    return {
        "name": "person gateway trigger test",
        "nodes": [
            {
                "id": str(uuid.uuid4()),
                "name": trigger,
                "type": node_type,
                "typeVersion": 1,
                "position": [0, 0],
                "webhookId": webhook_id,
                "parameters": {"event": "task.completed"},
                "credentials": {CREDENTIAL_TYPE: credential},
            },
            {
                "id": str(uuid.uuid4()),
                "name": received,
                "type": "n8n-nodes-base.noOp",
                "typeVersion": 1,
                "position": [240, 0],
                "parameters": {},
            },
        ],
        "connections": {trigger: {"main": [[{"node": received, "type": "main", "index": 0}]]}},
        "settings": {"executionOrder": "v1"},
    }


def _push(hooks: httpx.Client, task_id: str) -> str:
    answer = hooks.post(
        "/integrations/events", json={"type": "task.completed", "data": task_data(taskId=task_id)}
    )
    assert answer.status_code == 202, answer.text
    event_id: str = answer.json()["eventId"]
    [delivery] = answer.json()["deliveryIds"]
    status = wait_for(
        lambda: _final(hooks.get(f"/integrations/deliveries/{delivery}").json()["status"]),
        f"delivery {delivery} to n8n",
    )
    assert status == "succeeded", hooks.get(
        f"/integrations/deliveries/{delivery}?includeAttempts=true"
    ).text
    return event_id


def _final(status: str) -> str | None:
    return status if status in ("succeeded", "failed", "cancelled") else None


def _received(api: httpx.Client, workflow_id: str, count: int) -> list[str]:
    """The event ids the "Received" node got, oldest first, once ``count`` executions finished."""

    def finished() -> list[dict[str, Any]] | None:
        answer = api.get("/executions", params={"workflowId": workflow_id, "includeData": "true"})
        assert answer.status_code == 200, answer.text
        runs = answer.json()["data"]
        done = [r for r in runs if r.get("finished") or r.get("status") in ("success", "error")]
        return runs if len(done) >= count else None

    runs = wait_for(finished, f"{count} n8n executions")
    assert len(runs) == count, runs
    ids = []
    for run in sorted(runs, key=lambda r: int(r["id"])):
        assert run["status"] == "success", run
        [[item]] = run["data"]["resultData"]["runData"]["Received"][0]["data"]["main"]
        ids.append(item["json"]["id"])
    return ids
