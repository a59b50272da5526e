"""Issue 17 item 18: the callbacks desk's background work is tracked, and its wait for the core is bounded.

Before: ``reconcile`` was started with ``asyncio.ensure_future`` (from the service at every ARI connect and
from its own retry timer): nobody held the task, a failure was only "Task exception was never retrieved"
at garbage collection, and nothing stopped it with the service. ``command`` awaited the core's answer for
ever. Same fixtures as tests/unit/test_flow_desk.py (a real SQLite store, the real core, a fake ARI).
"""

import asyncio

import pytest
from structlog.testing import capture_logs

from ari_app.ari import AriUnavailable
from ari_app.core import callbacks as cb
from ari_app.flows import desk as desk_mod
from ari_app.flows.desk import DeskTimeout

from test_flow_desk import World, intake


@pytest.fixture
def w(tmp_path):
    world = World(tmp_path)
    yield world
    world.store.close()


async def settle(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_failing_reconcile_is_tracked_and_its_error_logged(w):
    d = w.make()
    w.ari.fail["stored_recordings"] = RuntimeError("a bug in reconcile")
    with capture_logs() as logs:
        d.reconcile_soon()
        assert len(d._background) == 1  # held, not fire-and-forget
        await settle()
    assert d._background == set()
    failed = [e for e in logs if e["event"] == "callback.background_failed"]
    assert len(failed) == 1 and failed[0]["task"] == "voicemail-reconcile" and "a bug" in failed[0]["error"]
    assert failed[0]["log_level"] == "error"


async def test_the_retry_is_one_timer_and_runs_as_a_tracked_task(w, monkeypatch):
    monkeypatch.setattr(desk_mod, "RECONCILE_RETRY_S", 0.0)
    w.store.add_intake(intake())
    w.ari.fail["stored_recordings"] = AriUnavailable("GET", "/recordings/stored", "refused")
    w.ari.stored = {"callcenter/vm-1"}
    d = w.make()
    await d.reconcile()
    timer = d._retry
    assert timer is not None and w.store.tasks() == []
    w.ari.fail["stored_recordings"] = AriUnavailable("GET", "/recordings/stored", "refused")
    await d.reconcile()  # a second connect meanwhile, failing too: still the one retry timer
    assert d._retry is timer and w.store.tasks() == []
    await settle()
    assert [t.task_id for t in w.store.tasks()] == ["vm-1"]  # the retry ran
    assert d._retry is None and d._background == set()


async def test_stopping_the_desk_cancels_its_background_work(w):
    d = w.make()
    gate = asyncio.Event()

    async def stuck() -> list[str]:
        await gate.wait()
        return []

    w.ari.stored_recordings = stuck  # type: ignore[method-assign]
    runner = asyncio.create_task(d.run())
    await settle()
    d.reconcile_soon()
    await settle()
    [task] = d._background
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    await settle()
    assert task.cancelled() and d._background == set()


async def test_a_command_the_core_never_answers_fails_with_a_clear_error(w, monkeypatch):
    """No ``run()``: the core never takes the command. Before, ``command`` waited for ever."""
    monkeypatch.setattr(desk_mod.CallbackDesk, "COMMAND_TIMEOUT_S", 0.05)
    d = w.make()
    with capture_logs() as logs:
        with pytest.raises(DeskTimeout, match=r"did not answer CloseTask within 0\.05 s"):
            await asyncio.wait_for(d.command(lambda rid: cb.CloseTask(task_id="vm-1", by="sup", request_id=rid)),
                                   timeout=2.0)
    assert isinstance(DeskTimeout("x"), TimeoutError)  # the API answers 504
    assert d._requests == {}
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["callback.command_timeout"]


async def test_the_service_starts_reconcile_through_the_tracked_path():
    """app.py's resync hands reconcile to the desk (no untracked ensure_future left in the shell)."""
    from pathlib import Path

    import ari_app

    root = Path(ari_app.__file__).parent
    for path in (root / "app.py", root / "flows" / "desk.py"):
        text = path.read_text()
        assert "ensure_future(self.desk.reconcile" not in text and "ensure_future(self.reconcile" not in text, path
    assert "self.desk.reconcile_soon()" in (root / "app.py").read_text()


async def test_the_wait_to_set_a_duty_agent_aside_is_bounded_and_a_late_yes_is_undone(tmp_path, monkeypatch):
    """The desk asks the core to pause an agent (reason ``callback``) before it rings them for callbacks
    (app.py ``_hold_for_callback``). Before: that wait had no bound, and it runs inline in the desk's loop,
    so a core that never answered stopped every callback. Now: "not held" after ``HOLD_TIMEOUT_S``, and a
    yes that comes later is undone (the agent resumed), so nobody stays paused for a call never made."""
    from ari_app import app as app_mod
    from ari_app.core import acd
    from ari_app.core.agents import AgentState

    from test_store_errors import service

    monkeypatch.setattr(app_mod, "HOLD_TIMEOUT_S", 0.05)
    svc = service(tmp_path)
    agent = svc.acd.agents["1001"]
    agent.state, agent.interface = AgentState.AVAILABLE, "PJSIP/1001"
    with capture_logs() as logs:
        held = await asyncio.wait_for(svc._hold_for_callback("1001"), 2)  # no core task: nobody answers
    assert held is False
    assert [e["agent"] for e in logs if e["event"] == "callback.hold_timeout"] == ["1001"]
    pause = svc.inbox.get_nowait()
    assert (pause.command, pause.reason, pause.source) == ("pause", "callback", "callbacks")
    # the core answers late: it did pause the agent; the answer resumes them
    agent.state, agent.reason = AgentState.PAUSED, "callback"
    svc._requests[pause.request_id].set_result(acd.CommandResult(request_id=pause.request_id, agent_id="1001", ok=True))
    await asyncio.sleep(0)
    resume = svc.inbox.get_nowait()
    assert (resume.command, resume.source) == ("resume", "callbacks")
    assert svc._requests == {}
    svc.store.close()
