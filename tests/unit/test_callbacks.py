"""Voicemail callbacks with a fake clock: R-VM, R-VM-RR, R-VM-CHECK, R-CB, R-SLA24.

The calendar: Monday 2025-03-03 … Wednesday 2025-03-12 in Asia/Shanghai, shifts
Mon–Fri 08:45–17:30, checks from 09:00 every 2 h, team "sales" staggered by 10 min.
"""

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.callbacks import (
    TRANSITIONS, AgentPresence, AttemptResult, CallbackCommandResult, CheckNow, CallbackError, CallbackRules, Callbacks,
    CallbackTask, CallDutyAgent, CloseTask, DialCustomer, DutyAnswered, DutyCallEnded, EndDutyCall,
    FollowupImported, FollowupRow, Outcome, ReassignTask,
    PlaceTurn, Publish, ReopenTask, RosterChanged, RotaPointer, RotaState, TaskEvent, TaskState, TaskStateError, VoicemailLeft,
    stagger,
)
from ari_app.core.roster import Roster, Shift, Team

SH = ZoneInfo("Asia/Shanghai")
EPS = 1e-3
SUPPORT = ("1001", "1002", "1003", "1004")


def at(day, hm="10:00"):
    h, m = map(int, hm.split(":"))
    return datetime(2025, 3, day, h, m, tzinfo=SH).timestamp()


def local(t):
    return datetime.fromtimestamp(t, SH).strftime("%a %d %H:%M")


def make_roster(**kw):
    return Roster([Team(name="support", agents=SUPPORT), Team(name="sales", agents=("2001", "2002"))], **kw)


def make(mode="duty", roster=None, now=None, rota=None, **rules):
    rules.setdefault("check_offsets", stagger(["support", "sales"]))
    return Callbacks(CallbackRules(mode=mode, **rules), roster or make_roster(), now=now or at(3, "07:00"),
                     rota=rota)


def vm(cb, task_id, now, queue="support"):
    return cb.handle(VoicemailLeft(task_id=task_id, caller="13800135678", queue=queue, recording=f"vm/{task_id}"),
                     now)


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def published(actions, name):
    return [a.fields for a in actions if isinstance(a, Publish) and a.event == name]


def hang_up_at_once(cb, call, now):
    """The agent answers the check call and hangs up before any customer is dialled."""
    out = cb.handle(DutyAnswered(agent_id=call.agent_id), now)
    out += cb.handle(DutyCallEnded(agent_id=call.agent_id), now)
    return out


def run(cb, until, on_call=None):
    """Fire the core's timers up to ``until``; returns [(time, action)]."""
    log = []
    for _ in range(10_000):  # a core whose timer never moves on fails here instead of hanging
        if (t := cb.get_timer()) is None or t > until:
            return log
        for a in cb.handle_timer(t):
            log.append((t, a))
            if isinstance(a, CallDutyAgent) and on_call is not None:
                log += [(t, b) for b in on_call(cb, a, t)]
    raise AssertionError(f"the timer is stuck at {local(t)}")


def calls(log):
    return [(local(t), a.team, a.agent_id, a.reason) for t, a in log if isinstance(a, CallDutyAgent)]


# -- the task state table -------------------------------------------------------------------------
PAIRS = [(s, e) for s in TaskState for e in TaskEvent]


@pytest.mark.parametrize("state,event", PAIRS, ids=[f"{s.value}-{e.value}" for s, e in PAIRS])
def test_every_task_state_event_pair(state, event):
    t = CallbackTask(task_id="cb1", caller="1", queue="q", team="t", recording="r", created_at=0, deadline=1,
                     state=state)
    expected = TRANSITIONS[state].get(event)
    if expected is None:
        with pytest.raises(TaskStateError, match=f"callback cb1: cannot {event.value} while {state.value}"):
            t.apply(event, 5.0)
        assert t.state == state
    else:
        assert t.apply(event, 5.0) == expected == t.state


# -- R-VM: a voicemail becomes a task ---------------------------------------------------------------
def test_voicemail_becomes_a_task_with_a_24h_deadline_and_no_number_in_facts():
    cb = make()
    out = vm(cb, "t1", at(3))
    task = cb.tasks["t1"]
    assert (task.caller, task.queue, task.team, task.recording) == ("13800135678", "support", "support", "vm/t1")
    assert task.created_at == at(3) and task.deadline == at(4)
    assert task.state == TaskState.OPEN and task.assigned == "1001"
    [created] = published(out, "callback.created")
    assert created["rule"] == "R-VM" and created["deadline"] == at(4)
    assert "13800135678" not in json.dumps([a.fields for a in of(out, Publish)])
    assert [t.task_id for t in cb.drain_changed()] == ["t1"] and cb.drain_changed() == []
    assert vm(cb, "t1", at(3, "10:01")) == []  # delivered twice: one task


def test_queue_without_a_team_is_refused_before_anything_changes():
    cb = make(queue_teams={"billing": "sales"})
    vm(cb, "b1", at(3), queue="billing")
    assert cb.tasks["b1"].team == "sales" and cb.tasks["b1"].assigned == "2001"
    with pytest.raises(CallbackError, match=r"^queue 'nowhere': no team 'nowhere' handles its voicemail"):
        vm(cb, "x", at(3), queue="nowhere")
    assert "x" not in cb.tasks


# -- R-VM-RR: the duty rota ---------------------------------------------------------------------------
def daily_duty(cb, days):
    """A voicemail at 10:00 each day (closed at once); the agent it went to, per day."""
    got = {}
    for d in days:
        vm(cb, f"d{d}", at(d))
        got[d] = cb.tasks[f"d{d}"].assigned
        cb.handle(CloseTask(task_id=f"d{d}", by="test"), at(d, "10:01"))
    return got


def test_duty_rota_over_ten_days_with_weekend_and_leave():
    roster = make_roster()
    assert roster.request_leave("1003", "2025-03-05").granted  # Wednesday
    cb = make(roster=roster)
    got = daily_duty(cb, range(3, 13))
    assert got == {3: "1001", 4: "1002", 5: "1004",  # 1003 on leave: skipped, the next in order takes it
                   6: "1001", 7: "1002",  # the rota continues after 1004 (1003 is not owed a turn)
                   8: "1003", 9: "1003",  # weekend voicemail goes to Monday's duty agent
                   10: "1003", 11: "1004", 12: "1001"}
    assert cb.rota_state().to_dict()["support"] == {"last_agent": "1001", "day": "2025-03-12", "duty": "1001"}


def test_rota_moves_one_step_per_working_day_even_without_voicemail():
    roster = make_roster()
    roster.request_leave("1003", "2025-03-05")
    cb = make(roster=roster)
    assert cb.duty_agent("support", date(2025, 3, 6)) == "1001"  # a preview: nothing fixed yet
    assert cb.rota_state().to_dict() == {}
    got = daily_duty(cb, [3, 6, 10])
    assert got == {3: "1001", 6: "1001", 10: "1003"}  # Mon 1001, Tue 1002, Wed 1004, Thu 1001, Fri 1002, Mon 1003


def test_holiday_does_not_move_the_rota():
    cb = make(roster=make_roster(holidays=[date(2025, 3, 4)]))
    assert daily_duty(cb, [3, 4, 5]) == {3: "1001", 4: "1002", 5: "1002"}  # Tuesday's voicemail → Wednesday


def test_duty_agent_put_on_leave_later_hands_over_with_the_tasks():
    roster = make_roster()
    cb = make(roster=roster)
    vm(cb, "t1", at(3, "09:30"))
    assert cb.tasks["t1"].assigned == "1001"
    assert roster.request_leave("1001", "2025-03-03").granted
    out = cb.handle(RosterChanged(), at(3, "09:40"))
    assert cb.tasks["t1"].assigned == "1002"
    [moved] = published(out, "callback.assigned")
    assert (moved["previous"], moved["agent"], moved["reason"]) == ("1001", "1002", "roster")
    vm(cb, "t2", at(3, "09:50"))
    assert cb.tasks["t2"].assigned == "1002"
    assert daily_duty(cb, [4]) == {4: "1003"}  # continues after the agent who actually held duty


def test_nobody_eligible_leaves_the_task_unassigned_and_the_next_day_picks_it_up():
    roster = make_roster()
    roster.request_leave("2001", "2025-03-03")
    roster.request_leave("2002", "2025-03-03", override_by="sup")
    cb = make(roster=roster)
    out = vm(cb, "s1", at(3), queue="sales")
    assert cb.tasks["s1"].assigned is None
    assert published(out, "callback.unassigned")[0]["rule"] == "R-VM-RR"
    log = run(cb, at(3, "17:30"))
    assert calls(log) == []
    assert cb.tasks["s1"].assigned == "2001"  # rolled over to Tuesday's duty agent
    assert published([a for _, a in log], "callback.rolled_over")[0]["agents"] == ["2001"]


# -- R-VM-RR: per_task round robin ------------------------------------------------------------------------
def test_per_task_round_robin_in_id_order_skipping_leave():
    roster = make_roster()
    roster.request_leave("1002", "2025-03-03")
    cb = make("per_task", roster=roster)
    for i in range(5):
        vm(cb, f"t{i}", at(3, f"10:0{i}"))
    assert [cb.tasks[f"t{i}"].assigned for i in range(5)] == ["1001", "1003", "1004", "1001", "1003"]
    vm(cb, "tue", at(4))
    assert cb.tasks["tue"].assigned == "1004"  # one pointer across days
    assert cb.rota_state().to_dict()["support"]["last_agent"] == "1004"


