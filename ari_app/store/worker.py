"""The store's one worker thread (issue 17): no database call runs on the event loop.

Every store call of the running service — the outbox's writes (``WriteOutbox.drain``) and the reads of
the callbacks desk's reconcile — runs here, one at a time, in the order asked: one thread keeps the
order of the writes and needs no locking in the backends (psycopg's connection, SQLite's
``check_same_thread=False``). A database that stops answering holds this thread (each statement is bounded:
``postgres.CALL_DEADLINE_S``, ``sqlite.BUSY_TIMEOUT_S``), never calls or timers. Start-up reads
(before the service serves calls) stay synchronous.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

__all__ = ["StoreThread", "inline"]

T = TypeVar("T")


class StoreThread:
    def __init__(self, name: str = "store") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)  # the thread starts on first use

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the store's thread, after every call asked before it."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def close(self) -> None:
        """Wait for the call running now (bounded by the store's timeouts), then stop the thread."""
        self._pool.shutdown(wait=True)


async def inline(fn: Callable[..., T], *args: Any) -> T:
    """The same signature, run at once on the caller's thread: for tests and tools with no service."""
    return fn(*args)
