"""``gateway demo`` as a new user runs it: exit 0, every connector delivered and verified, the
flaky lane's failures the planned ones; ``--keep`` prints commands that paste and work, and
Ctrl-C or SIGTERM remove its temporary folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LANES = ("webhook v1", "webhook v1a", "webhook flaky", "zapier", "make", "n8n", "typeform")
KEEP_READY = "Ctrl-C or SIGTERM stops everything"


def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PERSON_"))}
    env["TMPDIR"] = str(tmp_path)  # so the test sees the demo's temporary folder come and go
    env["COLUMNS"] = "80"
    return env


def test_gateway_demo_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "demo", "--tasks", "6"],
        cwd=tmp_path,
        env=demo_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "every delivery arrived and verified" in out
    assert "the 2 failures are webhook flaky's planned ones" in out
    for connector in (*LANES, "qualtrics"):
        assert connector in out
    assert out.count("6/6") >= 7
    # The flaky lane: 4 of 6 delivered, 2 failed for good, no retries.
    assert re.search(r"webhook flaky\s+│\s+4/6\s+│\s+2\s+│\s+0\s+│", out), out
    # Latency is each delivery's own: the lanes do not all show one batch's p50.
    p50s = re.findall(r"│\s+(\d+) ms\s+│\s+(?:\d+ ms|\d+\.\d s)\s+│\s+\d+\s+│$", out, re.M)
    assert len(set(p50s)) > 1, out
    assert not list(tmp_path.glob("gateway-demo-*"))  # the temporary folder is gone
    assert not (tmp_path / "gateway.db").exists()  # the demo keeps its data in a temp dir


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_demo_keep_prints_working_commands_and_cleans_up_on_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--tasks", "3", "--keep"],
        cwd=tmp_path,
        env=demo_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if KEEP_READY in line:
                break
        out = "\n".join(lines)
        assert KEEP_READY in out, out[-3000:]
        assert list(tmp_path.glob("gateway-demo-*"))  # the folder exists while it runs
        commands = [line.strip() for line in lines if line.strip().startswith("curl ")]
        assert len(commands) >= 5, out
        for command in commands:  # one line each, loopback only, runnable as printed
            assert re.search(r"'http://127\.0\.0\.1:\d+/[^']*'$", command), command
        failed = subprocess.run(
            ["bash", "-c", commands[0]], capture_output=True, text=True, timeout=30
        )
        assert failed.returncode == 0 and '"status":"failed"' in failed.stdout, failed.stdout
        replay = next(c for c in commands if c.endswith("/replay'"))
        replayed = subprocess.run(
            ["bash", "-c", replay], capture_output=True, text=True, timeout=30
        )
        assert '"trigger":"replay"' in replayed.stdout, replayed.stdout
        proc.send_signal(stop)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert not list(tmp_path.glob("gateway-demo-*"))  # removed on Ctrl-C and on SIGTERM
