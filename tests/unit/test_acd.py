"""The ACD core with a fake clock: R-RING, R-HANGUP, R-WRAP, distribution order."""

from ari_app.core.acd import (
    Acd, AgentLogin, CallArrived, CallBridged, CallEnded, CallRestored, Resynced, Connect, OfferAnswered,
    OfferFailed, Publish, QueueRules, Ring, StopRinging,
)
from ari_app.core.agents import Agent, AgentState
from ari_app.core.timeline import Fact

T0 = 1_700_000_000.0


def make(strategy="longest_idle", wrap_up_s=0.0, agents=("1001", "1002")):
    acd = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20, wrap_up_s=wrap_up_s,
                          strategy=strategy)],
              [Agent(agent_id=a, interface=f"PJSIP/{a}", queues=("support",)) for a in agents])
    for a in agents:
        acd.handle(AgentLogin(agent_id=a), T0)
    return acd


def rings(actions):
    return [a for a in actions if isinstance(a, Ring)]


def published(actions, name):
    return [a.fields for a in actions if isinstance(a, Publish) and a.event == name]


def test_call_rings_an_available_agent_and_connects_on_answer():
    acd = make()
    out = acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    [ring] = rings(out)
    assert ring.agent_id == "1001" and ring.timeout_s == 20 and ring.attempt == 1
    assert acd.agents["1001"].state == AgentState.RINGING
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 4)
    assert Connect(call_id="c1", agent_id="1001") in out
    assert published(out, "call.answered")[0]["ring_s"] == 4
    assert acd.agents["1001"].state == AgentState.ON_CALL


def test_r_ring_unanswered_offer_is_missed_and_next_agent_rung_at_once():
    acd = make()
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    assert acd.get_timer() == T0 + 15
    assert acd.handle_timer(T0 + 14.9) == []  # never early
    out = acd.handle_timer(T0 + 15)
    assert StopRinging(call_id="c1", agent_id="1001", attempt=1) in out
    [missed] = published(out, "call.offer_missed")
    assert missed["agent"] == "1001" and missed["ring_s"] == 15 and missed["rule"] == "R-RING"
    assert acd.agents["1001"].state == AgentState.PAUSED and acd.agents["1001"].reason == "missed"
    [ring] = rings(out)
    assert ring.agent_id == "1002" and ring.attempt == 2


def test_failed_originate_is_unreachable_not_a_missed_offer():
    acd = make()
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    out = acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="unregistered", unreachable=True), T0 + 1)
    assert published(out, "call.offer_missed") == []
    assert published(out, "agent.unreachable")[0]["agent"] == "1001"
    assert acd.agents["1001"].state == AgentState.UNREACHABLE
    assert rings(out)[0].agent_id == "1002"
    # the unreachable phone is tried again later
    acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 2)
    acd.handle_timer(T0 + 1 + Acd.UNREACHABLE_RETRY_S)
    assert acd.agents["1001"].state == AgentState.AVAILABLE


def test_late_answer_after_the_offer_ended_is_ignored():
    acd = make(agents=("1001",))
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    acd.handle_timer(T0 + 15)
    out = acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 15.2)
    assert [a for a in out if isinstance(a, Connect)] == []
    assert acd.agents["1001"].state == AgentState.PAUSED


def test_r_hangup_completed_call_reports_wait_talk_and_who_hung_up_first():
    acd = make()
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0 + 1)
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
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 20)
    assert acd.agents["1001"].state == AgentState.WRAP_UP
    assert rings(acd.handle(CallArrived(call_id="c2", queue="support", entered_at=T0 + 21), T0 + 21)) == []
    assert acd.get_timer() == T0 + 30
    [ring] = rings(acd.handle_timer(T0 + 30))
    assert ring.call_id == "c2" and ring.agent_id == "1001"


def test_priority_then_first_in_first_out():
    acd = make(agents=())
    acd.agents["1001"] = Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",))
    acd.handle(CallArrived(call_id="old", queue="support", entered_at=T0), T0)
    acd.handle(CallArrived(call_id="new", queue="support", entered_at=T0 + 5), T0 + 5)
    acd.handle(CallArrived(call_id="vip", queue="support", priority=5, entered_at=T0 + 9), T0 + 9)
    [ring] = rings(acd.handle(AgentLogin(agent_id="1001"), T0 + 10))
    assert ring.call_id == "vip"


def test_round_robin_continues_where_it_stopped_in_agent_id_order():
    acd = make(strategy="round_robin", agents=("1003", "1001", "1002"))
    order = []
    for i in range(4):
        out = acd.handle(CallArrived(call_id=f"c{i}", queue="support", entered_at=T0 + i), T0 + i)
        agent = rings(out)[0].agent_id
        order.append(agent)
        acd.handle(CallEnded(call_id=f"c{i}", by="caller"), T0 + i + 0.5)
    assert order == ["1001", "1002", "1003", "1001"]


def test_caller_hangup_while_ringing_stops_ringing_and_frees_agent():
    acd = make(agents=("1001",))
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    out = acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 3)
    assert StopRinging(call_id="c1", agent_id="1001", attempt=1) in out
    assert published(out, "call.abandoned")[0]["wait_s"] == 3
    assert acd.agents["1001"].state == AgentState.AVAILABLE


def test_resync_restores_connected_calls_and_ends_vanished_ones():
    acd = make(agents=("1001", "1002", "1003"))
    acd.handle(CallArrived(call_id="gone", queue="support", entered_at=T0), T0)
    acd.handle(OfferAnswered(call_id="gone", agent_id="1001"), T0 + 2)
    acd.handle(CallArrived(call_id="was_ringing", queue="support", entered_at=T0 + 1), T0 + 1)
    assert acd.agents["1002"].state == AgentState.RINGING
    kept = CallRestored(call_id="kept", queue="support", entered_at=T0, agent_id="1003", answered_at=T0 + 3)
    requeued = CallArrived(call_id="was_ringing", queue="support", entered_at=T0 + 1, resynced=True)
    out = acd.handle(Resynced(calls=(kept, requeued)), T0 + 10)
    assert published(out, "call.completed")[0]["lost"] is True
    assert acd.agents["1003"].state == AgentState.ON_CALL and set(acd.calls) == {"kept", "was_ringing"}
    # the ringing leg was hung up by the shell; the call is offered again, keeping its place in line
    [ring] = rings(out)
    assert ring.call_id == "was_ringing" and acd.calls["was_ringing"].entered_at == T0 + 1


def test_duplicate_arrival_is_harmless():
    acd = make()
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    assert acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0 + 1) == []
