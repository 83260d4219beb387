"""Local stand-ins for outside services (receivers, platforms, Qualtrics), for the demo and tests."""
