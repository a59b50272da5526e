"""The ACD core's paths without a whole-list test before (mutation testing, issue 7): resync and restore
after a restart, R-CB keep my place, R-BUSY's automatic actions, R-RING's automatic resume after a missed
offer, the agent leaving before the bridge, and the end of a call (R-HANGUP) in the middle of things.

Each test compares the whole list of actions, the facts and the agents' log of a path, field by field.
"""

from ari_app.core.acd import (
    Acd, AgentCommand, Announce, CallArrived, CallBridged, CallEnded, CallerKey, CallerSpoke, CallRestored,
    CommandResult, Connect, HoldRequest, KeepPlace, LoginAttempt, LoginResult, OfferAnswered, SilentPromptDone,
    SilentRequest,
    OfferFailed, PlaceReached, Publish, QueueRules, Resynced, Ring, StopRinging,
)
from ari_app.core.agents import Agent, AgentState, BusyPolicy
from ari_app.core.incall import EndSilent, PlayToCall, RemindAgent, StopSilent
from ari_app.core.timeline import Fact, TimelineEntry
from ari_app.core.transfer import (
    Consult, DialTarget, EndTransfer, HoldForTransfer, TransferCommand, TransferRequest, TransferResult,
    TransferUpdate,
)
from ari_app.core.transfer import XferEvent as E
from ari_app.core.waiting import WaitRules

from test_acd import T0, arrive, make, published


def facts(acd):
    return [(cid, e.at - T0, e.fact, e.agent, e.detail) for cid, e in acd.drain_facts()]


def log(acd):
    return [(e.agent_id, e.at - T0, e.event, e.state, e.reason) for e in acd.drain_agent_log()]


def changed(acd):
    return [a.agent_id for a in acd.drain_changed_agents()]


def drain(acd):
    acd.drain_facts(), acd.drain_agent_log(), acd.drain_changed_agents()


# -- resync and restore after a restart ----------------------------------------------------------------
def test_resync_ends_lost_calls_keeps_matching_ones_and_rebuilds_the_rest_action_by_action():
    """A call Asterisk no longer has is completed as lost (R-HANGUP, by "system"); a connected call the
    snapshot shows with the same agent is kept as it is; one with another agent, or no longer connected,
    is rebuilt from the snapshot (its agent freed first); a call we never knew is restored."""
    acd = make(agents=("1001", "1002", "1003", "1004", "1005"))
    arrive(acd, "gone")  # rings 1001, answered: no channel after the restart
    acd.handle(OfferAnswered(call_id="gone", agent_id="1001"), T0 + 2)
    arrive(acd, "ringing", T0 + 1)  # rings 1002: back in line from the snapshot
    arrive(acd, "same", T0 + 2)  # 1003 talks to it, and the snapshot agrees
    acd.handle(OfferAnswered(call_id="same", agent_id="1003"), T0 + 3)
    acd.handle(CallBridged(call_id="same", agent_id="1003"), T0 + 4)
    arrive(acd, "moved", T0 + 3)  # answered by 1004; the snapshot has it bridged to 1005
    acd.handle(OfferAnswered(call_id="moved", agent_id="1004"), T0 + 5)
    acd.handle(AgentCommand(agent_id="1005", command="pause"), T0 + 6)
    drain(acd)
    out = acd.handle(Resynced(calls=(
        CallRestored(call_id="same", queue="support", entered_at=T0 + 2, agent_id="1003", answered_at=T0 + 3),
        CallRestored(call_id="moved", queue="support", entered_at=T0 + 3, agent_id="1005", answered_at=T0 + 6),
        CallArrived(call_id="ringing", queue="support", entered_at=T0 + 1, resynced=True),
        CallRestored(call_id="new", queue="support", priority=2, entered_at=T0 - 50, agent_id="1001",
                     answered_at=T0 - 40),
        CallRestored(call_id="nobody", queue="support", entered_at=T0 - 9, agent_id="9999", answered_at=T0 - 8),
    )), T0 + 30)
    assert out == [
        Publish("call.completed", {"call_id": "gone", "queue": "support", "wait_s": 2, "agent": "1001",
                                   "hung_up_first": "system", "rule": "R-HANGUP", "talk_s": 28, "lost": True}),
        Publish("call.queued", {"call_id": "ringing", "queue": "support", "priority": 0, "resynced": True}),
        Publish("call.offered", {"call_id": "ringing", "queue": "support", "agent": "1002", "attempt": 1}),
        Ring(call_id="ringing", agent_id="1002", interface="PJSIP/1002", attempt=1, timeout_s=20)]
    restored = {"queue": "support", "state": "connected"}
    assert facts(acd) == [
        ("gone", 30, Fact.HANGUP, "1001", {"by": "system"}),
        ("moved", 30, Fact.RESYNCED, "1005", {**restored, "entered_at": T0 + 3}),
        ("ringing", 30, Fact.RESYNCED, None, {"state": "waiting", "queue": "support", "entered_at": T0 + 1}),
        ("new", 30, Fact.RESYNCED, "1001", {**restored, "entered_at": T0 - 50}),
        ("nobody", 30, Fact.RESYNCED, "9999", {**restored, "entered_at": T0 - 9}),
        ("ringing", 30, Fact.OFFERED, "1002", {"attempt": 1})]
    assert changed(acd) == ["1001", "1002", "1004", "1005"]
    assert log(acd) == [  # every state entered is in the agents' log (R-KPI occupancy)
        ("1001", 30, "state", "wrap_up", ""), ("1001", 30, "state", "available", ""),
        ("1001", 30, "state", "on_call", ""),
        ("1002", 30, "state", "available", ""), ("1002", 30, "state", "ringing", ""),
        ("1004", 30, "state", "available", ""),
        ("1005", 30, "state", "on_call", "")]
    state = {a.agent_id: (a.state, a.call_id, a.since - T0) for a in acd.agents.values()}
    assert state == {"1001": (AgentState.ON_CALL, "new", 30), "1002": (AgentState.RINGING, "ringing", 30),
                     "1003": (AgentState.ON_CALL, "same", 3), "1004": (AgentState.AVAILABLE, None, 30),
                     "1005": (AgentState.ON_CALL, "moved", 30)}
    assert acd.agents["1001"].calls_taken == 1  # the lost call was taken before the restart
    # the restored calls carry their times: the wait until answered, the talk from the answer
    assert acd.handle(CallEnded(call_id="new", by="caller"), T0 + 100) == [
        Publish("call.completed", {"call_id": "new", "queue": "support", "wait_s": 10, "agent": "1001",
                                   "hung_up_first": "caller", "rule": "R-HANGUP", "talk_s": 140, "lost": False})]
    assert acd.handle(CallEnded(call_id="moved", by="agent"), T0 + 100) == [
        Publish("call.completed", {"call_id": "moved", "queue": "support", "wait_s": 3, "agent": "1005",
                                   "hung_up_first": "agent", "rule": "R-HANGUP", "talk_s": 94, "lost": False})]
    assert acd.handle(CallEnded(call_id="same", by="agent"), T0 + 100)[0].fields["talk_s"] == 96  # bridged T0 + 4
    # a rebuilt call starts a new timeline in the core (the facts before were drained to the store)
    assert [e.fact for e in acd.timeline("ringing").entries] == [Fact.RESYNCED, Fact.OFFERED]


def test_restore_of_a_call_already_held_changes_nothing():
    acd = make(agents=("1001", "1002"))
    arrive(acd, "c1")
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 2)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 3)
    drain(acd)
    assert acd.handle(CallRestored(call_id="c1", queue="support", entered_at=T0 - 99, agent_id="1002",
                                   answered_at=T0 - 98), T0 + 10) == []
    assert facts(acd) == [] and changed(acd) == [] and log(acd) == []
    call = acd.calls["c1"]
    assert (call.agent_id, call.entered_at, call.answered_at) == ("1001", T0, T0 + 2)
    assert acd.agents["1002"].state == AgentState.AVAILABLE


