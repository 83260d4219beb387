"""Inside a network namespace with only ``lo``: hundreds of spellings of refused addresses, all
aimed at a TRAP listener on every loopback address, through the real delivery client, the real
API and the real worker. The trap must accept nothing; every spelling must be refused at create
or recorded as ``blocked``.

The probe (``namespace_probe.py``) runs in ``unshare -n`` (as root) or ``unshare -rn`` (a user
namespace otherwise); it aborts unless ``lo`` is the only interface, so nothing it does can reach
past this machine. Where ``unshare`` cannot make a namespace the test is skipped, except in CI
(``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE_TIMEOUT_SECONDS = 240


def _unshare_command() -> list[str] | None:
    if shutil.which("unshare") is None:
        return None
    for command in (["unshare", "-n"], ["unshare", "-rn"]):
        probe = subprocess.run([*command, "true"], capture_output=True, timeout=10)
        if probe.returncode == 0:
            return command
    return None


@pytest.mark.slow
def test_no_refused_spelling_reaches_the_trap() -> None:
    command = _unshare_command()
    if command is None:
        reason = "unshare cannot create a network namespace here (needs root or user namespaces)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the namespace test")
        pytest.skip(reason)
    started = time.monotonic()
    run = subprocess.run(
        [*command, sys.executable, "-m", "tests.security.namespace_probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_SECONDS,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    spellings = figures["spellings"]
    print(
        f"\nnamespace: {spellings} spellings, trap hits {figures['trap_hits']}, "
        f"{time.monotonic() - started:.1f} s"
    )
    # the trap works: the control connections (plain sockets and one allowed send) were counted
    assert figures["control_hits"] == figures["control_expected"]
    assert spellings >= 500
    # the delivery client refused every one before connecting
    assert figures["client"]["blocked"] == spellings, figures["client"]["not_blocked"][:10]
    # the API refused every one: create, and patch / hook subscribe / Qualtrics source
    assert figures["api"]["accepted"] == [], figures["api"]["accepted"][:10]
    assert figures["api"]["refused"] == 2 * spellings
    # created while '*' was allowed, each delivery is recorded blocked once it is not
    worker = figures["worker"]
    assert worker["wrong"] == [] and worker["unfinished"] == 0
    assert worker["recorded_blocked"] == worker["deliveries"] == worker["created"] > 100
    assert worker["qualtrics_ingest_statuses"] == [502] * 5  # the fetch was blocked, not sent
    # and nothing, ever, connected to the trap
    assert figures["trap_hits"] == 0
