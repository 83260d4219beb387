"""Connector tests: golden files, response classification and the fake platforms."""
