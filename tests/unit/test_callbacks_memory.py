"""Issue 17 item 10 (R-PRIVACY, memory): the callbacks core keeps open tasks only.

Before: every task ever made stayed in ``Callbacks.tasks`` for the life of the process (and the desk loaded
them all at start and on every reconcile). Now ``forget_closed()`` drops the closed tasks the shell has
drained (persisted); a supervisor's reopen brings one back from the store (``ReopenTask.stored``).
Fake clock, as tests/unit/test_callbacks.py.
"""

from dataclasses import replace

from ari_app.core.callbacks import (
    AttemptResult, CallbackCommandResult, CallDutyAgent, CloseTask, DialCustomer, DutyAnswered, Outcome,
    ReopenTask, TaskState,
)

from test_callbacks import at, make, of, vm


def test_closed_and_drained_tasks_leave_memory_open_ones_stay():
    cb = make()
    for i in range(50):
        vm(cb, f"t{i}", at(3, "08:00"))
    for i in range(40):
        [result] = of(cb.handle(CloseTask(task_id=f"t{i}", by="sup", request_id=str(i)), at(3, "08:01")),
                      CallbackCommandResult)
        assert result.ok
    assert cb.forget_closed() == []  # not drained yet: the shell has not persisted them
    changed = cb.drain_changed()
    assert len(changed) == 50 and sum(t.state == TaskState.CLOSED for t in changed) == 40
    gone = cb.forget_closed()
    assert len(gone) == 40 and sorted(cb.tasks) == sorted(f"t{i}" for i in range(40, 50))
    assert all(t.is_open for t in cb.tasks.values())
    assert cb.forget_closed() == []


def test_a_task_finished_by_a_call_is_forgotten_after_the_call_moves_on():
    cb = make()
    vm(cb, "t1", at(3, "08:00"))
    vm(cb, "t2", at(3, "08:00"))
    [call] = of(cb.handle_timer(at(3, "09:00")), CallDutyAgent)
    [dial] = of(cb.handle(DutyAnswered(agent_id=call.agent_id), at(3, "09:00")), DialCustomer)
    out = cb.handle(AttemptResult(task_id=dial.task_id, outcome=Outcome.REACHED), at(3, "09:01"))
    [next_dial] = of(out, DialCustomer)
    cb.drain_changed()
    assert cb.forget_closed() == [dial.task_id]
    assert list(cb.tasks) == [next_dial.task_id] and cb.tasks[next_dial.task_id].state == TaskState.IN_PROGRESS
    cb.handle(AttemptResult(task_id=dial.task_id, outcome=Outcome.REACHED), at(3, "09:02"))  # late: ignored
    assert list(cb.tasks) == [next_dial.task_id]


def test_a_forgotten_task_is_reopened_from_the_store_copy():
    cb = make()
    vm(cb, "t1", at(3, "08:00"))
    cb.handle(CloseTask(task_id="t1", by="sup", request_id="c"), at(3, "08:01"))
    [stored] = cb.drain_changed()
    stored = replace(stored, attempts=list(stored.attempts))  # what the store gives back: a copy
    cb.forget_closed()
    [refused] = of(cb.handle(ReopenTask(task_id="t1", by="sup", request_id="r1"), at(3, "08:02")),
                   CallbackCommandResult)
    assert not refused.ok and refused.message == "unknown callback task 't1'"
    out = cb.handle(ReopenTask(task_id="t1", by="sup", request_id="r2", stored=stored), at(3, "08:03"))
    [ok] = of(out, CallbackCommandResult)
    assert ok.ok and cb.tasks["t1"].state == TaskState.OPEN and cb.tasks["t1"].caller == "13800135678"
    assert [t.task_id for t in cb.drain_changed()] == ["t1"]
    assert cb.forget_closed() == [] and "t1" in cb.tasks


def test_a_stored_copy_that_is_open_or_of_another_task_is_not_adopted():
    cb = make()
    vm(cb, "t1", at(3, "08:00"))
    [open_copy] = cb.drain_changed()
    del cb.tasks["t1"]
    other = replace(open_copy, task_id="t9", state=TaskState.CLOSED)
    for stored in (open_copy, other):
        [result] = of(cb.handle(ReopenTask(task_id="t1", by="sup", request_id="r", stored=stored), at(3, "08:01")),
                      CallbackCommandResult)
        assert not result.ok and "t1" not in cb.tasks
