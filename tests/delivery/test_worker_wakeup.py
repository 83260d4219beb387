"""The worker's wake-up: work that arrives while a claim runs is claimed without the idle wait."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gateway.delivery.worker import Worker
from gateway.store import Claimed, Store, open_store
from tests.conftest import make_settings


class _NoClient:
    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nothing is due: nothing is sent")

    async def close(self) -> None:
        pass


def test_a_wakeup_during_a_claim_is_not_lost(tmp_path: Path) -> None:
    """The first claim finds nothing, but intake wakes the worker while that claim runs: the
    worker claims again at once. The idle wait is an hour, so a lost wake-up would stall it."""
    settings = make_settings(
        f"sqlite:///{tmp_path}/gateway.db", tmp_path, GATEWAY_WORKER_IDLE_SECONDS=3600
    )
    store = open_store(settings)
    claims: list[int] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        claimed_again = asyncio.Event()
        real_claim = store.claim_due

        def claim_due(**kwargs: Any) -> list[Claimed]:
            got = real_claim(**kwargs)  # empty: nothing is due
            claims.append(len(got))
            if len(claims) == 1:  # an event is accepted while this claim runs
                loop.call_soon_threadsafe(worker.wakeup.set)
            else:
                loop.call_soon_threadsafe(claimed_again.set)
            return got

        proxy: Any = _StoreProxy(store, claim_due)
        worker = Worker(proxy, _NoClient(), settings, owner="wake")  # type: ignore[arg-type]
        task = asyncio.create_task(worker.run(stop))
        try:  # a bound on the test, far below the idle wait: a lost wake-up fails here
            await asyncio.wait_for(claimed_again.wait(), timeout=30)
        finally:
            stop.set()
            await task

    asyncio.run(scenario())
    assert claims[:2] == [0, 0]


class _StoreProxy:
    def __init__(self, store: Store, claim_due: Any) -> None:
        self._store = store
        self.claim_due = claim_due

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
