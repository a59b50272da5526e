"""The transfer state machine: every (state, event) pair, illegal ones included, and each path."""

import pytest

from ari_app.core.transfer import END_STATES, TRANSITIONS, Transfer, TransferError, XferEvent, XferState

S, E = XferState, XferEvent
PAIRS = [(s, e) for s in XferState for e in XferEvent]


def make(state=S.REQUESTED):
    t = Transfer(transfer_id="x1", call_id="c1", agent_id="1001", target="1002", kind="agent")
    t.state = state
    return t


@pytest.mark.parametrize("state,event", PAIRS, ids=[f"{s.value}-{e.value}" for s, e in PAIRS])
def test_every_state_event_pair(state, event):
    t = make(state)
    if state in END_STATES:
        assert t.apply(event, 1.0) is False and t.state == state  # harmless in an end state
        return
    expected = TRANSITIONS[state].get(event)
    if expected is None:
        with pytest.raises(TransferError, match=f"transfer x1: cannot {event.value} while {state.value}"):
            t.apply(event, 1.0)
        assert t.state == state and t.history == []
    else:
        assert t.apply(event, 1.0) is True and t.state == expected


def run(*events):
    t = make()
    for i, e in enumerate(events):
        t.apply(e, float(i))
    return t.state


def test_paths():
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.TARGET_ANSWERED, E.COMPLETE) == S.COMPLETED
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.TARGET_ANSWERED, E.CANCEL) == S.CANCELLED
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.RING_TIMEOUT) == S.TARGET_FAILED
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.TARGET_FAILED) == S.TARGET_FAILED  # busy
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.TARGET_HANGUP) == S.TARGET_FAILED
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.TARGET_ANSWERED, E.TARGET_HANGUP) == S.TARGET_FAILED
    # R-XFER-CONFIRM: the agent leaving before the target answered never hands over a ringing phone
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.AGENT_HANGUP) == S.REQUEUED
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.TARGET_ANSWERED, E.AGENT_HANGUP) == S.COMPLETED
    assert run(E.CALLER_HELD, E.TARGET_DIALED, E.TARGET_ANSWERED, E.CALLER_HANGUP) == S.ABANDONED
    assert run(E.CALLER_HELD, E.ENTERED_QUEUE) == S.COMPLETED  # to a queue: no consultation


def test_complete_is_refused_while_the_target_rings():
    t = make()
    for e in (E.CALLER_HELD, E.TARGET_DIALED):
        t.apply(e, 0.0)
    assert not t.can(E.COMPLETE)
    with pytest.raises(TransferError):
        t.apply(E.COMPLETE, 1.0)
    assert t.state == S.TARGET_RINGING


def test_history_and_answer_time():
    t = make()
    t.deadline = 20.0
    t.apply(E.CALLER_HELD, 1.0)
    t.apply(E.TARGET_DIALED, 2.0)
    t.apply(E.TARGET_ANSWERED, 5.0)
    assert t.history == [(1.0, S.CALLER_ON_HOLD), (2.0, S.TARGET_RINGING), (5.0, S.CONSULTING)]
    assert t.target_answered_at == 5.0 and t.deadline is None


def test_role_names_hangups():
    t = make()
    assert t.role("c1", caller="c1", agent_leg="c1~a1", target_leg="c1~t1") == "caller"
    assert t.role("c1~t1", caller="c1", agent_leg="c1~a1", target_leg="c1~t1") == "target"
    assert t.role("zz", caller="c1", agent_leg="c1~a1", target_leg=None) is None


# -- mutation testing (issue 7) --------------------------------------------------------------------------
def test_the_ring_deadline_lives_only_while_the_target_rings():
    t = make()
    t.apply(E.CALLER_HELD, 1.0)
    t.apply(E.TARGET_DIALED, 2.0)
    t.deadline = 17.0  # set by the ACD on dialling
    assert t.deadline == 17.0
    t.apply(E.AGENT_HANGUP, 3.0)  # requeued: no ring target left to watch
    assert t.state == S.REQUEUED and t.deadline is None
    t = make()
    t.deadline = 17.0
    t.apply(E.CALLER_HELD, 1.0)  # not ringing yet: nothing to watch
    assert t.deadline is None


def test_role_names_the_agent_leg():
    assert make().role("c1~a1", caller="c1", agent_leg="c1~a1", target_leg="c1~t1") == "agent"
