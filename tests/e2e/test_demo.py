"""``gateway demo`` as a new user runs it: exit 0, every connector delivered and verified."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_gateway_demo_exits_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PERSON_"))}
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "demo", "--tasks", "6"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "every delivery arrived and verified" in out
    for connector in (
        "webhook v1",
        "webhook v1a",
        "zapier",
        "make",
        "n8n",
        "typeform",
        "qualtrics",
    ):
        assert connector in out
    assert out.count("6/6") >= 7
    assert not (tmp_path / "gateway.db").exists()  # the demo keeps its data in a temp dir
