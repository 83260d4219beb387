"""Delivery: the outbound HTTP client (SSRF guard, timeouts) and the worker loop."""
