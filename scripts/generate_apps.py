#!/usr/bin/env python3
"""Write the platform apps (Zapier, Make, n8n) from the event-type catalog.

    python scripts/generate_apps.py          # (re)write connectors/<platform>/app/
    python scripts/generate_apps.py --check  # exit 1 if a committed file differs (CI, tests)

Each platform's generator is ``connectors/<platform>/appgen.py``: a pure ``generate(catalog)``
returning ``{path relative to connectors/<platform>/app/: file text}``. A new event type in the
catalog therefore reaches every platform's app at once. Only the files a generator names are
written or checked; hand-written files beside them (tests, lock files) are left alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.catalog import catalog  # noqa: E402

PLATFORMS = ("zapier", "make", "n8n")


def generated() -> dict[Path, str]:
    """Every generated file, by its path in the repository."""
    files: dict[Path, str] = {}
    for platform in PLATFORMS:
        try:
            module = importlib.import_module(f"connectors.{platform}.appgen")
        except ModuleNotFoundError as exc:
            if exc.name != f"connectors.{platform}.appgen":
                raise
            continue
        base = ROOT / "connectors" / platform / "app"
        for rel, text in module.generate(catalog()).items():
            files[base / rel] = text
    return files


def drift(files: dict[Path, str]) -> list[str]:
    """The generated files that are missing or differ on disk."""
    return [
        str(path.relative_to(ROOT))
        for path, text in sorted(files.items())
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the committed files only (default: write them)",
    )
    args = parser.parse_args(argv)
    files = generated()
    if args.check:
        stale = drift(files)
        for path in stale:
            print(f"out of date: {path} (run: python scripts/generate_apps.py)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
