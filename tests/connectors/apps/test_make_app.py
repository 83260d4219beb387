"""The generated Make app: its local project is well formed, and its connection, attach and
detach specs, evaluated as Make would (``iml.py``) against a real gateway on loopback, subscribe,
receive one event at the webhook URL and unsubscribe (issue 11, "What it must show")."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog import catalog
from tests.connectors.apps import iml
from tests.connectors.apps.live import MAKE_APP, Gateway, receiver, running_gateway

# Make's rules for local ids (its VS Code extension's checks) and module types.
COMPONENT_ID = {
    "connection": r"[a-zA-Z][0-9a-zA-Z-]{1,33}[0-9a-zA-Z]",
    "webhook": r"[a-zA-Z][0-9a-zA-Z-]{1,33}[0-9a-zA-Z]",
    "module": r"[a-zA-Z][0-9a-zA-Z]{2,63}",
}
COMPONENT_KINDS = {"connection", "webhook", "module", "rpc", "function", "endpoint"}


def load(path: str) -> Any:
    return json.loads((MAKE_APP / path).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    data: dict[str, Any] = load("makecomapp.json")
    return data


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path) as gw:
        yield gw


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value; array items as ``[]`` (``transcript[].text``)."""
    if isinstance(value, dict):
        paths = set()
        for key, child in value.items():
            paths |= {f"{prefix}{key}"} | key_paths(child, f"{prefix}{key}.")
        return paths
    if isinstance(value, list):
        return set().union(*(key_paths(item, f"{prefix[:-1]}[].") for item in value))
    return set()


def interface_paths(fields: list[dict[str, Any]], prefix: str = "") -> set[str]:
    paths = set()
    for f in fields:
        name = f"{prefix}{f['name']}"
        paths.add(name)
        if f["type"] == "collection":
            paths |= interface_paths(f.get("spec", []), name + ".")
        if f["type"] == "array" and f["spec"]["type"] == "collection":
            paths |= interface_paths(f["spec"]["spec"], name + "[].")
    return paths


def test_local_project_is_well_formed(project: dict[str, Any]) -> None:
    assert project["fileVersion"] == 1
    assert set(project["components"]) == COMPONENT_KINDS
    named = [p for p in project["generalCodeFiles"].values() if p]
    for kind, components in project["components"].items():
        for component_id, meta in components.items():
            assert re.fullmatch(COMPONENT_ID.get(kind, r".+"), component_id), component_id
            named += [p for p in meta["codeFiles"].values() if p]
            if kind == "module":
                assert meta["moduleType"] == "instant_trigger"
                assert meta["webhook"] in project["components"]["webhook"]
            if kind == "webhook":
                assert meta["connection"] in project["components"]["connection"]
    on_disk = {str(p.relative_to(MAKE_APP)) for p in MAKE_APP.rglob("*") if p.is_file()}
    assert sorted(on_disk - {"makecomapp.json"}) == sorted(named)  # no stray or missing file
    for path in named:
        if path.endswith(".json"):
            load(path)  # each is JSON
    origin = project["origins"][0]
    assert re.fullmatch(r"https://.+/api", origin["baseUrl"]) and origin["appVersion"] == 1
    modules = {m["webhook"] for m in project["components"]["module"].values()}
    assert len(modules) == len(catalog())  # one trigger per event type


def test_base_and_connection_keep_the_key_out_of_logs() -> None:
    base = load("general/base.iml.json")
    assert base["headers"] == {"x-api-key": "{{connection.apiKey}}"}
    assert "request.headers.x-api-key" in base["log"]["sanitize"]
    connection = load("connections/person-gateway/person-gateway.communication.iml.json")
    assert "request.headers.x-api-key" in connection["log"]["sanitize"]


@pytest.mark.parametrize("event_type", sorted(catalog()))
def test_interface_names_the_sample_keys(project: dict[str, Any], event_type: str) -> None:
    """Every field the interface offers is in the sample (and so on every live bundle)."""
    module = next(
        m for m in project["components"]["module"].values() if event_type in m["description"]
    )
    fields = interface_paths(load(module["codeFiles"]["interface"]))
    assert fields <= key_paths(load(module["codeFiles"]["samples"]))


def test_connection_is_validated_on_hooks_me(gateway: Gateway) -> None:
    spec = load("connections/person-gateway/person-gateway.communication.iml.json")
    ok = iml.call(spec, {"parameters": {"baseUrl": gateway.url, "apiKey": gateway.tenant_key}})
    assert ok.body["tenantId"] == gateway.tenant_id
    assert ok.metadata == {"type": "text", "value": f"platform app ({gateway.tenant_id})"}

    with pytest.raises(iml.MakeError) as refused:
        iml.call(spec, {"parameters": {"baseUrl": gateway.url, "apiKey": "not-a-key"}})
    with gateway.tenant() as tenant:
        expected = tenant.get("/hooks/me", headers={"x-api-key": "not-a-key"}).json()
    assert refused.value.status == 401 and refused.value.kind == "InvalidAccessTokenError"
    assert refused.value.message == expected["error"]["message"]


def test_attach_deliver_detach(project: dict[str, Any], gateway: Gateway) -> None:
    base = load("general/base.iml.json")
    connection = {"baseUrl": gateway.url, "apiKey": gateway.tenant_key}
    webhook_meta = project["components"]["webhook"]["taskCompleted"]
    files = webhook_meta["codeFiles"]
    module = project["components"]["module"]["watchTaskCompleted"]
    with receiver() as (rec, rec_url), gateway.tenant() as tenant:
        webhook: dict[str, Any] = {"url": f"{rec_url}/make/hook-1"}
        attached = iml.call(
            load(files["attach"]), {"connection": connection, "webhook": webhook}, base=base
        )
        assert attached.status == 201
        webhook.update(attached.data)  # Make keeps response.data with the webhook
        listed = tenant.get("/hooks/make", params={"url": webhook["url"]}).json()
        assert [(s["id"], s["event"]) for s in listed] == [
            (webhook["externalHookId"], "task.completed")
        ]

        event_id = gateway.push(
            "task.completed", copy.deepcopy(catalog()["task.completed"].example)
        )
        (delivery,) = rec.wait_for("/make/hook-1", 1)
        assert delivery.headers["webhook-id"] == event_id
        body = json.loads(delivery.body)
        bundle = iml.render(load(files["communication"])["output"], {"body": body})
        assert bundle["eventId"] == event_id
        assert key_paths(bundle) == key_paths(load(module["codeFiles"]["samples"]))

        detached = iml.call(
            load(files["detach"]), {"connection": connection, "webhook": webhook}, base=base
        )
        assert detached.status == 204
        assert tenant.get("/hooks/make", params={"url": webhook["url"]}).json() == []


def test_a_refused_key_is_a_make_error_with_our_message(gateway: Gateway) -> None:
    base = load("general/base.iml.json")
    spec = load("webhooks/task-completed/task-completed.attach.iml.json")
    context = {
        "connection": {"baseUrl": gateway.url, "apiKey": "revoked-or-wrong"},
        "webhook": {"url": "http://127.0.0.1:9/unused"},
    }
    with pytest.raises(iml.MakeError) as refused:
        iml.call(spec, context, base=base)
    assert refused.value.kind == "InvalidAccessTokenError" and refused.value.message


def test_evaluator_refuses_iml_it_does_not_understand() -> None:
    with pytest.raises(ValueError, match="does not support"):
        iml.render("{{ifempty(body.id; 'x')}}", {"body": {}})
