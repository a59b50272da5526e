"""Supervisor reassignment and follow-up lists (回访), fake clock: R-VM-RR, R-VM-CHECK, R-CB, R-SLA24.

The calendar: Monday 2025-03-03 … in Asia/Shanghai, shifts Mon–Fri 08:45–17:30,
checks from 09:00 every 2 h; team "support" is 1001–1004, "sales" 2001–2002.
"""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.callbacks import (
    AgentPresence, CallbackCommandResult, CallbackError, CallbackRules, Callbacks, CallDutyAgent, CloseTask,
    DialCustomer, DutyAnswered, DutyCallEnded, FollowupImported, FollowupRow, Publish, ReassignTask,
    RosterChanged, RotaState, TaskState, VoicemailLeft, stagger,
)
from ari_app.core.roster import Roster, Team

SH = ZoneInfo("Asia/Shanghai")
NUMBER = "13800135678"


def at(day, hm="10:00"):
    h, m = map(int, hm.split(":"))
    return datetime(2025, 3, day, h, m, tzinfo=SH).timestamp()


def make_roster():
    return Roster([Team(name="support", agents=("1001", "1002", "1003", "1004")),
                   Team(name="sales", agents=("2001", "2002"))])


def make(mode="duty", roster=None, now=None, tasks=(), rota=None, **rules):
    rules.setdefault("check_offsets", stagger(["support", "sales"]))
    return Callbacks(CallbackRules(mode=mode, **rules), roster or make_roster(), now=now or at(3, "07:00"),
                     tasks=tasks, rota=rota)


def vm(cb, task_id, now):
    ev = VoicemailLeft(task_id=task_id, caller=NUMBER, queue="support", recording=f"vm/{task_id}")
    return cb.handle(ev, now)


def followups(cb, ids, now, team="support"):
    rows = tuple(FollowupRow(task_id=i, number=f"1390000{n:04d}", note=f"note {i}")
                 for n, i in enumerate(ids))
    return cb.handle(FollowupImported(tasks=rows, team=team), now)


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def published(actions, name):
    return [a.fields for a in actions if isinstance(a, Publish) and a.event == name]


def owners(cb, ids):
    return [cb.tasks[i].assigned for i in ids]


def checks_until(cb, until):
    """Fire the core's timers up to ``until``; every agent called does not answer."""
    calls = []
    while (t := cb.get_timer()) is not None and t <= until:
        for a in of(cb.handle_timer(t), CallDutyAgent):
            calls.append((a.agent_id, a.task_ids))
            cb.handle(DutyCallEnded(agent_id=a.agent_id), t)
    return calls


def reassign(cb, task_id, agent, now, by="9001"):
    return cb.handle(ReassignTask(task_id=task_id, agent_id=agent, by=by, request_id="r1"), now)


# -- ReassignTask ------------------------------------------------------------------------------------
def test_reassign_moves_the_task_and_it_stays_until_the_roll_over():
    cb = make()
    vm(cb, "t1", at(3))
    cb.drain_changed()
    out = reassign(cb, "t1", "1003", at(3, "10:05"))
    assert of(out, CallbackCommandResult) == [CallbackCommandResult(request_id="r1", task_id="t1", ok=True)]
    assert published(out, "callback.reassigned") == [{"task_id": "t1", "team": "support", "agent": "1003",
                                                      "previous": "1001", "by": "9001", "rule": "R-VM-RR"}]
    task = cb.tasks["t1"]
    assert (task.assigned, task.reassigned_by) == ("1003", "9001")
    assert [t.task_id for t in cb.drain_changed()] == ["t1"]
    vm(cb, "t2", at(3, "10:30"))  # new voicemail still goes to the duty agent
    assert owners(cb, ["t1", "t2"]) == ["1003", "1001"]
    # the 11:00 check keeps the supervisor's choice
    assert checks_until(cb, at(3, "11:00")) == [("1001", ("t2",)), ("1003", ("t1",))]
    assert owners(cb, ["t1", "t2"]) == ["1003", "1001"]
    cb.handle(RosterChanged(), at(3, "12:00"))
    assert cb.tasks["t1"].assigned == "1003"
    out = cb.handle_timer(at(3, "17:31"))  # the end of Monday: both roll to Tuesday's duty agent
    assert owners(cb, ["t1", "t2"]) == ["1002", "1002"] and cb.tasks["t1"].reassigned_by is None
    assert published(out, "callback.rolled_over")[0]["tasks"] == 2


def test_a_reassigned_agent_going_on_leave_gives_the_task_back_to_the_rota():
    roster = make_roster()
    cb = make(roster=roster)
    vm(cb, "t1", at(3))
    reassign(cb, "t1", "1003", at(3, "10:05"))
    assert roster.request_leave("1003", "2025-03-03").granted
    cb.handle(RosterChanged(), at(3, "10:10"))
    assert (cb.tasks["t1"].assigned, cb.tasks["t1"].reassigned_by) == ("1001", None)


