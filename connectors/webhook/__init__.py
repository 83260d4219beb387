"""The plain webhook connector: ``{"id", "type", "timestamp", "tenantId", "data"}``."""
