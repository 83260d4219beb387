"""The one list of connectors, and name -> adapter. The only gateway module that imports
``connectors.*``.

A connector is a package ``connectors/<name>/`` with ``adapter.py`` (``ADAPTER``, the outbound
side) and, for survey platforms, ``inbound.py`` (``INBOUND``). Adding one means adding its name
here: the API's validation, the ``/hooks`` routes and the sources route all read these tuples.
"""

from __future__ import annotations

import importlib
from functools import cache

from gateway.adapters import Connector, InboundConnector
from gateway.errors import ValidationError

CONNECTORS: tuple[str, ...] = ("webhook", "zapier", "make", "n8n", "typeform", "qualtrics")
# Automation platforms that subscribe themselves through ``/hooks/{platform}``.
PLATFORMS: tuple[str, ...] = ("zapier", "make", "n8n")
# Survey platforms whose responses come in through ``/ingest/{kind}``.
SOURCE_KINDS: tuple[str, ...] = ("typeform", "qualtrics")


def check_connector(name: str, path: str = "connector") -> str:
    if name not in CONNECTORS:
        raise ValidationError(
            f"unknown connector {name!r}",
            details=[{"path": path, "message": f"one of {list(CONNECTORS)}"}],
        )
    return name


@cache
def get_connector(name: str) -> Connector:
    module = importlib.import_module(f"connectors.{check_connector(name)}.adapter")
    adapter: Connector = module.ADAPTER
    return adapter


@cache
def get_inbound(kind: str) -> InboundConnector:
    """The inbound side of a survey connector (``typeform``, ``qualtrics``)."""
    if kind not in SOURCE_KINDS:
        raise ValidationError(
            f"unknown source kind {kind!r}",
            details=[{"path": "kind", "message": f"one of {list(SOURCE_KINDS)}"}],
        )
    module = importlib.import_module(f"connectors.{kind}.inbound")
    inbound: InboundConnector = module.INBOUND
    return inbound