def test_reassign_in_per_task_mode_keeps_the_agent():
    cb = make(mode="per_task")
    vm(cb, "t1", at(3))
    assert reassign(cb, "t1", "1004", at(3, "10:05"))[0].ok
    vm(cb, "t2", at(3, "10:06"))  # the round-robin pointer is not moved by the supervisor
    assert owners(cb, ["t1", "t2"]) == ["1004", "1002"]


@pytest.mark.parametrize("task_id,agent,message", [
    ("nope", "1002", "unknown callback task 'nope'"),
    ("t1", "9999", "callback t1: unknown agent '9999'"),
    ("t1", "2001", "callback t1: agent '2001' is in team 'sales', not in the task's team 'support'"),
    ("t1", "1003", "callback t1: agent '1003' is on leave on 2025-03-03"),
    ("closed", "1002", "callback closed: cannot reassign while closed"),
])
def test_reassign_refusals_change_nothing(task_id, agent, message):
    roster = make_roster()
    assert roster.request_leave("1003", "2025-03-03").granted
    cb = make(roster=roster)
    vm(cb, "t1", at(3))
    vm(cb, "closed", at(3))
    cb.handle(CloseTask(task_id="closed", by="9001"), at(3, "10:01"))
    cb.drain_changed()
    out = reassign(cb, task_id, agent, at(3, "10:05"))
    assert out == [CallbackCommandResult(request_id="r1", task_id=task_id, ok=False, message=message)]
    assert owners(cb, ["t1", "closed"]) == ["1001", "1001"] and cb.drain_changed() == []


