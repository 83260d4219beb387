"""The zapier connector."""
