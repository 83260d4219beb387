"""The gateway's exception tree. Every error the gateway raises on purpose is one of these::

GatewayError                      root; ``code`` is the stable API error code
├── AuthError                     401 missing or unknown x-api-key
├── ForbiddenError                403 the key may not do this (tenant key on an admin route)
├── NotFoundError                 404 no such id, or not the caller's tenant
├── ConflictError                 409 stale ``expectedVersion`` or a duplicate that cannot merge
│   └── PayloadExpiredError       409 the event's payload was pruned or erased: nothing to re-send
├── ValidationError               422 bad input; ``details`` name the failing paths
├── PayloadTooLarge               413 a request body or an event's ``data`` is over its limit
├── StoreError                    a database failure translated at the store seam
│   ├── StoreUnavailable          503 the database cannot be reached; retry after ``retry_after`` s
│   └── MigrationsPending         the PostgreSQL schema is behind: run ``gateway migrate``
├── DeliveryError                 an attempt failed before any response; ``error_class`` says how
│   └── BlockedDestinationError   the URL resolves to a refused address (SSRF guard)
├── SignatureError                an inbound or consumer-side signature did not verify
└── UpstreamError                 person.run answered badly or not at all
    └── UpstreamThrottled         429; ``retry_after`` seconds
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Root of the tree; ``status`` and ``code`` drive the API error body."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class AuthError(GatewayError):
    """The request carries no valid ``x-api-key``."""

    status = 401
    code = "unauthorized"


class ForbiddenError(GatewayError):
    """The key is valid but may not do this."""

    status = 403
    code = "forbidden"


class NotFoundError(GatewayError):
    """No such resource, or it belongs to another tenant."""

    status = 404
    code = "not_found"


class ConflictError(GatewayError):
    """The write conflicts with the stored state (stale version)."""

    status = 409
    code = "conflict"


class PayloadExpiredError(ConflictError):
    """The event's ``data`` is gone (retention or erasure), so it cannot be sent again."""

    code = "payload_expired"


class ValidationError(GatewayError):
    """The input is malformed; ``details`` lists ``{"path", "message"}`` items."""

    status = 422
    code = "validation_error"


class PayloadTooLarge(GatewayError):
    """A request body over ``GATEWAY_MAX_REQUEST_BYTES`` or event ``data`` over
    ``GATEWAY_MAX_EVENT_BYTES``."""

    status = 413
    code = "payload_too_large"


class StoreError(GatewayError):
    """The database failed; raised from the store with the driver error as ``__cause__``."""

    code = "store_error"


class StoreUnavailable(StoreError):
    """The database is unreachable (connection refused, dropped, server shutting down); the
    transaction was rolled back, so nothing is half-written. The API answers 503 with
    ``Retry-After: retry_after``."""

    status = 503
    code = "store_unavailable"
    retry_after = 5


class MigrationsPending(StoreError):
    """The database's schema is older than this code; ``gateway migrate`` brings it up."""

    code = "migrations_pending"


class DeliveryError(GatewayError):
    """One attempt failed before any HTTP response. ``error_class`` is the attempt's error."""

    code = "delivery_error"

    def __init__(self, message: str, *, error_class: str) -> None:
        super().__init__(message)
        self.error_class = error_class


class BlockedDestinationError(DeliveryError):
    """The destination resolves to an address outside the allowed networks."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_class="blocked")


class SignatureError(GatewayError):
    """A signature is missing, malformed, stale or does not match."""

    status = 401
    code = "invalid_signature"


class UpstreamError(GatewayError):
    """person.run failed (network, 5xx, unexpected body)."""

    code = "upstream_error"


class UpstreamThrottled(UpstreamError):
    """person.run answered 429; wait ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
