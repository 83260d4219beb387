"""The make connector: golden files and response classification."""
