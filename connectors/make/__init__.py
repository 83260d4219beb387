"""The make connector."""