def test_resynced_arrival_of_a_known_call_and_a_new_one_late_in_its_wait():
    """A resynced waiting call: the apology and the voicemail offer already due are not replayed (R-WAIT,
    R-WAITLIMIT); ones not yet due still come; a call known and still waiting is left alone."""
    acd = make(agents=("1001",))
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 5)
    arrive(acd, "held", T0 - 4)
    drain(acd)
    out = acd.handle(Resynced(calls=(CallArrived(call_id="held", queue="support", entered_at=T0 - 4, resynced=True),
                                     CallArrived(call_id="late", queue="support", entered_at=T0 - 9.5,
                                                 resynced=True))), T0)
    # "held" was rebuilt from the snapshot too (its state is what Asterisk says), with a fresh timer
    assert out == [Publish("call.queued", {"call_id": "held", "queue": "support", "priority": 0, "resynced": True}),
                   Publish("call.queued", {"call_id": "late", "queue": "support", "priority": 0, "resynced": True})]
    assert acd.get_timer() == T0 + 0.5  # late's apology at 10 s is not yet due: it comes
    assert [a.fields["purpose"] for a in acd.handle_timer(T0 + 0.5) if isinstance(a, Publish)] == ["apology"]
    assert [f[0:3] for f in facts(acd)] == [("held", 0, Fact.RESYNCED), ("late", 0, Fact.RESYNCED),
                                            ("late", 0.5, Fact.PROMPT_PLAYED)]


# -- R-CB keep my place --------------------------------------------------------------------------------
def test_r_cb_keep_my_place_from_the_key_to_the_callback_action_by_action():
    acd = make(agents=("1001", "1002"), keep_place_key="2", default_handle_s=90)
    acd.handle(AgentCommand(agent_id="1002", command="pause", reason="lunch"), T0 - 60)
    arrive(acd, "c0", T0 - 50)
    acd.handle(OfferAnswered(call_id="c0", agent_id="1001"), T0 - 49)
    for n, cid in enumerate(("a", "b", "c")):
        arrive(acd, cid, T0 + n)
    drain(acd)
    # position 2, one agent serving (1002 is paused), no call handled yet: two rounds of 90 s
    assert acd.handle(CallerKey(call_id="b", digit="2"), T0 + 11.5) == [
        Publish("call.keep_place", {"call_id": "b", "queue": "support", "position": 2, "wait_s": 10.5,
                                    "rule": "R-CB"}),
        KeepPlace(call_id="b", queue="support", position=2, estimate_s=180.0)]
    assert facts(acd) == [("b", 11.5, Fact.KEPT_PLACE, None, {"position": 2})]
    assert changed(acd) == []
    assert acd.handle(CallEnded(call_id="b", by="caller"), T0 + 12) == []  # the hang-up keeps the place
    assert acd.handle(CallerKey(call_id="b", digit="2"), T0 + 13) == [
        Publish("call.key_ignored", {"call_id": "b", "digit": "2"})]  # pressed again: nothing more to keep
    assert [c.call_id for c in acd.waiting_in("support")] == ["a", "c"] and acd.position("c") == 3
    # nobody is listening on the kept place: its apology due at T0 + 11 is dropped, a's and c's come
    assert [a.fields["call_id"] for a in acd.handle_timer(T0 + 12) if isinstance(a, Publish)] == ["a", "c"]
    acd.handle(CallEnded(call_id="c0", by="agent"), T0 + 40)  # 1001 free: "a", in front, rings first
    assert acd.calls["a"].agent_id == "1001"
    drain(acd)
    assert acd.handle(CallEnded(call_id="a", by="caller"), T0 + 45) == [
        StopRinging(call_id="a", agent_id="1001", attempt=1),
        Publish("call.abandoned", {"call_id": "a", "queue": "support", "wait_s": 45, "by": "caller",
                                   "lost": False}),
        Publish("call.place_reached", {"call_id": "b", "queue": "support", "agent": "1001", "wait_s": 44,
                                       "rule": "R-CB"}),
        PlaceReached(call_id="b", queue="support", agent_id="1001")]
    assert facts(acd) == [("a", 45, Fact.HANGUP, "1001", {"by": "caller"}),
                          ("b", 45, Fact.PLACE_REACHED, "1001", {})]
    assert changed(acd) == ["1001"]
    assert log(acd) == [("1001", 45, "state", "available", ""), ("1001", 45, "state", "paused", "callback")]
    assert "b" not in acd.calls and acd.calls["c"].state.value == "waiting"


def test_r_cb_keep_my_place_while_ringing_and_the_estimate_from_handled_calls():
    """The offer is withdrawn (the agent freed); the estimate uses the moving average of handle times:
    0.8 x the previous + 0.2 x the last (10 s, then 60 s: 20 s)."""
    acd = make(agents=("1001", "1002", "1003"), keep_place_key="2")
    for n, at, talk in ((1, T0 - 90, 10), (2, T0 - 70, 60)):
        arrive(acd, f"h{n}", at)
        acd.handle(OfferAnswered(call_id=f"h{n}", agent_id=acd.calls[f"h{n}"].agent_id), at)
        acd.handle(CallEnded(call_id=f"h{n}", by="caller"), at + talk)
    acd.handle(AgentCommand(agent_id="1003", command="pause"), T0 - 5)
    arrive(acd, "x", T0 - 2)  # 1001 and 1002 ringing
    arrive(acd, "y", T0 - 1)
    arrive(acd, "a", T0)
    arrive(acd, "z", T0 + 0.5)
    acd.handle(AgentCommand(agent_id="1003", command="resume"), T0 + 0.75)  # rings "a"
    assert acd.calls["a"].agent_id == "1003"
    drain(acd)
    out = acd.handle(CallerKey(call_id="a", digit="2"), T0 + 3)
    # position 3 (x and y ring, in front), 3 agents serving: one round of 20 s
    assert out[:3] == [
        StopRinging(call_id="a", agent_id="1003", attempt=1),
        Publish("call.keep_place", {"call_id": "a", "queue": "support", "position": 3, "wait_s": 3,
                                    "rule": "R-CB"}),
        KeepPlace(call_id="a", queue="support", position=3, estimate_s=20.0)]
    # 1003 is free again, and the kept place is the first call waiting: its turn, at once
    assert out[3:] == [
        Publish("call.place_reached", {"call_id": "a", "queue": "support", "agent": "1003", "wait_s": 3,
                                       "rule": "R-CB"}),
        PlaceReached(call_id="a", queue="support", agent_id="1003")]
    assert facts(acd) == [("a", 3, Fact.KEPT_PLACE, None, {"position": 3}),
                          ("a", 3, Fact.PLACE_REACHED, "1003", {})]
    assert log(acd) == [("1003", 3, "state", "available", ""), ("1003", 3, "state", "paused", "callback")]
    assert acd.agents["1003"].call_id is None and acd.calls["z"].agent_id is None


# -- R-BUSY and R-RING automatic actions ----------------------------------------------------------------
def test_r_busy_overrun_then_automatic_resume_action_by_action():
    acd = make(agents=("1001",), busy=BusyPolicy(limit_s=60, on_overrun="resume"))
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="lunch"), T0)
    drain(acd)
    assert acd.get_timer() == T0 + 60
    assert acd.handle_timer(T0 + 60.25) == [
        Publish("agent.busy_overrun", {"agent": "1001", "reason": "lunch", "paused_s": 60.25, "alert": 1,
                                       "limit_s": 60, "rule": "R-BUSY"}),
        Publish("agent.resumed", {"agent": "1001", "source": "auto", "rule": "R-BUSY"})]
    assert log(acd) == [("1001", 60.25, "busy_overrun", "paused", "lunch"), ("1001", 60.25, "state", "available", "")]
    assert changed(acd) == ["1001"] and acd.get_timer() is None


def test_r_busy_overrun_then_automatic_logout_action_by_action():
    acd = make(agents=("1001", "1002"), busy=BusyPolicy(limit_s=60, on_overrun="logout"))
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="lunch"), T0)
    drain(acd)
    assert acd.handle_timer(T0 + 60) == [
        Publish("agent.busy_overrun", {"agent": "1001", "reason": "lunch", "paused_s": 60, "alert": 1,
                                       "limit_s": 60, "rule": "R-BUSY"}),
        Publish("agent.logged_out", {"agent": "1001", "source": "auto", "rule": "R-BUSY"})]
    assert log(acd) == [("1001", 60, "busy_overrun", "paused", "lunch"), ("1001", 60, "state", "logged_out", "")]
    assert changed(acd) == ["1001"] and acd.get_timer() is None


