"""R-KPI: the figures a manager reports on, computed from what really happened.

Pure functions over the stored facts: the per-call timelines (``timeline``),
the agents' state log (``agents.AgentLogEntry``) and the outbound attempts.
Every figure follows SPEC.md "The figures (R-KPI), exactly":

* counted per queue entry; a *short abandon* (the caller hung up within
  ``short_abandon_s`` of entering the queue) is excluded from every ratio
  and counted on its own;
* *offered* = entered the queue in business hours − short abandons;
* answer rate, service level and abandon rate are ÷ offered;
* ring compliance = agent offers answered within ``ring_target_s`` ÷ agent
  offers answered (R-RING);
* average handle time = (talk + hold + wrap-up) ÷ answered calls; talk runs
  from the bridge to the end of the agent's part, so it includes the
  consultation of a transfer the agent owned;
* occupancy = (talk + hold + wrap-up) ÷ (logged-in time − paused time);
* outbound per day = outbound attempts (callbacks, follow-ups, the agent's
  own dialled calls), connected ones beside it.

A queue's figures count its calls; an agent's count the calls that agent
answered first (the owner), while talk, hold and wrap-up are split by who
held the call when (a transfer hands the rest to the target).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable, Mapping, Sequence

from .agents import AgentLogEntry, AgentState
from .timeline import Fact, TimelineEntry

__all__ = ["CallOutcome", "CallRecord", "FigureRules", "Figures", "Offer", "OutboundAttempt", "Segment",
           "agent_time", "call_record", "figures", "FIGURE_LABELS"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FigureRules:
    short_abandon_s: float = 5.0
    sl_threshold_s: float = 20.0  # service level (及时应答率)
    ring_target_s: float = 15.0  # R-RING


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # hung up while waiting, after the short-abandon threshold
    SHORT_ABANDON = "short_abandon"
    DIVERTED = "diverted"  # left for voicemail, overflow or no-agent destination (in hours)
    CLOSED = "closed"  # arrived outside business hours (R-HOURS): not offered
    KEPT_PLACE = "kept_place"  # R-CB: hung up to be called back at their turn
    OPEN = "open"  # no end recorded yet


@dataclass(frozen=True, kw_only=True, slots=True)
class Offer:
    agent: str
    at: float
    ring_s: float
    answered: bool
    within_target: bool
    missed: bool  # not answered within the ring target (R-RING), the phone rang
    unreachable: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Segment:
    """A stretch of a call held by one agent: talk (incl. consultation) and hold."""
    agent: str
    start: float
    end: float
    hold_s: float = 0.0

    @property
    def talk_s(self) -> float:
        return max(0.0, self.end - self.start - self.hold_s)


@dataclass(frozen=True, kw_only=True, slots=True)
class CallRecord:
    call_id: str
    queue: str
    entered_at: float
    ended_at: float | None
    outcome: CallOutcome
    agent: str | None = None  # who answered first (the owner)
    answered_at: float | None = None
    offers: tuple[Offer, ...] = ()
    segments: tuple[Segment, ...] = ()
    hung_up_by: str | None = None  # caller | agent | system (R-HANGUP)

    @property
    def wait_s(self) -> float | None:
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else end - self.entered_at

    @property
    def talk_s(self) -> float:
        return sum(s.talk_s for s in self.segments)

    @property
    def hold_s(self) -> float:
        return sum(s.hold_s for s in self.segments)


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboundAttempt:
    agent: str | None
    at: float
    connected: bool
    kind: str = "own"  # callback | followup | own (dialled by the agent)


def call_record(call_id: str, entries: Sequence[TimelineEntry], rules: FigureRules) -> CallRecord | None:
    """One queue entry's record from its timeline; None if it never entered a queue."""
    entered = next((e for e in entries if e.fact == Fact.ENTERED_QUEUE), None)
    if entered is None:
        resynced = next((e for e in entries if e.fact == Fact.RESYNCED), None)
        if resynced is None:
            return None
        entered = resynced  # entered under an earlier process whose facts were lost
    queue = str(entered.detail.get("queue", ""))
    entered_at = float(entered.detail.get("entered_at", entered.at))
    offers: list[Offer] = []
    segments: list[Segment] = []
    answered_at: float | None = None
    owner: str | None = None
    ringing: dict[str, float] = {}  # agent -> offered at
    current: tuple[str, float] | None = None  # (agent, bridged at)
    hold_started: float | None = None
    hold_s = 0.0
    ended_at: float | None = None
    hung_up_by: str | None = None
    diverted: str | None = None
    kept = False

    def close_segment(at: float) -> None:
        nonlocal current, hold_s, hold_started
        if current is None:
            return
        if hold_started is not None:
            hold_s += at - hold_started
            hold_started = None
        segments.append(Segment(agent=current[0], start=current[1], end=at, hold_s=hold_s))
        current, hold_s = None, 0.0

    for e in entries:
        match e.fact:
            case Fact.OFFERED if e.agent:
                ringing[e.agent] = e.at
            case Fact.ANSWERED if e.agent:
                ring_s = float(e.detail.get("ring_s", e.at - ringing.pop(e.agent, e.at)))
                ringing.pop(e.agent, None)
                within = bool(e.detail.get("within_target", ring_s <= rules.ring_target_s))
                offers.append(Offer(agent=e.agent, at=e.at - ring_s, ring_s=ring_s, answered=True,
                                    within_target=within, missed=False))
                if answered_at is None:
                    answered_at, owner = e.at, e.agent
            case Fact.OFFER_FAILED if e.agent:
                reason = str(e.detail.get("reason", ""))
                if reason == "agent_left_before_bridge":
                    continue  # the answered offer is already counted
                ring_s = float(e.detail.get("ring_s", e.at - ringing.get(e.agent, e.at)))
                ringing.pop(e.agent, None)
                unreachable = bool(e.detail.get("unreachable", False))
                offers.append(Offer(agent=e.agent, at=e.at - ring_s, ring_s=ring_s, answered=False,
                                    within_target=False, missed=not unreachable, unreachable=unreachable))
            case Fact.BRIDGED if e.agent:
                close_segment(e.at)
                current = (e.agent, e.at)
            case Fact.HOLD if current is not None and hold_started is None:
                hold_started = e.at
            case Fact.UNHOLD if current is not None and hold_started is not None:
                hold_s += e.at - hold_started
                hold_started = None
            case Fact.TRANSFER if e.detail.get("state") in ("completed", "requeued"):
                close_segment(e.at)
                if e.detail.get("target_agent"):  # the target holds the call from here (R-XFER-CONFIRM)
                    current = (str(e.detail["target_agent"]), e.at)
            case Fact.DIVERTED:
                diverted = str(e.detail.get("reason", ""))
                close_segment(e.at)
                ended_at = e.at if ended_at is None else ended_at
            case Fact.KEPT_PLACE:
                kept = True
            case Fact.HANGUP:
                close_segment(e.at)
                ended_at, hung_up_by = e.at, str(e.detail.get("by", "")) or None
            case _:
                pass
    if diverted == "closed":
        outcome = CallOutcome.CLOSED
    elif answered_at is not None:
        outcome = CallOutcome.ANSWERED
    elif kept:
        outcome = CallOutcome.KEPT_PLACE
    elif diverted is not None:
        outcome = CallOutcome.DIVERTED
    elif ended_at is None:
        outcome = CallOutcome.OPEN
    elif hung_up_by == "caller" and ended_at - entered_at < rules.short_abandon_s:
        outcome = CallOutcome.SHORT_ABANDON
    elif hung_up_by == "caller":
        outcome = CallOutcome.ABANDONED
    else:
        outcome = CallOutcome.DIVERTED  # ended by the system while waiting (e.g. lost at a restart)
    return CallRecord(call_id=call_id, queue=queue, entered_at=entered_at, ended_at=ended_at, outcome=outcome,
                      agent=owner, answered_at=answered_at, offers=tuple(offers), segments=tuple(segments),
                      hung_up_by=hung_up_by)


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentTime:
    logged_in_s: float = 0.0
    paused_s: float = 0.0
    wrap_s: float = 0.0
    busy_overruns: int = 0
    wrap_periods: tuple[tuple[float, float], ...] = ()


