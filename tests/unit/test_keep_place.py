"""R-CB keep my place, in the ACD and the callbacks core (fake clock, no I/O).

The caller presses the key while waiting, hangs up, and keeps their place: when it reaches the
front and an agent is free, that agent is set aside (paused, reason ``callback``) and called first
for the callback — never ahead of callers still holding in front of it.
"""

from datetime import date, time

from ari_app.core.acd import (
    Acd, AgentCommand, CallArrived, CallEnded, CallerKey, KeepPlace, OfferAnswered, PlaceReached, QueueRules,
    Resynced, Ring, StopRinging,
)
from ari_app.core.agents import Agent, AgentState
from ari_app.core.callbacks import (
    CallbackRules, Callbacks, CallDutyAgent, PlaceTurn, Publish, VoicemailLeft,
)
from ari_app.core.roster import Roster, Shift, Team
from ari_app.core.timeline import Fact

T0 = 1_795_000_000.0  # a Wednesday, mid-morning in Shanghai


def make(agents=("1001",), key="2"):
    acd = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20, keep_place_key=key)],
              [Agent(agent_id=a, interface=f"PJSIP/{a}", queues=("support",)) for a in agents])
    for a in agents:
        acd.handle(AgentCommand(agent_id=a, command="login"), T0 - 100)
    return acd


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def busy_agent(acd, call_id="c0"):
    """1001 takes a call, so later callers wait."""
    acd.handle(CallArrived(call_id=call_id, queue="support", entered_at=T0 - 50), T0 - 50)
    acd.handle(OfferAnswered(call_id=call_id, agent_id="1001"), T0 - 49)


def test_keep_place_keeps_the_position_and_is_served_after_callers_ahead():
    acd = make()
    busy_agent(acd)
    for i, cid in enumerate(("a", "b", "c")):
        acd.handle(CallArrived(call_id=cid, queue="support", entered_at=T0 + i), T0 + i)
    out = acd.handle(CallerKey(call_id="b", digit="2"), T0 + 10)
    [kp] = of(out, KeepPlace)
    assert kp.call_id == "b" and kp.position == 2 and kp.estimate_s > 0
    assert [e.fact for e in acd.timeline("b").entries][-1] == Fact.KEPT_PLACE
    assert acd.handle(CallEnded(call_id="b", by="caller"), T0 + 12) == []  # the hang-up keeps the place
    assert "b" in acd.calls and acd.position("c") == 3  # c stays behind the kept place
    # 1001 frees up: "a" (ahead, holding) is served first, not the kept place
    acd.handle(CallEnded(call_id="c0", by="agent"), T0 + 20)
    assert acd.calls["a"].agent_id == "1001"
    acd.handle(OfferAnswered(call_id="a", agent_id="1001"), T0 + 21)
    out = acd.handle(CallEnded(call_id="a", by="caller"), T0 + 30)
    # now the kept place is at the front: the agent is set aside for the callback, no Ring to a dead channel
    [reached] = of(out, PlaceReached)
    assert reached == PlaceReached(call_id="b", queue="support", agent_id="1001")
    assert of(out, Ring) == [] and "b" not in acd.calls
    assert acd.agents["1001"].state == AgentState.PAUSED and acd.agents["1001"].reason == "callback"
    assert acd.calls["c"].state.value == "waiting"  # c waits for the next free agent


def test_keep_place_while_ringing_withdraws_the_offer():
    acd = make()
    out = acd.handle(CallArrived(call_id="a", queue="support", entered_at=T0), T0)
    assert of(out, Ring)
    out = acd.handle(CallerKey(call_id="a", digit="2"), T0 + 3)
    assert StopRinging(call_id="a", agent_id="1001", attempt=1) in out
    assert of(out, KeepPlace)
    # the agent is free again, and the kept place at the front gets it at once, for the callback
    assert of(out, PlaceReached) == [PlaceReached(call_id="a", queue="support", agent_id="1001")]


def test_keep_place_key_off_or_pressed_twice_is_ignored():
    acd = make(key="")
    busy_agent(acd)
    acd.handle(CallArrived(call_id="a", queue="support", entered_at=T0), T0)
    assert of(acd.handle(CallerKey(call_id="a", digit="2"), T0 + 1), KeepPlace) == []
    acd = make()
    busy_agent(acd)
    acd.handle(CallArrived(call_id="a", queue="support", entered_at=T0), T0)
    assert of(acd.handle(CallerKey(call_id="a", digit="2"), T0 + 1), KeepPlace)
    assert of(acd.handle(CallerKey(call_id="a", digit="2"), T0 + 2), KeepPlace) == []


def test_kept_place_survives_a_resync_without_its_channel():
    acd = make()
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="lunch"), T0 - 10)
    acd.handle(CallArrived(call_id="a", queue="support", entered_at=T0), T0)
    acd.handle(CallerKey(call_id="a", digit="2"), T0 + 1)
    acd.handle(Resynced(calls=()), T0 + 5)  # Asterisk has no channel for it: still in line
    assert "a" in acd.calls and acd.calls["a"].kept
    out = acd.handle(AgentCommand(agent_id="1001", command="resume"), T0 + 9)
    assert of(out, PlaceReached) == [PlaceReached(call_id="a", queue="support", agent_id="1001")]


# -- the callbacks core's side -------------------------------------------------------------------------
def core():
    roster = Roster([Team(name="support", agents=("1001", "1002"),
                          shifts=(Shift(name="all", start=time(0, 0), end=time(23, 59),
                                        weekdays=frozenset(range(7))),))])
    return Callbacks(CallbackRules(check_start=time(0, 0), check_every_s=7200), roster, now=T0)


def test_kept_place_task_waits_for_its_turn_then_calls_the_chosen_agent_first():
    cb = core()
    cb.handle(VoicemailLeft(task_id="vm-old", caller="13800000001", queue="support", recording="callcenter/vm-old"),
              T0)
    cb.handle(VoicemailLeft(task_id="kp-1", caller="13800000002", queue="support", recording="", kind="keep_place",
                            not_before=T0 + 600), T0 + 1)
    assert cb.tasks["kp-1"].next_attempt_at == T0 + 600 and not cb.tasks["kp-1"].due(T0 + 599)
    out = cb.handle(PlaceTurn(task_id="kp-1", agent_id="1002"), T0 + 30)
    [call] = [a for a in out if isinstance(a, CallDutyAgent)]
    assert call == CallDutyAgent(team="support", agent_id="1002", task_ids=("kp-1",), reason="keep_place")
    task = cb.tasks["kp-1"]
    assert task.assigned == "1002" and task.next_attempt_at is None and task.reassigned_by == "keep_place"
    # a second turn for the same task (it is now in a call) is ignored, and says so
    out = cb.handle(PlaceTurn(task_id="kp-1", agent_id="1001"), T0 + 31)
    assert [a.event for a in out if isinstance(a, Publish)] == ["callback.place_turn_ignored"]


def test_kept_place_task_falls_back_to_checks_when_its_turn_never_comes():
    cb = core()
    cb.handle(VoicemailLeft(task_id="kp-1", caller="13800000002", queue="support", recording="", kind="keep_place",
                            not_before=T0 + 600), T0)
    assert cb.get_timer() <= T0 + 600
    out = cb.handle_timer(T0 + 600)  # e.g. the service restarted and the place in line was lost
    calls = [a for a in out if isinstance(a, CallDutyAgent)]
    assert calls and calls[0].task_ids == ("kp-1",)
    assert date.fromtimestamp(T0)  # the clock is epoch seconds
