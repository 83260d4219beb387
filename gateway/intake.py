"""Group commit for single-event intake: events that arrive within a few milliseconds share one
store transaction, and each request still answers only once ITS event is committed.

One ``Committer`` per process, started and stopped by the app's lifespan. ``submit`` queues an
event (a bounded queue: when it is full, callers wait, which is the backpressure) and waits for
its own ``IntakeResult``. The committer's loop takes the first waiting event, gathers more for up
to ``max_wait_seconds`` or ``max_group`` events, and hands the group to ``store.ingest_events``
in one transaction (in a thread, off the event loop). Then:

- each request gets exactly what ``ingest_events`` would have answered it alone: ``created``, or
  ``duplicate`` with the original delivery ids; two requests with the same event id in one group
  are answered as if they came one after the other (the store's intake handles repeats within a
  list that way), and events are written in arrival order;
- a store outage (``StoreUnavailable``) answers every request of the group with it (503 and
  ``Retry-After``, as before): retrying each alone would only fail again;
- any other failure of the group's transaction retries each event alone, so a bad item fails
  only itself;
- the worker is woken once per commit, not once per event.

On ``close`` the queue is drained: every event already queued is committed and answered;
``submit`` after that answers ``StoreUnavailable`` (503: retry, another process may take it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import StoreUnavailable
from gateway.store import EventIn, IntakeResult

log = logging.getLogger(__name__)

MAX_GROUP = 256  # events per transaction
MAX_WAIT_SECONDS = 0.0  # no timer: the events that arrive while a group commits form the next one
QUEUE_LIMIT = 4096  # events waiting; past it, submit waits for room

Ingest = Callable[[list[EventIn]], list[IntakeResult]]


@dataclass
class _Waiting:
    item: EventIn
    answer: asyncio.Future[IntakeResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Committer:
    """Batches ``submit``-ted events into shared store transactions (see the module docstring)."""

    def __init__(
        self,
        ingest: Ingest,
        on_commit: Callable[[], None] = lambda: None,
        *,
        max_group: int = MAX_GROUP,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self._ingest = ingest
        self._on_commit = on_commit
        self.max_group = max_group
        self.max_wait_seconds = max_wait_seconds
        self._queue: asyncio.Queue[_Waiting | None] = asyncio.Queue(queue_limit)
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.groups = 0  # transactions committed (or tried), for tests and benches
        self.pending = 0  # submitted and not yet answered

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="intake-committer")

    async def submit(self, item: EventIn) -> IntakeResult:
        """Store ``item`` (in some group's transaction) and return its result once committed."""
        if self._closing or self._task is None:
            raise StoreUnavailable("the gateway is stopping: intake is closed")
        waiting = _Waiting(item)
        self.pending += 1
        try:
            await self._queue.put(waiting)
            return await waiting.answer
        finally:
            self.pending -= 1

    async def close(self) -> None:
        """Commit and answer everything queued, then stop."""
        if self._task is None:
            return
        self._closing = True
        await self._queue.put(None)
        await self._task
        self._task = None
        # A submit that was waiting for room when the stop marker went in: not committed, so
        # answered 503 (retry) rather than left waiting forever.
        while not self._queue.empty():
            late = self._queue.get_nowait()
            if late is not None:
                _answer(late, exc=StoreUnavailable("the gateway is stopping: intake is closed"))

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            group, stop = await self._gather(first)
            await self._commit(group)
            if stop:
                return

    async def _gather(self, first: _Waiting) -> tuple[list[_Waiting], bool]:
        """``first`` and whatever arrives within ``max_wait_seconds`` (up to ``max_group``);
        whether the stop marker was met (everything before it is in the group)."""
        loop = asyncio.get_running_loop()
        group = [first]
        deadline = loop.time() + self.max_wait_seconds
        while len(group) < self.max_group:
            try:
                nxt = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    nxt = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if nxt is None:
                return group, True
            group.append(nxt)
        return group, False

    async def _commit(self, group: list[_Waiting]) -> None:
        self.groups += 1
        try:
            results = await asyncio.to_thread(self._ingest, [w.item for w in group])
        except StoreUnavailable as exc:
            for waiting in group:
                _answer(waiting, exc=exc)
            return
        except Exception as exc:  # the group failed: each event on its own, so one fails alone
            if len(group) == 1:
                _answer(group[0], exc=exc)
                return
            log.warning(
                "grouped intake failed; committing its %d events one by one: %s", len(group), exc
            )
            for waiting in group:
                await self._commit_alone(waiting)
            self._on_commit()
            return
        for waiting, result in zip(group, results, strict=True):
            _answer(waiting, result=result)
        self._on_commit()

    async def _commit_alone(self, waiting: _Waiting) -> None:
        try:
            [result] = await asyncio.to_thread(self._ingest, [waiting.item])
        except Exception as exc:  # handed to the request, which answers it as before
            _answer(waiting, exc=exc)
        else:
            _answer(waiting, result=result)


def _answer(
    waiting: _Waiting, *, result: IntakeResult | None = None, exc: BaseException | None = None
) -> None:
    if waiting.answer.done():  # the request went away (cancelled); its event is stored anyway
        return
    if exc is not None:
        waiting.answer.set_exception(exc)
    else:
        assert result is not None
        waiting.answer.set_result(result)
