"""The agent state machine, table-driven: every (state, event) pair, illegal ones included."""

import pytest

from ari_app.core.agents import TRANSITIONS, Agent, AgentEvent, AgentState, AgentStateError

PAIRS = [(s, e) for s in AgentState for e in AgentEvent]


@pytest.mark.parametrize("state,event", PAIRS, ids=[f"{s.value}-{e.value}" for s, e in PAIRS])
def test_every_state_event_pair(state, event):
    a = Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",), state=state, since=5.0,
              reason="lunch" if state == AgentState.PAUSED else "")
    expected = TRANSITIONS[state].get(event)
    if expected is None:
        with pytest.raises(AgentStateError, match=f"agent 1001: cannot {event.value} while {state.value}"):
            a.apply(event, 10.0)
        assert (a.state, a.since) == (state, 5.0)  # unchanged
    else:
        assert a.apply(event, 10.0, reason="missed") == expected
        assert a.state == expected
        if expected != state:
            assert a.since == 10.0
        assert (a.reason != "") == (expected == AgentState.PAUSED)


def test_every_state_can_log_out_or_is_logged_out():
    for state in AgentState:
        assert state == AgentState.LOGGED_OUT or AgentEvent.LOGOUT in TRANSITIONS[state]


def test_pause_records_reason_and_time():
    a = Agent(agent_id="1001", interface="PJSIP/1001", queues=(), state=AgentState.AVAILABLE)
    a.apply(AgentEvent.PAUSE, 42.0, reason="lunch")
    assert (a.state, a.since, a.reason) == (AgentState.PAUSED, 42.0, "lunch")
    a.apply(AgentEvent.RESUME, 50.0)
    assert (a.state, a.reason) == (AgentState.AVAILABLE, "")