def test_r_ring_missed_offer_resumes_by_itself_after_the_alert_of_an_earlier_limit():
    """R-RING's automatic resume after a missed offer (``missed_resume_s``) and R-BUSY's limit, whichever
    is first: the overrun alert at the limit (30 s), the resume at 45 s, not a second earlier."""
    acd = make(agents=("1001",), busy=BusyPolicy(limit_s=30, repeat_every_s=600, missed_resume_s=45))
    arrive(acd)
    acd.handle_timer(T0 + 10)
    acd.handle_timer(T0 + 15)  # missed: paused with reason "missed" at T0 + 15
    assert acd.agents["1001"].reason == "missed"
    assert acd.get_timer() == T0 + 40  # not the limit... the position announcement (every 30 s) first
    acd.handle_timer(T0 + 40)
    drain(acd)
    assert acd.get_timer() == T0 + 45  # the R-BUSY limit: 15 + 30
    assert acd.handle_timer(T0 + 45) == [
        Publish("agent.busy_overrun", {"agent": "1001", "reason": "missed", "paused_s": 30, "alert": 1,
                                       "limit_s": 30, "rule": "R-BUSY"})]
    assert acd.get_timer() == T0 + 60  # the resume (15 + 45) before the next alert (15 + 30 + 600)
    assert acd.handle_timer(T0 + 60 - 1e-3) == []
    out = acd.handle_timer(T0 + 60)
    assert out[-3:] == [
        Publish("agent.resumed", {"agent": "1001", "source": "auto", "rule": "R-RING"}),
        Publish("call.offered", {"call_id": "c1", "queue": "support", "agent": "1001", "attempt": 2}),
        Ring(call_id="c1", agent_id="1001", interface="PJSIP/1001", attempt=2, timeout_s=20)]
    assert log(acd) == [("1001", 45, "busy_overrun", "paused", "missed"), ("1001", 60, "state", "available", ""),
                        ("1001", 60, "state", "ringing", "")]


def test_r_busy_missed_pause_without_automatic_resume_only_alerts():
    acd = make(agents=("1001",), busy=BusyPolicy(limit_s=30, repeat_every_s=600))
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="missed"), T0)
    assert acd.get_timer() == T0 + 30
    assert [a.event for a in acd.handle_timer(T0 + 30)] == ["agent.busy_overrun"]
    assert acd.agents["1001"].state == AgentState.PAUSED and acd.get_timer() == T0 + 630


# -- the agent leaves before the bridge; the end of a call (R-HANGUP, R-WRAP) ----------------------------
def test_agent_leaving_before_the_bridge_is_not_a_call_taken_action_by_action():
    acd = make(agents=("1001", "1002"), wrap_up_s=30)
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 3)
    drain(acd)
    assert acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="agent_left"), T0 + 4.5) == [
        Publish("call.agent_left_early", {"call_id": "c1", "queue": "support", "agent": "1001"}),
        Publish("call.offered", {"call_id": "c1", "queue": "support", "agent": "1002", "attempt": 2}),
        Ring(call_id="c1", agent_id="1002", interface="PJSIP/1002", attempt=2, timeout_s=20)]
    assert facts(acd) == [("c1", 4.5, Fact.OFFER_FAILED, "1001", {"reason": "agent_left_before_bridge"}),
                          ("c1", 4.5, Fact.OFFERED, "1002", {"attempt": 2})]
    assert changed(acd) == ["1001", "1002"]
    assert log(acd) == [("1001", 4.5, "state", "wrap_up", ""), ("1002", 4.5, "state", "ringing", "")]
    a = acd.agents["1001"]
    assert (a.calls_taken, a.last_call_end, a.call_id) == (0, 0.0, None)
    # the wait runs on from the arrival; the ring time from the new offer
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1002"), T0 + 6)
    assert out[0] == Publish("call.answered", {"call_id": "c1", "queue": "support", "agent": "1002", "ring_s": 1.5,
                                               "within_ring_target": True, "wait_s": 6, "rule": "R-RING"})
    assert acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 16) == [
        Publish("call.completed", {"call_id": "c1", "queue": "support", "wait_s": 6, "agent": "1002",
                                   "hung_up_first": "caller", "rule": "R-HANGUP", "talk_s": 10, "lost": False})]


def test_an_answer_late_or_from_another_agent_is_published_and_changes_nothing():
    acd = make(agents=("1001", "1002"))
    arrive(acd)
    drain(acd)
    assert acd.handle(OfferAnswered(call_id="c1", agent_id="1002"), T0 + 1) == [
        Publish("call.late_answer", {"call_id": "c1", "agent": "1002"})]
    assert acd.handle(OfferAnswered(call_id="zz", agent_id="1001"), T0 + 1) == [
        Publish("call.late_answer", {"call_id": "zz", "agent": "1001"})]
    assert facts(acd) == [] and changed(acd) == []
    assert acd.agents["1001"].state == AgentState.RINGING and acd.agents["1002"].state == AgentState.AVAILABLE


def test_r_ring_answer_after_the_ring_target_is_outside_it():
    """An answer still inside the originate time-out (20 s) but past the ring target (15 s): the
    ring-target timer had not fired yet (a busy shell)."""
    acd = make(agents=("1001",))
    arrive(acd)
    drain(acd)
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 15.5)
    assert out[0] == Publish("call.answered", {"call_id": "c1", "queue": "support", "agent": "1001",
                                               "ring_s": 15.5, "within_ring_target": False, "wait_s": 15.5,
                                               "rule": "R-RING"})
    assert facts(acd) == [("c1", 15.5, Fact.ANSWERED, "1001", {"ring_s": 15.5, "within_target": False})]
    assert changed(acd) == ["1001"]


def test_r_hangup_caller_hangs_up_during_a_transfer_the_target_is_freed_and_the_call_counted():
    acd = make(agents=("1001", "1002"), wrap_up_s=0)
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 2)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 3)
    acd.handle(TransferRequest(call_id="c1", target="1002"), T0 + 10)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 11)
    acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 14)
    assert acd.agents["1002"].state == AgentState.ON_CALL
    drain(acd)
    assert acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 20) == [
        Publish("call.completed", {"call_id": "c1", "queue": "support", "wait_s": 2, "agent": "1001",
                                   "hung_up_first": "caller", "rule": "R-HANGUP", "talk_s": 17, "lost": False})]
    assert acd.transfers == {} and acd.calls == {}
    for agent_id in ("1001", "1002"):
        a = acd.agents[agent_id]
        assert (a.state, a.call_id, a.calls_taken, a.last_call_end) == (AgentState.AVAILABLE, None, 1, T0 + 20)
    assert changed(acd) == ["1001", "1002"]
    assert facts(acd) == [("c1", 20, Fact.HANGUP, "1001", {"by": "caller"})]


def test_r_hangup_caller_hangs_up_while_waiting_after_a_missed_offer():
    acd = make(agents=("1001",))
    arrive(acd)
    acd.handle_timer(T0 + 10)
    acd.handle_timer(T0 + 15)  # missed: 1001 paused, the call waits
    drain(acd)
    assert acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 21.25) == [
        Publish("call.abandoned", {"call_id": "c1", "queue": "support", "wait_s": 21.25, "by": "caller",
                                   "lost": False})]
    assert facts(acd) == [("c1", 21.25, Fact.HANGUP, None, {"by": "caller"})]
    assert changed(acd) == [] and acd.calls == {}
    assert acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 22) == []  # a second hang-up: nothing


def test_resync_without_a_waiting_call_abandons_it_as_lost():
    acd = make(agents=("1001",))
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 1)
    arrive(acd)
    drain(acd)
    assert acd.handle(Resynced(calls=()), T0 + 7) == [
        Publish("call.abandoned", {"call_id": "c1", "queue": "support", "wait_s": 7, "by": "system", "lost": True})]
    assert facts(acd) == [("c1", 7, Fact.HANGUP, None, {"by": "system"})]


def test_timeline_entries_are_what_drain_facts_returns():
    acd = make(agents=("1001",))
    arrive(acd)
    drained = acd.drain_facts()
    assert drained == [("c1", e) for e in acd.timeline("c1").entries]
    assert drained[0][1] == TimelineEntry(at=T0, fact=Fact.ENTERED_QUEUE, detail={"priority": 0, "queue": "support"})
    assert acd.timeline("nope") is None and acd.position("nope") is None
    assert acd.timeline("c1").call_id == "c1"


