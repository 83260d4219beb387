"""Local stand-ins for outside services (receivers, platforms, Qualtrics): demo and tests."""
