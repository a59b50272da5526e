"""Agent states as a transition table (h11 style).

An impossible transition from our own code is a bug and raises
``AgentStateError`` naming agent, state and event; the state is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Agent", "AgentEvent", "AgentState", "AgentStateError", "TRANSITIONS"]


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # R-WRAP
    PAUSED = "paused"  # R-BUSY (示忙), with a reason
    UNREACHABLE = "unreachable"  # phone unregistered or originate failed


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    OFFER = "offer"  # we ring the agent's phone
    ANSWER = "answer"
    OFFER_MISSED = "offer_missed"  # R-RING: not answered within the ring target
    OFFER_FAILED = "offer_failed"  # the phone could not be rung
    CALL_ENDED = "call_ended"
    WRAP_DONE = "wrap_done"
    PAUSE = "pause"
    RESUME = "resume"
    REACHABLE = "reachable"


S, E = AgentState, AgentEvent
TRANSITIONS: dict[AgentState, dict[AgentEvent, AgentState]] = {
    S.LOGGED_OUT: {E.LOGIN: S.AVAILABLE},
    S.AVAILABLE: {E.OFFER: S.RINGING, E.PAUSE: S.PAUSED, E.LOGOUT: S.LOGGED_OUT, E.OFFER_FAILED: S.UNREACHABLE},
    S.RINGING: {E.ANSWER: S.ON_CALL, E.OFFER_MISSED: S.PAUSED, E.OFFER_FAILED: S.UNREACHABLE,
                E.CALL_ENDED: S.AVAILABLE, E.LOGOUT: S.LOGGED_OUT},
    S.ON_CALL: {E.CALL_ENDED: S.WRAP_UP, E.LOGOUT: S.LOGGED_OUT},
    S.WRAP_UP: {E.WRAP_DONE: S.AVAILABLE, E.PAUSE: S.PAUSED, E.LOGOUT: S.LOGGED_OUT},
    S.PAUSED: {E.RESUME: S.AVAILABLE, E.LOGOUT: S.LOGGED_OUT, E.PAUSE: S.PAUSED},
    S.UNREACHABLE: {E.REACHABLE: S.AVAILABLE, E.LOGOUT: S.LOGGED_OUT, E.OFFER_FAILED: S.UNREACHABLE},
}
del S, E


class AgentStateError(Exception):
    def __init__(self, agent_id: str, state: AgentState, event: AgentEvent) -> None:
        super().__init__(f"agent {agent_id}: cannot {event.value} while {state.value}")
        self.agent_id, self.state, self.event = agent_id, state, event


@dataclass(kw_only=True, slots=True)
class Agent:
    agent_id: str
    interface: str
    queues: tuple[str, ...]
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0  # when the state was entered (epoch s)
    reason: str = ""  # pause reason, e.g. "missed"
    call_id: str | None = None  # the call it is ringing for or talking on
    last_call_end: float = 0.0
    calls_taken: int = 0

    def apply(self, event: AgentEvent, now: float, *, reason: str = "") -> AgentState:
        try:
            new = TRANSITIONS[self.state][event]
        except KeyError:
            raise AgentStateError(self.agent_id, self.state, event) from None
        self.state, self.since, self.reason = new, now, reason if new == AgentState.PAUSED else ""
        return new

    def can(self, event: AgentEvent) -> bool:
        return event in TRANSITIONS[self.state]
