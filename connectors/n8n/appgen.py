"""The n8n community node package ``n8n-nodes-person-gateway``, written from the event catalog.

``generate(catalog)`` returns every file of ``connectors/n8n/app/`` (path -> exact text):

- the hand-written TypeScript, build script and icon under ``connectors/n8n/templates/``, as is;
- ``package.json`` (with the ``n8n`` manifest naming the built credential and node files);
- ``nodes/PersonGatewayTrigger/events.ts``: the trigger's event-type options, one per catalog type;
- the node's codex file ``PersonGatewayTrigger.node.json`` and the package ``README.md``.

n8n's rules for a community package (n8n-nodes-starter; verification asks for MIT and no runtime
dependencies): the name starts ``n8n-nodes-``, ``keywords`` has ``n8n-community-node-package``,
only ``dist`` is published, ``n8n-workflow`` is a peer (n8n provides it) and the compiled code
imports nothing but node's built-ins. Pure apart from reading the templates shipped beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.catalog import EventTypeSpec

PACKAGE_NAME = "n8n-nodes-person-gateway"
PACKAGE_VERSION = "0.1.0"
NODE_NAME = "personGatewayTrigger"  # n8n registers it as CUSTOM.personGatewayTrigger (or <pkg>.…)
NODE_DIR = "nodes/PersonGatewayTrigger"
CREDENTIAL_FILE = "dist/credentials/PersonGatewayApi.credentials.js"
NODE_FILE = f"dist/{NODE_DIR}/PersonGatewayTrigger.node.js"
DOCS_URL = f"https://www.npmjs.com/package/{PACKAGE_NAME}"
# Build-time only, pinned: n8n-workflow 2.8.0 is what n8n 2.8.4 itself runs on.
DEV_DEPENDENCIES = {"@types/node": "20.19.43", "n8n-workflow": "2.8.0", "typescript": "5.9.3"}
TEMPLATES = Path(__file__).resolve().parent / "templates"
GENERATED_NOTE = "Generated from the gateway's event-type catalog by scripts/generate_apps.py."


def generate(catalog: Mapping[str, EventTypeSpec]) -> dict[str, str]:
    """Every file of the package, by its path relative to ``connectors/n8n/app/``."""
    files = _templates()
    files["package.json"] = _json(package_json())
    files["LICENSE"] = MIT_LICENSE
    files[f"{NODE_DIR}/events.ts"] = events_ts(catalog)
    files[f"{NODE_DIR}/PersonGatewayTrigger.node.json"] = _json(codex(catalog))
    files["README.md"] = readme(catalog)
    return dict(sorted(files.items()))


def package_json() -> dict[str, Any]:
    return {
        "name": PACKAGE_NAME,
        "version": PACKAGE_VERSION,
        "description": "n8n trigger node for the person gateway: person.run tasks and survey "
        "responses as signed webhooks",
        "keywords": ["n8n-community-node-package", "person.run", "webhook", "trigger"],
        "license": "MIT",
        "homepage": DOCS_URL,
        "author": {"name": "person-gateway"},
        "engines": {"node": ">=20.15"},
        "files": ["dist"],
        "scripts": {
            "clean": "node -e \"require('fs').rmSync('dist', {recursive: true, force: true})\"",
            "build": "npm run clean && tsc -p tsconfig.json && node scripts/copy-assets.js",
        },
        "n8n": {
            "n8nNodesApiVersion": 1,
            "strict": True,
            "credentials": [CREDENTIAL_FILE],
            "nodes": [NODE_FILE],
        },
        "devDependencies": DEV_DEPENDENCIES,
        "peerDependencies": {"n8n-workflow": "*"},
    }


def event_label(name: str) -> str:
    """``survey.response.completed`` -> ``Survey Response Completed``."""
    return " ".join(part.capitalize() for part in name.replace("_", ".").split("."))


def events_ts(catalog: Mapping[str, EventTypeSpec]) -> str:
    options = [
        {"name": event_label(spec.name), "value": spec.name, "description": spec.description}
        for spec in catalog.values()
    ]
    items = "".join(f"\t{json.dumps(option, ensure_ascii=False)},\n" for option in options)
    return (
        f"// {GENERATED_NOTE} Do not edit.\n"
        "import type { INodePropertyOptions } from 'n8n-workflow';\n\n"
        "/** The trigger's event types: one option per type in the gateway's catalog. */\n"
        f"export const EVENT_TYPES: INodePropertyOptions[] = [\n{items}];\n"
    )


def codex(catalog: Mapping[str, EventTypeSpec]) -> dict[str, Any]:
    """n8n's codex file: categories, documentation links and search aliases for the node."""
    return {
        "node": f"{PACKAGE_NAME}.{NODE_NAME}",
        "nodeVersion": "1.0",
        "codexVersion": "1.0",
        "categories": ["Development", "Data & Storage"],
        "resources": {
            "credentialDocumentation": [{"url": f"{DOCS_URL}#credentials"}],
            "primaryDocumentation": [{"url": DOCS_URL}],
        },
        "alias": ["person.run", "webhook", "survey", *sorted(catalog)],
    }


