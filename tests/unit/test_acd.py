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
    assert (divert.reason, divert.prompts) == ("closed", ("closed",))


def test_parse_window_errors():
    for bad in ("mon-fri 8:45-12:00", "fri-mon 08:00-09:00", "mon 12:00-11:00", "mon 25:00-26:00"):
        with pytest.raises(ValueError):
            parse_window(bad)


# -- R-GREET ---------------------------------------------------------------------------------
def test_r_greet_caller_hears_time_of_day_and_agent_id_agent_hears_queue():
    acd = make()
    arrive(acd)
    [c] = of(acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 3), Connect)
    assert c.greeting == ("greet-morning", "agent-id-prefix", "digit-1", "digit-0", "digit-0", "digit-1",
                          "agent-id-suffix")
    assert c.whisper == ("queue-support",)


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
