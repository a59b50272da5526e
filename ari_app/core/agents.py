"""Agent states as a transition table (h11 style), and R-BUSY's pause limits.

An impossible transition from our own code is a bug and raises
``AgentStateError`` naming agent, state and event; the state is unchanged.
Whether an agent may be offered a call also depends on its phone
(registered, not busy on a direct call), kept beside the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping

__all__ = ["Agent", "AgentEvent", "AgentLogEntry", "AgentState", "AgentStateError", "BusyPolicy", "TRANSITIONS"]


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # R-WRAP
    PAUSED = "paused"  # R-BUSY (示忙), with a reason
    UNREACHABLE = "unreachable"  # the phone could not be rung (originate failed)


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
    S.AVAILABLE: {E.OFFER: S.RINGING, E.PAUSE: S.PAUSED, E.LOGOUT: S.LOGGED_OUT, E.LOGIN: S.AVAILABLE},
    S.RINGING: {E.ANSWER: S.ON_CALL, E.OFFER_MISSED: S.PAUSED, E.OFFER_FAILED: S.UNREACHABLE,
                E.CALL_ENDED: S.AVAILABLE, E.LOGOUT: S.LOGGED_OUT},
    S.ON_CALL: {E.CALL_ENDED: S.WRAP_UP, E.LOGOUT: S.LOGGED_OUT},
    S.WRAP_UP: {E.WRAP_DONE: S.AVAILABLE, E.PAUSE: S.PAUSED, E.LOGOUT: S.LOGGED_OUT},
    S.PAUSED: {E.RESUME: S.AVAILABLE, E.LOGOUT: S.LOGGED_OUT, E.PAUSE: S.PAUSED, E.LOGIN: S.PAUSED},
    S.UNREACHABLE: {E.REACHABLE: S.AVAILABLE, E.LOGOUT: S.LOGGED_OUT, E.PAUSE: S.PAUSED, E.LOGIN: S.AVAILABLE},
}
del S, E


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentLogEntry:
    """One line of an agent's history, kept for the figures (R-KPI occupancy) and attendance (R-SHIFT).

    ``event`` is ``state`` (the agent entered ``state`` at ``at``) or ``busy_overrun`` (R-BUSY)."""
    agent_id: str
    at: float
    event: str
    state: str
    reason: str = ""


class AgentStateError(Exception):
    def __init__(self, agent_id: str, state: AgentState, event: AgentEvent) -> None:
        super().__init__(f"agent {agent_id}: cannot {event.value} while {state.value}")
        self.agent_id, self.state, self.event = agent_id, state, event


@dataclass(frozen=True, kw_only=True)
class BusyPolicy:
    """R-BUSY: how long a pause may last before the supervisor is alerted, and what then."""
    limit_s: float = 900.0  # 15 min
    limits: Mapping[str, float] = field(default_factory=dict)  # per pause reason
    repeat_every_s: float = 300.0  # repeat the alert while it lasts
    on_overrun: str = "alert"  # alert | resume | logout
    missed_resume_s: float = 0.0  # R-RING: auto-resume an agent paused for a missed offer (0 = off)

    def limit_for(self, reason: str) -> float:
        return self.limits.get(reason, self.limit_s)


@dataclass(kw_only=True, slots=True)
class Agent:
    agent_id: str
    interface: str  # the phone it is logged in at ("" = none)
    queues: tuple[str, ...]
    penalties: Mapping[str, int] = field(default_factory=dict)  # queue -> penalty (lower first)
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0  # when the state was entered (epoch s)
    reason: str = ""  # pause reason, e.g. "missed"
    call_id: str | None = None  # the call it is ringing for or talking on
    last_call_end: float = 0.0
    calls_taken: int = 0
    overruns: int = 0  # R-BUSY alerts sent for the current pause
    phone_online: bool = True  # registered (ARI endpoint state)
    phone_busy: bool = False  # on a call we did not place
    changes: list[tuple[float, str, str]] = field(default_factory=list, repr=False, compare=False)  # R-KPI

    def apply(self, event: AgentEvent, now: float, *, reason: str = "") -> AgentState:
        try:
            new = TRANSITIONS[self.state][event]
        except KeyError:
            raise AgentStateError(self.agent_id, self.state, event) from None
        if new != self.state or event == AgentEvent.PAUSE:
            self.since = now
            self.overruns = 0
        before = (self.state, self.reason)
        self.state = new
        if new == AgentState.PAUSED:
            self.reason = reason or self.reason
        else:
            self.reason = ""
        if (self.state, self.reason) != before or event == AgentEvent.PAUSE:
            self.changes.append((self.since, self.state.value, self.reason))  # drained by Acd.drain_agent_log
        return new

    def force(self, state: AgentState, now: float, *, reason: str = "") -> None:
        """A state set from outside the transition table: restored at start-up, or rebuilt from Asterisk
        at a resync. Recorded in ``changes`` like any transition, so the agent log misses nothing."""
        self.state, self.since, self.reason = state, now, reason
        self.changes.append((now, state.value, reason))

    def can(self, event: AgentEvent) -> bool:
        return event in TRANSITIONS[self.state]

    @property
    def offerable(self) -> bool:
        return self.state == AgentState.AVAILABLE and self.phone_online and not self.phone_busy and bool(self.interface)

    @property
    def logged_in(self) -> bool:
        return self.state != AgentState.LOGGED_OUT

    def overrun_at(self, policy: BusyPolicy) -> float | None:
        """R-BUSY: when the next overrun alert is due, or None."""
        if self.state != AgentState.PAUSED:
            return None
        return self.since + policy.limit_for(self.reason) + self.overruns * policy.repeat_every_s
