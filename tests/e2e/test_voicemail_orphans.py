"""Issue 17 items 14 and 10 (R-VM, R-PRIVACY): a voicemail the store does not know is never deleted; one
whose task was closed long ago is.

The finding, reproduced against the real Asterisk: a caller leaves a message (690 → queue support,
team desk); the service stops; a second run starts with a fresh store file (a new store, a switch of
database, a restored backup). Its reconcile used to delete the first run's message as an "orphan".
Now Asterisk (``GET /recordings/stored``) still holds it, and the fresh store has an open task for it,
caller unknown, given to the duty agent, with the alert ``voicemail.orphan_imported``.
"""

from __future__ import annotations

import asyncio
import time

from ari_app.core.callbacks import TaskState
from ari_app.store import Store

from conftest import Service

CALLER = "13800138122"


async def leave_direct_voicemail(ari) -> None:
    await ari.post("/channels", {"variables": {"E2E_SPEAK": "12"}}, endpoint="Local/690@from-callers",
                   context="e2e-vm-direct", extension="direct", priority=1, callerId=CALLER)


async def test_a_fresh_store_keeps_the_voicemail_it_does_not_know_and_makes_it_a_task(asterisk, ari, tmp_path):
    first = Service(tmp_path).start()
    try:
        await first.wait_for("ari.resynced")
        await leave_direct_voicemail(ari)
        committed = await first.wait_for("voicemail.committed", timeout=45)
    finally:
        first.stop()
    name = f"callcenter/{committed['task_id']}"
    assert name in await ari.recordings()

    fresh = tmp_path / "fresh"  # the same config, a new state.db
    fresh.mkdir()
    second = Service(fresh).start()
    try:
        reconciled = await second.wait_for("voicemail.reconciled", timeout=20)
        alert = await second.wait_for("voicemail.orphan_imported", timeout=5, recording=name)
        assert reconciled["orphans_imported"] == 1 and alert["level"] == "warning"
        assert CALLER not in str(alert)
        end = time.monotonic() + 10
        while True:  # the task is written to the store, then the core assigns it to the duty agent
            store = Store(fresh / "state.db")
            try:
                task = store.task(committed["task_id"])
            finally:
                store.close()
            if (task is not None and task.assigned is not None) or time.monotonic() > end:
                break
            await asyncio.sleep(0.2)
        assert task is not None, second.tail()
        assert (task.recording, task.caller, task.team, task.kind) == (name, "", "desk", "voicemail")
        assert task.note.startswith("orphan voicemail") and task.assigned == "5001", task
        await asyncio.sleep(1.0)
        assert name in await ari.recordings()  # Asterisk still has the message (the old code deleted it)
        assert not second.events("voicemail.orphan_deleted")
    finally:
        second.stop()
    assert not second.errors(), second.errors()[:3]


async def test_retention_erases_the_voicemail_and_number_of_a_task_closed_long_ago(asterisk, ari, tmp_path):
    """Issue 17 item 10 (R-PRIVACY): a task closed more than ``[callbacks] retention_days`` (90) ago loses its
    voicemail in Asterisk and its caller number in the store when the service starts; an open one keeps both."""
    first = Service(tmp_path).start()
    try:
        await first.wait_for("ari.resynced")
        await leave_direct_voicemail(ari)
        old = await first.wait_for("voicemail.committed", timeout=45)
        await leave_direct_voicemail(ari)
        kept = await first.wait_for("voicemail.committed", timeout=45, count=2)
    finally:
        first.stop()
    old_name, kept_name = f"callcenter/{old['task_id']}", f"callcenter/{kept['task_id']}"
    assert {old_name, kept_name} <= set(await ari.recordings())
    store = Store(tmp_path / "state.db")
    try:  # the first message was dealt with 100 days ago
        task = store.task(old["task_id"])
        task.state, task.closed_at, task.closed_by = TaskState.CLOSED, time.time() - 100 * 86400, "sup"
        store.save_tasks([task])
    finally:
        store.close()

    second = Service(tmp_path, log_name="second.log").start()
    try:
        done = await second.wait_for("callback.retention", timeout=20)
        assert (done["anonymised"], done["audio_deleted"], done["retention_days"]) == (1, 1, 90)
        names = set(await ari.recordings())
        assert old_name not in names and kept_name in names  # judged by Asterisk itself
    finally:
        second.stop()
    store = Store(tmp_path / "state.db")
    try:
        erased, open_task = store.task(old["task_id"]), store.task(kept["task_id"])
    finally:
        store.close()
    assert (erased.caller, erased.recording, erased.state) == ("", "", TaskState.CLOSED)
    assert (open_task.caller, open_task.recording) == (CALLER, kept_name)
    assert CALLER not in (tmp_path / "second.log").read_text()
    assert not second.errors(), second.errors()[:3]