def test_per_task_only_logged_in_agents_when_configured():
    cb = make("per_task", require_logged_in=True)
    vm(cb, "t0", at(3, "09:00"))
    assert cb.tasks["t0"].assigned is None  # nobody logged in
    for a in ("1003", "1004"):
        cb.handle(AgentPresence(agent_id=a, logged_in=True), at(3, "09:05"))
    assert cb.tasks["t0"].assigned == "1003"  # a login picks up the unassigned task
    for i in (1, 2, 3):
        vm(cb, f"t{i}", at(3, f"09:1{i}"))
    assert [cb.tasks[f"t{i}"].assigned for i in (1, 2, 3)] == ["1004", "1003", "1004"]
    cb.handle(AgentPresence(agent_id="1004", logged_in=False), at(3, "09:20"))
    vm(cb, "t4", at(3, "09:21"))
    assert cb.tasks["t4"].assigned == "1003"


# -- the pointer is saved and restored --------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["duty", "per_task"])
def test_saved_pointer_gives_the_same_future_assignments(mode):
    def roster():
        r = make_roster()
        r.request_leave("1002", "2025-03-06")
        return r

    a = make(mode, roster=roster())
    daily_duty(a, [3, 4, 5])
    saved = json.loads(json.dumps(a.rota_state().to_dict()))
    b = make(mode, roster=roster(), now=at(5, "11:00"), rota=RotaState.from_dict(saved))
    fresh = make(mode, roster=roster(), now=at(5, "11:00"))
    later = [6, 7, 8, 10, 11, 12]
    expected = daily_duty(a, later)
    assert daily_duty(b, later) == expected
    assert daily_duty(fresh, later) != expected  # the pointer matters
    assert expected == ({6: "1004", 7: "1001", 8: "1002", 10: "1002", 11: "1003", 12: "1004"} if mode == "duty"
                        else {6: "1004", 7: "1001", 8: "1002", 10: "1003", 11: "1004", 12: "1001"})


def test_rota_from_dict_rejects_bad_data():
    with pytest.raises(CallbackError, match=r"^rota.support.day: expected a date as YYYY-MM-DD, got '5 March'$"):
        RotaState.from_dict({"support": {"last_agent": "1001", "day": "5 March", "duty": "1001"}})
    with pytest.raises(CallbackError, match=r"^rota.support: unknown keys \['next'\]$"):
        RotaState.from_dict({"support": {"next": "1001"}})


# -- R-VM-CHECK: roll-over at the end of the shift ---------------------------------------------------------
def test_open_tasks_roll_to_the_next_duty_agent_at_the_end_of_the_shift():
    roster = make_roster()
    roster.request_leave("1002", "2025-03-04")
    cb = make(roster=roster)
    vm(cb, "t1", at(3, "10:00"))
    run(cb, at(3, "16:00"), on_call=hang_up_at_once)
    vm(cb, "t2", at(3, "16:00"))
    run(cb, at(3, "17:30") - EPS, on_call=hang_up_at_once)
    assert {cb.tasks[t].assigned for t in ("t1", "t2")} == {"1001"}
    log = run(cb, at(3, "17:30"))
    assert {t for t, _ in log} == {at(3, "17:30")}
    assert [(f["task_id"], f["previous"], f["agent"], f["reason"]) for f in published([a for _, a in log],
                                                                                         "callback.assigned")] == [
        ("t1", "1001", "1003", "rollover"), ("t2", "1001", "1003", "rollover")]  # 1002 is on leave on Tuesday
    [rolled] = published([a for _, a in log], "callback.rolled_over")
    assert rolled == {"team": "support", "tasks": 2, "agents": ["1003"], "rule": "R-VM-CHECK"}
    assert cb.get_timer() == at(4, "09:00")  # nothing in the night
    assert calls(run(cb, at(4, "09:00"), on_call=hang_up_at_once)) == [("Tue 04 09:00", "support", "1003", "check")]


def test_friday_tasks_wait_for_monday_duty_agent():
    cb = make()
    daily_duty(cb, [3, 4, 5, 6])  # 1001 … 1004
    vm(cb, "fri", at(7, "16:50"))
    assert cb.tasks["fri"].assigned == "1001"
    log = run(cb, at(10, "12:00"), on_call=hang_up_at_once)
    assert calls(log) == [("Fri 07 17:00", "support", "1001", "check"),
                          ("Mon 10 09:00", "support", "1002", "check"),
                          ("Mon 10 11:00", "support", "1002", "check")]


# -- R-VM-CHECK: the 2-hourly checks ---------------------------------------------------------------------
def test_checks_every_two_hours_from_the_daily_start_staggered_per_team_only_in_the_shift():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    vm(cb, "x1", at(3, "08:00"), queue="sales")
    log = run(cb, at(4, "12:00"), on_call=hang_up_at_once)
    assert calls(log) == [
        ("Mon 03 09:00", "support", "1001", "check"), ("Mon 03 09:10", "sales", "2001", "check"),
        ("Mon 03 11:00", "support", "1001", "check"), ("Mon 03 11:10", "sales", "2001", "check"),
        ("Mon 03 13:00", "support", "1001", "check"), ("Mon 03 13:10", "sales", "2001", "check"),
        ("Mon 03 15:00", "support", "1001", "check"), ("Mon 03 15:10", "sales", "2001", "check"),
        ("Mon 03 17:00", "support", "1001", "check"), ("Mon 03 17:10", "sales", "2001", "check"),
        ("Tue 04 09:00", "support", "1002", "check"), ("Tue 04 09:10", "sales", "2002", "check"),
        ("Tue 04 11:00", "support", "1002", "check"), ("Tue 04 11:10", "sales", "2002", "check")]
    [call] = [a for t, a in log if isinstance(a, CallDutyAgent) and t == at(3, "09:00")]
    assert call.task_ids == ("s1",)
    check = published([a for _, a in log], "callback.check")[0]
    assert check == {"team": "support", "agent": "1001", "tasks": 1, "reason": "check", "rule": "R-VM-CHECK"}


def test_checks_before_the_shift_start_and_after_the_end_are_skipped():
    cb = make(check_start=datetime.strptime("06:40", "%H:%M").time(), check_offsets={})
    vm(cb, "s1", at(3, "06:00"))
    log = run(cb, at(3, "23:59"), on_call=hang_up_at_once)
    assert [c[0] for c in calls(log)] == ["Mon 03 10:40", "Mon 03 12:40", "Mon 03 14:40", "Mon 03 16:40"]


def test_checks_skip_the_lunch_break_between_two_shifts():
    shifts = (Shift(name="am", start=time(8, 45), end=time(12, 0)), Shift(name="pm", start=time(13, 30), end=time(17, 30)))
    roster = Roster([Team(name="support", agents=SUPPORT, shifts=shifts)])
    cb = make(roster=roster, check_offsets={})
    vm(cb, "s1", at(3, "08:00"))
    log = run(cb, at(3, "10:00"), on_call=hang_up_at_once)
    cb.handle(AgentPresence(agent_id="1001", busy=True), at(3, "10:30"))
    log += run(cb, at(3, "12:00"))
    assert of(cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "12:30")), CallDutyAgent) == []  # lunch
    log += run(cb, at(3, "23:00"), on_call=hang_up_at_once)
    assert [c[0] for c in calls(log)] == ["Mon 03 09:00", "Mon 03 15:00", "Mon 03 17:00"]  # 11:00 missed, no 13:00


def test_no_checks_without_open_tasks():
    cb = make()
    assert cb.get_timer() is None
    assert run(cb, at(12, "23:00")) == []
    vm(cb, "s1", at(3, "10:30"))
    assert cb.get_timer() == at(3, "11:00")  # the 09:00 check passed before the task existed
    cb.handle(CloseTask(task_id="s1", by="1001"), at(3, "10:40"))
    assert cb.get_timer() is None
    assert calls(run(cb, at(4, "23:00"))) == []


def test_a_new_task_does_not_trigger_a_check_that_passed_before_it():
    cb = make()
    vm(cb, "s1", at(3, "11:05"))
    assert calls(run(cb, at(3, "12:59"), on_call=hang_up_at_once)) == []
    assert calls(run(cb, at(3, "13:00"), on_call=hang_up_at_once)) == [("Mon 03 13:00", "support", "1001", "check")]


def test_a_check_missed_while_the_agent_was_busy_happens_when_the_agent_is_free():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    cb.handle(AgentPresence(agent_id="1001", busy=True), at(3, "08:55"))
    log = run(cb, at(3, "09:39"))
    assert calls(log) == []
    [missed] = published([a for _, a in log], "callback.check_missed")
    assert (missed["agent"], missed["reason"]) == ("1001", "agent_busy")
    out = cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:40"))
    assert of(out, CallDutyAgent) == [CallDutyAgent(team="support", agent_id="1001", task_ids=("s1",),
                                                    reason="missed_check")]
    assert cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:41")) == []  # once


def test_a_check_the_agent_did_not_answer_runs_when_the_agent_is_free():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    [call] = of(cb.handle_timer(at(3, "09:00")), CallDutyAgent)
    out = cb.handle(DutyCallEnded(agent_id="1001", reason="no_answer"), at(3, "09:01"))
    assert published(out, "callback.check_missed")[0]["reason"] == "no_answer"
    assert of(cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:20")), CallDutyAgent)[0].reason == \
        "missed_check"


def test_a_missed_check_does_not_call_after_the_shift():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    run(cb, at(3, "16:00"), on_call=hang_up_at_once)
    cb.handle(AgentPresence(agent_id="1001", busy=True), at(3, "16:30"))
    run(cb, at(3, "17:00"))
    out = cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "17:45"))
    assert of(out, CallDutyAgent) == []
    assert calls(run(cb, at(4, "09:00"))) == [("Tue 04 09:00", "support", "1002", "check")]


