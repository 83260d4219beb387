"""Connector name -> adapter. The only gateway module that imports ``connectors.*``."""

from __future__ import annotations

import importlib
from functools import cache

from gateway.adapters import Connector, InboundConnector
from gateway.errors import ValidationError
from gateway.models import ConnectorName

CONNECTORS: tuple[str, ...] = tuple(c.value for c in ConnectorName)


@cache
def get_connector(name: str) -> Connector:
    if name not in CONNECTORS:
        raise ValidationError(
            f"unknown connector {name!r}",
            details=[{"path": "connector", "message": f"one of {list(CONNECTORS)}"}],
        )
    module = importlib.import_module(f"connectors.{name}.adapter")
    adapter: Connector = module.ADAPTER
    return adapter


SOURCE_KINDS: tuple[str, ...] = (ConnectorName.TYPEFORM.value, ConnectorName.QUALTRICS.value)


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
