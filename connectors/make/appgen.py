"""Pure: the event-type catalog -> the files of the Make custom app (``connectors/make/app/``).

The app is a local project as Make's VS Code extension and CLI deploy it (``makecomapp.json``
naming each component's ``.iml.json`` code files; reference: platform-apps.md):

- ``general/base.iml.json``: what every module and remote procedure inherits: the gateway's base
  URL and ``x-api-key`` from the connection, the error mapping, the key sanitized from logs;
- one API-key connection (``personGateway``), validated on ``GET /hooks/me``;
- per event type a dedicated, attached webhook whose attach posts ``{url: {{webhook.url}},
  event}`` to ``/hooks/make`` and keeps ``{{body.id}}`` as ``externalHookId``, and whose detach
  deletes ``/hooks/make/{{webhook.externalHookId}}``; one webhook per type because a Make
  webhook's parameters are asked when it is created, and each trigger already is one type;
- per event type an instant trigger module on that webhook, its interface and samples from the
  Make mapping run on the catalog example (what ``GET /hooks/make/samples/{type}`` answers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors._catalog_shape import is_datetime, sentence_label, steady_example, type_words
from connectors._shared import Body
from connectors.make.adapter import ADAPTER
from gateway.catalog import EventTypeSpec

CONNECTION = "personGateway"
MAKE_ORIGIN = {  # where `Deploy to Make` sends the app; edit appId (and baseUrl's zone) to yours
    "label": "Make",
    "baseUrl": "https://eu1.make.com/api",
    "appId": "person-gateway",
    "appVersion": 1,
    "apikeyFile": ".secrets/make-apikey",
}
SANITIZE = ["request.headers.x-api-key"]  # the tenant key never shows in Make's logs


def generate(catalog: Mapping[str, EventTypeSpec]) -> dict[str, str]:
    """``{path relative to connectors/make/app/: exact file text}``."""
    types = sorted(catalog)
    files: dict[str, Any] = {
        "general/base.iml.json": base(),
        f"{_dir('connection', CONNECTION)}.communication.iml.json": connection_communication(),
        f"{_dir('connection', CONNECTION)}.params.iml.json": connection_params(),
        "modules/groups.json": [
            {"label": "Triggers", "options": [module_id(t) for t in types]},
        ],
    }
    for event_type in types:
        spec = catalog[event_type]
        hook = _dir("webhook", webhook_id(event_type))
        files[f"{hook}.communication.iml.json"] = {"output": "{{body}}"}
        files[f"{hook}.params.iml.json"] = []
        files[f"{hook}.attach.iml.json"] = attach(event_type)
        files[f"{hook}.detach.iml.json"] = detach()
        module = _dir("module", module_id(event_type))
        files[f"{module}.static-params.iml.json"] = []
        files[f"{module}.interface.iml.json"] = interface(spec)
        files[f"{module}.samples.iml.json"] = sample(spec)
    texts = {path: _json(value) for path, value in files.items()}
    texts["makecomapp.json"] = _json(makecomapp(catalog))
    texts["README.md"] = readme(catalog)
    return dict(sorted(texts.items()))


def webhook_id(event_type: str) -> str:
    """``survey.response.completed`` -> ``surveyResponseCompleted``."""
    head, *rest = event_type.replace("-", ".").replace("_", ".").split(".")
    return head + "".join(part.capitalize() for part in rest)


def module_id(event_type: str) -> str:
    """``task.completed`` -> ``watchTaskCompleted`` (letters and digits, as Make asks)."""
    return "watch" + webhook_id(event_type)[:1].upper() + webhook_id(event_type)[1:]


def _kebab(component_id: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in component_id).lstrip("-")


def _dir(kind: str, component_id: str) -> str:
    """``webhooks/task-completed/task-completed``: the extension's layout, without the suffix."""
    name = _kebab(component_id)
    return f"{kind}s/{name}/{name}"


def base() -> Body:
    return {
        "baseUrl": "{{connection.baseUrl}}",
        "headers": {"x-api-key": "{{connection.apiKey}}"},
        "response": {"error": error_mapping()},
        "log": {"sanitize": SANITIZE},
    }


def error_mapping() -> Body:
    """The gateway's ``{"error": {"code", "message"}}`` as Make errors (CONTRACT §3); a refused
    key asks the user to fix the connection, 429 and 503 are retried by Make."""
    return {
        "message": "[{{statusCode}}] {{body.error.message}}",
        "401": {"message": "{{body.error.message}}", "type": "InvalidAccessTokenError"},
        "429": {"message": "{{body.error.message}}", "type": "RateLimitError"},
        "503": {"message": "{{body.error.message}}", "type": "ConnectionError"},
    }


def connection_communication() -> Body:
    """The connection's own test: it does not inherit the base, so it names everything."""
    return {
        "url": "{{parameters.baseUrl}}/hooks/me",
        "method": "GET",
        "headers": {"x-api-key": "{{parameters.apiKey}}"},
        "response": {
            "metadata": {"type": "text", "value": "{{body.name}} ({{body.tenantId}})"},
            "error": error_mapping(),
        },
        "log": {"sanitize": SANITIZE},
    }


def connection_params() -> list[Body]:
    return [
        {
            "name": "baseUrl",
            "label": "Gateway URL",
            "type": "url",
            "required": True,
            "help": "The base URL of your person-gateway, without a trailing slash, "
            "for example `https://gateway.example.com`.",
        },
        {
            "name": "apiKey",
            "label": "API key",
            "type": "password",
            "required": True,
            "help": "A tenant API key of the gateway (`gateway keys create --tenant T`).",
        },
    ]