def test_r_wrap_an_agent_of_two_queues_wraps_up_for_the_queue_of_the_call_that_ended():
    """Regression (found by mutation testing, issue 7): the wrap-up's end was taken from the agent's first
    queue, so a support call (30 s) by an agent of sales (0 s) and support ended its wrap-up at once."""
    acd = Acd([QueueRules(name="sales", wrap_up_s=0), QueueRules(name="support", wrap_up_s=30),
               QueueRules(name="vip", wrap_up_s=5)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("sales", "support", "vip"))])
    acd.handle(AgentCommand(agent_id="1001", command="login"), T0 - 10)
    for n, (queue, at, wrap_s) in enumerate((("support", T0, 30), ("vip", T0 + 100, 5))):
        acd.handle(CallArrived(call_id=f"c{n}", queue=queue, entered_at=at), at)
        acd.handle(OfferAnswered(call_id=f"c{n}", agent_id="1001"), at + 1)
        acd.handle(CallEnded(call_id=f"c{n}", by="caller"), at + 20)
        assert acd.agents["1001"].state == AgentState.WRAP_UP
        assert acd.get_timer() == at + 20 + wrap_s
        assert acd.handle_timer(at + 20 + wrap_s - 1e-3) == []
        assert acd.agents["1001"].state == AgentState.WRAP_UP
        acd.handle_timer(at + 20 + wrap_s)
        assert acd.agents["1001"].state == AgentState.AVAILABLE
    acd.handle(CallArrived(call_id="s", queue="sales", entered_at=T0 + 200), T0 + 200)
    acd.handle(OfferAnswered(call_id="s", agent_id="1001"), T0 + 201)
    acd.handle(CallEnded(call_id="s", by="caller"), T0 + 220)
    assert acd.agents["1001"].state == AgentState.AVAILABLE  # no wrap-up for sales
    assert acd.agents["1001"].calls_taken == 3 and acd.agents["1001"].last_call_end == T0 + 220


# -- durations are reported to the millisecond (R-KPI's figures are built from these fields) ----------------
def test_durations_of_a_call_with_a_hold_are_reported_to_the_millisecond():
    acd = make(agents=("1001",))
    arrive(acd)
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 4.23456)
    assert out[0].fields["ring_s"] == 4.235 and out[0].fields["wait_s"] == 4.235
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 5.5)
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10.12345)
    assert published(acd.handle_timer(T0 + 20.2), "call.hold_apology")[0]["held_s"] == 10.077  # R-WAIT on hold
    out = acd.handle_timer(T0 + 70.35)
    assert out == [Publish("call.hold_reminder", {"call_id": "c1", "agent": "1001", "held_s": 60.227,
                                                  "rule": "R-HOLD"}),
                   RemindAgent(call_id="c1", held_s=60.227)]
    out = acd.handle(HoldRequest(call_id="c1", on=False), T0 + 80.4)
    assert out[0] == Publish("call.unhold", {"call_id": "c1", "agent": "1001", "source": "key", "rule": "R-HOLD",
                                             "held_s": 70.277})
    assert [e.detail for e in acd.timeline("c1").entries if e.fact == Fact.UNHOLD] == [{"held_s": 70.277}]
    assert acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 90.987654) == [
        Publish("call.completed", {"call_id": "c1", "queue": "support", "wait_s": 4.235, "agent": "1001",
                                   "hung_up_first": "caller", "rule": "R-HANGUP", "talk_s": 85.488, "lost": False,
                                   "hold_s": 70.277})]


def test_durations_of_waits_misses_pauses_and_diverts_are_reported_to_the_millisecond():
    acd = make(agents=("1001",), busy=BusyPolicy(limit_s=60, repeat_every_s=600))
    arrive(acd)
    assert published(acd.handle_timer(T0 + 10.4321), "call.announced")[0]["wait_s"] == 10.432
    out = acd.handle_timer(T0 + 15.6789)
    assert published(out, "call.offer_missed")[0]["ring_s"] == 15.679
    assert [e.detail for e in acd.timeline("c1").entries if e.fact == Fact.OFFER_FAILED] == [
        {"reason": "ring_target", "ring_s": 15.679, "unreachable": False}]
    out = acd.handle_timer(T0 + 76.01234)
    assert published(out, "agent.busy_overrun")[0]["paused_s"] == 60.333
    assert published(out, "call.announced")[0]["wait_s"] == 76.012
    acd.handle_timer(T0 + 120)  # the voicemail offer
    assert published(acd.handle(CallerKey(call_id="c1", digit="1"), T0 + 121.98765), "call.diverted") == [
        {"call_id": "c1", "queue": "support", "reason": "voicemail", "destination": "callcenter-voicemail,s,1",
         "wait_s": 121.988, "rule": "R-WAITLIMIT"}]


def test_r_cb_keep_place_durations_are_reported_to_the_millisecond():
    acd = make(agents=("1001",), keep_place_key="2")
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 1)
    arrive(acd)
    assert published(acd.handle(CallerKey(call_id="c1", digit="2"), T0 + 11.23456), "call.keep_place")[0][
        "wait_s"] == 11.235
    out = acd.handle(AgentCommand(agent_id="1001", command="resume"), T0 + 20.98765)
    assert published(out, "call.place_reached")[0]["wait_s"] == 20.988


# -- several things due in one event or one timer -------------------------------------------------------
def test_r_ring_two_offers_passing_the_ring_target_at_once_are_both_withdrawn():
    acd = make(agents=("1001", "1002", "1003"))
    acd.handle(AgentCommand(agent_id="1003", command="pause"), T0 - 1)
    arrive(acd, "c1")
    arrive(acd, "c2")
    acd.handle_timer(T0 + 10)
    acd.handle(AgentCommand(agent_id="1003", command="resume"), T0 + 14)  # nobody waiting: stays free
    missed = {"queue": "support", "ring_s": 15, "reason": "ring_target", "rule": "R-RING"}
    assert acd.handle_timer(T0 + 15) == [
        StopRinging(call_id="c1", agent_id="1001", attempt=1),
        Publish("call.offer_missed", {"call_id": "c1", "agent": "1001", **missed}),
        Publish("agent.paused", {"agent": "1001", "reason": "missed", "rule": "R-RING"}),
        StopRinging(call_id="c2", agent_id="1002", attempt=1),
        Publish("call.offer_missed", {"call_id": "c2", "agent": "1002", **missed}),
        Publish("agent.paused", {"agent": "1002", "reason": "missed", "rule": "R-RING"}),
        Publish("call.offered", {"call_id": "c1", "queue": "support", "agent": "1003", "attempt": 2}),
        Ring(call_id="c1", agent_id="1003", interface="PJSIP/1003", attempt=2, timeout_s=20)]


def test_r_busy_two_pauses_passing_their_limit_at_once_both_alert():
    acd = make(agents=("1001", "1002"), busy=BusyPolicy(limit_s=60, limits={"lunch": 1800}))
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0)
    acd.handle(AgentCommand(agent_id="1002", command="pause", reason="lunch"), T0 - 1740)
    overrun = {"paused_s": 60, "alert": 1, "rule": "R-BUSY"}
    assert acd.handle_timer(T0 + 60) == [
        Publish("agent.busy_overrun", {"agent": "1001", "reason": "break", **overrun, "limit_s": 60}),
        Publish("agent.busy_overrun", {"agent": "1002", "reason": "lunch", **{**overrun, "paused_s": 1800},
                                       "limit_s": 1800})]