def agent_time(log: Iterable[AgentLogEntry], start: float, end: float) -> dict[str, AgentTime]:
    """Per agent, the time logged in, paused and in wrap-up within [start, end) (R-KPI occupancy).

    ``log`` holds every state change (and busy overrun) of each agent in time order; the state
    before ``start`` is taken from the last change before it."""
    by_agent: dict[str, list[AgentLogEntry]] = defaultdict(list)
    for e in sorted(log, key=lambda e: e.at):
        by_agent[e.agent_id].append(e)
    out: dict[str, AgentTime] = {}
    for agent, entries in by_agent.items():
        logged = paused = wrap = 0.0
        wraps: list[tuple[float, float]] = []
        states = [e for e in entries if e.event == "state"]
        overruns = sum(1 for e in entries if e.event == "busy_overrun" and start <= e.at < end)
        for i, e in enumerate(states):
            t0 = max(e.at, start)
            t1 = min(states[i + 1].at if i + 1 < len(states) else end, end)
            if t1 <= t0:
                continue
            span = t1 - t0
            if e.state != AgentState.LOGGED_OUT:
                logged += span
            if e.state == AgentState.PAUSED:
                paused += span
            elif e.state == AgentState.WRAP_UP:
                wrap += span
                wraps.append((t0, t1))
        out[agent] = AgentTime(logged_in_s=logged, paused_s=paused, wrap_s=wrap, busy_overruns=overruns,
                               wrap_periods=tuple(wraps))
    return out


