"""Pure: the event-type catalog -> the files of the Zapier CLI app (``connectors/zapier/app/``).

One REST-hook trigger per event type (reference: platform-apps.md, Zapier CLI package). Its
``sample`` is exactly what the gateway's samples route answers before there is any data (the
Zapier mapping run on the catalog example), so the editor's static sample, ``performList`` and a
live ``perform`` share one shape. Its ``outputFields`` are the keys every event of the type has
(``steady_example``), typed from the sample, with the transcript's line items
(``transcript[]text``). ``scripts/generate_apps.py`` writes the files; a test fails on drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from connectors._catalog_shape import is_datetime, steady_example, title_label, type_words
from connectors._shared import Body
from connectors.zapier import appjs
from connectors.zapier.adapter import ADAPTER
from gateway import __version__
from gateway.catalog import EventTypeSpec

CORE_VERSION = "19.1.0"  # zapier-platform-core, the newest 19.x (npm view zapier-platform-core)
NODE_ENGINE = ">=18.20"  # what the Zapier CLI needs (reference: platform-apps.md)
PACKAGE_NAME = "person-gateway-zapier"


def generate(catalog: Mapping[str, EventTypeSpec]) -> dict[str, str]:
    """``{path relative to connectors/zapier/app/: exact file text}``."""
    keys = {event_type: trigger_key(event_type) for event_type in sorted(catalog)}
    files = {
        "package.json": package_json(),
        "index.js": index_js(sorted(keys.values())),
        "authentication.js": appjs.HEADER + appjs.AUTHENTICATION_JS,
        "middleware.js": appjs.HEADER + appjs.MIDDLEWARE_JS,
        "hooks.js": appjs.HEADER + appjs.HOOKS_JS,
    }
    for event_type, key in keys.items():
        files[f"triggers/{key}.js"] = trigger_js(catalog[event_type], key)
    return files


def trigger_key(event_type: str) -> str:
    """``task.completed`` -> ``task_completed`` (Zapier keys are letters, digits and ``_``)."""
    return event_type.replace(".", "_").replace("-", "_")


def package_json() -> str:
    package = {
        "name": PACKAGE_NAME,
        "version": __version__,
        "description": "Zapier app for person-gateway: one REST-hook trigger per event type.",
        "main": "index.js",
        "private": True,
        "license": "UNLICENSED",
        "engines": {"node": NODE_ENGINE},
        "scripts": {"test": "node test/harness.js validate"},
        "dependencies": {"zapier-platform-core": CORE_VERSION},
        # The harness validates the definition with the schema package directly, as
        # `zapier validate` does offline; core pins the same version.
        "devDependencies": {"zapier-platform-schema": CORE_VERSION},
    }
    return json.dumps(package, indent=2) + "\n"


def index_js(keys: list[str]) -> str:
    requires = "".join(f"const {_ident(k)} = require('./triggers/{k}');\n" for k in keys)
    triggers = "".join(f"    [{_ident(k)}.key]: {_ident(k)},\n" for k in keys)
    return (
        appjs.HEADER
        + "'use strict';\n\n"
        + "const { version } = require('./package.json');\n"
        + "const { version: platformVersion } = require('zapier-platform-core');\n\n"
        + "const authentication = require('./authentication');\n"
        + "const { addApiKey, handleErrors } = require('./middleware');\n"
        + requires
        + "\nmodule.exports = {\n"
        + "  version,\n  platformVersion,\n  authentication,\n"
        + "  beforeRequest: [addApiKey],\n  afterResponse: [handleErrors],\n"
        + "  triggers: {\n"
        + triggers
        + "  },\n  searches: {},\n  creates: {},\n  resources: {},\n};\n"
    )


def trigger_js(spec: EventTypeSpec, key: str) -> str:
    noun, label = type_words(spec.name)
    sample = trigger_sample(spec)
    definition = {
        "key": key,
        "noun": noun,
        "display": {
            "label": label,
            "description": f"Triggers when a {spec.name} event arrives. {spec.description}".strip(),
        },
    }
    event = json.dumps(spec.name)
    return (
        appjs.HEADER
        + "'use strict';\n\n"
        + "const hooks = require('../hooks');\n\n"
        + f"const sample = {_js(sample)};\n\n"
        + f"const outputFields = {_js(output_fields(spec))};\n\n"
        + "module.exports = {\n"
        + "".join(f"  {k}: {_js(v, '  ')},\n" for k, v in definition.items())
        + "  operation: {\n"
        + "    type: 'hook',\n"
        + f"    performSubscribe: hooks.subscribe({event}),\n"
        + "    performUnsubscribe: hooks.unsubscribe,\n"
        + "    perform: hooks.perform,\n"
        + f"    performList: hooks.list({event}),\n"
        + "    sample,\n"
        + "    outputFields,\n"
        + "  },\n};\n"
    )


def trigger_sample(spec: EventTypeSpec) -> Body:
    """What ``GET /hooks/zapier/samples/{type}`` answers for a tenant without data."""
    return ADAPTER.samples(spec.name, spec.example)


def output_fields(spec: EventTypeSpec) -> list[dict[str, Any]]:
    """The keys on every event, in the mapping's order; arrays of objects as line items."""
    sample = trigger_sample(spec)
    steady = ADAPTER.samples(spec.name, steady_example(spec.schema, spec.example))
    fields: list[dict[str, Any]] = []
    for key in steady:
        value = sample.get(key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for child, child_value in value[0].items():
                label = f"{title_label(key)}: {title_label(child)}"
                fields.append(_field(f"{key}[]{child}", child_value, label))
        else:
            fields.append(_field(key, value))
    return fields


def _field(key: str, value: Any, label: str | None = None) -> dict[str, Any]:
    return {"key": key, "label": label or title_label(key), "type": field_type(value)}


def field_type(value: Any) -> str:
    """Zapier's output field types, read off a sample value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if is_datetime(value):
        return "datetime"
    return "string"


def _ident(key: str) -> str:
    """``survey_response_completed`` -> ``surveyResponseCompleted``, a JS identifier."""
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _js(value: Any, indent: str = "") -> str:
    """A JavaScript literal, deterministic: bare keys where they are identifiers, JSON strings,
    trailing commas, and a short flat object (only scalars) on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        line = "{ " + ", ".join(f"{_js_key(k)}: {_js(v)}" for k, v in value.items()) + " }"
        if all(not isinstance(v, dict | list) for v in value.values()) and len(line) <= 90:
            return line
        items = "".join(f"{inner}{_js_key(k)}: {_js(v, inner)},\n" for k, v in value.items())
        return "{\n" + items + indent + "}"
    if isinstance(value, list) and value:
        items = "".join(f"{inner}{_js(v, inner)},\n" for v in value)
        return "[\n" + items + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _js_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", key) else json.dumps(key)
