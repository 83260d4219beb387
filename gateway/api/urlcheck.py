"""Destination and source URLs at create and patch: refused as a send would refuse them (422).

CONTRACT §3: a URL that is not absolute http(s) with a host, or whose host is (or resolves to) a
refused address, answers 422 naming ``GATEWAY_ALLOW_PRIVATE_NETWORKS``. Every send checks again.
"""

from __future__ import annotations

from typing import Any

from gateway import netguard
from gateway.delivery.guard import vet_url
from gateway.errors import BlockedDestinationError, ValidationError


async def guard_url(svc: Any, url: str, path: str) -> None:
    """``ValidationError`` (422, ``details`` naming ``path``) for a URL the guard refuses."""
    try:
        await vet_url(url, svc.settings.allowed_networks())
    except netguard.UnusableUrl as exc:
        message = f"{path}: the URL {exc}"
        raise ValidationError(message, details=[{"path": path, "message": str(exc)}]) from exc
    except BlockedDestinationError as exc:
        raise ValidationError(
            f"{path}: {exc.message}", details=[{"path": path, "message": exc.message}]
        ) from exc