def test_reassign_refused_while_the_task_is_in_a_callback_call():
    cb = make()
    vm(cb, "t1", at(3, "08:00"))
    vm(cb, "t2", at(3, "08:00"))
    [call] = of(cb.handle_timer(at(3, "09:00")), CallDutyAgent)  # called, not answered yet: queued
    assert call.task_ids == ("t1", "t2")
    message = "callback {}: in a callback call with agent 1001; reassign it after the call"
    assert reassign(cb, "t2", "1002", at(3, "09:00"))[0].message == message.format("t2")
    [dial] = of(cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:01")), DialCustomer)
    assert dial.task_id == "t1" and cb.tasks["t1"].state == TaskState.IN_PROGRESS
    assert reassign(cb, "t1", "1002", at(3, "09:02"))[0].message == message.format("t1")
    assert owners(cb, ["t1", "t2"]) == ["1001", "1001"]


# -- follow-up lists (回访) ---------------------------------------------------------------------------
def test_followups_go_round_robin_skipping_the_agent_on_leave_without_moving_the_duty_rota():
    roster = make_roster()
    assert roster.request_leave("1002", "2025-03-03").granted
    cb = make(roster=roster)
    ids = ["f1", "f2", "f3", "f4", "f5"]
    out = followups(cb, ids, at(3))
    assert owners(cb, ids) == ["1001", "1003", "1004", "1001", "1003"]
    task = cb.tasks["f1"]
    assert (task.kind, task.recording, task.queue, task.note) == ("followup", "", "support", "note f1")
    assert task.deadline == at(4) and task.state == TaskState.OPEN  # R-SLA24
    assert published(out, "callback.followups_imported") == [{
        "team": "support", "imported": 5, "duplicates": 0, "agents": {"1001": 2, "1003": 2, "1004": 1},
        "unassigned": 0, "rule": "R-CB"}]
    assert [f["kind"] for f in published(out, "callback.created")] == ["followup"] * 5
    assert "1390000" not in json.dumps([a.fields for a in of(out, Publish)])  # R-PRIVACY
    assert cb.rota_state().to_dict() == {
        "support:followup": {"last_agent": "1003", "day": None, "duty": None}}
    vm(cb, "v1", at(3, "10:10"))  # the duty rota starts where it would have anyway
    assert cb.tasks["v1"].assigned == "1001"
    assert cb.rota_state().to_dict()["support"] == {"last_agent": "1001", "day": "2025-03-03", "duty": "1001"}
    out = followups(cb, ["f5", "f6"], at(3, "10:20"))  # f5 is known: ignored
    assert owners(cb, ["f6"]) == ["1004"]
    assert published(out, "callback.followups_imported")[0]["duplicates"] == 1


def test_checks_and_roll_over_keep_followups_with_their_owners_unless_on_leave():
    roster = make_roster()
    assert roster.request_leave("1003", "2025-03-04").granted  # Tuesday
    cb = make(roster=roster)
    followups(cb, ["f1", "f2", "f3"], at(3, "08:00"))
    assert owners(cb, ["f1", "f2", "f3"]) == ["1001", "1002", "1003"]
    assert checks_until(cb, at(3, "09:00")) == [("1001", ("f1",)), ("1002", ("f2",)), ("1003", ("f3",))]
    [call] = of(cb.handle(AgentPresence(agent_id="1002", busy=False), at(3, "09:30")), CallDutyAgent)
    [dial] = of(cb.handle(DutyAnswered(agent_id="1002"), at(3, "09:31")), DialCustomer)
    assert (dial.task_id, dial.recording) == ("f2", "")  # no voicemail: the shell skips the playback
    cb.handle(DutyCallEnded(agent_id="1002"), at(3, "09:32"))
    cb.handle_timer(at(3, "17:31"))  # 1003 is on leave on Tuesday: f3 goes on round-robin
    assert owners(cb, ["f1", "f3"]) == ["1001", "1004"]


def test_followup_pointer_survives_a_restart():
    cb = make(mode="per_task")
    vm(cb, "v1", at(3))
    followups(cb, ["f1", "f2"], at(3, "10:01"))
    saved = json.loads(json.dumps(cb.rota_state().to_dict()))
    assert saved == {"support": {"last_agent": "1001", "day": None, "duty": None},
                     "support:followup": {"last_agent": "1002", "day": None, "duty": None}}
    again = make(mode="per_task", now=at(3, "12:00"), tasks=list(cb.tasks.values()),
                 rota=RotaState.from_dict(saved))
    followups(again, ["f3"], at(3, "12:01"))
    vm(again, "v2", at(3, "12:02"))
    assert owners(again, ["f3", "v2"]) == ["1003", "1002"]


@pytest.mark.parametrize("key", ["support:vip", ":followup", "a:b:followup", ""])
def test_rota_state_refuses_other_pointer_keys(key):
    with pytest.raises(CallbackError, match="expected a team name or '<team>:followup'"):
        RotaState.from_dict({key: {"last_agent": "1001"}})


def test_followups_with_require_logged_in_wait_for_a_login():
    cb = make(require_logged_in=True)
    cb.handle(AgentPresence(agent_id="1003", logged_in=True), at(3, "09:00"))
    out = followups(cb, ["f1", "f2"], at(3))
    assert owners(cb, ["f1", "f2"]) == ["1003", "1003"]
    assert published(out, "callback.followups_imported")[0]["agents"] == {"1003": 2}
    cb.handle(AgentPresence(agent_id="1003", logged_in=False), at(3, "10:01"))
    followups(cb, ["f3"], at(3, "10:02"), team="sales")
    assert cb.tasks["f3"].assigned is None
    out = cb.handle(AgentPresence(agent_id="2002", logged_in=True), at(3, "10:03"))
    assert cb.tasks["f3"].assigned == "2002" and published(out, "callback.assigned")[0]["reason"] == "login"


def test_followups_for_an_unknown_team_are_refused():
    cb = make()
    with pytest.raises(CallbackError, match="^follow-up list: unknown team 'billing'$"):
        followups(cb, ["f1"], at(3), team="billing")
    assert cb.tasks == {}


def test_r_cb_followup_facts_count_imports_duplicates_and_agents_in_id_order():
    roster = Roster([Team(name="ops", agents=("9", "10", "11"))])
    cb = make(roster=roster, mode="per_task", check_offsets={})
    created = at(3, "07:30")
    rows = tuple(FollowupRow(task_id=f"f{n}", number=f"1390000{n:04d}") for n in range(4))
    out = cb.handle(FollowupImported(tasks=rows, team="ops", created_at=created), at(3, "08:00"))
    assert published(out, "callback.created")[0] == {
        "task_id": "f0", "queue": "ops", "team": "ops", "recording": "", "kind": "followup", "created_at": created,
        "deadline": created + 24 * 3600, "rule": "R-CB"}
    assert [f["reason"] for f in published(out, "callback.assigned")] == ["new"] * 4
    [summary] = published(out, "callback.followups_imported")
    assert list(summary["agents"].items()) == [("9", 2), ("10", 1), ("11", 1)]
    assert (summary["imported"], summary["duplicates"], summary["unassigned"]) == (4, 0, 0)
    again = rows[:2] + (FollowupRow(task_id="f9", number="13900009999"),)
    [summary] = published(cb.handle(FollowupImported(tasks=again, team="ops"), at(3, "08:05")),
                          "callback.followups_imported")
    assert (summary["imported"], summary["duplicates"], summary["rule"]) == (1, 2, "R-CB")


def test_r_cb_followups_with_everybody_on_leave_are_counted_unassigned():
    roster = make_roster()
    roster.request_leave("2001", "2025-03-03")
    roster.request_leave("2002", "2025-03-03", override_by="sup")
    cb = make(roster=roster, now=at(3, "08:00"))
    out = followups(cb, ["f1", "f2"], at(3, "08:00"), team="sales")
    [summary] = published(out, "callback.followups_imported")
    assert (summary["agents"], summary["unassigned"]) == ({}, 2)
    assert [f["reason"] for f in published(out, "callback.unassigned")] == ["new", "new"]
