"""Attended transfers as a transition table (R-XFER-CONSENT, R-XFER-CONFIRM, R-XFER-NAME).

The caller is never dropped and never handed to a ringing phone:

* the caller goes on hold first ("正在为您转接到<where>，请稍候" and music), R-XFER-CONSENT: where is the
  target queue's or agent's name prompt, "正在为您转接，请稍候" without one (core/announce.py);
* the target rings for at most ``ring_target_s``; the agent and the target talk privately;
* complete only once the target answered (R-XFER-CONFIRM); then the caller hears "为您接通的是", the
  target's name (when it has one) and agent ID, "不好意思让您久等了" (R-XFER-NAME), and is bridged
  with the target;
* cancel, or target busy / not answering / hanging up → the caller is back with the agent;
* agent hangs up before the target answered → the caller goes back to the head of the queue
  (``requeued``); agent hangs up after the target answered → the transfer completes;
* caller hangs up → ``abandoned`` (agent and target stay connected if they were consulting).

Transfer to a queue is the one exception to consultation: the caller hears the transfer prompt
and enters that queue at its head. Hang-ups are named by role (caller, agent, target), as in
Wazo's calld; repeated or late events in an end state are harmless (the state stays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["END_STATES", "TRANSITIONS", "Transfer", "TransferError", "XferEvent", "XferState"]


class XferState(StrEnum):
    REQUESTED = "requested"
    CALLER_ON_HOLD = "caller_on_hold"
    TARGET_RINGING = "target_ringing"
    CONSULTING = "consulting"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    TARGET_FAILED = "target_failed"
    ABANDONED = "abandoned"
    REQUEUED = "requeued"


class XferEvent(StrEnum):
    CALLER_HELD = "caller_held"
    TARGET_DIALED = "target_dialed"
    TARGET_ANSWERED = "target_answered"
    TARGET_FAILED = "target_failed"  # busy, unreachable, declined
    RING_TIMEOUT = "ring_timeout"
    ENTERED_QUEUE = "entered_queue"  # transfer to a queue: no consultation
    COMPLETE = "complete"  # the agent (key, API) completes
    CANCEL = "cancel"
    CALLER_HANGUP = "caller_hangup"
    AGENT_HANGUP = "agent_hangup"
    TARGET_HANGUP = "target_hangup"


S, E = XferState, XferEvent
_BEFORE_ANSWER = {E.CANCEL: S.CANCELLED, E.CALLER_HANGUP: S.ABANDONED, E.AGENT_HANGUP: S.REQUEUED}
TRANSITIONS: dict[XferState, dict[XferEvent, XferState]] = {
    S.REQUESTED: {E.CALLER_HELD: S.CALLER_ON_HOLD, **_BEFORE_ANSWER},
    S.CALLER_ON_HOLD: {E.TARGET_DIALED: S.TARGET_RINGING, E.TARGET_FAILED: S.TARGET_FAILED,
                       E.ENTERED_QUEUE: S.COMPLETED, **_BEFORE_ANSWER},
    S.TARGET_RINGING: {E.TARGET_ANSWERED: S.CONSULTING, E.TARGET_FAILED: S.TARGET_FAILED,
                       E.RING_TIMEOUT: S.TARGET_FAILED, E.TARGET_HANGUP: S.TARGET_FAILED, **_BEFORE_ANSWER},
    S.CONSULTING: {E.COMPLETE: S.COMPLETED, E.AGENT_HANGUP: S.COMPLETED, E.CANCEL: S.CANCELLED,
                   E.TARGET_HANGUP: S.TARGET_FAILED, E.CALLER_HANGUP: S.ABANDONED},
}
END_STATES = frozenset({S.COMPLETED, S.CANCELLED, S.TARGET_FAILED, S.ABANDONED, S.REQUEUED})
del S, E, _BEFORE_ANSWER


class TransferError(Exception):
    def __init__(self, transfer_id: str, state: XferState, event: XferEvent) -> None:
        super().__init__(f"transfer {transfer_id}: cannot {event.value} while {state.value}")
        self.transfer_id, self.state, self.event = transfer_id, state, event


@dataclass(kw_only=True, slots=True)
class Transfer:
    transfer_id: str
    call_id: str
    agent_id: str  # the transferring agent
    target: str  # what was asked for: an agent ID, an extension or a queue
    kind: str  # agent | extension | queue
    target_interface: str = ""
    target_agent: str | None = None
    source: str = "api"  # dtmf | refer | api
    state: XferState = XferState.REQUESTED
    history: list[tuple[float, XferState]] = field(default_factory=list)
    deadline: float | None = None  # ring target of the target's phone
    target_answered_at: float | None = None

    @property
    def ended(self) -> bool:
        return self.state in END_STATES

    def can(self, event: XferEvent) -> bool:
        return self.ended or event in TRANSITIONS[self.state]

    def apply(self, event: XferEvent, now: float) -> bool:
        """Apply ``event``; True if the state changed. In an end state every event is harmless."""
        if self.ended:
            return False
        try:
            new = TRANSITIONS[self.state][event]
        except KeyError:
            raise TransferError(self.transfer_id, self.state, event) from None
        self.state = new
        self.history.append((now, new))
        if new == XferState.CONSULTING:
            self.target_answered_at, self.deadline = now, None
        elif new != XferState.TARGET_RINGING:
            self.deadline = None
        return True

    def role(self, channel_id: str, *, caller: str, agent_leg: str | None, target_leg: str | None) -> str | None:
        """Which party a channel is: caller, agent or target."""
        return {caller: "caller", agent_leg: "agent", target_leg: "target"}.get(channel_id)


# --- what the transfer desk hears and says (events in, actions out) ---------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class TransferRequest:
    """Start a transfer of the call: from the agent's keys (dtmf), the phone's REFER, or the API."""
    call_id: str
    target: str  # an agent ID, a queue name, or an extension
    source: str = "api"
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TransferUpdate:
    """What happened to the transfer's parties, reported by the call's flow."""
    call_id: str
    event: XferEvent
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class TransferCommand:
    """complete | cancel, from the agent's keys or the API."""
    call_id: str
    command: str
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldForTransfer:
    """R-XFER-CONSENT: the caller to hold, with the transfer prompt (saying where to) and music."""
    call_id: str
    transfer_id: str
    prompts: tuple[str, ...] = ("xfer-please-hold",)


@dataclass(frozen=True, kw_only=True, slots=True)
class DialTarget:
    call_id: str
    transfer_id: str
    interface: str
    timeout_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Consult:
    """The target answered: the agent and the target talk privately."""
    call_id: str
    transfer_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EndTransfer:
    """Carry out the outcome.

    completed → the caller hears ``prompts`` (the target's name and agent ID, "不好意思让您久等了") and is
    bridged with the target; the agent's leg is hung up. cancelled / target_failed → the target's
    leg is hung up, the caller is back with the agent and hears ``prompts`` ("对不起，让您久等了").
    requeued / to_queue → the caller stays on hold, back in line at its head. abandoned → the
    caller is gone; agent and target stay together if they were consulting.
    """
    call_id: str
    transfer_id: str
    outcome: str
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class TransferResult:
    request_id: str | None
    call_id: str
    ok: bool
    transfer_id: str = ""
    message: str = ""
    state: str = ""