def test_r_cb_one_pass_rings_a_caller_and_gives_a_kept_place_its_turn():
    """Two agents free at once (their wrap-ups end): the caller in front rings one, the kept place behind it
    gets the other, the next caller waits."""
    acd = make(agents=("1001", "1002", "1003"), keep_place_key="2", wrap_up_s=5)
    acd.handle(AgentCommand(agent_id="1003", command="pause"), T0 - 60)
    for n in (1, 2):
        arrive(acd, f"b{n}", T0 - 50)
        acd.handle(OfferAnswered(call_id=f"b{n}", agent_id=f"100{n}"), T0 - 49)
    arrive(acd, "w", T0 - 3)
    arrive(acd, "k", T0 - 2)
    acd.handle(CallerKey(call_id="k", digit="2"), T0 - 1)
    arrive(acd, "w2", T0 - 0.5)
    for n in (1, 2):
        acd.handle(CallEnded(call_id=f"b{n}", by="caller"), T0)
    assert acd.get_timer() == T0 + 5
    assert acd.handle_timer(T0 + 5) == [
        Publish("call.offered", {"call_id": "w", "queue": "support", "agent": "1001", "attempt": 1}),
        Ring(call_id="w", agent_id="1001", interface="PJSIP/1001", attempt=1, timeout_s=20),
        Publish("call.place_reached", {"call_id": "k", "queue": "support", "agent": "1002", "wait_s": 7,
                                       "rule": "R-CB"}),
        PlaceReached(call_id="k", queue="support", agent_id="1002")]
    # and the other way round: the kept place in front, then a caller
    acd = make(agents=("1001", "1002"), keep_place_key="2", wrap_up_s=5)
    for n in (1, 2):
        arrive(acd, f"b{n}", T0 - 50)
        acd.handle(OfferAnswered(call_id=f"b{n}", agent_id=f"100{n}"), T0 - 49)
    arrive(acd, "k", T0 - 3)
    acd.handle(CallerKey(call_id="k", digit="2"), T0 - 2)
    arrive(acd, "w", T0 - 1)
    for n in (1, 2):
        acd.handle(CallEnded(call_id=f"b{n}", by="caller"), T0)
    assert acd.handle_timer(T0 + 5) == [
        Publish("call.place_reached", {"call_id": "k", "queue": "support", "agent": "1001", "wait_s": 8,
                                       "rule": "R-CB"}),
        PlaceReached(call_id="k", queue="support", agent_id="1001"),
        Publish("call.offered", {"call_id": "w", "queue": "support", "agent": "1002", "attempt": 1}),
        Ring(call_id="w", agent_id="1002", interface="PJSIP/1002", attempt=1, timeout_s=20)]


def test_r_ring_a_queue_out_of_free_agents_does_not_stop_the_offers_of_another_queue_in_the_same_pass():
    acd = Acd([QueueRules(name="a", wrap_up_s=5), QueueRules(name="b", wrap_up_s=5)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("a",)),
               Agent(agent_id="1002", interface="PJSIP/1002", queues=("b",))])
    for agent_id, queue in (("1001", "a"), ("1002", "b")):
        acd.handle(AgentCommand(agent_id=agent_id, command="login"), T0 - 100)
        acd.handle(CallArrived(call_id=f"busy-{queue}", queue=queue, entered_at=T0 - 50), T0 - 50)
        acd.handle(OfferAnswered(call_id=f"busy-{queue}", agent_id=agent_id), T0 - 49)
        acd.handle(CallEnded(call_id=f"busy-{queue}", by="caller"), T0)
    for n, (call_id, queue) in enumerate((("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"))):
        acd.handle(CallArrived(call_id=call_id, queue=queue, entered_at=T0 + n / 10), T0 + n / 10)
    out = acd.handle_timer(T0 + 5)  # both wrap-ups end: one pass offers both queues
    assert [(r.call_id, r.agent_id) for r in out if isinstance(r, Ring)] == [("a1", "1001"), ("b1", "1002")]


def test_r_ring_round_robin_takes_the_next_agent_in_id_order_not_the_longest_idle():
    acd = make(strategy="round_robin", agents=("1001", "1002", "1003"))
    arrive(acd, "c0")  # 1001 (the first in ID order)
    acd.handle(CallEnded(call_id="c0", by="caller"), T0 + 1)
    acd.handle(AgentCommand(agent_id="1002", command="pause"), T0 + 2)
    acd.handle(AgentCommand(agent_id="1002", command="resume"), T0 + 3)  # 1003 is now the longest idle
    [ring] = [a for a in arrive(acd, "c1", T0 + 4) if isinstance(a, Ring)]
    assert ring.agent_id == "1002"
    longest = make(agents=("1001", "1002", "1003"))
    arrive(longest, "c0")
    longest.handle(CallEnded(call_id="c0", by="caller"), T0 + 1)
    longest.handle(AgentCommand(agent_id="1002", command="pause"), T0 + 2)
    longest.handle(AgentCommand(agent_id="1002", command="resume"), T0 + 3)
    assert [a.agent_id for a in arrive(longest, "c1", T0 + 4) if isinstance(a, Ring)] == ["1003"]


# -- transfers (R-XFER-CONSENT, R-XFER-CONFIRM, R-XFER-NAME): the paths test_acd_transfer has no whole list of ----
def xfer_center():
    """c1 in support talks to 1001; 1002 is an agent of a queue also called "1002"."""
    acd = Acd([QueueRules(name=q, ring_target_s=15, originate_timeout_s=20) for q in ("support", "1002")],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",)),
               Agent(agent_id="1002", interface="PJSIP/1002", queues=("1002",))])
    for a in ("1001", "1002"):
        acd.handle(AgentCommand(agent_id=a, command="login"), T0 - 100)
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 2)
    drain(acd)
    return acd


XF = {"call_id": "c1", "transfer_id": "c1~x1", "agent": "1001"}


def test_r_xfer_queue_prefix_picks_the_queue_of_an_agents_name_and_waits_at_its_head():
    acd = xfer_center()
    acd.handle(AgentCommand(agent_id="1002", command="pause"), T0 + 2.5)  # the queue's only agent
    assert acd.handle(TransferRequest(call_id="c1", target="queue:1002", request_id="a"), T0 + 3) == [
        Publish("transfer.requested", {**XF, "target": "1002", "kind": "queue", "source": "api",
                                       "rule": "R-XFER-CONSENT"}),
        TransferResult(request_id="a", call_id="c1", ok=True, transfer_id="c1~x1", state="requested"),
        HoldForTransfer(call_id="c1", transfer_id="c1~x1")]
    assert acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4) == [
        Publish("transfer.completed", {**XF, "target": "1002", "state": "completed", "rule": "R-XFER-CONFIRM"}),
        EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="to_queue")]
    assert facts(acd) == [
        ("c1", 3, Fact.TRANSFER, "1001", {"state": "requested", "target": "1002", "kind": "queue"}),
        ("c1", 4, Fact.TRANSFER, "1001", {"state": "completed", "reason": "", "target_agent": None})]
    assert log(acd) == [("1002", 2.5, "state", "paused", "break"), ("1001", 4, "state", "wrap_up", ""),
                        ("1001", 4, "state", "available", "")]
    call = acd.calls["c1"]
    assert (call.queue, call.head, call.agent_id, call.answered_at, call.bridged_at) == ("1002", True, None, None,
                                                                                        None)
    # in line anew: no apology (it had one), the first position announcement 40 s after the transfer
    assert acd.get_timer() == T0 + 44
    out = acd.handle_timer(T0 + 44)
    assert published(out, "call.announced") == [{"call_id": "c1", "queue": "1002", "purpose": "position",
                                                  "wait_s": 44, "rule": "R-WAITLIMIT"}]
    # without the prefix, "1002" is the agent
    acd = xfer_center()
    out = acd.handle(TransferRequest(call_id="c1", target="1002"), T0 + 3)
    assert out[0].fields["kind"] == "agent"


def test_r_xfer_confirm_an_extension_consulted_then_failing_with_its_reason_action_by_action():
    acd = xfer_center()
    assert acd.handle(TransferRequest(call_id="c1", target="4321", source="dtmf", request_id="b"), T0 + 3)[0] == \
        Publish("transfer.requested", {**XF, "target": "4321", "kind": "extension", "source": "dtmf",
                                       "rule": "R-XFER-CONSENT"})
    assert acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4) == [
        Publish("transfer.target_ringing", {**XF, "target": "4321", "state": "target_ringing",
                                            "rule": "R-XFER-CONFIRM"}),
        DialTarget(call_id="c1", transfer_id="c1~x1", interface="PJSIP/4321", timeout_s=20)]
    assert acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 6) == [
        Publish("transfer.consulting", {**XF, "target": "4321", "state": "consulting", "rule": "R-XFER-CONFIRM"}),
        Consult(call_id="c1", transfer_id="c1~x1")]
    assert acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 6.5) == [
        Publish("transfer.event_ignored", {"call_id": "c1", "event": "target_answered", "state": "consulting"})]
    assert acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_HANGUP, reason="busy"), T0 + 7) == [
        Publish("transfer.target_failed", {**XF, "target": "4321", "state": "target_failed", "reason": "busy",
                                           "rule": "R-XFER-CONFIRM"}),
        EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="target_failed", prompts=("hold-sorry",))]
    assert [f[1:] for f in facts(acd)] == [
        (3, Fact.TRANSFER, "1001", {"state": "requested", "target": "4321", "kind": "extension"}),
        (4, Fact.TRANSFER, "1001", {"state": "target_ringing", "reason": ""}),
        (6, Fact.TRANSFER, "1001", {"state": "consulting", "reason": ""}),
        (7, Fact.TRANSFER, "1001", {"state": "target_failed", "reason": "busy"})]
    assert acd.calls["c1"].agent_id == "1001" and acd.transfers == {}


