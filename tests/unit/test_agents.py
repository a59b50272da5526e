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


# -- mutation testing (issue 7) --------------------------------------------------------------------------
def test_a_pause_without_a_reason_has_none_and_a_forced_state_none_either():
    a = Agent(agent_id="1001", interface="PJSIP/1001", queues=(), state=AgentState.AVAILABLE)
    a.apply(AgentEvent.PAUSE, 1.0)
    assert (a.state, a.reason) == (AgentState.PAUSED, "")
    a.force(AgentState.ON_CALL, 2.0)
    assert (a.state, a.since, a.reason) == (AgentState.ON_CALL, 2.0, "")
    assert a.changes == [(1.0, "paused", ""), (2.0, "on_call", "")]


def test_r_busy_logging_in_again_while_paused_keeps_the_pause_timer_and_logs_nothing():
    a = Agent(agent_id="1001", interface="PJSIP/1001", queues=(), state=AgentState.AVAILABLE)
    a.apply(AgentEvent.PAUSE, 10.0, reason="lunch")
    a.overruns = 1
    assert a.apply(AgentEvent.LOGIN, 20.0) == AgentState.PAUSED  # e.g. the phone logged in once more
    assert (a.since, a.overruns, a.reason) == (10.0, 1, "lunch")
    b = Agent(agent_id="1002", interface="PJSIP/1002", queues=(), state=AgentState.AVAILABLE, since=5.0)
    b.apply(AgentEvent.LOGIN, 30.0)
    assert b.since == 5.0
    assert a.changes == [(10.0, "paused", "lunch")] and b.changes == []


def test_r_busy_a_new_pause_restarts_the_timer_and_is_logged():
    a = Agent(agent_id="1001", interface="PJSIP/1001", queues=(), state=AgentState.AVAILABLE)
    a.apply(AgentEvent.PAUSE, 10.0, reason="lunch")
    a.overruns = 2
    a.apply(AgentEvent.PAUSE, 50.0, reason="lunch")
    assert (a.since, a.overruns) == (50.0, 0)
    assert a.changes == [(10.0, "paused", "lunch"), (50.0, "paused", "lunch")]
