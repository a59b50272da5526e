import pytest

from ari_app.core.agents import Agent, AgentEvent, AgentState, AgentStateError


def test_impossible_transition_raises_and_leaves_state_unchanged():
    a = Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",), state=AgentState.ON_CALL, since=5.0)
    with pytest.raises(AgentStateError, match="agent 1001: cannot offer while on_call"):
        a.apply(AgentEvent.OFFER, 10.0)
    assert a.state == AgentState.ON_CALL and a.since == 5.0


def test_pause_records_reason_and_time():
    a = Agent(agent_id="1001", interface="PJSIP/1001", queues=(), state=AgentState.AVAILABLE)
    a.apply(AgentEvent.PAUSE, 42.0, reason="lunch")
    assert (a.state, a.since, a.reason) == (AgentState.PAUSED, 42.0, "lunch")
    a.apply(AgentEvent.RESUME, 50.0)
    assert (a.state, a.reason) == (AgentState.AVAILABLE, "")