def test_r_xfer_confirm_a_phone_refer_completes_at_the_answer_action_by_action():
    acd = xfer_center()
    acd.handle(TransferRequest(call_id="c1", target="1002", source="refer"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    drain(acd)
    target = {**XF, "target": "1002", "rule": "R-XFER-CONFIRM"}
    assert acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 6) == [
        Publish("transfer.consulting", {**target, "state": "consulting"}),
        Publish("transfer.completed", {**target, "state": "completed"}),
        Consult(call_id="c1", transfer_id="c1~x1"),
        EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="completed",
                    prompts=("xfer-connected-to", "agent-id-prefix", "digit-1", "digit-0", "digit-0", "digit-2",
                             "xfer-sorry-wait"))]
    assert facts(acd) == [("c1", 6, Fact.TRANSFER, "1001", {"state": "consulting"}),
                          ("c1", 6, Fact.TRANSFER, "1001", {"state": "completed", "reason": "",
                                                            "target_agent": "1002"})]
    assert log(acd) == [("1001", 6, "state", "wrap_up", ""), ("1001", 6, "state", "available", ""),
                        ("1002", 6, "state", "on_call", "")]
    assert acd.handle(CallEnded(call_id="c1", by="agent"), T0 + 30) == [
        Publish("call.completed", {"call_id": "c1", "queue": "support", "wait_s": 1, "agent": "1002",
                                   "hung_up_first": "agent", "rule": "R-HANGUP", "talk_s": 28, "lost": False})]


def test_r_xfer_the_caller_hanging_up_during_the_consultation_action_by_action():
    acd = xfer_center()
    acd.handle(TransferRequest(call_id="c1", target="1002"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 6)
    drain(acd)
    assert acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HANGUP), T0 + 9) == [
        Publish("transfer.abandoned", {**XF, "target": "1002", "state": "abandoned", "rule": "R-XFER-CONFIRM"}),
        EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="abandoned"),
        Publish("call.completed", {"call_id": "c1", "queue": "support", "wait_s": 1, "agent": "1001",
                                   "hung_up_first": "caller", "rule": "R-HANGUP", "talk_s": 7, "lost": False})]
    assert facts(acd) == [("c1", 9, Fact.TRANSFER, "1001", {"state": "abandoned", "reason": ""}),
                          ("c1", 9, Fact.HANGUP, "1001", {"by": "caller"})]
    assert log(acd) == [("1001", 9, "state", "wrap_up", ""), ("1001", 9, "state", "available", ""),
                        ("1002", 9, "state", "wrap_up", ""), ("1002", 9, "state", "available", "")]


def test_r_xfer_requests_on_a_call_not_yet_connected_are_refused():
    acd = make(agents=("1001", "1002"))
    arrive(acd)  # ringing 1001
    assert acd.handle(TransferRequest(call_id="c1", target="1002", request_id="t"), T0 + 1) == [
        Publish("transfer.refused", {"call_id": "c1", "target": "1002", "source": "api",
                                     "reason": "the call is not connected to an agent"}),
        TransferResult(request_id="t", call_id="c1", ok=False, message="the call is not connected to an agent")]
    assert acd.handle(HoldRequest(call_id="c1", on=True, request_id="h"), T0 + 1) == [
        CommandResult(request_id="h", agent_id="1001", ok=False, message="the call is not connected to an agent")]
    assert acd.handle(SilentRequest(call_id="c1"), T0 + 1) == []
    assert acd.handle(SilentRequest(call_id="nope"), T0 + 1) == []
    assert acd.transfers == {} and acd.calls["c1"].hold is None and acd.calls["c1"].silent is None


# -- events for calls that are not (or no longer) there, and R-SILENT / R-HOLD in the timer ------------------
def test_bridge_and_talk_detection_for_an_unknown_call_or_twice_change_nothing():
    acd = make(agents=("1001",))
    assert acd.handle(CallBridged(call_id="nope", agent_id="1001"), T0) == []
    assert acd.handle(CallerSpoke(call_id="nope"), T0) == []
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallBridged(call_id="c1", agent_id="1001", greeted=False), T0 + 2)
    assert acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 5) == []  # a repeated event
    assert acd.handle(CallerSpoke(call_id="c1"), T0 + 6) == []  # no silent script running
    assert [(e.at - T0, e.detail) for e in acd.timeline("c1").entries if e.fact == Fact.BRIDGED] == [
        (2, {"greeted": False})]
    assert acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 12)[0].fields["talk_s"] == 10


def test_r_silent_the_caller_speaking_stops_the_script_action_by_action():
    acd = make(agents=("1001",))
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 2)
    acd.handle(SilentRequest(call_id="c1"), T0 + 3)
    assert acd.handle(CallerSpoke(call_id="c1"), T0 + 4) == [
        Publish("call.silent_stopped", {"call_id": "c1", "agent": "1001", "step": 1, "cause": "speech",
                                                "rule": "R-SILENT"}),
        StopSilent(call_id="c1")]  # the prompt playing stops too
    assert acd.calls["c1"].silent is None and acd.get_timer() is None


def test_r_silent_two_scripts_ending_in_one_timer_both_end_and_leave_no_timer():
    acd = make(agents=("1001", "1002"))
    arrive(acd, "c1")
    arrive(acd, "c2")
    for call_id, agent_id in (("c1", "1001"), ("c2", "1002")):
        acd.handle(OfferAnswered(call_id=call_id, agent_id=agent_id), T0 + 1)
        acd.handle(CallBridged(call_id=call_id, agent_id=agent_id), T0 + 2)
        acd.handle(SilentRequest(call_id=call_id), T0 + 3)
        acd.handle(SilentPromptDone(call_id=call_id, step=1), T0 + 4)
    assert acd.handle_timer(T0 + 9) == [PlayToCall(call_id="c1", prompt="silent-bye", step=2),
                                        PlayToCall(call_id="c2", prompt="silent-bye", step=2)]
    for call_id in ("c1", "c2"):
        acd.handle(SilentPromptDone(call_id=call_id, step=2), T0 + 10)
    assert acd.handle_timer(T0 + 15) == [
        Publish("call.silent", {"call_id": "c1", "queue": "support", "agent": "1001", "rule": "R-SILENT"}),
        EndSilent(call_id="c1"),
        Publish("call.silent", {"call_id": "c2", "queue": "support", "agent": "1002", "rule": "R-SILENT"}),
        EndSilent(call_id="c2")]
    assert acd.get_timer() is None


def test_r_hold_reminders_come_once_a_minute_not_at_every_timer():
    acd = make(agents=("1001",), hold_remind_s=60)
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 2)
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    reminders = []
    for t in (70, 71, 129, 130, 131, 189, 190):
        reminders += [(t, a.held_s) for a in acd.handle_timer(T0 + t) if isinstance(a, RemindAgent)]
    assert reminders == [(70, 60), (130, 120), (190, 180)]