def test_tasks_due_during_a_running_call_join_it():
    cb = make(check_offsets={}, check_every_s=600.0)
    vm(cb, "s1", at(3, "08:00"))
    [call] = of(cb.handle_timer(at(3, "09:00")), CallDutyAgent)
    [dial] = of(cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:01")), DialCustomer)
    vm(cb, "s2", at(3, "09:05"))
    assert of(cb.handle_timer(at(3, "09:10")), CallDutyAgent) == []  # on the line already
    out = cb.handle(AttemptResult(task_id="s1", outcome=Outcome.REACHED), at(3, "09:11"))
    [dial] = of(out, DialCustomer)
    assert dial.task_id == "s2"
    out = cb.handle(AttemptResult(task_id="s2", outcome=Outcome.REACHED), at(3, "09:12"))
    assert of(out, EndDutyCall) == [EndDutyCall(team="support", agent_id="1001")]


# -- R-CB: agent-first attempts, back-off, max_attempts ------------------------------------------------------
def answer_and(cb, outcomes):
    """On each call: the agent answers and each dialled customer ends with the next outcome."""
    def on_call(cb, call, now):
        out = cb.handle(DutyAnswered(agent_id=call.agent_id), now)
        everything = list(out)
        while dials := of(out, DialCustomer):
            out = cb.handle(AttemptResult(task_id=dials[0].task_id, outcome=outcomes.pop(0)), now + 60)
            everything += out
        return everything
    return on_call


def test_retries_back_off_exponentially_up_to_max_attempts_then_end_as_the_last_outcome():
    cb = make(max_attempts=3, backoff_base_s=600, backoff_factor=2, backoff_cap_s=900)
    vm(cb, "s1", at(3, "08:00"))
    outcomes = [Outcome.NO_ANSWER, Outcome.BUSY, Outcome.NO_ANSWER]
    first = run(cb, at(3, "09:00"), on_call=answer_and(cb, outcomes))
    [dial] = of([a for _, a in first], DialCustomer)
    assert (dial.caller, dial.recording, dial.attempt) == ("13800135678", "vm/s1", 1)
    task = cb.tasks["s1"]
    assert task.state == TaskState.OPEN and task.next_attempt_at == at(3, "09:11")  # 09:01 + 600 s
    assert cb.get_timer() == at(3, "09:11")
    assert of(cb.handle_timer(at(3, "09:11") - EPS), CallDutyAgent) == []
    second = run(cb, at(3, "09:11"), on_call=answer_and(cb, outcomes))
    assert calls(second) == [("Mon 03 09:11", "support", "1001", "retry")]
    assert task.next_attempt_at == at(3, "09:27")  # 09:12 + min(900, 1200)
    third = run(cb, at(3, "23:00"), on_call=answer_and(cb, outcomes))
    assert calls(third) == [("Mon 03 09:27", "support", "1001", "retry")]
    assert task.state == TaskState.NO_ANSWER and task.next_attempt_at is None
    assert [a.outcome for a in task.attempts] == [Outcome.NO_ANSWER, Outcome.BUSY, Outcome.NO_ANSWER]
    assert [a.at for a in task.attempts] == [at(3, "09:01"), at(3, "09:12"), at(3, "09:28")]
    assert cb.outbound_calls["1001"] == 3 and cb.outbound_connected["1001"] == 0
    facts = published([a for _, a in first + second + third], "callback.attempt")
    assert [(f["attempt"], f["outbound"], f["final"]) for f in facts] == [(1, 1, False), (2, 1, False), (3, 1, True)]
    assert cb.get_timer() is None


@pytest.mark.parametrize("outcome,state", [(Outcome.REACHED, TaskState.REACHED),
                                           (Outcome.WRONG_NUMBER, TaskState.WRONG_NUMBER)])
def test_reached_and_wrong_number_end_the_task_at_once(outcome, state):
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    log = run(cb, at(3, "23:00"), on_call=answer_and(cb, [outcome]))
    assert cb.tasks["s1"].state == state and len(cb.tasks["s1"].attempts) == 1
    assert cb.outbound_calls["1001"] == 1 and cb.outbound_connected["1001"] == (outcome == Outcome.REACHED)
    assert published([a for _, a in log], "callback.closed")[0]["state"] == state.value
    assert len(calls(log)) == 1


def test_a_retry_falling_due_after_the_shift_waits_for_the_next_check():
    cb = make(backoff_base_s=600)
    vm(cb, "s1", at(3, "16:30"))
    assert of(cb.handle_timer(at(3, "17:00")), CallDutyAgent)[0].task_ids == ("s1",)
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "17:00"))
    cb.handle(AttemptResult(task_id="s1", outcome=Outcome.NO_ANSWER), at(3, "17:25"))
    assert cb.tasks["s1"].next_attempt_at == at(3, "17:35")  # after the shift's end at 17:30
    log = run(cb, at(4, "09:00"), on_call=answer_and(cb, [Outcome.REACHED]))
    assert calls(log) == [("Tue 04 09:00", "support", "1002", "check")]  # rolled over, dialled next morning
    [dial] = of([a for _, a in log], DialCustomer)
    assert (dial.agent_id, dial.attempt) == ("1002", 2)
    assert [a.agent_id for a in cb.tasks["s1"].attempts] == ["1001", "1002"]


def test_late_or_duplicate_attempt_results_are_ignored():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:00"))
    cb.handle(AttemptResult(task_id="s1", outcome=Outcome.REACHED), at(3, "09:01"))
    assert cb.handle(AttemptResult(task_id="s1", outcome=Outcome.BUSY), at(3, "09:02")) == []
    assert cb.handle(AttemptResult(task_id="nope", outcome=Outcome.BUSY), at(3, "09:02")) == []
    assert cb.outbound_calls["1001"] == 1


def test_agent_hanging_up_before_the_customer_is_dialled_is_no_attempt():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:00"))
    assert cb.tasks["s1"].state == TaskState.IN_PROGRESS
    cb.handle(DutyCallEnded(agent_id="1001"), at(3, "09:01"))
    assert cb.tasks["s1"].state == TaskState.OPEN and cb.tasks["s1"].attempts == []
    assert cb.outbound_calls["1001"] == 0


# -- R-SLA24: the deadline ---------------------------------------------------------------------------------
def test_overdue_is_emitted_once_at_24h_and_counted():
    cb = make()
    vm(cb, "s1", at(3, "10:00"))
    vm(cb, "s2", at(3, "10:00"))
    cb.handle(CloseTask(task_id="s2", by="1001"), at(3, "10:05"))
    assert published(cb.handle_timer(at(4, "10:00") - EPS), "callback.overdue") == []
    out = cb.handle_timer(at(4, "10:00"))
    [late] = published(out, "callback.overdue")
    assert (late["task_id"], late["deadline"], late["rule"]) == ("s1", at(4, "10:00"), "R-SLA24")
    assert cb.overdue_count == 1 and cb.tasks["s1"].overdue_at == at(4, "10:00")
    assert published(cb.handle_timer(at(4, "12:00")), "callback.overdue") == []
    cb.handle(CloseTask(task_id="s1", by="1002"), at(4, "12:10"))
    cb.handle(ReopenTask(task_id="s1", by="sup"), at(4, "12:20"))
    assert published(cb.handle_timer(at(5, "12:00")), "callback.overdue") == []
    assert cb.overdue_count == 1


def test_deadline_wakes_the_core_outside_the_shift():
    cb = make()
    vm(cb, "w1", at(8, "10:00"))  # Saturday
    assert cb.get_timer() == at(9, "10:00")  # Sunday: before Monday's first check
    assert published(cb.handle_timer(at(9, "10:00")), "callback.overdue")[0]["task_id"] == "w1"
    assert cb.get_timer() == at(10, "09:00")


# -- supervisor commands and restore -------------------------------------------------------------------------
def test_close_and_reopen_commands():
    cb = make()
    vm(cb, "s1", at(3, "10:00"))
    out = cb.handle(ReopenTask(task_id="s1", by="sup", request_id="r1"), at(3, "10:01"))
    assert of(out, CallbackCommandResult) == [CallbackCommandResult(
        request_id="r1", task_id="s1", ok=False, message="callback s1: cannot reopen while open")]
    out = cb.handle(CloseTask(task_id="s1", by="1001", request_id="r2"), at(3, "10:02"))
    assert of(out, CallbackCommandResult)[0].ok and cb.tasks["s1"].state == TaskState.CLOSED
    assert cb.tasks["s1"].closed_by == "1001" and cb.tasks["s1"].closed_at == at(3, "10:02")
    assert of(cb.handle(CloseTask(task_id="zz", by="x"), at(3, "10:03")), CallbackCommandResult)[0].message == \
        "unknown callback task 'zz'"
    cb.handle(ReopenTask(task_id="s1", by="sup"), at(4, "10:00"))
    assert cb.tasks["s1"].state == TaskState.OPEN and cb.tasks["s1"].assigned == "1002"  # today's duty agent


