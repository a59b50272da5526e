"""Automatic call distribution: which waiting call rings which agent, and when.

Pure: events and the current time go in, actions come out (STYLE.md's
sketch). The shell owns the only instance, feeds it from one inbox, arms one
timer at ``get_timer()`` and carries the actions out through ARI.

Rules here: R-RING (ring target, missed offer, next agent at once),
R-HANGUP (who hung up first), R-WRAP (wrap-up before the next offer).
Times are epoch seconds passed in by the shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterable, Mapping

from .agents import Agent, AgentEvent, AgentState
from .timeline import Fact, Timeline, TimelineEntry

__all__ = [
    "Acd", "Action", "AgentLogin", "CallArrived", "CallBridged", "CallEnded", "CallRestored", "CallState",
    "Resynced", "Connect", "Event", "OfferAnswered", "OfferFailed", "Publish", "QueueRules", "Ring",
    "StopRinging",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueRules:
    name: str
    ring_target_s: float = 15.0
    originate_timeout_s: float = 20.0
    wrap_up_s: float = 0.0
    strategy: str = "longest_idle"


# --- events (what happened) -------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class CallArrived:
    call_id: str
    queue: str
    priority: int = 0
    entered_at: float
    resynced: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class CallRestored:
    """After a restart: a call Asterisk still has, with caller and agent bridged."""
    call_id: str
    queue: str
    priority: int = 0
    entered_at: float
    agent_id: str
    answered_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferAnswered:
    call_id: str
    agent_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferFailed:
    """The agent's phone stopped ringing without answering, or could not be rung at all."""
    call_id: str
    agent_id: str
    reason: str
    unreachable: bool = False  # originate failed / phone offline: not a missed offer (R-RING)


@dataclass(frozen=True, kw_only=True, slots=True)
class CallBridged:
    call_id: str
    agent_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CallEnded:
    call_id: str
    by: str  # caller | agent | system


