"""The n8n connector: golden files and response classification."""