def test_restore_after_a_restart():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    vm(cb, "s2", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:00"))
    cb.handle(AttemptResult(task_id="s1", outcome=Outcome.BUSY), at(3, "09:01"))  # s2 is now in progress
    tasks, rota = list(cb.tasks.values()), cb.rota_state()
    again = Callbacks(cb.rules, cb.roster, now=at(3, "09:05"), tasks=tasks, rota=rota)
    assert again.tasks["s2"].state == TaskState.OPEN  # no call survives a restart
    assert again.get_timer() == at(3, "09:11")  # s1's retry is still armed
    assert calls(run(again, at(3, "09:11"))) == [("Mon 03 09:11", "support", "1001", "retry")]


def test_rules_validation_messages():
    with pytest.raises(CallbackError, match=r"^callbacks.mode: must be 'duty' or 'per_task', got 'daily'$"):
        CallbackRules(mode="daily")
    with pytest.raises(CallbackError, match=r"^callbacks.check_every_s: must be > 0, got -3$"):
        CallbackRules(check_every_s=-3)
    with pytest.raises(CallbackError, match=r"^callbacks.max_attempts: must be >= 1, got 0$"):
        CallbackRules(max_attempts=0)
    with pytest.raises(CallbackError, match=r"^callbacks: unknown team 'ops'$"):
        Callbacks(CallbackRules(check_offsets={"ops": 600}), make_roster(), now=0.0)


# -- the facts of each path, field by field (mutation testing, issue 7) --------------------------------
def test_r_vm_created_and_assigned_facts_carry_every_field():
    cb = make()
    created = at(3, "07:30")
    out = cb.handle(VoicemailLeft(task_id="v1", caller="13800135678", queue="support", recording="vm/v1",
                                  created_at=created), at(3, "08:00"))
    assert published(out, "callback.created") == [{
        "task_id": "v1", "queue": "support", "team": "support", "recording": "vm/v1", "created_at": created,
        "deadline": created + 24 * 3600, "rule": "R-VM"}]
    assert cb.tasks["v1"].deadline == created + 24 * 3600 and cb.tasks["v1"].created_at == created
    assert [f["agent"] for f in published(out, "callback.assigned")] == ["1001"]
    assert "v1" in {t.task_id for t in cb.drain_changed()}


def test_r_cb_place_turn_calls_the_agent_at_once_with_every_fact():
    cb = make()
    vm(cb, "s1", at(3, "10:00"))
    out = cb.handle(PlaceTurn(task_id="s1", agent_id="1003"), at(3, "10:05"))
    assert out == [
        Publish("callback.assigned", {"task_id": "s1", "team": "support", "agent": "1003", "previous": "1001",
                                      "reason": "keep_place", "mode": "duty", "rule": "R-CB"}),
        CallDutyAgent(team="support", agent_id="1003", task_ids=("s1",), reason="keep_place"),
        Publish("callback.check", {"team": "support", "agent": "1003", "tasks": 1, "reason": "keep_place",
                                   "rule": "R-CB"})]
    assert cb.tasks["s1"].assigned == "1003" and cb.tasks["s1"].reassigned_by == "keep_place"
    assert "s1" in {t.task_id for t in cb.drain_changed()}
    [dial] = of(cb.handle(DutyAnswered(agent_id="1003"), at(3, "10:06")), DialCustomer)
    assert (dial.task_id, dial.agent_id, dial.attempt) == ("s1", "1003", 1)


@pytest.mark.parametrize("case", ["unknown", "closed", "in_call"])
def test_r_cb_place_turn_for_a_task_that_cannot_be_called_is_ignored(case):
    cb = make()
    vm(cb, "s1", at(3, "10:00"))
    if case == "closed":
        cb.handle(CloseTask(task_id="s1", by="sup"), at(3, "10:01"))
    if case == "in_call":
        cb.handle(PlaceTurn(task_id="s1", agent_id="1003"), at(3, "10:01"))
    task_id = "nope" if case == "unknown" else "s1"
    out = cb.handle(PlaceTurn(task_id=task_id, agent_id="1002"), at(3, "10:02"))
    assert out == [Publish("callback.place_turn_ignored", {"task_id": task_id, "agent": "1002", "rule": "R-CB"})]


def test_r_cb_place_turn_during_a_callback_call_goes_next_in_that_call():
    cb = make()
    vm(cb, "s1", at(3, "09:30"))
    vm(cb, "s2", at(3, "09:31"))
    vm(cb, "x1", at(3, "09:32"), queue="sales")
    [call] = of(cb.handle_timer(at(3, "11:00")), CallDutyAgent)
    assert call.agent_id == "1001" and call.task_ids == ("s1", "s2")
    [first] = of(cb.handle(DutyAnswered(agent_id="1001"), at(3, "11:00")), DialCustomer)
    assert first.task_id == "s1"
    out = cb.handle(PlaceTurn(task_id="x1", agent_id="1001"), at(3, "11:01"))
    assert of(out, CallDutyAgent) == [] and [a.event for a in out] == ["callback.assigned"]
    out = cb.handle(AttemptResult(task_id="s1", outcome=Outcome.REACHED), at(3, "11:02"))
    assert [(d.task_id, d.agent_id) for d in of(out, DialCustomer)] == [("x1", "1001")]


def test_r_cb_attempt_and_check_done_facts_carry_every_field():
    cb = make(max_attempts=2, backoff_base_s=600)
    vm(cb, "s1", at(3, "10:00"))
    cb.handle(PlaceTurn(task_id="s1", agent_id="1003"), at(3, "10:05"))
    cb.handle(DutyAnswered(agent_id="1003"), at(3, "10:05"))
    out = cb.handle(AttemptResult(task_id="s1", outcome=Outcome.NO_ANSWER), at(3, "10:06"))
    assert out == [
        Publish("callback.attempt", {"task_id": "s1", "team": "support", "agent": "1003", "outcome": "no_answer",
                                     "attempt": 1, "outbound": 1, "final": False,
                                     "next_attempt_at": at(3, "10:16"), "rule": "R-CB"}),
        EndDutyCall(team="support", agent_id="1003"),
        Publish("callback.check_done", {"team": "support", "agent": "1003", "handled": 1, "rule": "R-VM-CHECK"})]
    assert cb.tasks["s1"].state == TaskState.OPEN and cb.get_timer() == at(3, "10:16")
    assert cb.tasks["s1"].attempts[0].at == at(3, "10:06")
    log = run(cb, at(3, "10:16"))
    assert calls(log) == [("Mon 03 10:16", "support", "1003", "retry")]
    cb.handle(DutyAnswered(agent_id="1003"), at(3, "10:16"))
    out = cb.handle(AttemptResult(task_id="s1", outcome=Outcome.BUSY), at(3, "10:17"))
    assert out[:2] == [
        Publish("callback.attempt", {"task_id": "s1", "team": "support", "agent": "1003", "outcome": "busy",
                                     "attempt": 2, "outbound": 1, "final": True, "next_attempt_at": None,
                                     "rule": "R-CB"}),
        Publish("callback.closed", {"task_id": "s1", "team": "support", "agent": "1003", "state": "busy",
                                    "attempts": 2, "rule": "R-CB"})]
    assert cb.tasks["s1"].closed_at == at(3, "10:17")


def test_r_cb_several_tasks_in_one_call_count_as_handled_and_connected():
    cb = make()
    for i in (1, 2, 3):
        vm(cb, f"s{i}", at(3, "08:00"))
    log = run(cb, at(3, "09:00"), on_call=answer_and(cb, [Outcome.REACHED] * 3))
    [done] = published([a for _, a in log], "callback.check_done")
    assert done == {"team": "support", "agent": "1001", "handled": 3, "rule": "R-VM-CHECK"}
    assert cb.outbound_calls["1001"] == 3 and cb.outbound_connected["1001"] == 3


def test_r_cb_a_task_closed_during_the_call_is_skipped_and_the_next_one_dialled():
    cb = make()
    for i in (1, 2, 3):
        vm(cb, f"s{i}", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:00"))
    cb.handle(CloseTask(task_id="s2", by="sup"), at(3, "09:01"))
    out = cb.handle(AttemptResult(task_id="s1", outcome=Outcome.REACHED), at(3, "09:02"))
    [dial] = of(out, DialCustomer)
    assert dial.task_id == "s3" and cb.tasks["s3"].state == TaskState.IN_PROGRESS


def test_r_vm_check_missed_and_check_done_facts_when_the_call_ends():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    vm(cb, "s2", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    out = cb.handle(DutyCallEnded(agent_id="1001"), at(3, "09:01"))
    assert out == [Publish("callback.check_missed", {"team": "support", "agent": "1001", "reason": "not_answered",
                                                     "rule": "R-VM-CHECK"})]
    [call] = of(cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:05")), CallDutyAgent)
    out = cb.handle(DutyCallEnded(agent_id="1001", reason="rejected"), at(3, "09:06"))
    assert published(out, "callback.check_missed")[0]["reason"] == "rejected"
    cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:10"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:10"))
    out = cb.handle(DutyCallEnded(agent_id="1001"), at(3, "09:11"))
    assert out == [Publish("callback.check_done", {"team": "support", "agent": "1001", "handled": 0, "left": 1,
                                                   "rule": "R-VM-CHECK"})]
    assert cb.tasks["s1"].state == TaskState.OPEN and "s1" in {t.task_id for t in cb.drain_changed()}


def test_r_cb_close_and_reopen_facts_carry_every_field():
    cb = make()
    vm(cb, "s1", at(3, "10:00"))
    out = cb.handle(CloseTask(task_id="s1", by="sup", request_id="r1"), at(3, "10:02"))
    assert out == [CallbackCommandResult(request_id="r1", task_id="s1", ok=True),
                   Publish("callback.closed", {"task_id": "s1", "team": "support", "agent": "1001", "state": "closed",
                                               "by": "sup", "attempts": 0, "rule": "R-CB"})]
    out = cb.handle(ReopenTask(task_id="s1", by="sup", request_id="r2"), at(3, "10:03"))
    assert out[:2] == [CallbackCommandResult(request_id="r2", task_id="s1", ok=True),
                       Publish("callback.reopened", {"task_id": "s1", "team": "support", "by": "sup",
                                                     "rule": "R-CB"})]
    assert of(cb.handle(ReopenTask(task_id="zz", by="x", request_id="r3"), at(3, "10:04")),
              CallbackCommandResult) == [CallbackCommandResult(request_id="r3", task_id="zz", ok=False,
                                                               message="unknown callback task 'zz'")]
    cb.handle(CloseTask(task_id="s1", by="sup"), at(3, "10:05"))
    assert of(cb.handle(CloseTask(task_id="s1", by="sup", request_id="r4"), at(3, "10:06")),
              CallbackCommandResult) == [CallbackCommandResult(request_id="r4", task_id="s1", ok=False,
                                                               message="callback s1: cannot close while closed")]


def test_r_vm_kind_and_note_of_the_voicemail_are_kept_on_the_task():
    cb = make()
    cb.handle(VoicemailLeft(task_id="v1", caller="13800135678", queue="support", recording="vm/v1",
                            kind="keep_place", note="asked for a call back"), at(3, "10:00"))
    assert (cb.tasks["v1"].kind, cb.tasks["v1"].note) == ("keep_place", "asked for a call back")


def test_r_vm_a_queue_without_a_team_names_the_setting_to_fix():
    cb = make()
    with pytest.raises(CallbackError) as err:
        vm(cb, "v1", at(3, "10:00"), queue="nowhere")
    assert str(err.value) == "queue 'nowhere': no team 'nowhere' handles its voicemail (set callbacks.queue_teams)"


def test_r_vm_rr_the_duty_fact_is_published_once_per_working_day():
    cb = make()
    first = vm(cb, "s1", at(3, "08:00"))
    assert published(first, "callback.duty") == [{"team": "support", "day": "2025-03-03", "agent": "1001",
                                                  "rule": "R-VM-RR"}]
    assert published(vm(cb, "s2", at(3, "08:30")), "callback.duty") == []
    assert published(vm(cb, "s3", at(4, "08:30")), "callback.duty") == [
        {"team": "support", "day": "2025-03-04", "agent": "1002", "rule": "R-VM-RR"}]


def test_r_vm_check_a_busy_agent_misses_the_check_and_is_called_with_every_fact_when_free():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    vm(cb, "s2", at(3, "08:01"))
    cb.handle(AgentPresence(agent_id="1001", busy=True), at(3, "08:30"))
    out = cb.handle_timer(at(3, "09:00"))
    assert published(out, "callback.check_missed") == [{"team": "support", "agent": "1001", "reason": "agent_busy",
                                                        "tasks": 2, "rule": "R-VM-CHECK"}]
    out = cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:20"))
    assert of(out, CallDutyAgent) == [CallDutyAgent(team="support", agent_id="1001", task_ids=("s1", "s2"),
                                                    reason="missed_check")]
    assert published(out, "callback.check") == [{"team": "support", "agent": "1001", "tasks": 2,
                                                 "reason": "missed_check", "rule": "R-VM-CHECK"}]
    assert of(cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:21")), CallDutyAgent) == []


def test_r_sla24_overdue_facts_carry_every_field_and_each_late_task_counts():
    cb = make()
    vm(cb, "s1", at(3, "10:00"))
    vm(cb, "s2", at(3, "10:30"), queue="sales")
    run(cb, at(4, "09:59"), on_call=hang_up_at_once)
    cb.drain_changed()
    out = cb.handle(AgentPresence(agent_id="1003", busy=False), at(4, "11:00"))  # the core wakes late
    assert published(out, "callback.overdue") == [  # rolled over on Monday evening to Tuesday's duty agents
        {"task_id": "s1", "team": "support", "queue": "support", "agent": "1002", "created_at": at(3, "10:00"),
         "deadline": at(4, "10:00"), "late_s": 3600.0, "rule": "R-SLA24"},
        {"task_id": "s2", "team": "sales", "queue": "sales", "agent": "2002", "created_at": at(3, "10:30"),
         "deadline": at(4, "10:30"), "late_s": 1800.0, "rule": "R-SLA24"}]
    assert cb.overdue_count == 2
    assert {"s1", "s2"} <= {t.task_id for t in cb.drain_changed()}


@pytest.mark.parametrize("event", [
    PlaceTurn(task_id="s2", agent_id="1003"), DutyCallEnded(agent_id="1004"),
    AttemptResult(task_id="nope", outcome=Outcome.BUSY), CloseTask(task_id="s2", by="sup"),
    ReopenTask(task_id="s2", by="sup"), DutyAnswered(agent_id="1004"),
    ReassignTask(task_id="s2", agent_id="2002", by="sup"),
    FollowupImported(tasks=(FollowupRow(task_id="f1", number="1"),), team="sales")], ids=lambda e: type(e).__name__)
def test_r_vm_check_an_event_arriving_after_a_due_check_keeps_the_check_actions(event):
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    vm(cb, "s2", at(3, "08:01"), queue="sales")
    out = cb.handle(event, at(3, "09:00"))  # the shell's timer was late: the 09:00 check runs first
    assert [(a.agent_id, a.task_ids) for a in of(out, CallDutyAgent)][:1] == [("1001", ("s1",))]


# -- saved rota data and rules: every exact message (mutation testing, pass 4) ------------------------
@pytest.mark.parametrize("data,message", [
    ({"support": ["1001"]}, "rota.support: expected a mapping, got ['1001']"),
    ({"support": None}, "rota.support: expected a mapping, got None"),
    ({7: {}}, "rota.7: expected a team name or '<team>:followup'"),
    ({"": {}}, "rota.: expected a team name or '<team>:followup'"),
    ({"support:": {}}, "rota.support:: expected a team name or '<team>:followup'"),
    ({"support:vip": {}}, "rota.support:vip: expected a team name or '<team>:followup'"),
    ({"support": {"next": "1", "after": "2", "day": None}}, "rota.support: unknown keys ['after', 'next']"),
    ({"support": {"last_agent": 1001}}, "rota.support.last_agent: expected an agent ID, got 1001"),
    ({"support": {"last_agent": "1001", "duty": ["1002"]}}, "rota.support.duty: expected an agent ID, got ['1002']"),
    ({"support:followup": {"duty": 7}}, "rota.support:followup.duty: expected an agent ID, got 7"),
    ({"support": {"day": 20250303}}, "rota.support.day: expected a date as YYYY-MM-DD, got 20250303"),
    ({"support": {"day": "2025-02-30"}}, "rota.support.day: expected a date as YYYY-MM-DD, got '2025-02-30'"),
])
def test_r_vm_rr_saved_rota_data_is_refused_with_exact_messages(data, message):
    with pytest.raises(CallbackError) as e:
        RotaState.from_dict(data)
    assert str(e.value) == message


def test_r_vm_rr_saved_rota_data_round_trips_every_field():
    data = {"sales": {"last_agent": None, "day": None, "duty": None},
            "support": {"last_agent": "1002", "day": "2025-03-04", "duty": "1002"},
            "support:followup": {"last_agent": "1003", "day": None, "duty": None}}
    state = RotaState.from_dict(data)
    assert dict(state.pointers) == {
        "sales": RotaPointer(), "support": RotaPointer(last_agent="1002", day=date(2025, 3, 4), duty="1002"),
        "support:followup": RotaPointer(last_agent="1003")}
    assert state.to_dict() == data
    assert RotaState.from_dict({"support": {"day": date(2025, 3, 4)}}).pointers["support"] == RotaPointer(
        day=date(2025, 3, 4))
    assert RotaState.from_dict({"support": {}}).pointers["support"] == RotaPointer()


@pytest.mark.parametrize("rules,message", [
    ({"mode": "daily"}, "callbacks.mode: must be 'duty' or 'per_task', got 'daily'"),
    ({"check_every_s": 0}, "callbacks.check_every_s: must be > 0, got 0"),
    ({"deadline_s": -1.5}, "callbacks.deadline_s: must be > 0, got -1.5"),
    ({"backoff_base_s": 0.0}, "callbacks.backoff_base_s: must be > 0, got 0.0"),
    ({"backoff_cap_s": -60}, "callbacks.backoff_cap_s: must be > 0, got -60"),
    ({"backoff_factor": 0.5}, "callbacks.backoff_factor: must be >= 1, got 0.5"),
    ({"max_attempts": 1.0}, "callbacks.max_attempts: must be >= 1, got 1.0"),
    ({"max_attempts": -2}, "callbacks.max_attempts: must be >= 1, got -2"),
    ({"check_offsets": {"support": 0, "sales": 7200}},
     "callbacks.check_offsets.sales: must be >= 0 and < check_every_s (7200), got 7200"),
    ({"check_offsets": {"sales": -1}, "check_every_s": 900.5},
     "callbacks.check_offsets.sales: must be >= 0 and < check_every_s (900.5), got -1"),
])
def test_r_cb_bad_rules_are_refused_with_exact_messages(rules, message):
    with pytest.raises(CallbackError) as e:
        CallbackRules(**rules)
    assert str(e.value) == message


def test_r_cb_rules_at_their_limits_are_accepted():
    rules = CallbackRules(backoff_factor=1, max_attempts=1, check_every_s=600, check_offsets={"sales": 0, "x": 599.9})
    assert (rules.backoff_s(1), rules.backoff_s(5), rules.offset_s("x"), rules.offset_s("other")) == (
        600.0, 600.0, 599.9, 0.0)
    assert CallbackRules(backoff_base_s=100, backoff_factor=3, backoff_cap_s=1000).backoff_s(3) == 900
    assert CallbackRules(check_every_s=0.5, deadline_s=0.5, backoff_base_s=0.5, backoff_cap_s=0.5).backoff_s(2) == 0.5


def test_r_vm_with_no_working_day_ahead_the_task_is_created_unassigned_with_every_fact():
    holidays = [date(2025, 3, 1) + (date(2025, 3, 2) - date(2025, 3, 1)) * i for i in range(420)]
    for mode in ("duty", "per_task"):
        cb = make(mode, roster=make_roster(holidays=holidays))
        out = cb.handle(VoicemailLeft(task_id="k1", caller="1", queue="support", recording="", kind="keep_place",
                                      not_before=at(3, "11:00")), at(3))
        assert out == [
            Publish("callback.created", {"task_id": "k1", "queue": "support", "team": "support", "recording": "",
                                         "created_at": at(3), "deadline": at(4), "rule": "R-VM"}),
            Publish("callback.unassigned", {"task_id": "k1", "team": "support", "agent": None, "previous": None,
                                            "reason": "new", "mode": mode, "rule": "R-VM-RR"})]
        assert cb.rota_state() == RotaState() and cb.get_timer() == at(3, "11:00")
        assert cb.handle_timer(at(3, "11:00")) == [] and cb.get_timer() == at(4)  # then only the deadline


def test_r_vm_rr_per_task_new_task_fact_carries_every_field():
    cb = make("per_task")
    assert vm(cb, "p1", at(3)) == [
        Publish("callback.created", {"task_id": "p1", "queue": "support", "team": "support", "recording": "vm/p1",
                                     "created_at": at(3), "deadline": at(4), "rule": "R-VM"}),
        Publish("callback.assigned", {"task_id": "p1", "team": "support", "agent": "1001", "previous": None,
                                      "reason": "new", "mode": "per_task", "rule": "R-VM-RR"})]


def test_r_vm_check_a_missed_check_after_an_unannounced_leave_moves_the_task_as_a_check():
    roster = make_roster()
    cb = make(roster=roster)
    vm(cb, "t1", at(3, "08:00"))
    cb.handle(AgentPresence(agent_id="1001", busy=True), at(3, "08:30"))
    assert cb.handle_timer(at(3, "09:00")) == [Publish("callback.check_missed", {
        "team": "support", "agent": "1001", "reason": "agent_busy", "tasks": 1, "rule": "R-VM-CHECK"})]
    assert roster.request_leave("1001", "2025-03-03").granted  # no RosterChanged: the missed check applies it
    assert cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "09:30")) == [
        Publish("callback.duty", {"team": "support", "day": "2025-03-03", "agent": "1002", "rule": "R-VM-RR"}),
        Publish("callback.assigned", {"task_id": "t1", "team": "support", "agent": "1002", "previous": "1001",
                                      "reason": "check", "mode": "duty", "rule": "R-VM-RR"})]  # 1002 is not called


def test_r_vm_rr_per_task_logged_out_owners_lose_tasks_at_a_check_but_keep_them_at_the_roll_over():
    cb = make("per_task", require_logged_in=True)
    for a in ("1001", "1002"):
        cb.handle(AgentPresence(agent_id=a, logged_in=True), at(3, "08:00"))
    vm(cb, "t1", at(3, "08:10"))
    vm(cb, "t2", at(3, "08:20"))
    cb.handle(AgentPresence(agent_id="1002", logged_in=False), at(3, "08:30"))
    log = [a for _, a in run(cb, at(3, "09:00"), on_call=hang_up_at_once)]
    assert log[:2] == [
        Publish("callback.assigned", {"task_id": "t2", "team": "support", "agent": "1001", "previous": "1002",
                                      "reason": "check", "mode": "per_task", "rule": "R-VM-RR"}),
        CallDutyAgent(team="support", agent_id="1001", task_ids=("t1", "t2"), reason="check")]
    cb.handle(AgentPresence(agent_id="1002", logged_in=True), at(3, "09:30"))
    assert calls(run(cb, at(3, "17:10"), on_call=hang_up_at_once)) == [
        ("Mon 03 11:00", "support", "1001", "check"), ("Mon 03 13:00", "support", "1001", "check"),
        ("Mon 03 15:00", "support", "1001", "check"), ("Mon 03 17:00", "support", "1001", "check")]
    cb.handle(AgentPresence(agent_id="1001", logged_in=False), at(3, "17:15"))
    assert run(cb, at(3, "17:30"), on_call=hang_up_at_once) == []  # the roll-over ignores logins
    assert [cb.tasks[t].assigned for t in ("t1", "t2")] == ["1001", "1001"]
    log = [a for t, a in run(cb, at(4, "09:00"), on_call=hang_up_at_once) if t == at(4, "09:00")]
    assert log[:3] == [
        Publish("callback.assigned", {"task_id": "t1", "team": "support", "agent": "1002", "previous": "1001",
                                      "reason": "check", "mode": "per_task", "rule": "R-VM-RR"}),
        Publish("callback.assigned", {"task_id": "t2", "team": "support", "agent": "1002", "previous": "1001",
                                      "reason": "check", "mode": "per_task", "rule": "R-VM-RR"}),
        CallDutyAgent(team="support", agent_id="1002", task_ids=("t1", "t2"), reason="check")]


def test_r_cb_an_answer_arriving_after_a_due_check_keeps_the_check_actions():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    vm(cb, "x1", at(3, "08:01"), queue="sales")
    [call] = of(cb.handle_timer(at(3, "09:00")), CallDutyAgent)
    out = cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:10"))  # sales' 09:10 check ran first
    assert [type(a).__name__ for a in out] == ["CallDutyAgent", "Publish", "DialCustomer"]
    assert (out[0].agent_id, out[2].task_id) == ("2001", "s1")


def test_r_cb_retries_of_two_agents_falling_due_together_call_both():
    cb = make("per_task")
    vm(cb, "t1", at(3, "08:00"))
    vm(cb, "t2", at(3, "08:01"))
    run(cb, at(3, "09:00"), on_call=answer_and(cb, [Outcome.NO_ANSWER, Outcome.NO_ANSWER]))
    assert [cb.tasks[t].next_attempt_at for t in ("t1", "t2")] == [at(3, "09:11")] * 2
    log = run(cb, at(3, "09:11"), on_call=hang_up_at_once)
    assert calls(log) == [("Mon 03 09:11", "support", "1001", "retry"), ("Mon 03 09:11", "support", "1002", "retry")]


# -- state the shell persists and timers nobody sees at once (mutation testing, pass 4) ---------------------
def test_r_vm_every_change_is_handed_to_the_store_by_task_id():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:00"))
    assert [t.task_id for t in cb.drain_changed()] == ["s1"]
    cb.handle(AttemptResult(task_id="s1", outcome=Outcome.BUSY), at(3, "09:01"))
    assert [t.task_id for t in cb.drain_changed()] == ["s1"]
    cb.handle_timer(at(3, "09:11"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:11"))  # s1 in progress again
    again = Callbacks(cb.rules, cb.roster, now=at(3, "09:20"), tasks=list(cb.tasks.values()))
    assert [t.task_id for t in again.drain_changed()] == ["s1"]  # aborted by the restart
    assert calls([(at(3, "10:00"), a) for a in again.handle_timer(at(3, "10:00"))]) == [
        ("Mon 03 10:00", "support", "1001", "retry")]  # its retry time (09:11) had passed
    fresh = make()
    vm(fresh, "n1", at(3, "09:30"))
    restored = Callbacks(fresh.rules, fresh.roster, now=at(3, "09:40"), tasks=list(fresh.tasks.values()))
    assert restored.drain_changed() == []
    assert restored.handle_timer(at(3, "10:00")) == []  # open, no retry armed: it waits for the 11:00 check


def test_r_vm_rr_a_reassigned_task_rolling_over_is_handed_to_the_store():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    cb.handle(ReassignTask(task_id="s1", agent_id="1003", by="sup"), at(3, "08:10"))
    cb.drain_changed()
    cb.handle_timer(at(3, "17:30"))
    [task] = cb.drain_changed()
    assert (task.task_id, task.assigned, task.reassigned_by) == ("s1", "1002", None)


def test_r_cb_a_call_not_yet_answered_does_not_hold_other_tasks():
    roster = make_roster()
    cb = make(roster=roster)
    vm(cb, "s1", at(3, "08:00"))
    [call] = of(cb.handle_timer(at(3, "09:00")), CallDutyAgent)  # 1001 rings, not answered yet
    vm(cb, "s2", at(3, "09:01"))
    out = cb.handle(ReassignTask(task_id="s2", agent_id="1003", by="sup", request_id="r1"), at(3, "09:02"))
    assert of(out, CallbackCommandResult) == [CallbackCommandResult(request_id="r1", task_id="s2", ok=True)]
    vm(cb, "s3", at(3, "09:03"))
    assert of(cb.handle(PlaceTurn(task_id="s3", agent_id="1004"), at(3, "09:04")), CallDutyAgent) == [
        CallDutyAgent(team="support", agent_id="1004", task_ids=("s3",), reason="keep_place")]
    vm(cb, "s4", at(3, "09:05"))
    assert roster.request_leave("1001", "2025-03-03").granted
    out = cb.handle(RosterChanged(), at(3, "09:06"))
    assert [(f["task_id"], f["agent"], f["reason"]) for f in published(out, "callback.assigned")] == [
        ("s4", "1002", "roster")]  # s1 is in 1001's call: it stays


def test_r_cb_a_closed_then_reopened_task_does_not_keep_its_old_retry():
    cb = make()
    vm(cb, "s1", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:00"))
    cb.handle(AttemptResult(task_id="s1", outcome=Outcome.BUSY), at(3, "09:01"))  # retry at 09:11
    out = cb.handle(CloseTask(task_id="s1", by="1001", request_id="r2"), at(3, "09:05"))
    assert cb.tasks["s1"].closed_by == "1001"
    out = cb.handle(ReopenTask(task_id="s1", by="sup", request_id="r3"), at(3, "09:06"))
    assert out == [CallbackCommandResult(request_id="r3", task_id="s1", ok=True),
                   Publish("callback.reopened", {"task_id": "s1", "team": "support", "by": "sup", "rule": "R-CB"})]
    assert (cb.tasks["s1"].closed_by, cb.tasks["s1"].closed_at, cb.tasks["s1"].tries) == (None, None, 0)
    assert cb.handle_timer(at(3, "09:30")) == []  # no retry call: the next check takes it
    [call] = of(cb.handle_timer(at(3, "11:00")), CallDutyAgent)
    [dial] = of(cb.handle(DutyAnswered(agent_id="1001"), at(3, "11:00")), DialCustomer)
    assert dial.attempt == 1


def test_r_cb_reopening_on_another_day_moves_the_task_to_that_day_s_duty_agent_with_the_reason():
    cb = make()
    vm(cb, "s1", at(3, "10:00"))
    cb.handle(CloseTask(task_id="s1", by="1001"), at(3, "10:02"))
    out = cb.handle(ReopenTask(task_id="s1", by="sup"), at(4, "10:00"))
    assert published(out, "callback.assigned") == [{
        "task_id": "s1", "team": "support", "agent": "1002", "previous": "1001", "reason": "reopened",
        "mode": "duty", "rule": "R-VM-RR"}]
    assert of(cb.handle(CloseTask(task_id="zz", by="x", request_id="r9"), at(4, "10:03")), CallbackCommandResult) == [
        CallbackCommandResult(request_id="r9", task_id="zz", ok=False, message="unknown callback task 'zz'")]


def test_r_vm_check_a_later_call_clears_a_missed_check():
    for first in ("check", "keep_place"):
        cb = make()
        vm(cb, "s1", at(3, "08:00"))
        cb.handle_timer(at(3, "09:00"))
        cb.handle(DutyCallEnded(agent_id="1001"), at(3, "09:01"))  # not answered: a missed check
        if first == "check":
            [call] = of(cb.handle_timer(at(3, "11:00")), CallDutyAgent)
        else:
            [call] = of(cb.handle(PlaceTurn(task_id="s1", agent_id="1001"), at(3, "10:30")), CallDutyAgent)
        hang_up_at_once(cb, call, at(3, "11:01"))
        assert cb.handle(AgentPresence(agent_id="1001", busy=False), at(3, "11:30")) == []


def test_r_vm_rr_a_duty_agent_put_on_leave_hands_over_to_the_next_after_them():
    roster = make_roster()
    cb = make(roster=roster)
    daily_duty(cb, [3])
    vm(cb, "t1", at(4, "09:30"))
    assert cb.tasks["t1"].assigned == "1002"
    assert cb.duty_agent("support", date(2025, 3, 3)) is None  # the rota never goes back
    roster.request_leave("1002", "2025-03-04")
    cb.handle(RosterChanged(), at(4, "09:40"))
    assert cb.tasks["t1"].assigned == "1003"  # after 1002, not the first free in order
    for a in ("1001", "1003", "1004"):
        roster.request_leave(a, "2025-03-05", override_by="sup")
    roster.request_leave("1002", "2025-03-05", override_by="sup")
    vm(cb, "t2", at(5, "09:30"))
    assert cb.tasks["t2"].assigned is None and cb.rota_state().pointers["support"].duty is None
    roster.cancel_leave("1001", "2025-03-05")
    roster.cancel_leave("1004", "2025-03-05")
    cb.handle(RosterChanged(), at(5, "09:40"))
    assert cb.tasks["t2"].assigned == "1004"  # after the last agent who held duty (1003), not 1001


def test_r_vm_rr_a_roster_change_without_tasks_fixes_no_duty():
    cb = make()
    assert cb.handle(RosterChanged(), at(3, "09:00")) == [] and cb.rota_state() == RotaState()


# -- roll-over, logins and follow-ups, whole fact lists (mutation testing, pass 4) --------------------------
def test_r_vm_check_a_late_timer_over_two_working_days_rolls_over_twice():
    cb = make()
    vm(cb, "t1", at(3, "17:00"))
    late = at(5, "08:00") - at(4, "17:00")
    assert cb.handle_timer(at(5, "08:00")) == [
        Publish("callback.overdue", {"task_id": "t1", "team": "support", "queue": "support", "agent": "1001",
                                     "created_at": at(3, "17:00"), "deadline": at(4, "17:00"), "late_s": late,
                                     "rule": "R-SLA24"}),
        Publish("callback.duty", {"team": "support", "day": "2025-03-04", "agent": "1002", "rule": "R-VM-RR"}),
        Publish("callback.assigned", {"task_id": "t1", "team": "support", "agent": "1002", "previous": "1001",
                                      "reason": "rollover", "mode": "duty", "rule": "R-VM-RR"}),
        Publish("callback.rolled_over", {"team": "support", "tasks": 1, "agents": ["1002"], "rule": "R-VM-CHECK"}),
        Publish("callback.duty", {"team": "support", "day": "2025-03-05", "agent": "1003", "rule": "R-VM-RR"}),
        Publish("callback.assigned", {"task_id": "t1", "team": "support", "agent": "1003", "previous": "1002",
                                      "reason": "rollover", "mode": "duty", "rule": "R-VM-RR"}),
        Publish("callback.rolled_over", {"team": "support", "tasks": 1, "agents": ["1003"], "rule": "R-VM-CHECK"})]


def test_r_vm_check_a_task_left_unassigned_at_the_roll_over_counts_but_names_no_agent():
    """Regression: the fact listed the string "None" as an agent when nobody was eligible the next day."""
    roster = make_roster()
    roster.request_leave("2001", "2025-03-04")
    roster.request_leave("2002", "2025-03-04", override_by="sup")
    cb = make(roster=roster)
    vm(cb, "x1", at(3, "17:20"), queue="sales")
    assert cb.handle_timer(at(3, "17:30")) == [
        Publish("callback.duty", {"team": "sales", "day": "2025-03-04", "agent": None, "rule": "R-VM-RR"}),
        Publish("callback.unassigned", {"task_id": "x1", "team": "sales", "agent": None, "previous": "2001",
                                        "reason": "rollover", "mode": "duty", "rule": "R-VM-RR"}),
        Publish("callback.rolled_over", {"team": "sales", "tasks": 1, "agents": [], "rule": "R-VM-CHECK"})]


def test_r_vm_check_a_roll_over_drops_only_its_own_team_s_missed_checks():
    roster = Roster([Team(name="support", agents=SUPPORT),
                     Team(name="sales", agents=("2001", "2002"), shifts=(Shift(end=time(18, 0)),))])
    cb = make(roster=roster)
    vm(cb, "s1", at(3, "17:00"))
    vm(cb, "x1", at(3, "17:00"), queue="sales")
    cb.handle(AgentPresence(agent_id="2001", busy=True), at(3, "17:05"))
    assert published(cb.handle_timer(at(3, "17:10")), "callback.check_missed")[0]["agent"] == "2001"
    cb.handle_timer(at(3, "17:30"))  # support's day ends; sales works until 18:00
    assert of(cb.handle(AgentPresence(agent_id="2001", busy=False), at(3, "17:40")), CallDutyAgent) == [
        CallDutyAgent(team="sales", agent_id="2001", task_ids=("x1",), reason="missed_check")]


def test_r_vm_check_agents_with_due_tasks_are_called_in_agent_id_order():
    cb = make("per_task", roster=Roster([Team(name="t", agents=("999", "1000"))]), check_offsets={})
    vm(cb, "a", at(3, "08:00"), queue="t")
    vm(cb, "b", at(3, "08:01"), queue="t")
    assert calls(run(cb, at(3, "09:00"), on_call=hang_up_at_once)) == [("Mon 03 09:00", "t", "999", "check"),
                                                                      ("Mon 03 09:00", "t", "1000", "check")]


def test_r_cb_a_login_deals_an_unassigned_followup_from_the_followup_pointer():
    cb = make(require_logged_in=True)
    cb.handle(FollowupImported(tasks=(FollowupRow(task_id="f1", number="1"),), team="support"), at(3, "08:00"))
    assert cb.tasks["f1"].assigned is None
    assert cb.handle(AgentPresence(agent_id="1002", logged_in=True), at(3, "08:05")) == [
        Publish("callback.assigned", {"task_id": "f1", "team": "support", "agent": "1002", "previous": None,
                                      "reason": "login", "mode": "duty", "rule": "R-VM-RR"})]
    assert cb.rota_state().to_dict() == {"support:followup": {"last_agent": "1002", "day": None, "duty": None}}


def test_r_vm_rr_a_login_deals_nothing_unless_logins_are_required():
    roster = make_roster()
    roster.request_leave("2001", "2025-03-03")
    roster.request_leave("2002", "2025-03-03", override_by="sup")
    cb = make("per_task", roster=roster)
    vm(cb, "x1", at(3, "08:00"), queue="sales")
    assert cb.handle(AgentPresence(agent_id="2001", logged_in=True), at(3, "08:05")) == []


def test_r_cb_a_followup_rolled_over_moves_the_followup_pointer_only():
    roster = make_roster()
    roster.request_leave("1001", "2025-03-04")
    cb = make("per_task", roster=roster)
    cb.handle(FollowupImported(tasks=(FollowupRow(task_id="f1", number="1"),), team="support"), at(3, "17:20"))
    assert cb.handle_timer(at(3, "17:30")) == [
        Publish("callback.assigned", {"task_id": "f1", "team": "support", "agent": "1002", "previous": "1001",
                                      "reason": "rollover", "mode": "per_task", "rule": "R-VM-RR"}),
        Publish("callback.rolled_over", {"team": "support", "tasks": 1, "agents": ["1002"], "rule": "R-VM-CHECK"})]
    assert cb.rota_state().to_dict() == {"support:followup": {"last_agent": "1002", "day": None, "duty": None}}


def test_r_vm_rr_per_task_a_reassigned_task_does_not_stop_the_others_moving():
    roster = make_roster()
    cb = make("per_task", roster=roster)
    vm(cb, "t1", at(3, "08:00"))
    cb.handle(ReassignTask(task_id="t1", agent_id="1003", by="sup"), at(3, "08:01"))
    vm(cb, "t2", at(3, "08:02"))
    assert cb.tasks["t2"].assigned == "1002"
    roster.request_leave("1002", "2025-03-03")
    assert published(cb.handle(RosterChanged(), at(3, "08:10")), "callback.assigned") == [{
        "task_id": "t2", "team": "support", "agent": "1003", "previous": "1002", "reason": "roster",
        "mode": "per_task", "rule": "R-VM-RR"}]


def test_r_cb_followups_with_no_working_day_ahead_are_unassigned():
    holidays = [date(2025, 3, 1) + (date(2025, 3, 2) - date(2025, 3, 1)) * i for i in range(420)]
    cb = make(roster=make_roster(holidays=holidays))
    out = cb.handle(FollowupImported(tasks=(FollowupRow(task_id="f1", number="1"),), team="support"), at(3))
    assert published(out, "callback.unassigned") == [{
        "task_id": "f1", "team": "support", "agent": None, "previous": None, "reason": "new", "mode": "duty",
        "rule": "R-VM-RR"}]
    assert published(out, "callback.followups_imported")[0]["unassigned"] == 1


def test_r_cb_a_retry_after_an_unannounced_leave_moves_the_task_as_a_check_and_calls_the_new_agent():
    roster = make_roster()
    cb = make(roster=roster)
    vm(cb, "s1", at(3, "08:00"))
    cb.handle_timer(at(3, "09:00"))
    cb.handle(DutyAnswered(agent_id="1001"), at(3, "09:00"))
    cb.handle(AttemptResult(task_id="s1", outcome=Outcome.BUSY), at(3, "09:01"))
    cb.handle(DutyCallEnded(agent_id="1001"), at(3, "09:02"))
    roster.request_leave("1001", "2025-03-03")
    assert cb.handle_timer(at(3, "09:11")) == [
        Publish("callback.duty", {"team": "support", "day": "2025-03-03", "agent": "1002", "rule": "R-VM-RR"}),
        Publish("callback.assigned", {"task_id": "s1", "team": "support", "agent": "1002", "previous": "1001",
                                      "reason": "check", "mode": "duty", "rule": "R-VM-RR"}),
        CallDutyAgent(team="support", agent_id="1002", task_ids=("s1",), reason="retry"),
        Publish("callback.check", {"team": "support", "agent": "1002", "tasks": 1, "reason": "retry",
                                   "rule": "R-VM-CHECK"})]


def test_r_cb_a_retry_due_at_the_shift_s_end_waits_and_one_due_at_its_start_calls():
    for attempt_at, backoff, expected in (
            (at(3, "17:20"), 600, [("Tue 04 09:00", "support", "1002", "check")]),
            (at(3, "17:00"), at(4, "08:45") - at(3, "17:00"), [("Tue 04 08:45", "support", "1002", "retry"),
                                                                ("Tue 04 09:00", "support", "1002", "check")])):
        cb = make(backoff_base_s=backoff, backoff_cap_s=10 ** 6)
        vm(cb, "s1", at(3, "16:00"))
        cb.handle_timer(at(3, "17:00"))
        cb.handle(DutyAnswered(agent_id="1001"), at(3, "17:00"))
        cb.handle(AttemptResult(task_id="s1", outcome=Outcome.BUSY), attempt_at)
        assert calls(run(cb, at(4, "09:00"), on_call=hang_up_at_once)) == expected


def test_r_vm_check_a_login_that_ends_a_missed_check_deals_and_calls_in_one_answer():
    cb = make("per_task", require_logged_in=True)
    cb.handle(AgentPresence(agent_id="1001", logged_in=True), at(3, "08:00"))
    vm(cb, "t1", at(3, "08:10"))
    cb.handle(AgentPresence(agent_id="1001", busy=True), at(3, "08:20"))
    cb.handle_timer(at(3, "09:00"))  # missed: busy
    cb.handle(AgentPresence(agent_id="1001", logged_in=False), at(3, "09:05"))
    vm(cb, "t2", at(3, "09:10"))
    assert cb.tasks["t2"].assigned is None
    assert cb.handle(AgentPresence(agent_id="1001", logged_in=True, busy=False), at(3, "09:30")) == [
        Publish("callback.assigned", {"task_id": "t2", "team": "support", "agent": "1001", "previous": None,
                                      "reason": "login", "mode": "per_task", "rule": "R-VM-RR"}),
        CallDutyAgent(team="support", agent_id="1001", task_ids=("t1", "t2"), reason="missed_check"),
        Publish("callback.check", {"team": "support", "agent": "1001", "tasks": 2, "reason": "missed_check",
                                   "rule": "R-VM-CHECK"})]


def test_r_cb_a_retry_outside_its_team_s_shift_does_not_hold_up_another_team_s_retry():
    roster = Roster([Team(name="support", agents=SUPPORT),
                     Team(name="sales", agents=("2001", "2002"), shifts=(Shift(end=time(17, 0)),))])
    due = at(3, "17:10")
    tasks = [CallbackTask(task_id=i, caller="1", queue=team, team=team, recording="", created_at=at(3),
                          deadline=at(4), assigned=agent, tries=1, next_attempt_at=due)
             for i, team, agent in (("a1", "sales", "2001"), ("b1", "support", "1001"))]
    cb = Callbacks(CallbackRules(), roster, now=at(3, "17:05"), tasks=tasks)
    assert of(cb.handle_timer(due), CallDutyAgent) == [
        CallDutyAgent(team="support", agent_id="1001", task_ids=("b1",), reason="retry")]


def test_r_vm_check_check_times_at_a_shift_s_start_count_and_at_its_end_do_not():
    cb = make(check_start=time(8, 45), check_offsets={})
    vm(cb, "s1", at(3, "08:00"))
    assert calls(run(cb, at(3, "11:00"), on_call=hang_up_at_once))[0] == ("Mon 03 08:45", "support", "1001", "check")
    shifts = (Shift(name="am", start=time(8, 45), end=time(12, 0)), Shift(name="pm", start=time(13, 30), end=time(17, 30)))
    cb = make(roster=Roster([Team(name="support", agents=SUPPORT, shifts=shifts)]), check_start=time(8, 0),
              check_offsets={})
    vm(cb, "s1", at(3, "07:30"))
    assert [c[0] for c in calls(run(cb, at(3, "23:00"), on_call=hang_up_at_once))] == [
        "Mon 03 10:00", "Mon 03 14:00", "Mon 03 16:00"]  # not at 12:00, the end of the morning shift


def test_r_vm_check_a_late_timer_keeps_the_roll_over_and_the_next_day_s_check():
    cb = make()
    vm(cb, "t1", at(3, "17:00"))
    out = cb.handle_timer(at(4, "12:00"))
    assert published(out, "callback.rolled_over") == [
        {"team": "support", "tasks": 1, "agents": ["1002"], "rule": "R-VM-CHECK"}]
    assert of(out, CallDutyAgent) == [CallDutyAgent(team="support", agent_id="1002", task_ids=("t1",),
                                                    reason="check")]


def test_r_cb_a_retry_of_a_task_nobody_can_take_calls_nobody():
    roster = make_roster()
    cb = make(roster=roster)
    vm(cb, "x1", at(3, "08:00"), queue="sales")
    cb.handle_timer(at(3, "09:10"))
    cb.handle(DutyAnswered(agent_id="2001"), at(3, "09:10"))
    cb.handle(AttemptResult(task_id="x1", outcome=Outcome.BUSY), at(3, "09:11"))  # retry at 09:21
    roster.request_leave("2001", "2025-03-03")
    roster.request_leave("2002", "2025-03-03", override_by="sup")
    out = cb.handle_timer(at(3, "09:21"))
    assert of(out, CallDutyAgent) == [] and cb.tasks["x1"].assigned is None


def test_r_vm_rr_duty_mode_ignores_logins_even_when_logins_are_required():
    cb = make(require_logged_in=True)  # a per_task setting: the duty rota does not read it
    vm(cb, "t1", at(3, "08:00"))
    assert calls(run(cb, at(3, "09:00"), on_call=hang_up_at_once)) == [("Mon 03 09:00", "support", "1001", "check")]
    assert cb.tasks["t1"].assigned == "1001"


# -- R-VM-CHECK on demand (issue 16: a supervisor, or the demo, checks now) --------------------------------
def test_r_vm_check_now_calls_the_holders_of_due_tasks_at_once_and_the_schedule_stays():
    cb = make()
    vm(cb, "s1", at(3, "11:05"))  # after the 11:00 check: the next one is at 13:00
    out = cb.handle(CheckNow(team="support", by="sup", request_id="r1"), at(3, "11:10"))
    [call] = of(out, CallDutyAgent)
    assert (call.team, call.agent_id, call.task_ids, call.reason) == ("support", "1001", ("s1",), "manual")
    [result] = of(out, CallbackCommandResult)
    assert (result.request_id, result.ok, result.message) == ("r1", True, "called 1001 (support)")
    [req] = published(out, "callback.check_requested")
    assert req == {"team": "support", "by": "sup", "called": 1, "rule": "R-VM-CHECK"}
    hang_up_at_once(cb, call, at(3, "11:11"))
    assert cb.get_timer() == at(3, "13:00")  # the schedule does not move


def test_r_vm_check_now_for_every_team_a_busy_agent_and_nobody_to_call():
    cb = make()
    out = cb.handle(CheckNow(team=None, by="sup"), at(3, "11:10"))
    assert of(out, CallDutyAgent) == []
    assert of(out, CallbackCommandResult)[0].message == "nobody to call"
    vm(cb, "s1", at(3, "11:05"))
    vm(cb, "t1", at(3, "11:06"), queue="sales")
    cb.handle(AgentPresence(agent_id="1001", busy=True), at(3, "11:07"))
    out = cb.handle(CheckNow(team=None, by="sup"), at(3, "11:10"))
    assert [(c.team, c.agent_id) for c in of(out, CallDutyAgent)] == [("sales", "2001")]
    assert of(out, CallbackCommandResult)[0].message == "called 2001 (sales); busy, called when free: 1001 (support)"


def test_r_vm_check_now_refuses_an_unknown_team():
    cb = make()
    vm(cb, "s1", at(3, "11:05"))
    out = cb.handle(CheckNow(team="nosuch", by="sup", request_id="r9"), at(3, "11:10"))
    assert out == [CallbackCommandResult(request_id="r9", task_id="", ok=False, message="unknown team 'nosuch'")]
