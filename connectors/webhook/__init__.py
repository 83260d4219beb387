"""The plain webhook connector (CONTRACT §4: ``{"id", "type", "timestamp", "tenantId", "data"}``)."""