@dataclass(frozen=True, kw_only=True, slots=True)
class Resynced:
    """After a (re)connect: the calls Asterisk still has, as the shell rebuilt them.

    Calls the core knows but Asterisk no longer has ended while we were away
    (``lost``); calls whose state differs from what the core believed are
    replaced by the snapshot; the rest are kept as they are.
    """
    calls: tuple[CallArrived | CallRestored, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentLogin:
    agent_id: str


Event = CallArrived | CallRestored | OfferAnswered | OfferFailed | CallBridged | CallEnded | Resynced | AgentLogin


# --- actions (what the shell must do) ----------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class Ring:
    call_id: str
    agent_id: str
    interface: str
    attempt: int
    timeout_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class StopRinging:
    call_id: str
    agent_id: str
    attempt: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Connect:
    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Publish:
    """A fact for the log and the event bus."""
    event: str
    fields: Mapping[str, Any]


Action = Ring | StopRinging | Connect | Publish


class CallState(StrEnum):
    WAITING = "waiting"
    RINGING = "ringing"
    ANSWERED = "answered"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(kw_only=True, slots=True)
class _Call:
    call_id: str
    queue: str
    priority: int
    entered_at: float
    state: CallState = CallState.WAITING
    agent_id: str | None = None
    attempt: int = 0
    deadline: float | None = None  # ring target of the current offer
    offered_at: float | None = None
    answered_at: float | None = None
    bridged_at: float | None = None
    timeline: Timeline = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.timeline is None:
            self.timeline = Timeline(call_id=self.call_id)


class Acd:
    UNREACHABLE_RETRY_S = 30.0

    def __init__(self, queues: Iterable[QueueRules], agents: Iterable[Agent]) -> None:
        self.queues = {q.name: q for q in queues}
        self.agents = {a.agent_id: a for a in agents}
        self.calls: dict[str, _Call] = {}
        self._rr_last: dict[str, str] = {}  # queue -> agent id last offered (round robin)
        self._facts: list[tuple[str, TimelineEntry]] = []
        self._changed_agents: set[str] = set()

    # -- the shell drains these after each handle() for the store -----------
    def drain_facts(self) -> list[tuple[str, TimelineEntry]]:
        facts, self._facts = self._facts, []
        return facts

    def drain_changed_agents(self) -> list[Agent]:
        ids, self._changed_agents = self._changed_agents, set()
        return [self.agents[i] for i in sorted(ids)]

    def timeline(self, call_id: str) -> Timeline | None:
        call = self.calls.get(call_id)
        return call.timeline if call else None

    # -- events --------------------------------------------------------------
    def handle(self, ev: Event, now: float) -> list[Action]:
        out: list[Action] = []
        match ev:
            case CallArrived():
                out += self._arrive(ev, now)
            case CallRestored():
                self._restore(ev, now)
            case OfferAnswered():
                call = self.calls.get(ev.call_id)
                if call is None or call.state != CallState.RINGING or call.agent_id != ev.agent_id:
                    return [Publish("call.late_answer", {"call_id": ev.call_id, "agent": ev.agent_id})]
                agent = self.agents[ev.agent_id]
                agent.apply(AgentEvent.ANSWER, now)
                self._changed_agents.add(agent.agent_id)
                call.state, call.answered_at, call.deadline = CallState.ANSWERED, now, None
                ring_s = now - (call.offered_at or now)
                self._fact(call, Fact.ANSWERED, now, agent=agent.agent_id, ring_s=round(ring_s, 3))
                out.append(Publish("call.answered", {"call_id": call.call_id, "queue": call.queue,
                                                     "agent": agent.agent_id, "ring_s": round(ring_s, 3),
                                                     "wait_s": round(now - call.entered_at, 3)}))
                out.append(Connect(call_id=call.call_id, agent_id=agent.agent_id))
            case OfferFailed():
                call = self.calls.get(ev.call_id)
                if call is None or call.state != CallState.RINGING or call.agent_id != ev.agent_id:
                    return []  # late event of an offer we already ended
                out += self._end_offer(call, now, reason=ev.reason, unreachable=ev.unreachable)
            case CallBridged():
                call = self.calls.get(ev.call_id)
                if call is not None and call.state == CallState.ANSWERED:
                    call.state, call.bridged_at = CallState.CONNECTED, now
                    self._fact(call, Fact.BRIDGED, now, agent=ev.agent_id)
            case CallEnded():
                call = self.calls.get(ev.call_id)
                if call is not None:
                    out += self._end_call(call, ev.by, now)
            case Resynced():
                present = {c.call_id: c for c in ev.calls}
                for call in list(self.calls.values()):
                    snap = present.get(call.call_id)
                    if snap is None:
                        out += self._end_call(call, "system", now, lost=True)
                    elif not (isinstance(snap, CallRestored) and call.agent_id == snap.agent_id
                              and call.state in (CallState.ANSWERED, CallState.CONNECTED)):
                        self._forget(call, now)
                for snap in ev.calls:
                    if isinstance(snap, CallRestored):
                        self._restore(snap, now)
                    else:
                        out += self._arrive(snap, now)
            case AgentLogin():
                agent = self.agents[ev.agent_id]
                if agent.state == AgentState.LOGGED_OUT:
                    agent.apply(AgentEvent.LOGIN, now)
                    self._changed_agents.add(agent.agent_id)
                    out.append(Publish("agent.logged_in", {"agent": agent.agent_id}))
        out += self._distribute(now)
        return out

    # -- timers --------------------------------------------------------------
    def get_timer(self) -> float | None:
        deadlines = [c.deadline for c in self.calls.values() if c.deadline is not None]
        for a in self.agents.values():
            if a.state == AgentState.WRAP_UP:
                deadlines.append(a.since + self._wrap_up_s(a))
            elif a.state == AgentState.UNREACHABLE:
                deadlines.append(a.since + self.UNREACHABLE_RETRY_S)
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> list[Action]:
        out: list[Action] = []
        for call in list(self.calls.values()):
            if call.deadline is not None and call.deadline <= now and call.state == CallState.RINGING:
                out += self._end_offer(call, now, reason="ring_target", unreachable=False)  # R-RING
        for a in self.agents.values():
            if a.state == AgentState.WRAP_UP and a.since + self._wrap_up_s(a) <= now:
                a.apply(AgentEvent.WRAP_DONE, now)
                self._changed_agents.add(a.agent_id)
            elif a.state == AgentState.UNREACHABLE and a.since + self.UNREACHABLE_RETRY_S <= now:
                a.apply(AgentEvent.REACHABLE, now)
                self._changed_agents.add(a.agent_id)
        out += self._distribute(now)
        return out

    # -- internals -------------------------------------------------------------
    def _arrive(self, ev: CallArrived, now: float) -> list[Action]:
        if ev.call_id in self.calls:
            return []  # duplicate (e.g. resync of a call we already hold)
        if ev.queue not in self.queues:
            return [Publish("call.unknown_queue", {"call_id": ev.call_id, "queue": ev.queue})]
        call = _Call(call_id=ev.call_id, queue=ev.queue, priority=ev.priority, entered_at=ev.entered_at)
        self.calls[ev.call_id] = call
        if ev.resynced:
            self._fact(call, Fact.RESYNCED, now, state="waiting")
        else:
            self._fact(call, Fact.ENTERED_QUEUE, ev.entered_at, priority=ev.priority)
        return [Publish("call.queued", {"call_id": call.call_id, "queue": call.queue, "priority": call.priority,
                                        "resynced": ev.resynced})]

    def _restore(self, ev: CallRestored, now: float) -> None:
        if ev.call_id in self.calls:
            return
        call = _Call(call_id=ev.call_id, queue=ev.queue, priority=ev.priority, entered_at=ev.entered_at,
                     state=CallState.CONNECTED, agent_id=ev.agent_id, answered_at=ev.answered_at,
                     bridged_at=ev.answered_at)
        self.calls[ev.call_id] = call
        self._fact(call, Fact.RESYNCED, now, agent=ev.agent_id, state="connected")
        agent = self.agents.get(ev.agent_id)
        if agent is not None:
            agent.state, agent.since, agent.call_id = AgentState.ON_CALL, now, ev.call_id
            self._changed_agents.add(agent.agent_id)

    def _forget(self, call: _Call, now: float) -> None:
        """Drop a call whose state Asterisk contradicts; it is re-added from the snapshot."""
        agent = self.agents.get(call.agent_id) if call.agent_id else None
        if agent is not None and agent.call_id == call.call_id:
            if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                agent.state, agent.since = AgentState.AVAILABLE, now
            agent.call_id = None
            self._changed_agents.add(agent.agent_id)
        del self.calls[call.call_id]

    def _fact(self, call: _Call, fact: Fact, at: float, agent: str | None = None, **detail: Any) -> None:
        self._facts.append((call.call_id, call.timeline.add(fact, at, agent, **detail)))

    def _wrap_up_s(self, agent: Agent) -> float:
        call_queue = self.queues.get(agent.queues[0]) if agent.queues else None
        return call_queue.wrap_up_s if call_queue else 0.0

    def _end_offer(self, call: _Call, now: float, *, reason: str, unreachable: bool) -> list[Action]:
        """R-RING: stop ringing, count the miss (or the unreachable phone), offer the next agent at once."""
        agent = self.agents[call.agent_id]  # type: ignore[index]
        ring_s = round(now - (call.offered_at or now), 3)
        out: list[Action] = [StopRinging(call_id=call.call_id, agent_id=agent.agent_id, attempt=call.attempt)]
        self._fact(call, Fact.OFFER_FAILED, now, agent=agent.agent_id, reason=reason, ring_s=ring_s)
        if unreachable:
            agent.apply(AgentEvent.OFFER_FAILED, now)
            out.append(Publish("agent.unreachable", {"call_id": call.call_id, "agent": agent.agent_id,
                                                     "reason": reason, "rule": "R-RING"}))
        else:
            agent.apply(AgentEvent.OFFER_MISSED, now, reason="missed")
            out.append(Publish("call.offer_missed", {"call_id": call.call_id, "queue": call.queue,
                                                     "agent": agent.agent_id, "ring_s": ring_s,
                                                     "reason": reason, "rule": "R-RING"}))
            out.append(Publish("agent.paused", {"agent": agent.agent_id, "reason": "missed", "rule": "R-RING"}))
        agent.call_id = None
        self._changed_agents.add(agent.agent_id)
        call.state, call.agent_id, call.deadline, call.offered_at = CallState.WAITING, None, None, None
        return out

    def _end_call(self, call: _Call, by: str, now: float, *, lost: bool = False) -> list[Action]:
        out: list[Action] = []
        agent = self.agents.get(call.agent_id) if call.agent_id else None
        if call.state == CallState.RINGING and agent is not None:
            out.append(StopRinging(call_id=call.call_id, agent_id=agent.agent_id, attempt=call.attempt))
        if agent is not None and agent.call_id == call.call_id:
            if agent.state in (AgentState.ON_CALL, AgentState.RINGING):
                agent.apply(AgentEvent.CALL_ENDED, now)
                if agent.state == AgentState.WRAP_UP:
                    agent.calls_taken += 1
                    agent.last_call_end = now
                    if self._wrap_up_s(agent) <= 0:
                        agent.apply(AgentEvent.WRAP_DONE, now)
            agent.call_id = None
            self._changed_agents.add(agent.agent_id)
        self._fact(call, Fact.HANGUP, now, agent=call.agent_id, by=by)
        fields: dict[str, Any] = {"call_id": call.call_id, "queue": call.queue,
                                  "wait_s": round((call.answered_at or now) - call.entered_at, 3)}
        if call.answered_at is not None:
            fields.update(agent=call.agent_id, hung_up_first=by, rule="R-HANGUP",
                          talk_s=round(now - (call.bridged_at or call.answered_at), 3), lost=lost)
            out.append(Publish("call.completed", fields))
        else:
            fields.update(by=by, lost=lost)
            out.append(Publish("call.abandoned", fields))
        call.state = CallState.ENDED
        del self.calls[call.call_id]
        return out

    def _distribute(self, now: float) -> list[Action]:
        """Offer waiting calls (priority, then first in first out) to free agents."""
        out: list[Action] = []
        waiting = sorted((c for c in self.calls.values() if c.state == CallState.WAITING),
                         key=lambda c: (-c.priority, c.entered_at, c.call_id))
        for call in waiting:
            agent = self._pick(call.queue)
            if agent is None:
                continue
            rules = self.queues[call.queue]
            agent.apply(AgentEvent.OFFER, now)
            agent.call_id = call.call_id
            self._changed_agents.add(agent.agent_id)
            self._rr_last[call.queue] = agent.agent_id
            call.state, call.agent_id, call.attempt = CallState.RINGING, agent.agent_id, call.attempt + 1
            call.offered_at, call.deadline = now, now + rules.ring_target_s
            self._fact(call, Fact.OFFERED, now, agent=agent.agent_id, attempt=call.attempt)
            out.append(Publish("call.offered", {"call_id": call.call_id, "queue": call.queue,
                                                "agent": agent.agent_id, "attempt": call.attempt}))
            out.append(Ring(call_id=call.call_id, agent_id=agent.agent_id, interface=agent.interface,
                            attempt=call.attempt, timeout_s=rules.originate_timeout_s))
        return out

    def _pick(self, queue: str) -> Agent | None:
        free = sorted((a for a in self.agents.values() if a.state == AgentState.AVAILABLE and queue in a.queues),
                      key=lambda a: (len(a.agent_id), a.agent_id))
        if not free:
            return None
        if self.queues[queue].strategy == "round_robin":
            last = self._rr_last.get(queue)
            if last is not None:
                key = (len(last), last)
                after = [a for a in free if (len(a.agent_id), a.agent_id) > key]
                return after[0] if after else free[0]
            return free[0]
        return min(free, key=lambda a: (max(a.last_call_end, a.since), a.agent_id))  # longest idle
