"""``GET /integrations/openapi.json``: the operator surface's own (private) OpenAPI document.

Request bodies come from the same pydantic models that validate them, so the document cannot
drift from what the API accepts. ``/integrations/*`` stays out of person.run's public spec.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import __version__
from gateway.api.auth import endpoint
from gateway.api.erasures import ErasureIn
from gateway.api.ingest import SourceIn
from gateway.api.replays import ReplayIn
from gateway.api.responses import json_response
from gateway.api.schemas import (
    DestinationIn,
    DestinationPatch,
    DisableIn,
    EventIn,
    KeyIn,
    TestSendIn,
)
from gateway.store import Principal

LIST_PARAMS = ["page", "pageSize"]
DELIVERY_FILTERS = [
    "tenantId",
    "destinationId",
    "eventId",
    "status",
    "isTest",
    "since",
    "until",
    "connector",
]
# (method, path, summary, request model, success status, query parameters)
OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, int, list[str]]] = [
    ("post", "/integrations/keys", "Create a tenant API key (admin)", KeyIn, 201, []),
    (
        "get",
        "/integrations/keys",
        "List active keys, never the key itself (admin)",
        None,
        200,
        [*LIST_PARAMS, "tenantId"],
    ),
    (
        "delete",
        "/integrations/keys/{id}",
        "Revoke a key everywhere within 1 s (admin)",
        None,
        204,
        [],
    ),
    ("post", "/integrations/destinations", "Create a destination", DestinationIn, 201, []),
    (
        "get",
        "/integrations/destinations",
        "List destinations",
        None,
        200,
        [*LIST_PARAMS, "tenantId", "connector", "url"],
    ),
    ("get", "/integrations/destinations/{id}", "Get a destination", None, 200, []),
    (
        "patch",
        "/integrations/destinations/{id}",
        "Update a destination (expectedVersion: 409 when stale)",
        DestinationPatch,
        200,
        [],
    ),
    (
        "delete",
        "/integrations/destinations/{id}",
        "Delete a destination; pending deliveries are cancelled",
        None,
        204,
        [],
    ),
    (
        "post",
        "/integrations/destinations/{id}/rotate-secret",
        "Rotate the signing secret; the old one signs beside it for 24 h",
        None,
        200,
        [],
    ),
    (
        "post",
        "/integrations/destinations/{id}/enable",
        "Enable; held deliveries resume",
        None,
        200,
        [],
    ),
    (
        "post",
        "/integrations/destinations/{id}/disable",
        "Disable; deliveries are held",
        DisableIn,
        200,
        [],
    ),
    (
        "post",
        "/integrations/destinations/{id}/test",
        "Send the connector's sample (isTest)",
        TestSendIn,
        201,
        [],
    ),
    (
        "get",
        "/integrations/destinations/{id}/stats",
        "Success rate and latency over time",
        None,
        200,
        ["since", "until", "bucket"],
    ),
    (
        "post",
        "/integrations/events",
        'Push intake: one event, or {"events": [...]} (<= 1000); the answer carries "warnings" '
        "when no destination receives an event",
        EventIn,
        202,
        [],
    ),
    ("get", "/integrations/events/{id}", "An event and its deliveries", None, 200, []),
    (
        "get",
        "/integrations/event-types",
        "The event-type catalog (schemas and examples)",
        None,
        200,
        [],
    ),
    (
        "get",
        "/integrations/deliveries",
        "The delivery log",
        None,
        200,
        [*LIST_PARAMS, *DELIVERY_FILTERS, "includeAttempts"],
    ),
    ("get", "/integrations/deliveries.csv", "The delivery log as CSV", None, 200, DELIVERY_FILTERS),
    (
        "get",
        "/integrations/deliveries/{id}",
        "A delivery with its attempts",
        None,
        200,
        ["includeAttempts"],
    ),
    (
        "post",
        "/integrations/deliveries/{id}/replay",
        "Replay one delivery (replayOf)",
        None,
        201,
        [],
    ),
    ("post", "/integrations/replays", "Bulk replay (durable); dryRun counts", ReplayIn, 202, []),
    ("get", "/integrations/replays", "List bulk replays", None, 200, LIST_PARAMS),
    ("get", "/integrations/replays/{id}", "Bulk replay progress", None, 200, []),
    ("post", "/integrations/replays/{id}/cancel", "Cancel a bulk replay", None, 200, []),
    (
        "get",
        "/integrations/stream",
        "Server-Sent Events: one per delivery status change",
        None,
        200,
        ["apiKey"],
    ),
    ("post", "/integrations/sources", "Create an inbound survey source", SourceIn, 201, []),
    ("delete", "/integrations/events/{id}", "Erase one event's payload everywhere", None, 204, []),
    (
        "post",
        "/integrations/erasures",
        "Erase events matching data paths (durable)",
        ErasureIn,
        202,
        [],
    ),
    ("get", "/integrations/erasures/{id}", "Erasure progress", None, 200, []),
    (
        "get",
        "/integrations/destinations/{id}/operational-events",
        "Operational events about a destination, newest first",
        None,
        200,
        ["limit"],
    ),
]


@cache
def build_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, model, status, query in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "security": [{"apiKey": []}],
            "responses": {
                str(status): {"description": "success"},
                "401": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"},
            },
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in query
            ]
            + [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                for _ in [path]
                if "{id}" in path
            ],
        }
        if model is not None:
            schema = model.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}"
            )
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                    }
                },
            }
        paths.setdefault(path, {})[method] = operation
    components["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "array"},
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "person-gateway operator API (private)", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "responses": {
                "Error": {
                    "description": "error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        },
    }


@endpoint
async def openapi(request: Request, principal: Principal) -> Response:
    return json_response(build_document())


routes = [Route("/integrations/openapi.json", openapi, methods=["GET"])]
