"""The make connector: one nested bundle per request to a Make custom webhook."""

from connectors.make.adapter import ADAPTER, MakeConnector

__all__ = ["ADAPTER", "MakeConnector"]