def test_r_xfer_confirm_two_transfers_timing_out_in_one_timer_both_fail_back():
    acd = make(agents=("1001", "1002", "1003", "1004"))
    for call_id, agent_id, target in (("c1", "1001", "1003"), ("c2", "1002", "1004")):
        arrive(acd, call_id)
        acd.handle(OfferAnswered(call_id=call_id, agent_id=agent_id), T0 + 1)
        acd.handle(CallBridged(call_id=call_id, agent_id=agent_id), T0 + 2)
        acd.handle(TransferRequest(call_id=call_id, target=target), T0 + 3)
        acd.handle(TransferUpdate(call_id=call_id, event=E.CALLER_HELD), T0 + 4)
    out = acd.handle_timer(T0 + 19)
    assert [a for a in out if isinstance(a, EndTransfer)] == [
        EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="target_failed", prompts=("hold-sorry",)),
        EndTransfer(call_id="c2", transfer_id="c2~x2", outcome="target_failed", prompts=("hold-sorry",))]
    assert acd.transfers == {}


# -- arrivals, diverts and announcements: the fields and facts --------------------------------------------
def test_a_call_for_an_unknown_queue_is_published_and_not_held():
    acd = make()
    assert acd.handle(CallArrived(call_id="c9", queue="nope", entered_at=T0), T0) == [
        Publish("call.unknown_queue", {"call_id": "c9", "queue": "nope"})]
    assert acd.calls == {} and acd.drain_facts() == []


def test_r_waitlimit_max_callers_counts_the_callers_already_in_line():
    acd = make(agents=("1001",), max_callers=2)
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 1)
    for call_id in ("c1", "c2"):
        assert [a.event for a in arrive(acd, call_id)] == ["call.queued"]
    assert [a.event for a in arrive(acd, "c3") if isinstance(a, Publish)] == ["call.diverted"]


def test_r_waitlimit_a_resynced_call_gets_the_voicemail_offer_only_if_not_yet_due():
    acd = make(agents=("1001",), wait=WaitRules(apology_s=10, announce_every_s=1000, max_wait_s=120))
    acd.handle(AgentCommand(agent_id="1001", command="pause"), T0 - 200)
    acd.handle(Resynced(calls=(CallArrived(call_id="due", queue="support", entered_at=T0 - 120, resynced=True),
                               CallArrived(call_id="soon", queue="support", entered_at=T0 - 119, resynced=True))),
               T0)
    assert acd.get_timer() == T0 + 1
    out = acd.handle_timer(T0 + 1)
    assert [(a.call_id, a.purpose) for a in out if isinstance(a, Announce)] == [("soon", "voicemail_offer")]
    assert [e.detail for e in acd.timeline("soon").entries if e.fact == Fact.PROMPT_PLAYED] == [
        {"prompt": "voicemail_offer"}]
    assert acd.timeline("due").entries[-1].fact == Fact.RESYNCED  # nothing replayed for "due"


def test_r_waitlimit_voicemail_while_ringing_frees_the_agent_at_that_time_with_its_facts():
    acd = Acd([QueueRules(name="support", ring_target_s=300, originate_timeout_s=300)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",))])
    acd.handle(AgentCommand(agent_id="1001", command="login"), T0 - 10)
    arrive(acd)
    acd.handle_timer(T0 + 120)
    drain(acd)
    acd.handle(CallerKey(call_id="c1", digit="1"), T0 + 121)
    assert facts(acd) == [("c1", 121, Fact.DIVERTED, None, {"reason": "voicemail",
                                                            "destination": "callcenter-voicemail,s,1"})]
    assert log(acd) == [("1001", 121, "state", "available", "")]


def test_r_waitlimit_position_estimate_uses_the_handle_times_of_the_queue():
    """Two calls handled (10 s, then 60 s): 0.8 x 10 + 0.2 x 60 = 20 s per round; one agent serving, the
    caller is second: 40 s, "less than a minute"; with the default (120 s) it would be 4 minutes."""
    acd = make(agents=("1001",))
    for n, at, talk in ((1, T0 - 90, 10), (2, T0 - 70, 60)):
        arrive(acd, f"h{n}", at)
        acd.handle(OfferAnswered(call_id=f"h{n}", agent_id="1001"), at)
        acd.handle(CallEnded(call_id=f"h{n}", by="caller"), at + talk)
    arrive(acd, "busy", T0 - 5)
    acd.handle(OfferAnswered(call_id="busy", agent_id="1001"), T0 - 4)
    arrive(acd, "a", T0 - 1)
    arrive(acd, "b", T0)
    acd.handle_timer(T0 + 10)
    drain(acd)
    out = acd.handle_timer(T0 + 40)
    assert [a.prompts for a in out if isinstance(a, Announce) and a.call_id == "b"] == [
        ("position-prefix", "digit-2", "position-suffix", "wait-less-than-minute")]
    assert facts(acd) == [("a", 40, Fact.PROMPT_PLAYED, None, {"prompt": "position"}),
                          ("b", 40, Fact.PROMPT_PLAYED, None, {"prompt": "position"})]


def test_r_greet_off_connects_without_greeting_or_whisper():
    acd = make(agents=("1001",), greeting=False)
    arrive(acd)
    assert acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 2)[1] == Connect(call_id="c1",
                                                                                          agent_id="1001")


# -- restored calls and agents after a restart ------------------------------------------------------------
def test_a_restored_call_is_connected_can_be_held_and_transferred_to_a_queue_with_its_priority():
    acd = make(agents=("1001", "1002"))
    acd.handle(AgentCommand(agent_id="1002", command="pause"), T0 - 5)
    drain(acd)
    assert acd.handle(CallRestored(call_id="r1", queue="support", priority=3, entered_at=T0 - 60, agent_id="1001",
                                   answered_at=T0 - 50), T0) == []
    assert facts(acd) == [("r1", 0, Fact.RESYNCED, "1001", {"state": "connected", "queue": "support",
                                                           "entered_at": T0 - 60})]
    assert log(acd) == [("1001", 0, "state", "on_call", "")] and changed(acd) == ["1001"]
    assert acd.handle(HoldRequest(call_id="r1", on=True, request_id="h"), T0 + 1)[-1] == CommandResult(
        request_id="h", agent_id="1001", ok=True)
    acd.handle(HoldRequest(call_id="r1", on=False), T0 + 2)
    arrive(acd, "low", T0 + 3)  # priority 0, waiting (1002 paused, 1001 talking)
    acd.handle(TransferRequest(call_id="r1", target="queue:support"), T0 + 4)
    acd.handle(TransferUpdate(call_id="r1", event=E.CALLER_HELD), T0 + 5)
    assert [acd.position(c) for c in ("r1", "low")] == [1, 2]  # at the head, ahead of "low"
    assert acd.calls["r1"].priority == 3


def test_resync_frees_unreachable_agents_for_the_store_and_keeps_every_kept_place():
    acd = make(agents=("1001", "1002"), keep_place_key="2")
    acd.handle(AgentCommand(agent_id="1002", command="pause"), T0 - 5)
    arrive(acd, "c1")  # rings 1001, which cannot be rung
    acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="originate_failed", unreachable=True), T0 + 1)
    acd.handle(CallerKey(call_id="c1", digit="2"), T0 + 2)  # kept, in front
    arrive(acd, "gone", T0 + 3)  # Asterisk no longer has this one
    drain(acd)
    out = acd.handle(Resynced(calls=()), T0 + 9)
    assert out == [
        Publish("agent.reachable", {"agent": "1001", "source": "resync", "rule": "R-RING"}),
        Publish("call.abandoned", {"call_id": "gone", "queue": "support", "wait_s": 6, "by": "system", "lost": True}),
        Publish("call.place_reached", {"call_id": "c1", "queue": "support", "agent": "1001", "wait_s": 9,
                                       "rule": "R-CB"}),
        PlaceReached(call_id="c1", queue="support", agent_id="1001")]
    assert changed(acd) == ["1001"]


def test_r_wrap_an_agent_restored_in_wrap_up_ends_it_by_its_first_queue_or_at_once_for_an_unknown_queue():
    acd = Acd([QueueRules(name="support", wrap_up_s=30)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",), state=AgentState.WRAP_UP,
                     since=T0),
               Agent(agent_id="1002", interface="PJSIP/1002", queues=("closed-down",), state=AgentState.WRAP_UP,
                     since=T0 + 1),
               Agent(agent_id="1003", interface="PJSIP/1003", queues=(), state=AgentState.WRAP_UP, since=T0 + 2)])
    assert acd.get_timer() == T0 + 1  # 1002's queue is no longer configured: no wrap-up
    acd.handle_timer(T0 + 1)
    assert acd.agents["1002"].state == AgentState.AVAILABLE
    assert acd.get_timer() == T0 + 2  # 1003 has no queue (left them all): no wrap-up
    acd.handle_timer(T0 + 2)
    assert acd.agents["1003"].state == AgentState.AVAILABLE
    assert acd.get_timer() == T0 + 30
    acd.handle_timer(T0 + 30)
    assert acd.agents["1001"].state == AgentState.AVAILABLE


