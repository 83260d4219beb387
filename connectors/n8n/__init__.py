"""The n8n connector."""
