"""R-PRIVACY (issue 17): callback tasks and voicemail intakes are not kept for ever.

At start-up, then daily at ``RETENTION_AT`` (local time, as the QA recordings' retention in
``flows/recording.py``), with ``retention_days`` from ``[callbacks]``:

* every task closed more than ``retention_days`` ago that still holds personal data loses its
  voicemail (``callcenter/<task id>``, deleted through ARI; one already gone counts as deleted),
  then its row is anonymised (``store.anonymise_tasks``: caller number, note and recording name
  blanked; team, agent, times and outcomes stay for the figures). The audio goes first: should the
  service stop in between, the next run deletes it again (404) and anonymises — the other order
  would leave audio that no task accounts for (reconcile would make it an orphan task).
* every voicemail intake older than ``retention_days`` (a message that never became a task, e.g.
  its queue has no team) loses its recording and its row.

Open tasks are never touched, however old. Asterisk or the store away: the run is tried again
``RETENTION_RETRY_S`` later; a recording that cannot be deleted keeps its row as it is until a later run.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, Awaitable, Callable

import structlog

from ..ari import AriClient, AriError, AriNotFound
from ..core.retention import next_run_delay
from ..store.base import Repository, StoreError
from .recording import RETENTION_AT, RETENTION_RETRY_S

__all__ = ["BATCH", "callbacks_retention_loop", "callbacks_retention_once"]

log = structlog.get_logger()

BATCH = 500  # tasks per store query
DAY_S = 86400.0
StoreIo = Callable[..., Awaitable[Any]]


async def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def _delete(ari: AriClient, name: str) -> bool:
    try:
        await ari.delete_stored_recording(name)
    except AriNotFound:
        return True  # gone already
    except AriError as e:
        log.warning("callback.retention_delete_failed", recording=name, error=str(e), rule="R-PRIVACY")
        return False
    return True


async def callbacks_retention_once(store: Repository, ari: AriClient, retention_days: int, now: float, *,
                                   store_io: StoreIo = _inline) -> dict[str, int]:
    """One run; returns the counts it logs (``callback.retention``). ``StoreError`` propagates."""
    cutoff = now - retention_days * DAY_S
    counts = {"anonymised": 0, "audio_deleted": 0, "intakes_dropped": 0, "kept_for_later": 0}
    while True:
        batch: list[tuple[str, str]] = await store_io(store.expired_tasks, cutoff)
        ready, failed = [], 0
        for task_id, recording in batch:
            if recording:
                if not await _delete(ari, recording):
                    failed += 1
                    continue
                counts["audio_deleted"] += 1
            ready.append(task_id)
        if ready:
            counts["anonymised"] += await store_io(store.anonymise_tasks, ready)
        counts["kept_for_later"] += failed
        if len(batch) < BATCH or failed:
            break
    for intake in await store_io(store.intakes):
        if intake.started_at >= cutoff:
            continue
        if intake.recording and not await _delete(ari, intake.recording):
            counts["kept_for_later"] += 1
            continue
        await store_io(store.drop_intake, intake.task_id)
        counts["intakes_dropped"] += 1
    log.info("callback.retention", **counts, retention_days=retention_days, rule="R-PRIVACY")
    return counts


async def callbacks_retention_loop(store: Repository, ari: AriClient, retention_days: int,
                                   clock: Callable[[], float] = time.time, *, store_io: StoreIo = _inline) -> None:
    """At start-up, then daily at ``RETENTION_AT``; the store or Asterisk away: again a little later."""
    while True:
        try:
            await callbacks_retention_once(store, ari, retention_days, clock(), store_io=store_io)
        except (AriError, StoreError) as e:
            log.warning("callback.retention_failed", error=str(e), retry_s=RETENTION_RETRY_S, rule="R-PRIVACY")
            await asyncio.sleep(RETENTION_RETRY_S)
            continue
        now = datetime.fromtimestamp(clock()).astimezone()
        await asyncio.sleep(next_run_delay(now, RETENTION_AT))