@dataclass(kw_only=True, slots=True)
class Figures:
    """One row of the report: a queue's or an agent's figures over a period."""
    entered: int = 0  # entered the queue in business hours, short abandons included
    short_abandons: int = 0
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    diverted: int = 0
    offers_answered: int = 0
    offers_answered_in_target: int = 0
    missed_offers: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    logged_in_s: float = 0.0
    paused_s: float = 0.0
    outbound: int = 0
    outbound_connected: int = 0
    busy_overruns: int = 0
    callbacks_overdue: int = 0
    agent_hung_up_first: int = 0  # R-HANGUP

    @staticmethod
    def _ratio(a: float, b: float) -> float | None:
        return None if b <= 0 else a / b

    @property
    def answer_rate(self) -> float | None:
        return self._ratio(self.answered, self.offered)

    @property
    def service_level(self) -> float | None:
        return self._ratio(self.answered_in_sl, self.offered)

    @property
    def abandon_rate(self) -> float | None:
        return self._ratio(self.abandoned, self.offered)

    @property
    def ring_compliance(self) -> float | None:
        return self._ratio(self.offers_answered_in_target, self.offers_answered)

    @property
    def handle_s(self) -> float:
        return self.talk_s + self.hold_s + self.wrap_s

    @property
    def aht_s(self) -> float | None:
        return self._ratio(self.handle_s, self.answered)

    @property
    def occupancy(self) -> float | None:
        return self._ratio(self.handle_s, self.logged_in_s - self.paused_s)

    def as_dict(self) -> dict[str, float | int | None]:
        return {name: getattr(self, name) for name, _, _ in FIGURE_LABELS}


# (attribute, English, 中文): the report's columns, in order
FIGURE_LABELS: tuple[tuple[str, str, str], ...] = (
    ("offered", "Offered", "呼入量"),
    ("answered", "Answered", "接通量"),
    ("answer_rate", "Answer rate", "接通率"),
    ("service_level", "Service level", "及时应答率"),
    ("abandoned", "Abandoned", "放弃量"),
    ("abandon_rate", "Abandon rate", "放弃率"),
    ("short_abandons", "Short abandons", "短时放弃"),
    ("ring_compliance", "Ring compliance", "三声接听率"),
    ("aht_s", "Average handle time (s)", "平均处理时长(秒)"),
    ("occupancy", "Occupancy", "工作效率"),
    ("outbound", "Outbound calls", "呼出量"),
    ("outbound_connected", "Outbound connected", "呼出接通"),
    ("missed_offers", "Missed offers", "未接振铃"),
    ("busy_overruns", "Busy overruns", "示忙超时"),
    ("callbacks_overdue", "Callbacks overdue", "回拨超时"),
    ("agent_hung_up_first", "Agent hung up first", "坐席先挂机"),
)