def attach(event_type: str) -> Body:
    return {
        "url": "/hooks/make",
        "method": "POST",
        "body": {"url": "{{webhook.url}}", "event": event_type},
        "response": {"data": {"externalHookId": "{{body.id}}"}},
    }


def detach() -> Body:
    # The unsubscribe route answers 204 also for an id that is already gone (CONTRACT §3).
    return {"url": "/hooks/make/{{webhook.externalHookId}}", "method": "DELETE"}


def sample(spec: EventTypeSpec) -> Body:
    """What ``GET /hooks/make/samples/{type}`` answers for a tenant without data."""
    return ADAPTER.samples(spec.name, spec.example)


def interface(spec: EventTypeSpec) -> list[Body]:
    """The bundle's fields: the keys every event has (``steady_example``), typed from the sample;
    a free-form object (answers by question, hidden fields) is a collection without a spec."""
    steady = ADAPTER.samples(spec.name, steady_example(spec.schema, spec.example))
    return _fields(steady, sample(spec))


def _fields(steady: Mapping[str, Any], full: Mapping[str, Any]) -> list[Body]:
    return [_param(key, steady[key], full.get(key)) for key in steady]


def _item_fields(items: list[dict[str, Any]]) -> list[Body]:
    """An Iterator's fields: the first item's keys, typed ``any`` where the items disagree (an
    answer's ``value`` is a number for a rating and text for a choice)."""
    fields = []
    for key in items[0]:
        kinds = [_type(item.get(key), item.get(key)) for item in items]
        kind = kinds[0] if all(k == kinds[0] for k in kinds) else {"type": "any"}
        fields.append({"name": key, "label": sentence_label(key), **kind})
    return fields


def _param(name: str, steady: Any, full: Any) -> Body:
    field: Body = {"name": name, "label": sentence_label(name), **_type(steady, full)}
    return field


def _type(steady: Any, full: Any) -> Body:
    if isinstance(full, dict):
        spec = _fields(steady, full) if isinstance(steady, dict) else []
        return {"type": "collection", "spec": spec} if spec else {"type": "collection"}
    if isinstance(full, list):
        if full and all(isinstance(item, dict) for item in full):
            return {"type": "array", "spec": {"type": "collection", "spec": _item_fields(full)}}
        return {"type": "array", "spec": _type(full[0], full[0]) if full else {"type": "any"}}
    if isinstance(full, bool):
        return {"type": "boolean"}
    if isinstance(full, int | float):
        return {"type": "number"}
    if is_datetime(full):
        return {"type": "date"}
    return {"type": "text"}


def makecomapp(catalog: Mapping[str, EventTypeSpec]) -> Body:
    types = sorted(catalog)
    conn = _dir("connection", CONNECTION)
    webhooks: Body = {}
    modules: Body = {}
    for event_type in types:
        _, label = type_words(event_type)
        hook = _dir("webhook", webhook_id(event_type))
        webhooks[webhook_id(event_type)] = {
            "label": f"{label} events",
            "webhookType": "web",
            "connection": CONNECTION,
            "altConnection": None,
            "codeFiles": {
                "communication": f"{hook}.communication.iml.json",
                "params": f"{hook}.params.iml.json",
                "attach": f"{hook}.attach.iml.json",
                "detach": f"{hook}.detach.iml.json",
                "update": None,
                "requiredScope": None,
            },
        }
        module = _dir("module", module_id(event_type))
        modules[module_id(event_type)] = {
            "label": f"Watch {label}",
            "description": f"Triggers when a {event_type} event arrives.",
            "moduleType": "instant_trigger",
            "connection": None,
            "altConnection": None,
            "webhook": webhook_id(event_type),
            "codeFiles": {
                "communication": None,
                "staticParams": f"{module}.static-params.iml.json",
                "mappableParams": None,
                "interface": f"{module}.interface.iml.json",
                "samples": f"{module}.samples.iml.json",
            },
        }
    return {
        "fileVersion": 1,
        "generalCodeFiles": {
            "base": "general/base.iml.json",
            "common": None,
            "readme": "README.md",
            "groups": "modules/groups.json",
        },
        "components": {
            "connection": {
                CONNECTION: {
                    "label": "person-gateway",
                    "connectionType": "basic",
                    "codeFiles": {
                        "communication": f"{conn}.communication.iml.json",
                        "params": f"{conn}.params.iml.json",
                        "common": None,
                    },
                }
            },
            "webhook": webhooks,
            "module": modules,
            "rpc": {},
            "function": {},
            "endpoint": {},
        },
        "origins": [MAKE_ORIGIN],
    }


def readme(catalog: Mapping[str, EventTypeSpec]) -> str:
    """The app's documentation page in Make."""
    lines = [
        "# person-gateway",
        "",
        "Receive person-gateway events in a scenario. Connect with your gateway's URL and",
        "a tenant API key. Adding a trigger's webhook subscribes it at the gateway (attach);",
        "deleting the webhook unsubscribes it (detach).",
        "",
        "## Triggers",
        "",
    ]
    for event_type in sorted(catalog):
        _, label = type_words(event_type)
        lines.append(f"- **Watch {label}**: {catalog[event_type].description}")
    return "\n".join(lines) + "\n"


def _json(value: Any) -> str:
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"
