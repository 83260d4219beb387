"""The README's walk-through runs as written (issue #14): every ``bash`` block from "Send events
and watch them go out" onward, in order, in one shell, in a scratch directory.

A block is skipped only when the line before it is ``<!-- not run -->``; every other block runs and
must succeed (the script runs under ``set -euo pipefail`` and marks the end of each block). Blocks
that start servers put them in the background with ``&``; the test ends the whole process group
afterwards whatever happened. The README's fixed ports (8080, 9000) are swapped for free ones so
the test cannot collide with a gateway a developer has running.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
WALK_THROUGH = "## Send events and watch them go out"
NOT_RUN = "<!-- not run"  # ``<!-- not run -->`` or ``<!-- not run: why -->``
README_PORTS = ("8080", "9000")
RUN_SECONDS = 150

pytestmark = pytest.mark.slow


def bash_blocks(text: str) -> list[tuple[str, bool]]:
    """``(code, runnable)`` for each ```bash block after the walk-through's heading."""
    start = text.index(WALK_THROUGH)
    blocks = []
    for match in re.finditer(r"^```bash\n(.*?)^```$", text[start:], re.S | re.M):
        before = text[start : start + match.start()].rstrip().splitlines()
        runnable = not (before and before[-1].strip().startswith(NOT_RUN))
        blocks.append((match.group(1), runnable))
    return blocks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def script_for(blocks: list[str], ports: dict[str, str]) -> str:
    lines = []
    for index, code in enumerate(blocks):
        for old, new in ports.items():
            code = code.replace(old, new)
        lines += [f"echo '::block {index} start'", code, f"echo '::block {index} ok'"]
    return "\n".join(lines) + "\n"


def test_readme_marks_what_it_does_not_run() -> None:
    blocks = bash_blocks(README.read_text(encoding="utf-8"))
    runnable = [code for code, run in blocks if run]
    assert len(runnable) >= 6  # serve, destination, listen, send, list, replay, stop
    assert any(not run for _, run in blocks)  # "Develop" is marked, not silently skipped
    for code in runnable:
        assert "…" not in code and "..." not in code, code  # no placeholders to fill in
        assert "example.com" not in code  # nothing outside this machine receives traffic
        assert re.search(r"https?://(?!127\.0\.0\.1)", code) is None, code


def test_readme_walk_through_runs_in_order(tmp_path: Path) -> None:
    blocks = [code for code, run in bash_blocks(README.read_text(encoding="utf-8")) if run]
    ports = {port: str(free_port()) for port in README_PORTS}
    (tmp_path / "walk.sh").write_text(script_for(blocks, ports))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PERSON_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log = tmp_path / "output.txt"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", "walk.sh"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=RUN_SECONDS)
        finally:
            _end_group(proc)
    output = log.read_text(errors="replace")
    server_log = (
        (tmp_path / "gateway.log").read_text() if (tmp_path / "gateway.log").exists() else ""
    )
    context = f"{output[-6000:]}\n--- gateway.log ---\n{server_log[-3000:]}"
    assert code == 0, context
    for index in range(len(blocks)):
        assert f"::block {index} ok" in output, context
    [event_id] = re.findall(r"^event (evt_\S+) created \(202\)", output, re.M)
    assert re.search(r"^delivery dlv_\S+: succeeded after \d attempt", output, re.M), context
    # The listener printed the delivery, with its id, and verified its signature.
    assert "--> POST /hooks" in output and f"webhook-id: {event_id}" in output, context
    assert "signature verified" in output and "signature INVALID" not in output, context


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """End every process the walk-through started (its servers run in the background)."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
