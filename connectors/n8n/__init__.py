"""The n8n connector: the canonical event as one item for a Webhook node or trigger node."""

from connectors.n8n.adapter import ADAPTER, N8nConnector

__all__ = ["ADAPTER", "N8nConnector"]
