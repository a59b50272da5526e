"""`OrderedDispatcher`: items (ARI events, or anything else) of one key are handled in order,
different keys in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

__all__ = ["GLOBAL_KEY", "OrderedDispatcher"]

log = structlog.get_logger()

GLOBAL_KEY = "global"  # key for events whose key function returns None

T = TypeVar("T")  # usually Event; the service also routes its own commands


class OrderedDispatcher(Generic[T]):
    """One queue and (while it has work) one worker task per key.

    A worker exits as soon as its queue is empty and removes its key in the same
    synchronous step (no await between the emptiness check and the removal), so an
    event dispatched later simply starts a fresh worker: nothing is lost or reordered,
    and finished calls leave nothing behind.
    """

    def __init__(
        self,
        handler: Callable[[str, T], Awaitable[None]],
        key: Callable[[T], str | None],
    ) -> None:
        self._handler = handler
        self._key = key
        self._queues: dict[str, asyncio.Queue[T]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._closed = False

    def dispatch(self, event: T) -> None:
        """Queue `event` under its key; never blocks."""
        if self._closed:
            raise RuntimeError("OrderedDispatcher is closed")
        key = self._key(event) or GLOBAL_KEY
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers[key] = asyncio.create_task(self._work(key, queue), name=f"ari-dispatch:{key}")
        queue.put_nowait(event)
        self._pending += 1

    def pending(self) -> int:
        """Events dispatched and not yet fully handled (queued or in progress)."""
        return self._pending

    @property
    def active_keys(self) -> frozenset[str]:
        return frozenset(self._queues)

    async def join(self) -> None:
        """Wait until every queue is drained and every worker has exited."""
        while self._workers:
            await asyncio.wait(list(self._workers.values()))

    async def aclose(self) -> None:
        """Stop accepting events, cancel the workers (queued events are dropped) and wait for them."""
        self._closed = True
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self, key: str, queue: asyncio.Queue[T]) -> None:
        try:
            while True:
                try:
                    event = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return  # the finally below runs before any other task can dispatch
                try:
                    await self._handler(key, event)
                except Exception:
                    event_type = getattr(event, "type", type(event).__name__)
                    log.exception("ari.handler_failed", key=key, event_type=event_type)
                finally:
                    self._pending -= 1
        finally:
            self._pending -= queue.qsize()  # non-zero only when cancelled by aclose()
            if self._queues.get(key) is queue:
                del self._queues[key]
                del self._workers[key]
