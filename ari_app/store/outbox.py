"""Store writes that failed, kept in order and retried (issue 7: the database may be away for a while).

The service's writes (call timelines, the agents' state log, agent sessions, compliance records,
callback tasks) go through one ``WriteOutbox``. While the store answers, a write runs at once, as
before. When it raises ``StoreError`` the write is kept, with every later one behind it (a call's
facts must land in order, and its compliance record is computed from the stored facts), and the
outbox retries the first one with exponential back-off. Calls never wait for the database.

* The outage is logged once, ``store.unavailable`` (error, with the reason), and its end once,
  ``store.recovered`` (how many writes and rows landed, how many were dropped, how long it lasted);
  never a line per failed write or per retry.
* Bounded: at most ``limit`` rows are held. Beyond it the oldest writes are dropped, counted
  (``dropped_rows``, also on ``GET /metrics``) and logged, ``store.dropped`` once per outage.
* A write with a ``key`` replaces a held write with the same key in its place: only an agent's
  latest session or a callback task's latest state needs to land.

* issue 17: in the running service the writes never run on the event loop. ``deferred`` (set by
  app.py's writer task): ``write`` only queues and wakes that task, which runs ``drain(run, clock)``: the
  held writes in order, each through ``run`` (``StoreThread.call``: the store's one thread); a write that
  must be followed by something on the loop passes ``then`` (called with what the write returned, once it
  landed). Without ``deferred`` (start-up, unit tests) ``write`` runs the write at once, as before.
* Every error the store calls operational is a ``StoreError`` (issue 17, item 8: a read-only or full
  database, a lost connection, a timeout): retried. Any other exception is a bug in the write: logged
  (``store.write_bug``, with its traceback), counted as dropped, and the writes behind it go on.

No I/O of its own and no clock: the caller passes ``now`` and asks ``next_retry()`` when to call
``flush(now)`` again (app.py runs that loop), so the unit tests drive it with a fake store and clock.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Hashable

import structlog

from .base import StoreError

__all__ = ["WriteOutbox"]

log = structlog.get_logger()


@dataclass(slots=True)
class _Write:
    what: str
    op: Callable[[], Any]
    rows: int
    then: Callable[[Any], None] | None = None


class WriteOutbox:
    def __init__(self, *, limit: int = 100_000, retry_min_s: float = 0.5, retry_max_s: float = 30.0,
                 on_wait: Callable[[], None] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"outbox limit must be >= 1, got {limit}")
        self.limit, self.retry_min_s, self.retry_max_s = limit, retry_min_s, max(retry_max_s, retry_min_s)
        self.on_wait = on_wait  # told when a retry is scheduled, or (deferred) a write waits: the writer wakes
        self.deferred = False  # issue 17: writes wait for ``drain`` (the service's writer task) instead of running
        self._q: OrderedDict[Hashable, _Write] = OrderedDict()
        self._seq = 0
        self.rows = 0  # rows held now
        self.dropped_rows = 0  # since start: rows lost to the bound (or to a write that is a bug)
        self.dropped_writes = 0
        self.landed_writes = 0  # since start: held writes that landed on a retry
        # the current outage
        self.down_since: float | None = None
        self.reason = ""
        self._retry_at: float | None = None
        self._delay = retry_min_s
        self._outage_landed = self._outage_rows = self._outage_dropped = 0

    def __len__(self) -> int:
        return len(self._q)

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def next_retry(self) -> float | None:
        """When ``flush`` should run again (None: nothing held)."""
        return self._retry_at if self._q else None

    def write(self, what: str, op: Callable[[], Any], now: float, *, rows: int = 1,
              key: Hashable | None = None, then: Callable[[Any], None] | None = None) -> None:
        """Run ``op`` (a store write) now, or hold it behind the writes already waiting (``deferred``: always
        held, for ``drain``). ``then(result)`` runs on the caller's thread once ``op`` has landed."""
        if key is None:
            self._seq += 1
            key = ("seq", self._seq)
        old = self._q.get(key)
        if old is not None:
            self.rows -= old.rows
        self._q[key] = _Write(what, op, rows, then)  # a held write with this key: replaced in its place
        self.rows += rows
        self._bound(what)
        if self._retry_at is None:  # not waiting out a back-off
            if not self.deferred:
                self.flush(now)
            elif self.on_wait is not None:
                self.on_wait()

    def flush(self, now: float) -> None:
        """Run the held writes in order, here, until one fails (a retry is then scheduled) or none is left."""
        while self._q:
            key, w = next(iter(self._q.items()))
            try:
                result = w.op()
            except StoreError as e:
                self._failed(now, w, e)
                return
            except Exception:  # a bug, not the database: retrying would fail forever and hold up the rest
                self._bug(key, w)
                continue
            self._landed(key, w, result)
        self._all_landed(now)

    async def drain(self, run: Callable[[Callable[[], Any]], Awaitable[Any]], clock: Callable[[], float]) -> None:
        """``flush`` for the running service: each write through ``run`` (the store's thread), the loop free
        meanwhile; writes queued while one runs join the line. Cancelled (the service stops) while a write
        runs: its outcome is still awaited and counted, so it is neither lost nor run twice."""
        while self._q:
            key, w = next(iter(self._q.items()))
            running = asyncio.ensure_future(run(w.op))
            cancelled = False
            try:
                try:
                    result = await asyncio.shield(running)
                except asyncio.CancelledError:
                    cancelled = True
                    result = await running
            except StoreError as e:
                self._failed(clock(), w, e)
                if cancelled:
                    raise asyncio.CancelledError from None
                return
            except Exception:
                self._bug(key, w)
            else:
                self._landed(key, w, result)
            if cancelled:
                raise asyncio.CancelledError
        self._all_landed(clock())

    def _landed(self, key: Hashable, w: _Write, result: Any) -> None:
        if self._q.get(key) is w:  # not replaced (or dropped) while it ran
            self._q.pop(key)
            self.rows -= w.rows
        if self.down:
            self.landed_writes += 1
            self._outage_landed += 1
            self._outage_rows += w.rows
        if w.then is not None:
            try:
                w.then(result)
            except Exception:  # what follows a write must not stop the writes behind it
                log.exception("store.then_failed", what=w.what)

    def _bug(self, key: Hashable, w: _Write) -> None:
        log.exception("store.write_bug", what=w.what, rows=w.rows)
        if self._q.get(key) is w:
            self._q.pop(key)
            self.rows -= w.rows
        self._count_drop(w)

    def _all_landed(self, now: float) -> None:
        self._retry_at = None
        if self.down:
            log.info("store.recovered", down_s=round(now - self.down_since, 3),  # type: ignore[operator]
                     landed_writes=self._outage_landed, landed_rows=self._outage_rows,
                     dropped_rows=self._outage_dropped)
            self.down_since, self.reason = None, ""
            self._outage_landed = self._outage_rows = self._outage_dropped = 0
        self._delay = self.retry_min_s

    def _failed(self, now: float, w: _Write, e: StoreError) -> None:
        if not self.down:
            self.down_since, self.reason = now, str(e)
            log.error("store.unavailable", reason=self.reason, what=w.what, held_writes=len(self._q),
                      retry_s=self._delay)
        self._retry_at = now + self._delay
        self._delay = min(self.retry_max_s, self._delay * 2)
        if self.on_wait is not None:
            self.on_wait()

    def _bound(self, what: str) -> None:
        while self.rows > self.limit and len(self._q) > 1:
            _, old = self._q.popitem(last=False)
            self.rows -= old.rows
            if self._outage_dropped == 0:
                log.error("store.dropped", what=old.what, rows=old.rows, limit=self.limit, reason=self.reason,
                          note="the store is away and the outbox is full: the oldest writes are lost")
            self._count_drop(old)

    def _count_drop(self, w: _Write) -> None:
        self.dropped_rows += w.rows
        self.dropped_writes += 1
        if self.down:
            self._outage_dropped += w.rows