def readme(catalog: Mapping[str, EventTypeSpec]) -> str:
    events = "".join(f"| `{s.name}` | {s.description} |\n" for s in catalog.values())
    return README.format(package=PACKAGE_NAME, events=events, note=GENERATED_NOTE)


def _templates() -> dict[str, str]:
    return {
        path.relative_to(TEMPLATES).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(TEMPLATES.rglob("*"))
        if path.is_file()
    }


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


MIT_LICENSE = """\
MIT License

Copyright (c) 2026 the person-gateway authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

README = """\
# {package}

An [n8n](https://n8n.io) community node for the person gateway: the **Person Gateway Trigger**
starts a workflow on each event the gateway delivers, verified by its Standard Webhooks signature.
MIT licensed; no runtime dependencies (it runs on node's built-ins and the n8n it is loaded into).

<!-- {note} Edit connectors/n8n/appgen.py or connectors/n8n/templates/, not this folder. -->

## Install

- **From the npm registry, in n8n** (self-hosted; n8n Cloud lists verified community nodes only):
  *Settings → Community Nodes → Install*, enter `{package}`, accept the risk notice.
- **Self-hosted n8n, from this folder** (Node ≥ 20.15):

  ```sh
  npm install && npm run build && npm pack        # -> {package}-<version>.tgz
  mkdir -p ~/.n8n/nodes && cd ~/.n8n/nodes
  npm install --legacy-peer-deps /path/to/{package}-<version>.tgz
  ```

  then restart n8n (in Docker the folder is `/home/node/.n8n/nodes`). n8n loads it by the `n8n`
  field of its `package.json`; the node's type is `{package}.personGatewayTrigger`.
- **For development:** point `N8N_CUSTOM_EXTENSIONS` at the built `dist/` folder; the node's type
  is then `CUSTOM.personGatewayTrigger`.

## Credentials: Person Gateway API

| field | what to enter |
|---|---|
| Base URL | where the gateway answers, e.g. `https://gateway.example.com` (no path) |
| API Key | a tenant API key (`gateway keys create --tenant T`); sent as `x-api-key` |

n8n tests the credential on `GET /hooks/me`.

## Trigger: Person Gateway Trigger

Pick the **Event**; activating (publishing) the workflow subscribes its webhook URL on the gateway
(`POST /hooks/n8n`), deactivating it unsubscribes (`DELETE /hooks/n8n/{{id}}`); *Listen for test
event* makes a short-lived subscription of the test URL. The subscription's signing secret stays
in the node's static data; a request whose `webhook-signature` does not verify over the raw body,
or whose `webhook-timestamp` is more than 5 minutes off (the gateway stamps each attempt, so only
clock skew does that), is answered 401 and runs nothing. The gateway takes a 401 from n8n as a
credential problem: it disables the subscription and holds its deliveries until it is enabled
again (`POST /integrations/destinations/{{id}}/enable`).

Each delivery is one item: `{{{{ $json.id }}}}` is the event id (the `webhook-id`, the same on
every retry), `{{{{ $json.data }}}}` its data.

The gateway must be able to reach n8n's webhook URL: set n8n's `WEBHOOK_URL` behind a proxy, and
the gateway's `GATEWAY_ALLOW_PRIVATE_NETWORKS` when n8n runs on a private address. The node keeps
the secret it was given at subscribe: if the subscription's secret is rotated on the gateway,
deactivate and activate the workflow within the 24 h the old secret still signs (that replaces
the subscription, and the node holds the new one's secret).

| event | description |
|---|---|
{events}"""