def test_r_wrap_a_one_second_wrap_up_is_kept():
    acd = make(agents=("1001",), wrap_up_s=1)
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 10)
    assert acd.agents["1001"].state == AgentState.WRAP_UP and acd.get_timer() == T0 + 11


def test_r_ring_a_one_second_automatic_resume_after_a_missed_offer():
    acd = make(agents=("1001",), busy=BusyPolicy(missed_resume_s=1))
    arrive(acd)
    acd.handle_timer(T0 + 10)
    acd.handle_timer(T0 + 15)
    assert acd.get_timer() == T0 + 16
    assert [a.event for a in acd.handle_timer(T0 + 16) if isinstance(a, Publish)][:1] == ["agent.resumed"]


def test_r_ring_an_agent_logging_out_while_rung_the_offer_ends_at_the_ring_target_without_a_miss():
    acd = make(agents=("1001", "1002"))
    acd.handle(AgentCommand(agent_id="1002", command="pause"), T0 - 5)
    arrive(acd)
    acd.handle(AgentCommand(agent_id="1001", command="logout"), T0 + 2)
    drain(acd)
    acd.handle_timer(T0 + 10)
    assert acd.handle_timer(T0 + 15) == [StopRinging(call_id="c1", agent_id="1001", attempt=1)]
    assert facts(acd)[-1] == ("c1", 15, Fact.OFFER_FAILED, "1001", {"reason": "ring_target", "ring_s": 15,
                                                                    "unreachable": False})
    assert acd.agents["1001"].state == AgentState.LOGGED_OUT and log(acd) == []
    assert acd.calls["c1"].state.value == "waiting" and acd.calls["c1"].agent_id is None


# -- R-LOGIN: phones and PINs -------------------------------------------------------------------------------
def test_r_login_a_phone_login_replaces_the_agent_there_at_that_time_but_not_one_on_a_call():
    acd = make(agents=("1001", "1002", "1003"))
    drain(acd)
    acd.handle(LoginAttempt(agent_id="1002", interface="PJSIP/1001", pin_ok=True), T0 + 5)
    assert log(acd) == [("1001", 5, "state", "logged_out", "")]
    arrive(acd, "c1", T0 + 6)
    assert acd.calls["c1"].agent_id == "1002"  # now at PJSIP/1001
    acd.handle(OfferAnswered(call_id="c1", agent_id="1002"), T0 + 7)
    drain(acd)
    assert acd.handle(AgentCommand(agent_id="1003", command="login", interface="PJSIP/1001"), T0 + 8) == [
        Publish("agent.moved", {"agent": "1003", "from": "PJSIP/1003", "to": "PJSIP/1001", "rule": "R-LOGIN"}),
        Publish("agent.logged_in", {"agent": "1003", "source": "api", "interface": "PJSIP/1001", "rule": "R-LOGIN"}),
        CommandResult(request_id=None, agent_id="1003", ok=True)]
    assert (acd.agents["1002"].state, acd.agents["1002"].interface) == (AgentState.ON_CALL, "")  # keeps its call
    assert changed(acd) == ["1002", "1003"] and log(acd) == []


def test_r_login_refused_while_on_a_call_and_locked_after_three_wrong_pins_action_by_action():
    acd = make(agents=("1001",))
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    assert acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/7", pin_ok=True, request_id="l1"), T0 + 2) == [
        LoginResult(request_id="l1", agent_id="1001", outcome="failed"),
        Publish("agent.login_refused", {"agent": "1001", "state": "on_call"})]
    acd = make(agents=("1001",), login=False)
    for i in range(2):
        acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/7", pin_ok=False), T0 + i)
    assert acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/7", pin_ok=False, request_id="l3"), T0 + 2) == [
        Publish("agent.login_locked", {"agent": "1001", "interface": "PJSIP/7", "lock_s": 600, "rule": "R-LOGIN"}),
        LoginResult(request_id="l3", agent_id="1001", outcome="locked")]
    drain(acd)
    out = acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/7", pin_ok=True, request_id="l4"), T0 + 602.5)
    assert out == [Publish("agent.logged_in", {"agent": "1001", "source": "phone", "interface": "PJSIP/7",
                                               "rule": "R-LOGIN"}),
                   LoginResult(request_id="l4", agent_id="1001", outcome="ok")]
    assert log(acd) == [("1001", 602.5, "state", "available", "")]


# -- transfers: the agents' times and what follows --------------------------------------------------------
def test_r_xfer_an_extension_transfer_completed_hands_the_caller_over_without_an_agent_id():
    acd = xfer_center()
    acd.handle(TransferRequest(call_id="c1", target="4321"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 6)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.AGENT_HANGUP), T0 + 8)
    assert out[1] == EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="completed", prompts=("xfer-sorry-wait",))
    assert acd.calls["c1"].agent_id is None and acd.agents["1001"].state == AgentState.AVAILABLE


def test_r_xfer_the_target_is_freed_at_the_cancel_and_a_requeued_caller_waits_anew():
    acd = xfer_center()
    acd.handle(TransferRequest(call_id="c1", target="1002"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 6)
    drain(acd)
    acd.handle(TransferCommand(call_id="c1", command="cancel"), T0 + 9)
    assert log(acd) == [("1002", 9, "state", "wrap_up", ""), ("1002", 9, "state", "available", "")]
    acd = xfer_center()
    acd.handle(TransferRequest(call_id="c1", target="1002"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    drain(acd)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_HANGUP), T0 + 7)  # the target declined
    assert out[1] == EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="target_failed", prompts=("hold-sorry",))
    assert log(acd) == [("1002", 7, "state", "available", "")]
    acd = xfer_center()
    acd.handle(TransferRequest(call_id="c1", target="1002"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    drain(acd)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.AGENT_HANGUP), T0 + 6)  # the target still rings
    assert out[1] == EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="requeued")
    assert log(acd) == [("1001", 6, "state", "wrap_up", ""), ("1001", 6, "state", "available", ""),
                        ("1001", 6, "state", "ringing", ""), ("1002", 6, "state", "available", "")]
    acd = xfer_center()
    acd.handle(AgentCommand(agent_id="1002", command="logout"), T0 + 2.5)
    acd.handle(TransferRequest(call_id="c1", target="4321"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    drain(acd)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.AGENT_HANGUP), T0 + 7)  # before the target answered
    assert out[1] == EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="requeued")
    assert log(acd) == [("1001", 7, "state", "wrap_up", ""), ("1001", 7, "state", "available", ""),
                        ("1001", 7, "state", "ringing", "")]  # back in line, offered to the only free agent
    acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="no_answer"), T0 + 8)
    assert acd.get_timer() == T0 + 47  # no apology again: the first position announcement, 40 s after


def test_resync_rebuilding_a_call_in_a_transfer_ends_the_transfer_and_frees_its_target():
    """Regression (found by mutation testing, issue 7): a call rebuilt from the snapshot (here bridged to
    another agent after the restart) kept its transfer: the target stayed "ringing" for a call it no longer
    had, and at the transfer's ring target the caller got an EndTransfer with the "sorry" prompt."""
    acd = make(agents=("1001", "1002", "1003"))
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 2)
    acd.handle(TransferRequest(call_id="c1", target="1002"), T0 + 3)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 4)
    drain(acd)
    assert acd.handle(Resynced(calls=(CallRestored(call_id="c1", queue="support", entered_at=T0, agent_id="1003",
                                                   answered_at=T0 + 1),)), T0 + 5) == []
    assert acd.transfers == {} and acd.get_timer() is None
    assert log(acd) == [("1001", 5, "state", "available", ""), ("1002", 5, "state", "available", ""),
                        ("1003", 5, "state", "on_call", "")]
    assert changed(acd) == ["1001", "1002", "1003"]
    assert acd.handle_timer(T0 + 19) == []
    assert [r.agent_id for r in arrive(acd, "c2", T0 + 20) if isinstance(r, Ring)] == ["1001"]
