"""R-VM crash test: SIGKILL at named fault-injection points (ari_app/faults.py), then restart.

Each case: a caller leaves a message on the direct voicemail number (690 → queue support, team desk);
the service kills itself at the point under test; a new process starts on the same store. Afterwards
the store and Asterisk's ``GET /recordings/stored`` must agree: exactly one task for the one message,
each task with its recording, no recording without a task, no intake left over. ``cb.during_call``
also needs the callback to run: the customer (138…) answers, and after the restart the task is
reached. A seeded random set (every hit dies with probability 0.3) follows the named points.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from ari_app.faults import POINTS
from ari_app.store import Store

from conftest import Service

CALLER = "13800138111"


async def leave_direct_voicemail(ari) -> None:
    await ari.post("/channels", {"variables": {"E2E_SPEAK": "12"}}, endpoint="Local/690@from-callers",
                   context="e2e-vm-direct", extension="direct", priority=1, callerId=CALLER)


async def died(svc: Service, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not svc.alive():
            return True
        await asyncio.sleep(0.1)
    return False


def snapshot(workdir) -> tuple[list, list]:
    store = Store(workdir / "state.db")
    try:
        return store.tasks(), store.intakes()
    finally:
        store.close()


async def consistent(ari, workdir, *, timeout: float = 30) -> list:
    """Wait until the store and the stored recordings agree; return the tasks."""
    end = time.monotonic() + timeout
    while True:
        tasks, intakes = snapshot(workdir)
        stored = set(await ari.recordings())
        ours = {n for n in stored if n.startswith("callcenter/")}
        recs = [t.recording for t in tasks]
        problems = []
        if intakes:
            problems.append(f"intakes left: {[i.task_id for i in intakes]}")
        if len(tasks) != 1:
            problems.append(f"expected one task for one message, got {[t.task_id for t in tasks]}")
        if len(recs) != len(set(recs)):
            problems.append(f"two tasks share a recording: {recs}")
        if missing := [r for r in recs if r not in stored]:
            problems.append(f"tasks without audio: {missing}")
        if orphans := sorted(ours - set(recs)):
            problems.append(f"orphan recordings: {orphans}")
        if not problems:
            return tasks
        if time.monotonic() > end:
            raise AssertionError("; ".join(problems))
        await asyncio.sleep(0.5)


async def crash_and_recover(ari, tmp_path, env: dict[str, str], *, point: str | None,
                            wait_for_callback: bool) -> tuple[bool, list]:
    svc = Service(tmp_path, env=env).start()
    await svc.wait_for("ari.resynced")
    await leave_direct_voicemail(ari)
    crashed = await died(svc, 75 if wait_for_callback else 45)
    if point is not None:
        assert crashed, f"fault point {point} was never hit; log tail:\n{svc.tail()}"
        assert svc.events("fault.injected", point=point), svc.tail()
        assert svc.proc.returncode == -9  # type: ignore[union-attr]
    svc.stop()
    again = Service(tmp_path, log_name="recovery.log").start()  # no faults: the recovery run
    try:
        await again.wait_for("voicemail.reconciled", timeout=20)
        tasks = await consistent(ari, tmp_path)
        if wait_for_callback and not svc.events("callback.closed"):  # not finished before the crash
            await again.wait_for("callback.closed", timeout=60)
            tasks = await consistent(ari, tmp_path)
            assert tasks[0].state.value == "reached", tasks[0]
        assert tasks[0].caller == CALLER and tasks[0].queue == "support"
        assert not again.errors(), again.errors()[:3]
        return crashed, tasks
    finally:
        again.stop()


@pytest.mark.parametrize("point", sorted(POINTS))
async def test_sigkill_at_each_named_fault_point_loses_nothing(asterisk, ari, tmp_path, point):
    crashed, tasks = await crash_and_recover(ari, tmp_path, {"ARI_APP_FAULTS": point}, point=point,
                                             wait_for_callback=point == "cb.during_call")
    assert crashed
    if point != "cb.during_call":
        assert tasks[0].assigned == "5001"  # today's duty agent, also after a crash before assignment


# seeds picked so that the random set dies at different points (as the code stands: 7 after the recording
# finished, 9 before the commit, 20 during assignment) and one (34) that never dies
@pytest.mark.parametrize("seed", [7, 9, 20, 34])
async def test_seeded_random_faults_lose_nothing(asterisk, ari, tmp_path, seed):
    await crash_and_recover(ari, tmp_path, {"ARI_APP_FAULT_SEED": str(seed), "ARI_APP_FAULT_RATE": "0.3"},
                            point=None, wait_for_callback=True)
