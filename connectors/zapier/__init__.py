"""The zapier connector: flat snake_case objects for REST hooks and Catch Hooks."""

from connectors.zapier.adapter import ADAPTER, ZapierConnector

__all__ = ["ADAPTER", "ZapierConnector"]
