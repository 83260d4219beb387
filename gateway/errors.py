"""The gateway's exception tree. Every error the gateway raises on purpose is one of these::

GatewayError                      root; ``code`` is the stable API error code
├── AuthError                     401 missing or unknown x-api-key
├── ForbiddenError                403 the key may not do this (tenant key on an admin route)
├── NotFoundError                 404 no such id, or not the caller's tenant
├── ConflictError                 409 stale ``expectedVersion`` or a duplicate that cannot merge
│   └── PayloadExpiredError       409 the event's payload was pruned or erased: nothing to re-send
├── ValidationError               422 bad input; ``details`` name the failing paths
│   └── MappingError              a connector cannot map the user's options or this event
├── PayloadTooLarge               413 a request body or an event's ``data`` is over its limit
├── StoreError                    a database failure translated at the store seam
│   ├── StoreUnavailable          503 the database cannot be reached; retry after ``retry_after`` s
│   └── MigrationsPending         the PostgreSQL schema is behind: run ``gateway migrate``
├── DeliveryError                 an attempt failed before any response; ``error_class`` says how
│   ├── BlockedDestinationError   the URL resolves to a refused address (SSRF guard)
│   ├── RenderError               the request cannot be built (mapping, size cap, outputSchema)
│   └── ConnectorError            a connector raised anything but MappingError: our bug, retried
├── SignatureError                an inbound or consumer-side signature did not verify
└── UpstreamError                 person.run or a survey platform answered badly or not at all
    ├── UpstreamThrottled         429; ``retry_after`` seconds
    ├── UpstreamFetchError        502 a survey platform's follow-up fetch failed (it retries)
    └── UpstreamResponseError     502 a survey platform's fetched response cannot be read
"""

from __future__ import annotations

from typing import Any

from gateway.models import ErrorClass


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


class MappingError(ValidationError):
    """A connector cannot map this destination's options, credentials or mapping, or this
    event, to its platform's request: the user's to fix, so an attempt fails permanently with
    ``render``. Connectors raise it on purpose; anything else they raise is a ``ConnectorError``.
    """

    code = "mapping_error"


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

    def __init__(self, message: str, *, error_class: ErrorClass) -> None:
        super().__init__(message)
        self.error_class = error_class


class BlockedDestinationError(DeliveryError):
    """The destination resolves to an address outside the allowed networks."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_class=ErrorClass.BLOCKED)


class RenderError(DeliveryError):
    """The attempt's request cannot be built, so nothing goes on the wire: the mapping does not
    apply (``render``), the body is over the connector's cap (``payload_too_large``) or it breaks
    the destination's outputSchema (``schema_mismatch``). Permanent: the same event and
    destination render the same way next time."""

    def __init__(self, message: str, error_class: ErrorClass = ErrorClass.RENDER) -> None:
        super().__init__(message, error_class=error_class)


class ConnectorError(DeliveryError):
    """A connector's ``render`` raised something other than ``MappingError`` (a ``KeyError``, a
    ``TypeError``…): a bug in the gateway's code, not the user's configuration. The attempt is
    recorded as ``internal`` and retried; ``connector`` names the culprit, ``__cause__`` is the
    original exception."""

    def __init__(self, connector: str, cause: BaseException) -> None:
        super().__init__(
            f"internal error in the {connector} connector: {type(cause).__name__}: {cause}",
            error_class=ErrorClass.INTERNAL,
        )
        self.connector = connector


class SignatureError(GatewayError):
    """A signature is missing, malformed, stale or does not match."""

    status = 401
    code = "invalid_signature"


class UpstreamError(GatewayError):
    """person.run or a survey platform's API failed (network, 5xx, unexpected body)."""

    code = "upstream_error"


class UpstreamThrottled(UpstreamError):
    """person.run answered 429; wait ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamFetchError(UpstreamError):
    """A survey platform's API did not give us the response a callback announced (502: the
    platform retries the callback later)."""

    status = 502
    code = "upstream_fetch_failed"


class UpstreamResponseError(UpstreamError):
    """A survey platform's API answered, but its response cannot be read as one (502)."""

    status = 502
    code = "bad_upstream_response"
