"""The zapier connector: golden files and response classification."""