def _wrap_for(agent: str, end: float, times: Mapping[str, AgentTime]) -> float:
    """The wrap-up that followed the agent's part of a call ending at ``end`` (R-WRAP)."""
    t = times.get(agent)
    if t is None:
        return 0.0
    return sum(w1 - w0 for w0, w1 in t.wrap_periods if abs(w0 - end) < 1.0)


def figures(calls: Iterable[CallRecord], rules: FigureRules | Mapping[str, FigureRules], *,
            agent_log: Iterable[AgentLogEntry] = (), outbound: Iterable[OutboundAttempt] = (),
            overdue_callbacks: Iterable[str | None] = (), start: float, end: float,
            ) -> tuple[dict[str, Figures], dict[str, Figures], Figures]:
    """(per queue, per agent, total) over queue entries in [start, end).

    ``rules`` is one ``FigureRules`` or one per queue; ``overdue_callbacks`` lists the assigned agent
    of each callback task that became overdue in the period (R-SLA24)."""
    def rules_for(queue: str) -> FigureRules:
        if isinstance(rules, FigureRules):
            return rules
        return rules.get(queue) or FigureRules()

    log = list(agent_log)
    times = agent_time(log, start, end)
    by_queue: dict[str, Figures] = defaultdict(Figures)
    by_agent: dict[str, Figures] = defaultdict(Figures)
    total = Figures()

    for c in calls:
        if not (start <= c.entered_at < end):
            continue
        r = rules_for(c.queue)
        rows = [by_queue[c.queue], total]
        owner_rows = rows + ([by_agent[c.agent]] if c.agent else [])
        if c.outcome in (CallOutcome.CLOSED, CallOutcome.OPEN):
            continue
        for f in owner_rows:
            f.entered += 1
        if c.outcome == CallOutcome.SHORT_ABANDON:
            for f in rows:
                f.short_abandons += 1
            continue
        for f in owner_rows:
            f.offered += 1
        if c.outcome == CallOutcome.ANSWERED:
            in_sl = c.wait_s is not None and c.wait_s <= r.sl_threshold_s
            for f in owner_rows:
                f.answered += 1
                f.answered_in_sl += int(in_sl)
                if c.hung_up_by == "agent":
                    f.agent_hung_up_first += 1
        elif c.outcome == CallOutcome.ABANDONED:
            for f in rows:
                f.abandoned += 1
        else:
            for f in rows:
                f.diverted += 1
        for o in c.offers:
            targets = [by_queue[c.queue], total, by_agent[o.agent]]
            for f in targets:
                if o.answered:
                    f.offers_answered += 1
                    f.offers_answered_in_target += int(o.within_target)
                elif o.missed:
                    f.missed_offers += 1
        for s in c.segments:
            wrap = _wrap_for(s.agent, s.end, times)
            for f in (by_queue[c.queue], total, by_agent[s.agent]):
                f.talk_s += s.talk_s
                f.hold_s += s.hold_s
                f.wrap_s += wrap
    for agent, t in times.items():
        f = by_agent[agent]
        f.logged_in_s += t.logged_in_s
        f.paused_s += t.paused_s
        f.busy_overruns += t.busy_overruns
        total.logged_in_s += t.logged_in_s
        total.paused_s += t.paused_s
        total.busy_overruns += t.busy_overruns
    for o in outbound:
        if not (start <= o.at < end):
            continue
        for f in [total] + ([by_agent[o.agent]] if o.agent else []):
            f.outbound += 1
            f.outbound_connected += int(o.connected)
    for agent in overdue_callbacks:
        total.callbacks_overdue += 1
        if agent:
            by_agent[agent].callbacks_overdue += 1
    return dict(by_queue), dict(by_agent), total

