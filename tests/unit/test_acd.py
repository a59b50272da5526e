"""The ACD core with a fake clock: every rule it enforces, with boundaries.

R-RING, R-WRAP, R-HANGUP, R-BUSY, R-WAIT, R-WAITLIMIT, R-GREET, R-HOURS, R-LOGIN.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.acd import (
    Acd, AgentCommand, Announce, CallArrived, CallBridged, CallEnded, CallerKey, CallRestored, CommandResult,
    Connect, Divert, LoginAttempt, LoginResult, OfferAnswered, OfferFailed, PhoneState, Publish, QueueRules,
    Resynced, Ring, StopRinging,
)
from ari_app.core.agents import Agent, AgentState, BusyPolicy
from ari_app.core.hours import Calendar, parse_window
from ari_app.core.login import LoginGuard
from ari_app.core.timeline import Fact
from ari_app.core.waiting import WaitRules

# Wednesday 2026-11-25 10:00 in Shanghai: inside business hours.
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
EPS = 1e-3


def make(strategy="longest_idle", wrap_up_s=0.0, agents=("1001", "1002"), busy=None, login=True, **rules):
    acd = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20, wrap_up_s=wrap_up_s,
                          strategy=strategy, **rules)],
              [Agent(agent_id=a, interface=f"PJSIP/{a}", queues=("support",)) for a in agents],
              busy=busy, login=LoginGuard(max_attempts=3, lock_s=600))
    if login:
        for a in agents:
            acd.handle(AgentCommand(agent_id=a, command="login"), T0 - 100)
    return acd


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def published(actions, name):
    return [a.fields for a in actions if isinstance(a, Publish) and a.event == name]


def arrive(acd, call_id="c1", at=T0, **kw):
    return acd.handle(CallArrived(call_id=call_id, queue="support", entered_at=at, **kw), at)


# -- R-RING -----------------------------------------------------------------------------
def test_call_rings_an_available_agent_and_connects_on_answer():
    acd = make()
    [ring] = of(arrive(acd), Ring)
    assert ring.agent_id == "1001" and ring.timeout_s == 20 and ring.attempt == 1
    assert acd.agents["1001"].state == AgentState.RINGING
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 4)
    [connect] = of(out, Connect)
    assert connect.agent_id == "1001"
    assert published(out, "call.answered")[0]["ring_s"] == 4
    assert acd.agents["1001"].state == AgentState.ON_CALL


def test_r_ring_still_ringing_just_before_target_withdrawn_at_target_next_agent_at_once():
    acd = make()
    arrive(acd)
    assert acd.get_timer() == T0 + 10  # the apology comes first; the offer deadline is T0 + 15
    acd.handle_timer(T0 + 10)
    assert acd.get_timer() == T0 + 15
    assert of(acd.handle_timer(T0 + 15 - EPS), StopRinging) == []
    assert acd.agents["1001"].state == AgentState.RINGING
    out = acd.handle_timer(T0 + 15)
    assert StopRinging(call_id="c1", agent_id="1001", attempt=1) in out
    [missed] = published(out, "call.offer_missed")
    assert missed["agent"] == "1001" and missed["ring_s"] == 15 and missed["rule"] == "R-RING"
    assert acd.agents["1001"].state == AgentState.PAUSED and acd.agents["1001"].reason == "missed"
    [ring] = of(out, Ring)
    assert ring.agent_id == "1002" and ring.attempt == 2


def test_missed_agent_resumes_automatically_only_when_configured():
    acd = make(agents=("1001",), busy=BusyPolicy(missed_resume_s=60))
    arrive(acd)
    acd.handle_timer(T0 + 15)
    acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 20)
    assert acd.agents["1001"].state == AgentState.PAUSED
    out = acd.handle_timer(T0 + 75)
    assert published(out, "agent.resumed") == [{"agent": "1001", "source": "auto", "rule": "R-RING"}]
    assert acd.agents["1001"].state == AgentState.AVAILABLE
    off = make(agents=("1001",))
    arrive(off)
    off.handle_timer(T0 + 15)
    off.handle_timer(T0 + 75)
    assert off.agents["1001"].state == AgentState.PAUSED


def test_failed_originate_is_unreachable_not_a_missed_offer():
    acd = make()
    arrive(acd)
    out = acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="unregistered", unreachable=True), T0 + 1)
    assert published(out, "call.offer_missed") == []
    assert published(out, "agent.unreachable")[0]["agent"] == "1001"
    assert acd.agents["1001"].state == AgentState.UNREACHABLE
    assert of(out, Ring)[0].agent_id == "1002"
    acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 2)
    acd.handle_timer(T0 + 1 + Acd.UNREACHABLE_RETRY_S)
    assert acd.agents["1001"].state == AgentState.AVAILABLE


def test_an_unreachable_agent_is_tried_again_at_a_resync_not_only_after_the_retry_time():
    """Issue 7: Asterisk restarting refuses originates; once it is back (a resync), the agent takes calls."""
    acd = make(agents=("1001",))
    arrive(acd)
    acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="originate_failed", unreachable=True), T0 + 1)
    assert acd.agents["1001"].state == AgentState.UNREACHABLE
    out = acd.handle(Resynced(calls=()), T0 + 3)  # the call vanished with the old Asterisk
    assert acd.agents["1001"].state == AgentState.AVAILABLE
    assert published(out, "agent.reachable") == [{"agent": "1001", "source": "resync", "rule": "R-RING"}]
    [ring] = of(arrive(acd, "c2", T0 + 4), Ring)
    assert ring.agent_id == "1001"


def test_unregistered_or_busy_phone_is_never_offered():
    acd = make()
    acd.handle(PhoneState(interface="PJSIP/1001", online=False), T0)
    acd.handle(PhoneState(interface="PJSIP/1002", busy=True), T0)
    assert of(arrive(acd), Ring) == []
    [ring] = of(acd.handle(PhoneState(interface="PJSIP/1002", busy=False), T0 + 1), Ring)
    assert ring.agent_id == "1002"


def test_late_answer_after_the_offer_ended_is_ignored():
    acd = make(agents=("1001",))
    arrive(acd)
    acd.handle_timer(T0 + 15)
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 15.2)
    assert of(out, Connect) == []
    assert acd.agents["1001"].state == AgentState.PAUSED


# -- R-HANGUP, R-WRAP ------------------------------------------------------------------------
def test_r_hangup_completed_call_reports_wait_talk_and_who_hung_up_first():
    acd = make()
    arrive(acd, at=T0)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 6)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 6.5)
    out = acd.handle(CallEnded(call_id="c1", by="agent"), T0 + 36.5)
    [done] = published(out, "call.completed")
    assert done == {"call_id": "c1", "queue": "support", "wait_s": 6.0, "agent": "1001", "hung_up_first": "agent",
                    "rule": "R-HANGUP", "talk_s": 30.0, "lost": False}
    assert acd.agents["1001"].state == AgentState.AVAILABLE and acd.calls == {}
    facts = [e.fact for _, e in acd.drain_facts()]
    assert facts == [Fact.ENTERED_QUEUE, Fact.OFFERED, Fact.ANSWERED, Fact.BRIDGED, Fact.HANGUP]


def test_r_wrap_agent_gets_no_offer_until_wrap_up_ends():
    acd = make(wrap_up_s=10, agents=("1001",))
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 20)
    assert acd.agents["1001"].state == AgentState.WRAP_UP
    assert of(arrive(acd, "c2", T0 + 21), Ring) == []
    assert acd.get_timer() == T0 + 30
    [ring] = of(acd.handle_timer(T0 + 30), Ring)
    assert ring.call_id == "c2" and ring.agent_id == "1001"


# -- distribution ------------------------------------------------------------------------------
def test_priority_then_first_in_first_out():
    acd = make(agents=("1001",))
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="break"), T0)
    arrive(acd, "old", T0)
    arrive(acd, "new", T0 + 5)
    arrive(acd, "vip", T0 + 9, priority=5)
    assert [acd.position(c) for c in ("vip", "old", "new")] == [1, 2, 3]
    [ring] = of(acd.handle(AgentCommand(agent_id="1001", command="resume"), T0 + 9.5), Ring)
    assert ring.call_id == "vip"


def test_round_robin_continues_where_it_stopped_in_agent_id_order():
    acd = make(strategy="round_robin", agents=("1003", "1001", "1002"))
    order = []
    for i in range(4):
        order.append(of(arrive(acd, f"c{i}", T0 + i), Ring)[0].agent_id)
        acd.handle(CallEnded(call_id=f"c{i}", by="caller"), T0 + i + 0.5)
    assert order == ["1001", "1002", "1003", "1001"]


def test_fewest_calls_and_penalty_tiers():
    acd = make(strategy="fewest_calls", agents=("1001", "1002", "1003"))
    acd.agents["1001"].calls_taken = 5
    acd.agents["1003"].penalties = {"support": 1}
    acd.agents["1003"].calls_taken = 0
    [ring] = of(arrive(acd), Ring)
    assert ring.agent_id == "1002"  # 1003 has fewer calls but a higher penalty
    [ring] = of(arrive(acd, "c2"), Ring)
    assert ring.agent_id == "1001"
    [ring] = of(arrive(acd, "c3"), Ring)
    assert ring.agent_id == "1003"  # the next tier only when the first is busy


def test_caller_hangup_while_ringing_stops_ringing_and_frees_agent():
    acd = make(agents=("1001",))
    arrive(acd)
    out = acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 3)
    assert StopRinging(call_id="c1", agent_id="1001", attempt=1) in out
    assert published(out, "call.abandoned")[0]["wait_s"] == 3
    assert acd.agents["1001"].state == AgentState.AVAILABLE


def test_max_callers_overflow():
    acd = make(agents=("1001",), max_callers=2, overflow_destination="overflow,s,1")
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="break"), T0)
    arrive(acd, "c1")
    arrive(acd, "c2")
    [divert] = of(arrive(acd, "c3"), Divert)
    assert (divert.reason, divert.destination, divert.prompts) == ("queue_full", "overflow,s,1", ("queue-full",))
    assert "c3" not in acd.calls


# -- R-WAIT, R-WAITLIMIT ----------------------------------------------------------------------
def paused_center(**rules):
    acd = make(agents=("1001", "1002"), **rules)
    for a in ("1001", "1002"):
        acd.handle(AgentCommand(agent_id=a, command="pause", reason="meeting"), T0 - 1)
    return acd


def test_r_wait_apology_once_at_ten_seconds():
    acd = paused_center()
    arrive(acd)
    assert of(acd.handle_timer(T0 + 10 - EPS), Announce) == []
    [a] = of(acd.handle_timer(T0 + 10), Announce)
    assert (a.purpose, a.prompts) == ("apology", ("wait-apology",))
    assert published(acd.handle_timer(T0 + 10), "call.announced") == []  # once


def test_r_wait_no_apology_for_a_caller_answered_at_five_seconds():
    acd = make()
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 5)
    assert acd.get_timer() is None or acd.get_timer() > T0 + 10
    assert of(acd.handle_timer(T0 + 10), Announce) == []


def test_r_waitlimit_position_and_estimate_every_30_s_then_voicemail_offer():
    acd = paused_center(wait=WaitRules(apology_s=10, announce_every_s=30, max_wait_s=120), default_handle_s=90)
    arrive(acd, "first", T0 - 5)
    arrive(acd, "c1", T0)
    acd.handle_timer(T0 + 10)
    assert [a for a in of(acd.handle_timer(T0 + 40 - EPS), Announce) if a.call_id == "c1"] == []
    mine = [a for a in of(acd.handle_timer(T0 + 40), Announce) if a.call_id == "c1"]
    assert mine[0].purpose == "position"
    # position 2 of 2; two agents logged in but paused → estimate from one round: ceil(2/1) * 90 s = 3 min
    assert mine[0].prompts == ("position-prefix", "digit-2", "position-suffix", "wait-estimate-prefix", "digit-3",
                               "minutes")
    assert [a.purpose for a in of(acd.handle_timer(T0 + 70), Announce) if a.call_id == "c1"] == ["position"]
    acd.handle_timer(T0 + 100)
    out = [a for a in of(acd.handle_timer(T0 + 120), Announce) if a.call_id == "c1"]
    assert [a.purpose for a in out] == ["voicemail_offer"]
    [divert] = of(acd.handle(CallerKey(call_id="c1", digit="1"), T0 + 125), Divert)
    assert (divert.reason, divert.destination) == ("voicemail", "callcenter-voicemail,s,1")
    assert "c1" not in acd.calls


def test_voicemail_key_before_the_offer_is_ignored():
    acd = paused_center()
    arrive(acd)
    out = acd.handle(CallerKey(call_id="c1", digit="1"), T0 + 20)
    assert of(out, Divert) == [] and "c1" in acd.calls


def test_no_agent_logged_in_diverts_at_once():
    acd = make(login=False, no_agent_destination="noagent,s,1")
    [divert] = of(arrive(acd), Divert)
    assert (divert.reason, divert.prompts, divert.destination) == ("no_agent", ("no-agent",), "noagent,s,1")


# -- R-HOURS -----------------------------------------------------------------------------------
def test_r_hours_closed_outside_windows_holidays_and_extra_workdays():
    cal = Calendar(timezone="Asia/Shanghai", windows=(parse_window("mon-fri 08:45-12:00"),),
                   holidays=frozenset({datetime(2026, 10, 1).date()}),
                   extra_workdays=frozenset({datetime(2026, 9, 27).date()}))
    sh = ZoneInfo("Asia/Shanghai")
    at = lambda *a: datetime(*a, tzinfo=sh).timestamp()  # noqa: E731
    assert cal.is_open(at(2026, 11, 25, 8, 45)) and not cal.is_open(at(2026, 11, 25, 8, 44, 59))
    assert not cal.is_open(at(2026, 11, 25, 12, 0))
    assert not cal.is_open(at(2026, 11, 28, 10, 0))  # Saturday
    assert not cal.is_open(at(2026, 10, 1, 10, 0))  # holiday (Thursday)
    assert cal.is_open(at(2026, 9, 27, 10, 0))  # Sunday worked (调休)
    acd = make(calendar=cal, closed_destination="closed,s,1")
    [divert] = of(arrive(acd, at=at(2026, 11, 25, 13, 0)), Divert)
    # issue 18 (R-HOURS): the closed message states this calendar's own hours, "星期一至星期五八点四十五分至十二点"
    assert (divert.reason, divert.prompts) == ("closed", (
        "closed-intro", "weekday-1", "to", "weekday-5", "digit-8", "oclock", "digit-4", "num-10", "digit-5", "minute",
        "to", "num-10", "digit-2", "oclock"))


def test_parse_window_errors():
    for bad in ("mon-fri 8:45-12:00", "fri-mon 08:00-09:00", "mon 12:00-11:00", "mon 25:00-26:00"):
        with pytest.raises(ValueError):
            parse_window(bad)


# -- R-GREET ---------------------------------------------------------------------------------
def test_r_greet_caller_hears_hello_org_and_agent_id_agent_hears_queue():
    # seed: 接通电话时,应说:"您好,中国××(工号)为您服务!"
    acd = make()
    arrive(acd)
    [c] = of(acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 3), Connect)
    assert c.greeting == ("hello", "org-callcenter", "agent-id-prefix", "digit-1", "digit-0", "digit-0", "digit-1",
                          "agent-id-suffix")
    assert c.whisper == ("queue-support",)
    # the time-of-day greeting is the queue's option (10:00 in Shanghai: 早上好 in place of 您好)
    acd = make(greeting_time_of_day=True, greeting_org="org-hotline")
    acd.site_prompts = frozenset({"org-hotline"})  # the site prompt Asterisk has (flows/site_prompts.py)
    arrive(acd)
    [c] = of(acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 3), Connect)
    assert c.greeting[:3] == ("greet-morning", "org-hotline", "agent-id-prefix")


# -- R-BUSY -------------------------------------------------------------------------------------
def test_r_busy_no_alert_before_limit_one_at_limit_repeats_none_after_resume():
    acd = make(agents=("1001",), busy=BusyPolicy(limit_s=900, repeat_every_s=300, limits={"lunch": 1800}))
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="break"), T0)
    assert published(acd.handle_timer(T0 + 900 - EPS), "agent.busy_overrun") == []
    [alert] = published(acd.handle_timer(T0 + 900), "agent.busy_overrun")
    assert alert == {"agent": "1001", "reason": "break", "paused_s": 900.0, "alert": 1, "limit_s": 900,
                     "rule": "R-BUSY"}
    assert published(acd.handle_timer(T0 + 1199), "agent.busy_overrun") == []
    assert [a["alert"] for a in published(acd.handle_timer(T0 + 1200), "agent.busy_overrun")] == [2]
    acd.handle(AgentCommand(agent_id="1001", command="resume"), T0 + 1250)
    assert acd.get_timer() is None
    assert published(acd.handle_timer(T0 + 1500), "agent.busy_overrun") == []
    # a per-reason limit
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="lunch"), T0 + 2000)
    assert acd.get_timer() == T0 + 3800


@pytest.mark.parametrize("action,state", [("resume", AgentState.AVAILABLE), ("logout", AgentState.LOGGED_OUT)])
def test_r_busy_optional_automatic_resume_or_logout(action, state):
    acd = make(agents=("1001",), busy=BusyPolicy(limit_s=60, on_overrun=action))
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="break"), T0)
    out = acd.handle_timer(T0 + 60)
    assert len(published(out, "agent.busy_overrun")) == 1
    assert acd.agents["1001"].state == state


def test_agent_commands_refused_with_a_reason():
    acd = make(agents=("1001",))
    arrive(acd)
    [r] = of(acd.handle(AgentCommand(agent_id="1001", command="pause", request_id="r1"), T0 + 1), CommandResult)
    assert (r.ok, r.message, r.request_id) == (False, "cannot pause while ringing", "r1")
    [r] = of(acd.handle(AgentCommand(agent_id="9999", command="login"), T0 + 1), CommandResult)
    assert (r.ok, r.message) == (False, "unknown agent 9999")


# -- R-LOGIN ----------------------------------------------------------------------------------
def test_r_login_three_wrong_pins_lock_the_agent_id():
    acd = make(agents=("1001",), login=False)
    for i in range(2):
        [r] = of(acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/1005", pin_ok=False), T0 + i), LoginResult)
        assert r.outcome == "failed"
    out = acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/1005", pin_ok=False), T0 + 2)
    assert of(out, LoginResult)[0].outcome == "locked"
    assert published(out, "agent.login_locked")[0]["agent"] == "1001"
    # even the right PIN is refused while locked
    out = acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/1005", pin_ok=True), T0 + 3)
    assert of(out, LoginResult)[0].outcome == "still_locked"
    assert acd.agents["1001"].state == AgentState.LOGGED_OUT
    out = acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/1005", pin_ok=True), T0 + 2 + 600)
    assert of(out, LoginResult)[0].outcome == "ok"
    assert acd.agents["1001"].state == AgentState.AVAILABLE and acd.agents["1001"].interface == "PJSIP/1005"


def test_r_login_one_agent_per_phone_and_login_elsewhere_moves_it():
    acd = make(agents=("1001", "1002"))
    out = acd.handle(LoginAttempt(agent_id="1002", interface="PJSIP/1001", pin_ok=True), T0)
    assert published(out, "agent.logged_out")[0] == {"agent": "1001", "source": "replaced", "by": "1002",
                                                     "rule": "R-LOGIN"}
    assert published(out, "agent.moved")[0]["to"] == "PJSIP/1001"
    assert acd.agents["1001"].state == AgentState.LOGGED_OUT and acd.agents["1002"].interface == "PJSIP/1001"


# -- resync -------------------------------------------------------------------------------------
def test_resync_restores_connected_calls_and_ends_vanished_ones():
    acd = make(agents=("1001", "1002", "1003"))
    arrive(acd, "gone")
    acd.handle(OfferAnswered(call_id="gone", agent_id="1001"), T0 + 2)
    arrive(acd, "was_ringing", T0 + 1)
    assert acd.agents["1002"].state == AgentState.RINGING
    kept = CallRestored(call_id="kept", queue="support", entered_at=T0, agent_id="1003", answered_at=T0 + 3)
    requeued = CallArrived(call_id="was_ringing", queue="support", entered_at=T0 + 1, resynced=True)
    out = acd.handle(Resynced(calls=(kept, requeued)), T0 + 30)
    assert published(out, "call.completed")[0]["lost"] is True
    assert acd.agents["1003"].state == AgentState.ON_CALL and set(acd.calls) == {"kept", "was_ringing"}
    [ring] = of(out, Ring)
    assert ring.call_id == "was_ringing" and acd.calls["was_ringing"].entered_at == T0 + 1
    # the apology due before the restart is not replayed
    assert of(acd.handle_timer(T0 + 31), Announce) == []


def test_duplicate_arrival_is_harmless():
    acd = make()
    arrive(acd)
    assert acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0 + 1) == []


def test_agent_hanging_up_during_the_greeting_puts_the_caller_back_in_line():
    acd = make()
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 3)
    out = acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="agent_left"), T0 + 4)
    assert published(out, "call.agent_left_early")[0]["agent"] == "1001"
    [ring] = of(out, Ring)
    assert ring.call_id == "c1" and ring.attempt == 2
    assert acd.position("c1") == 1


# -- mutation testing (issue 7): the whole list of actions of the main paths, and edges ------------------------
from ari_app.core import prompts as _prompts  # noqa: E402


def test_a_call_from_arrival_to_hang_up_action_by_action():
    acd = make()
    assert arrive(acd) == [
        Publish("call.queued", {"call_id": "c1", "queue": "support", "priority": 0, "resynced": False}),
        Publish("call.offered", {"call_id": "c1", "queue": "support", "agent": "1001", "attempt": 1}),
        Ring(call_id="c1", agent_id="1001", interface="PJSIP/1001", attempt=1, timeout_s=20)]
    acd.drain_changed_agents()
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 15)  # at the ring target: within it
    assert out == [
        Publish("call.answered", {"call_id": "c1", "queue": "support", "agent": "1001", "ring_s": 15,
                                  "within_ring_target": True, "wait_s": 15, "rule": "R-RING"}),
        Connect(call_id="c1", agent_id="1001",
                greeting=("hello", "org-callcenter", *_prompts.agent_id_announcement("1001")),
                whisper=("queue-support",))]
    assert [a.agent_id for a in acd.drain_changed_agents()] == ["1001"]
    assert acd.handle(CallBridged(call_id="c1", agent_id="1001", greeted=True), T0 + 17) == []
    out = acd.handle(CallEnded(call_id="c1", by="agent"), T0 + 77)
    assert out == [Publish("call.completed", {"call_id": "c1", "queue": "support", "wait_s": 15, "agent": "1001",
                                              "hung_up_first": "agent", "rule": "R-HANGUP", "talk_s": 60,
                                              "lost": False})]
    assert [a.agent_id for a in acd.drain_changed_agents()] == ["1001"]
    assert acd.agents["1001"].calls_taken == 1 and acd.agents["1001"].last_call_end == T0 + 77


def test_r_ring_missed_and_unreachable_offers_action_by_action():
    acd = make()
    arrive(acd)
    acd.handle_timer(T0 + 10)
    acd.drain_changed_agents()
    assert acd.handle_timer(T0 + 15) == [
        StopRinging(call_id="c1", agent_id="1001", attempt=1),
        Publish("call.offer_missed", {"call_id": "c1", "queue": "support", "agent": "1001", "ring_s": 15,
                                      "reason": "ring_target", "rule": "R-RING"}),
        Publish("agent.paused", {"agent": "1001", "reason": "missed", "rule": "R-RING"}),
        Publish("call.offered", {"call_id": "c1", "queue": "support", "agent": "1002", "attempt": 2}),
        Ring(call_id="c1", agent_id="1002", interface="PJSIP/1002", attempt=2, timeout_s=20)]
    assert [a.agent_id for a in acd.drain_changed_agents()] == ["1001", "1002"]
    out = acd.handle(OfferFailed(call_id="c1", agent_id="1002", reason="chan_unavailable", unreachable=True),
                     T0 + 16)
    assert out == [StopRinging(call_id="c1", agent_id="1002", attempt=2),
                   Publish("agent.unreachable", {"call_id": "c1", "agent": "1002", "reason": "chan_unavailable",
                                                 "rule": "R-RING"})]
    assert acd.agents["1002"].state == AgentState.UNREACHABLE and acd.agents["1002"].call_id is None
    acd.handle_timer(T0 + 40)  # the position announcement
    assert acd.get_timer() == T0 + 16 + Acd.UNREACHABLE_RETRY_S
    assert of(acd.handle_timer(T0 + 46), Ring)[0].agent_id == "1002"  # retried after 30 s


def test_offer_failed_for_an_unknown_call_or_another_agent_is_ignored():
    acd = make()
    arrive(acd)
    assert acd.handle(OfferFailed(call_id="nope", agent_id="1001", reason="x"), T0 + 1) == []
    assert acd.handle(OfferFailed(call_id="c1", agent_id="1002", reason="x"), T0 + 1) == []
    assert acd.agents["1001"].state == AgentState.RINGING


def test_r_wait_and_r_waitlimit_announcements_action_by_action_with_two_agents_serving():
    acd = make(agents=("1001", "1002", "1003"))
    acd.handle(AgentCommand(agent_id="1003", command="pause"), T0 - 50)
    for n in (1, 2):  # two agents busy talking
        acd.handle(CallArrived(call_id=f"b{n}", queue="support", entered_at=T0 - 40), T0 - 40)
        acd.handle(OfferAnswered(call_id=f"b{n}", agent_id=f"100{n}"), T0 - 39)
    for n in (1, 2, 3):
        arrive(acd, f"c{n}", T0 + n / 10)
    out = acd.handle_timer(T0 + 10.1)
    assert out[:2] == [Publish("call.announced", {"call_id": "c1", "queue": "support", "purpose": "apology",
                                                  "wait_s": 10, "rule": "R-WAIT"}),
                       Announce(call_id="c1", prompts=("wait-apology",), purpose="apology")]
    acd.handle_timer(T0 + 10.3)
    out = acd.handle_timer(T0 + 40.3)
    # position 1 and 2 wait one round of the 2 serving agents (the paused one does not serve), 3 waits two
    assert [a.prompts for a in of(out, Announce)] == [
        tuple(_prompts.position_announcement(1, 120)), tuple(_prompts.position_announcement(2, 120)),
        tuple(_prompts.position_announcement(3, 240))]
    assert published(out, "call.announced")[2] == {"call_id": "c3", "queue": "support", "purpose": "position",
                                                   "wait_s": 40, "rule": "R-WAITLIMIT"}
    out = acd.handle_timer(T0 + 120.3)
    assert Announce(call_id="c3", prompts=("voicemail-offer",), purpose="voicemail_offer") in out
    assert {"call_id": "c3", "queue": "support", "purpose": "voicemail_offer", "wait_s": 120,
            "rule": "R-WAITLIMIT"} in published(out, "call.announced")


def test_r_waitlimit_voicemail_key_while_ringing_stops_the_ringing_first():
    acd = Acd([QueueRules(name="support", ring_target_s=300, originate_timeout_s=300)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",))])
    acd.handle(AgentCommand(agent_id="1001", command="login"), T0 - 10)
    arrive(acd)
    acd.handle_timer(T0 + 120)
    out = acd.handle(CallerKey(call_id="c1", digit="1"), T0 + 121)
    assert out == [StopRinging(call_id="c1", agent_id="1001", attempt=1),
                   Publish("call.diverted", {"call_id": "c1", "queue": "support", "reason": "voicemail",
                                             "destination": "callcenter-voicemail,s,1", "wait_s": 121,
                                             "rule": "R-WAITLIMIT"}),
                   Divert(call_id="c1", prompts=(), destination="callcenter-voicemail,s,1", reason="voicemail")]
    assert acd.agents["1001"].state == AgentState.AVAILABLE and acd.agents["1001"].call_id is None
    assert acd.handle(CallerKey(call_id="c1", digit="1"), T0 + 122) == []  # gone: nothing to do


def test_diverts_action_by_action_closed_no_agent_full():
    closed = make(calendar=Calendar(timezone="Asia/Shanghai", windows=(parse_window("sat 08:45-12:00"),)))
    assert arrive(closed) == [
        Publish("call.diverted", {"call_id": "c1", "queue": "support", "reason": "closed",
                                  "destination": "callcenter-voicemail,s,1", "wait_s": 0, "rule": "R-HOURS"}),
        Divert(call_id="c1", prompts=("closed-intro", "weekday-6", "digit-8", "oclock", "digit-4", "num-10", "digit-5",
                                      "minute", "to", "num-10", "digit-2", "oclock"),  # 星期六八点四十五分至十二点
               destination="callcenter-voicemail,s,1", reason="closed")]
    nobody = make(login=False)
    assert arrive(nobody) == [
        Publish("call.diverted", {"call_id": "c1", "queue": "support", "reason": "no_agent",
                                  "destination": "callcenter-voicemail,s,1", "wait_s": 0, "rule": "R-WAITLIMIT"}),
        Divert(call_id="c1", prompts=("no-agent",), destination="callcenter-voicemail,s,1", reason="no_agent")]
    full = make(max_callers=2, agents=("1001",))
    arrive(full, "c1")  # ringing 1001
    arrive(full, "c2")  # waiting
    assert arrive(full, "c3") == [
        Publish("call.diverted", {"call_id": "c3", "queue": "support", "reason": "queue_full",
                                  "destination": "callcenter-voicemail,s,1", "wait_s": 0}),
        Divert(call_id="c3", prompts=("queue-full",), destination="callcenter-voicemail,s,1", reason="queue_full")]


def test_max_callers_counts_only_this_queues_waiting_callers():
    acd = Acd([QueueRules(name="support", max_callers=1), QueueRules(name="sales")],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support", "sales"))])
    acd.handle(AgentCommand(agent_id="1001", command="login"), T0 - 10)
    acd.handle(CallArrived(call_id="s1", queue="sales", entered_at=T0), T0)  # rings 1001
    acd.handle(CallArrived(call_id="s2", queue="sales", entered_at=T0), T0)
    out = acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    assert published(out, "call.queued") and not of(out, Divert)


def test_a_queue_with_no_free_agent_does_not_hold_up_the_queues_after_it():
    acd = Acd([QueueRules(name="a"), QueueRules(name="b")],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("a",)),
               Agent(agent_id="1002", interface="PJSIP/1002", queues=("b",))])
    for a in ("1001", "1002"):
        acd.handle(AgentCommand(agent_id=a, command="login"), T0 - 10)
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 5)
    acd.handle(CallArrived(call_id="first", queue="a", entered_at=T0, priority=5), T0)
    out = acd.handle(CallArrived(call_id="second", queue="b", entered_at=T0 + 1), T0 + 1)
    assert [(r.call_id, r.agent_id) for r in of(out, Ring)] == [("second", "1002")]


def test_resynced_waiting_call_gets_only_the_prompts_not_yet_due():
    acd = make(agents=("1001",))
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 5)
    out = acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0 - 10, resynced=True), T0)
    assert published(out, "call.queued") == [{"call_id": "c1", "queue": "support", "priority": 0,
                                              "resynced": True}]
    assert acd.get_timer() == T0 + 30  # the apology was due at T0 exactly: done; next the position at +30
    acd2 = make(agents=("1001",))
    acd2.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 5)
    acd2.handle(CallArrived(call_id="c1", queue="support", entered_at=T0 - 120, resynced=True), T0)
    out = acd2.handle_timer(acd2.get_timer())
    assert [a.purpose for a in of(out, Announce)] == ["position"]  # the voicemail offer was due: not replayed


def test_r_busy_pause_overrun_and_agent_commands_action_by_action():
    acd = make(busy=BusyPolicy(limit_s=900, repeat_every_s=300, limits={"lunch": 1800}))
    acd.drain_agent_log()
    out = acd.handle(AgentCommand(agent_id="1001", command="pause", reason="lunch", source="phone", request_id="q1"),
                     T0)
    assert out == [Publish("agent.paused", {"agent": "1001", "source": "phone", "reason": "lunch", "limit_s": 1800,
                                            "rule": "R-BUSY"}),
                   CommandResult(request_id="q1", agent_id="1001", ok=True)]
    assert acd.get_timer() == T0 + 1800  # the limit of its reason
    out = acd.handle(AgentCommand(agent_id="1001", command="pause", request_id="q2"), T0 + 5)  # a new pause
    assert published(out, "agent.paused") == [{"agent": "1001", "source": "api", "reason": "break", "limit_s": 900,
                                               "rule": "R-BUSY"}]
    assert acd.get_timer() == T0 + 905
    assert acd.handle_timer(T0 + 905) == [Publish("agent.busy_overrun", {
        "agent": "1001", "reason": "break", "paused_s": 900, "alert": 1, "limit_s": 900, "rule": "R-BUSY"})]
    assert acd.get_timer() == T0 + 1205
    assert published(acd.handle_timer(T0 + 1205), "agent.busy_overrun")[0]["alert"] == 2
    assert [(e.at, e.event, e.state, e.reason) for e in acd.drain_agent_log()] == [
        (T0, "state", "paused", "lunch"), (T0 + 5, "state", "paused", "break"),
        (T0 + 905, "busy_overrun", "paused", "break")]  # one overrun per pause, not per alert
    assert acd.handle(AgentCommand(agent_id="1001", command="resume", request_id="q3"), T0 + 1300) == [
        Publish("agent.resumed", {"agent": "1001", "source": "api"}),
        CommandResult(request_id="q3", agent_id="1001", ok=True)]
    assert acd.handle(AgentCommand(agent_id="1001", command="logout", request_id="q4"), T0 + 1400) == [
        Publish("agent.logged_out", {"agent": "1001", "source": "api"}),
        CommandResult(request_id="q4", agent_id="1001", ok=True)]
    assert acd.handle(AgentCommand(agent_id="1001", command="login", interface="PJSIP/9", request_id="q5"),
                      T0 + 1500) == [
        Publish("agent.logged_in", {"agent": "1001", "source": "api", "interface": "PJSIP/9", "rule": "R-LOGIN"}),
        CommandResult(request_id="q5", agent_id="1001", ok=True)]
    assert acd.handle(AgentCommand(agent_id="1001", command="dance", request_id="q6"), T0 + 1600) == [
        CommandResult(request_id="q6", agent_id="1001", ok=False, message="cannot dance while available")]
    assert acd.handle(AgentCommand(agent_id="9999", command="login", request_id="q7"), T0 + 1600) == [
        CommandResult(request_id="q7", agent_id="9999", ok=False, message="unknown agent 9999")]


def test_r_login_phone_login_replaces_the_agent_at_that_phone_action_by_action():
    acd = make()
    acd.handle(AgentCommand(agent_id="1001", command="login", interface="PJSIP/9"), T0)
    out = acd.handle(LoginAttempt(agent_id="1002", interface="PJSIP/9", pin_ok=True, request_id="l1"), T0 + 10)
    assert out == [
        Publish("agent.moved", {"agent": "1002", "from": "PJSIP/1002", "to": "PJSIP/9", "rule": "R-LOGIN"}),
        Publish("agent.logged_out", {"agent": "1001", "source": "replaced", "by": "1002", "rule": "R-LOGIN"}),
        Publish("agent.logged_in", {"agent": "1002", "source": "phone", "interface": "PJSIP/9", "rule": "R-LOGIN"}),
        LoginResult(request_id="l1", agent_id="1002", outcome="ok")]
    assert (acd.agents["1001"].state, acd.agents["1001"].interface) == (AgentState.LOGGED_OUT, "")
    assert [a.agent_id for a in acd.drain_changed_agents()] == ["1001", "1002"]
    out = acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/9", pin_ok=False, request_id="l2"), T0 + 20)
    assert out == [Publish("agent.login_failed", {"agent": "1001", "interface": "PJSIP/9", "outcome": "failed",
                                                  "rule": "R-LOGIN"}),
                   LoginResult(request_id="l2", agent_id="1001", outcome="failed")]


def test_phone_state_changes_are_published_once():
    acd = make()
    acd.drain_changed_agents()
    assert acd.handle(PhoneState(interface="PJSIP/1002", online=False), T0) == [
        Publish("agent.phone", {"agent": "1002", "online": False, "busy": False})]
    assert acd.handle(PhoneState(interface="PJSIP/1002", online=False), T0 + 1) == []  # no change
    assert acd.handle(PhoneState(interface="PJSIP/1002", busy=True), T0 + 2) == [
        Publish("agent.phone", {"agent": "1002", "online": False, "busy": True})]
    assert [a.agent_id for a in acd.drain_changed_agents()] == ["1002"]


def test_r_hours_an_extra_workday_is_worked_like_a_monday_in_the_calendars_time_zone():
    cal = Calendar(timezone="Asia/Shanghai", windows=(parse_window("mon 08:45-12:00"),),
                   extra_workdays=frozenset({datetime(2026, 9, 27).date()}))
    sh = ZoneInfo("Asia/Shanghai")
    assert cal.is_open(datetime(2026, 9, 27, 10, 0, tzinfo=sh).timestamp())  # a Sunday worked as a Monday
    assert not cal.is_open(datetime(2026, 9, 29, 10, 0, tzinfo=sh).timestamp())  # an ordinary Tuesday
    assert cal.local_hour(T0) == 10  # T0 is 10:00 in Shanghai, 02:00 UTC
    assert Calendar(timezone="America/New_York").local_hour(T0) == 21


def test_r_hours_window_edges_24_00_minutes_and_empty_windows():
    sh = ZoneInfo("Asia/Shanghai")
    at = lambda *a: datetime(*a, tzinfo=sh).timestamp()  # noqa: E731
    late = Calendar(timezone="Asia/Shanghai", windows=(parse_window("wed 20:00-24:00"),))
    assert late.is_open(at(2026, 11, 25, 23, 59, 59)) and not late.is_open(at(2026, 11, 25, 19, 59))
    half = Calendar(timezone="Asia/Shanghai", windows=(parse_window("wed 08:45-12:30"),))
    assert half.is_open(at(2026, 11, 25, 12, 15)) and not half.is_open(at(2026, 11, 25, 12, 30))
    for bad, message in (("mon 08:00-08:00", "window ends before it starts in 'mon 08:00-08:00'"),
                         ("fri-mon 08:00-09:00", "days run backwards in 'fri-mon 08:00-09:00'"),
                         ("mon 25:00-26:00", "not a time of day in 'mon 25:00-26:00'"),
                         ("8-12", "expected e.g. 'mon-fri 08:45-12:00', got '8-12'")):
        with pytest.raises(ValueError, match=f"^{message}$"):
            parse_window(bad)
