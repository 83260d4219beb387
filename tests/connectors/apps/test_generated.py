"""The committed platform apps are exactly what the generator writes from the catalog."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "generate_apps", ROOT / "scripts/generate_apps.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_apps_match_the_catalog() -> None:
    gen = _generator()
    stale = gen.drift(gen.generated())
    assert stale == [], f"regenerate with: python scripts/generate_apps.py ({stale})"
