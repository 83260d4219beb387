"""The typeform connector."""
