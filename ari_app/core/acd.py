"""Automatic call distribution: which waiting call rings which agent, when, and
what a waiting caller hears.

Pure: events and the current time go in, actions come out (STYLE.md's
sketch). The shell owns the only instance, feeds it from one inbox, arms one
timer at ``get_timer()`` and carries the actions out through ARI.

Rules here: R-RING (ring target, missed offer, next agent at once),
R-BUSY (pause limits and overrun alerts), R-WAIT and R-WAITLIMIT (apology,
position announcements, voicemail offer), R-GREET (what the caller and the
agent hear on answer), R-HOURS (closed queues), R-LOGIN (PIN attempts,
one agent ID at one phone), R-HANGUP (who hung up first), R-WRAP.
Times are epoch seconds passed in by the shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterable, Mapping

from . import announce, prompts
from .agents import Agent, AgentEvent, AgentLogEntry, AgentState, BusyPolicy
from .hours import ALWAYS_OPEN, Calendar, closed_announcement
from .incall import (
    HOLD_APOLOGY_S, SILENT_DETECT_S, SILENT_SCRIPTS, DetectTalk, EndSilent, Hold, HoldAction, HoldApology, PlayToCall,
    RemindAgent, SilentScript, StopSilent, TalkWatch,
)
from .login import LoginGuard
from .timeline import Fact, Timeline, TimelineEntry
from .transfer import (
    Consult, DialTarget, EndTransfer, HoldForTransfer, Transfer, TransferCommand, TransferRequest, TransferResult,
    TransferUpdate, XferEvent, XferState,
)
from .waiting import WaitRules, WaitSchedule, estimate_wait

__all__ = [
    "Acd", "Action", "AgentCommand", "CallerSpoke", "HoldRequest", "SilentPromptDone", "SilentRequest", "Announce", "CallArrived", "CallBridged", "CallEnded", "CallRestored",
    "CallState", "CallerKey", "CommandResult", "Connect", "Divert", "Event", "LoginAttempt", "LoginResult",
    "KeepPlace", "OfferAnswered", "OfferFailed", "PhoneState", "PlaceReached", "Publish", "QueueRules", "Resynced",
    "Ring", "StopRinging",
]

STRATEGIES = ("longest_idle", "round_robin", "fewest_calls")


@dataclass(frozen=True, kw_only=True)
class QueueRules:
    name: str
    ring_target_s: float = 15.0
    originate_timeout_s: float = 20.0
    wrap_up_s: float = 0.0
    strategy: str = "longest_idle"
    wait: WaitRules = field(default_factory=WaitRules)
    max_callers: int = 0  # 0 = no limit
    calendar: Calendar = ALWAYS_OPEN
    greeting: bool = True  # R-GREET
    greeting_org: str = announce.DEFAULT_ORG  # R-GREET: the organisation's name prompt
    greeting_time_of_day: bool = False  # R-GREET: 早上好/中午好/… in place of 您好
    default_handle_s: float = 120.0  # estimate before any call was handled
    hold_remind_s: float = 60.0  # R-HOLD
    silent_wait_s: float = 5.0  # R-SILENT
    hold_apology_s: float = HOLD_APOLOGY_S  # R-WAIT on hold (0 = off)
    silent_script: str = "standard"  # R-SILENT: a key of SILENT_SCRIPTS
    silent_detect_s: float = SILENT_DETECT_S  # R-SILENT by talk detection (0 = off)
    voicemail_key: str = "1"
    keep_place_key: str = ""  # R-CB keep my place: the caller is called back at their turn ("" = off)
    voicemail_destination: str = "callcenter-voicemail,s,1"
    no_agent_destination: str = "callcenter-voicemail,s,1"
    overflow_destination: str = "callcenter-voicemail,s,1"
    closed_destination: str = "callcenter-voicemail,s,1"


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
    greeted: bool | None = None  # R-GREET: the greeting played to its end (None: not known)


@dataclass(frozen=True, kw_only=True, slots=True)
class CallEnded:
    call_id: str
    by: str  # caller | agent | system


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldRequest:
    """R-HOLD: hold (on) or resume (off), from the agent's key, the phone's re-INVITE or the API."""
    call_id: str
    on: bool
    source: str = "key"
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SilentRequest:
    """R-SILENT: the agent starts the silent-caller script (talk detection: ``source="talk_detect"``)."""
    call_id: str
    source: str = "key"


@dataclass(frozen=True, kw_only=True, slots=True)
class SilentPromptDone:
    call_id: str
    step: int


@dataclass(frozen=True, kw_only=True, slots=True)
class CallerSpoke:
    """Talk detection heard the caller: the silent-caller script stops, and none starts by itself.

    ``cause`` other than "speech": the flow cannot judge or say the script ("talk_detect_failed": Asterisk
    refused TALK_DETECT, so silence cannot be told from a talking caller; "prompt_failed": a prompt could
    not be played) — the same outcome, never a hang-up of a caller who may be talking or heard nothing."""
    call_id: str
    cause: str = "speech"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallerKey:
    """A DTMF key the waiting caller pressed."""
    call_id: str
    digit: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Resynced:
    """After a (re)connect: the calls Asterisk still has, as the shell rebuilt them.

    Calls the core knows but Asterisk no longer has ended while we were away
    (``lost``); calls whose state differs from what the core believed are
    replaced by the snapshot; the rest are kept as they are.
    """
    calls: tuple[CallArrived | CallRestored, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentCommand:
    """login | logout | pause | resume, from the API, the phone or start-up (auto_login)."""
    agent_id: str
    command: str
    reason: str = ""
    interface: str | None = None
    source: str = "api"
    request_id: str | None = None  # echoed in CommandResult


@dataclass(frozen=True, kw_only=True, slots=True)
class LoginAttempt:
    """R-LOGIN: an agent ID and whether its PIN was right (the shell checks the hash)."""
    agent_id: str
    interface: str
    pin_ok: bool
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PhoneState:
    """An agent phone's registration / busy state from Asterisk."""
    interface: str
    online: bool | None = None
    busy: bool | None = None


Event = (CallArrived | CallRestored | OfferAnswered | OfferFailed | CallBridged | CallEnded | CallerKey | Resynced
         | AgentCommand | LoginAttempt | PhoneState | TransferRequest | TransferUpdate | TransferCommand
         | HoldRequest | SilentRequest | SilentPromptDone | CallerSpoke)


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
    """R-GREET: play ``greeting`` to the caller and ``whisper`` to the agent, then bridge them."""
    call_id: str
    agent_id: str
    greeting: tuple[str, ...] = ()
    whisper: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Announce:
    """Play prompts to a waiting caller (music on hold resumes after)."""
    call_id: str
    prompts: tuple[str, ...]
    purpose: str  # apology | position | voicemail_offer


@dataclass(frozen=True, kw_only=True, slots=True)
class Divert:
    """Play prompts, then send the caller to a dialplan destination ``context,exten,priority``."""
    call_id: str
    prompts: tuple[str, ...]
    destination: str
    reason: str  # closed | no_agent | queue_full | voicemail


@dataclass(frozen=True, kw_only=True, slots=True)
class LoginResult:
    request_id: str | None
    agent_id: str
    outcome: str  # ok | failed | locked | still_locked | phone_locked | phone_still_locked (core/login.py)


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandResult:
    request_id: str | None
    agent_id: str
    ok: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class Publish:
    """A fact for the log and the event bus."""
    event: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class KeepPlace:
    """R-CB: the caller chose to be called back; they hear it confirmed and hang up; the place is kept."""
    call_id: str
    queue: str
    position: int
    estimate_s: float  # the expected wait from here (a fallback time for the callback)


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaceReached:
    """R-CB: a kept place reached the front and ``agent_id`` is free: the agent is paused with reason
    ``callback`` for the callback, dialled agent first (the shell's callbacks desk)."""
    call_id: str
    queue: str
    agent_id: str


Action = (Ring | StopRinging | Connect | Announce | Divert | LoginResult | CommandResult | Publish | HoldForTransfer
          | DialTarget | Consult | EndTransfer | TransferResult | HoldAction | RemindAgent | PlayToCall | EndSilent
          | HoldApology | StopSilent | DetectTalk | KeepPlace | PlaceReached)


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
    wait: WaitSchedule | None
    state: CallState = CallState.WAITING
    agent_id: str | None = None
    attempt: int = 0
    deadline: float | None = None  # ring target of the current offer
    offered_at: float | None = None
    answered_at: float | None = None
    bridged_at: float | None = None
    head: bool = False  # back at the head of the line (transfer requeued, or to this queue)
    kept: bool = False  # R-CB keep my place: the caller hung up to be called back; the place stays in line
    hold: Hold | None = None  # R-HOLD
    silent: SilentScript | None = None  # R-SILENT in progress
    talk: TalkWatch | None = None  # R-SILENT: waiting for the caller's first word after the bridge
    timeline: Timeline = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.timeline is None:
            self.timeline = Timeline(call_id=self.call_id)

    @property
    def waiting(self) -> bool:
        return self.state in (CallState.WAITING, CallState.RINGING)


class Acd:
    UNREACHABLE_RETRY_S = 30.0

    def __init__(self, queues: Iterable[QueueRules], agents: Iterable[Agent], *,
                 busy: BusyPolicy | None = None, login: LoginGuard | None = None,
                 site_prompts: Iterable[str] = ()) -> None:
        self.queues = {q.name: q for q in queues}
        self.agents = {a.agent_id: a for a in agents}
        self.busy = busy or BusyPolicy()
        self.login = login or LoginGuard()
        self.site_prompts = frozenset(site_prompts)  # agent names, site texts (core/announce.py)
        self.calls: dict[str, _Call] = {}
        self.transfers: dict[str, Transfer] = {}  # call id -> its transfer in progress (R-XFER-*)
        self._xfer_seq = 0
        self._rr_last: dict[str, str] = {}  # queue -> agent id last offered (round robin)
        self._handle_s: dict[str, float] = {}  # queue -> moving average of handle time
        self._facts: list[tuple[str, TimelineEntry]] = []
        self._changed_agents: set[str] = set()
        self._agent_log: list[AgentLogEntry] = []  # R-KPI occupancy, R-SHIFT attendance
        self._wrap_s: dict[str, float] = {}  # agent id -> R-WRAP length of its wrap-up now (the ended call's queue)

    # -- the shell drains these after each handle() for the store -----------
    def drain_facts(self) -> list[tuple[str, TimelineEntry]]:
        facts, self._facts = self._facts, []
        return facts

    def drain_agent_log(self) -> list[AgentLogEntry]:
        """Every agent state entered since the last drain (and R-BUSY overruns), for the figures."""
        for a in self.agents.values():
            changes, a.changes = a.changes, []
            self._agent_log += [AgentLogEntry(agent_id=a.agent_id, at=at, event="state", state=state,
                                              reason=reason) for at, state, reason in changes]
        log, self._agent_log = self._agent_log, []
        return sorted(log, key=lambda e: e.at)

    def drain_changed_agents(self) -> list[Agent]:
        ids, self._changed_agents = self._changed_agents, set()
        return [self.agents[i] for i in sorted(ids)]

    def waiting_in(self, queue: str) -> list[_Call]:
        """The callers on the line in ``queue``'s line now (ringing an agent included; a kept place, R-CB,
        is no caller on the line). For the live figures (metrics, MQTT)."""
        return [c for c in self.calls.values() if c.queue == queue and c.waiting and not c.kept]

    def timeline(self, call_id: str) -> Timeline | None:
        call = self.calls.get(call_id)
        return call.timeline if call else None

    def position(self, call_id: str) -> int | None:
        """1-based place in its queue's line (priority, then first in first out)."""
        call = self.calls.get(call_id)
        if call is None or not call.waiting:
            return None
        line = self._line(call.queue)
        return line.index(call) + 1

    # -- events --------------------------------------------------------------
    def handle(self, ev: Event, now: float) -> list[Action]:
        out: list[Action] = []
        match ev:
            case CallArrived():
                out += self._arrive(ev, now)
            case CallRestored():
                self._restore(ev, now)
            case OfferAnswered():
                out += self._answered(ev, now)
            case OfferFailed():
                call = self.calls.get(ev.call_id)
                if call is None or call.agent_id != ev.agent_id:
                    return []  # late event of an offer we already ended
                if call.state == CallState.RINGING:
                    out += self._end_offer(call, now, reason=ev.reason, unreachable=ev.unreachable)
                elif call.state == CallState.ANSWERED:
                    out += self._agent_left_early(call, now)
            case CallBridged():
                call = self.calls.get(ev.call_id)
                if call is not None and call.state == CallState.ANSWERED:
                    call.state, call.bridged_at = CallState.CONNECTED, now
                    self._fact(call, Fact.BRIDGED, now, agent=ev.agent_id, greeted=ev.greeted)  # R-GREET
                    out += self._talk_watch(call, now)  # R-SILENT by talk detection
            case CallEnded():
                call = self.calls.get(ev.call_id)
                if call is not None and not call.kept:  # a kept place outlives the caller's channel
                    out += self._end_call(call, ev.by, now)
            case CallerKey():
                out += self._caller_key(ev, now)
            case Resynced():
                out += self._resynced(ev, now)
            case AgentCommand():
                out += self._command(ev, now)
            case LoginAttempt():
                out += self._login_attempt(ev, now)
            case PhoneState():
                out += self._phone_state(ev, now)
            case TransferRequest():
                out += self._transfer_request(ev, now)
            case TransferUpdate():
                out += self._transfer_event(ev.call_id, ev.event, now, reason=ev.reason)
            case TransferCommand():
                out += self._transfer_command(ev, now)
            case HoldRequest():
                out += self._hold(ev, now)
            case SilentRequest():
                out += self._silent_start(ev, now)
            case SilentPromptDone():
                call = self.calls.get(ev.call_id)
                if call is not None and call.silent is not None and call.silent.step == ev.step:
                    call.silent.prompt_done(now)
            case CallerSpoke():
                out += self._caller_spoke(ev, now)
        out += self._distribute(now)
        return out

    # -- timers --------------------------------------------------------------
    def get_timer(self) -> float | None:
        deadlines: list[float] = []
        for c in self.calls.values():
            if c.deadline is not None:
                deadlines.append(c.deadline)
            if c.wait is not None and c.waiting and (t := c.wait.next_at()) is not None:
                deadlines.append(t)
        for a in self.agents.values():
            if (t := self._agent_deadline(a)) is not None:
                deadlines.append(t)
        deadlines += [x.deadline for x in self.transfers.values() if x.deadline is not None]
        for c in self.calls.values():
            if c.hold is not None and (t := c.hold.next_reminder()) is not None:
                deadlines.append(t)
            if c.silent is not None and c.silent.deadline is not None:
                deadlines.append(c.silent.deadline)
            if c.hold is not None and (t := c.hold.next_apology()) is not None:
                deadlines.append(t)
            if c.talk is not None and c.talk.deadline is not None:
                deadlines.append(c.talk.deadline)
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> list[Action]:
        out: list[Action] = []
        for call in list(self.calls.values()):
            if call.deadline is not None and call.deadline <= now and call.state == CallState.RINGING:
                out += self._end_offer(call, now, reason="ring_target", unreachable=False)  # R-RING
            if call.wait is not None and call.waiting and (t := call.wait.next_at()) is not None and t <= now:
                out += self._wait_prompts(call, call.wait.due(now), now)  # R-WAIT, R-WAITLIMIT
        for a in self.agents.values():
            t = self._agent_deadline(a)
            if t is not None and t <= now:
                out += self._agent_timer(a, now)
        for x in list(self.transfers.values()):
            if x.deadline is not None and x.deadline <= now:  # R-XFER-CONFIRM: the target did not answer
                out += self._transfer_event(x.call_id, XferEvent.RING_TIMEOUT, now, reason="ring_target")
        for call in list(self.calls.values()):
            if call.hold is not None and (t := call.hold.next_reminder()) is not None and t <= now:  # R-HOLD
                call.hold.reminders += 1
                held_s = round(now - (call.hold.since or now), 3)
                out.append(Publish("call.hold_reminder", {"call_id": call.call_id, "agent": call.agent_id,
                                                          "held_s": held_s, "rule": "R-HOLD"}))
                out.append(RemindAgent(call_id=call.call_id, held_s=held_s))
            if call.silent is not None and call.silent.deadline is not None and call.silent.deadline <= now:
                out += self._silent_next(call, now)
            if call.hold is not None and (t := call.hold.next_apology()) is not None and t <= now:
                out += self._hold_apology(call, now)  # R-WAIT on hold
            if call.talk is not None and call.talk.due(now):
                call.talk = None
                out += self._silent_start(SilentRequest(call_id=call.call_id, source="talk_detect"), now)
        out += self._distribute(now)
        return out

    # -- calls -------------------------------------------------------------------
    def _arrive(self, ev: CallArrived, now: float) -> list[Action]:
        if ev.call_id in self.calls:
            return []  # duplicate (e.g. resync of a call we already hold)
        rules = self.queues.get(ev.queue)
        if rules is None:
            return [Publish("call.unknown_queue", {"call_id": ev.call_id, "queue": ev.queue})]
        call = _Call(call_id=ev.call_id, queue=ev.queue, priority=ev.priority, entered_at=ev.entered_at,
                     wait=WaitSchedule(entered_at=ev.entered_at, rules=rules.wait))
        if ev.resynced:
            # announcements already due before the restart are not replayed all at once
            call.wait.apology_done = now >= ev.entered_at + rules.wait.apology_s  # type: ignore[union-attr]
            call.wait.voicemail_offered = now >= ev.entered_at + rules.wait.max_wait_s  # type: ignore[union-attr]
            self.calls[ev.call_id] = call
            self._fact(call, Fact.RESYNCED, now, state="waiting", queue=call.queue, entered_at=call.entered_at)
            return [Publish("call.queued", {"call_id": call.call_id, "queue": call.queue, "priority": call.priority,
                                            "resynced": True})]
        self._fact(call, Fact.ENTERED_QUEUE, ev.entered_at, priority=ev.priority, queue=call.queue)
        fields = {"call_id": call.call_id, "queue": call.queue}
        if not rules.calendar.is_open(now):  # R-HOURS
            closed = tuple(closed_announcement(rules.calendar))  # the queue's own hours (issue 18)
            return self._divert(call, closed, rules.closed_destination, "closed", now, rule="R-HOURS")
        if not any(a.logged_in and call.queue in a.queues for a in self.agents.values()):  # R-WAITLIMIT
            return self._divert(call, ("no-agent",), rules.no_agent_destination, "no_agent", now, rule="R-WAITLIMIT")
        waiting = sum(1 for c in self.calls.values() if c.queue == call.queue and c.waiting)
        if rules.max_callers and waiting >= rules.max_callers:
            return self._divert(call, ("queue-full",), rules.overflow_destination, "queue_full", now)
        self.calls[ev.call_id] = call
        return [Publish("call.queued", {**fields, "priority": call.priority, "resynced": False})]

    def _divert(self, call: _Call, prompt_ids: tuple[str, ...], destination: str, reason: str, now: float,
                rule: str | None = None) -> list[Action]:
        """The caller leaves the queue for a dialplan destination (never dead air: a prompt first)."""
        self._fact(call, Fact.DIVERTED, now, reason=reason, destination=destination)
        fields: dict[str, Any] = {"call_id": call.call_id, "queue": call.queue, "reason": reason,
                                  "destination": destination, "wait_s": round(now - call.entered_at, 3)}
        if rule:
            fields["rule"] = rule
        self.calls.pop(call.call_id, None)
        if call.agent_id is not None:
            self._release_agent(call, now)
        return [Publish("call.diverted", fields),
                Divert(call_id=call.call_id, prompts=prompt_ids, destination=destination, reason=reason)]

    def _wait_prompts(self, call: _Call, due: list[str], now: float) -> list[Action]:
        rules = self.queues[call.queue]
        out: list[Action] = []
        for kind in due:
            match kind:
                case "apology":  # R-WAIT
                    ids: tuple[str, ...] = ("wait-apology",)
                case "position":  # R-WAITLIMIT
                    pos = self.position(call.call_id) or 1
                    serving = sum(1 for a in self.agents.values()
                                  if a.logged_in and call.queue in a.queues and a.state != AgentState.PAUSED)
                    est = estimate_wait(pos, serving, self._handle_s.get(call.queue, rules.default_handle_s))
                    ids = tuple(prompts.position_announcement(pos, est))
                case _:  # voicemail_offer, R-WAITLIMIT
                    ids = ("voicemail-offer",)
            self._fact(call, Fact.PROMPT_PLAYED, now, prompt=kind)
            out.append(Publish("call.announced", {"call_id": call.call_id, "queue": call.queue, "purpose": kind,
                                                  "wait_s": round(now - call.entered_at, 3),
                                                  "rule": "R-WAIT" if kind == "apology" else "R-WAITLIMIT"}))
            out.append(Announce(call_id=call.call_id, prompts=ids, purpose=kind))
        return out

    def _caller_key(self, ev: CallerKey, now: float) -> list[Action]:
        call = self.calls.get(ev.call_id)
        if call is None or not call.waiting:
            return []
        rules = self.queues[call.queue]
        if ev.digit == rules.keep_place_key and not call.kept:
            return self._keep_place(call, now)
        if ev.digit == rules.voicemail_key and call.wait is not None and call.wait.voicemail_offered:
            out: list[Action] = []
            if call.state == CallState.RINGING and call.agent_id is not None:
                out.append(StopRinging(call_id=call.call_id, agent_id=call.agent_id, attempt=call.attempt))
            return out + self._divert(call, (), rules.voicemail_destination, "voicemail", now, rule="R-WAITLIMIT")
        own = ev.digit in (rules.keep_place_key, rules.voicemail_key)  # R-PRIVACY: other keys not shown (issue 17)
        return [Publish("call.key_ignored", {"call_id": call.call_id, "digit": ev.digit if own else "masked"})]

    def _keep_place(self, call: _Call, now: float) -> list[Action]:
        """R-CB keep my place: the caller leaves the line but not their place in it."""
        out: list[Action] = []
        if call.state == CallState.RINGING and call.agent_id is not None:
            out.append(StopRinging(call_id=call.call_id, agent_id=call.agent_id, attempt=call.attempt))
            self._release_agent(call, now)
            call.state, call.agent_id, call.deadline = CallState.WAITING, None, None
        position = self.position(call.call_id) or 1
        rules = self.queues[call.queue]
        serving = sum(1 for a in self.agents.values()
                      if a.logged_in and call.queue in a.queues and a.state != AgentState.PAUSED)
        estimate = estimate_wait(position, serving, self._handle_s.get(call.queue, rules.default_handle_s))
        call.kept, call.wait = True, None  # no more prompts: nobody is listening
        self._fact(call, Fact.KEPT_PLACE, now, position=position)
        return out + [Publish("call.keep_place", {"call_id": call.call_id, "queue": call.queue, "position": position,
                                                  "wait_s": round(now - call.entered_at, 3), "rule": "R-CB"}),
                      KeepPlace(call_id=call.call_id, queue=call.queue, position=position,
                                estimate_s=float(estimate))]

    def _restore(self, ev: CallRestored, now: float) -> None:
        if ev.call_id in self.calls:
            return
        call = _Call(call_id=ev.call_id, queue=ev.queue, priority=ev.priority, entered_at=ev.entered_at, wait=None,
                     state=CallState.CONNECTED, agent_id=ev.agent_id, answered_at=ev.answered_at,
                     bridged_at=ev.answered_at)
        self.calls[ev.call_id] = call
        self._fact(call, Fact.RESYNCED, now, agent=ev.agent_id, state="connected", queue=call.queue,
                   entered_at=call.entered_at)
        agent = self.agents.get(ev.agent_id)
        if agent is not None:
            agent.force(AgentState.ON_CALL, now)
            agent.call_id = ev.call_id
            self._changed_agents.add(agent.agent_id)

    def _resynced(self, ev: Resynced, now: float) -> list[Action]:
        out: list[Action] = []
        for agent in self.agents.values():
            # R-RING: a phone that could not be rung is tried again on a fresh view of Asterisk. Found in the
            # issue 7 fault tests: a restarting Asterisk refuses originates ("503 Shutdown in progress"), and
            # half the agents sat out UNREACHABLE_RETRY_S after it was back. A phone that is offline is kept
            # out by its device state (``phone_online``), read again at the same reconnect.
            if agent.state == AgentState.UNREACHABLE:
                agent.apply(AgentEvent.REACHABLE, now)
                self._changed_agents.add(agent.agent_id)
                out.append(Publish("agent.reachable", {"agent": agent.agent_id, "source": "resync", "rule": "R-RING"}))
        present = {c.call_id: c for c in ev.calls}
        for call in list(self.calls.values()):
            snap = present.get(call.call_id)
            if call.kept:
                continue  # no channel to find: the place lives here only (and as a task in the store)
            if snap is None:
                out += self._end_call(call, "system", now, lost=True)
            elif not (isinstance(snap, CallRestored) and call.agent_id == snap.agent_id
                      and call.state in (CallState.ANSWERED, CallState.CONNECTED)):
                self._release_agent(call, now)  # re-added from the snapshot below
                x = self.transfers.pop(call.call_id, None)  # a transfer of the old state ends with it
                if x is not None and x.target_agent:
                    self._release_agent(call, now, self.agents.get(x.target_agent))
                del self.calls[call.call_id]
        for snap in ev.calls:
            if isinstance(snap, CallRestored):
                self._restore(snap, now)
            else:
                out += self._arrive(snap, now)
        return out

    def _answered(self, ev: OfferAnswered, now: float) -> list[Action]:
        call = self.calls.get(ev.call_id)
        if call is None or call.state != CallState.RINGING or call.agent_id != ev.agent_id:
            return [Publish("call.late_answer", {"call_id": ev.call_id, "agent": ev.agent_id})]
        agent = self.agents[ev.agent_id]
        agent.apply(AgentEvent.ANSWER, now)
        self._changed_agents.add(agent.agent_id)
        call.state, call.answered_at, call.deadline = CallState.ANSWERED, now, None
        ring_s = round(now - (call.offered_at or now), 3)
        rules = self.queues[call.queue]
        within = ring_s <= rules.ring_target_s
        self._fact(call, Fact.ANSWERED, now, agent=agent.agent_id, ring_s=ring_s, within_target=within)
        greeting: tuple[str, ...] = ()
        whisper: tuple[str, ...] = ()
        if rules.greeting:  # R-GREET
            time_of_day = prompts.greeting(rules.calendar.local_hour(now)) if rules.greeting_time_of_day else None
            greeting = announce.greeting(agent.agent_id, org=rules.greeting_org, time_of_day=time_of_day,
                                         available=self.site_prompts)
            whisper = tuple(w for w in (announce.queue_name(call.queue, self.site_prompts),) if w)
        return [Publish("call.answered", {"call_id": call.call_id, "queue": call.queue, "agent": agent.agent_id,
                                          "ring_s": ring_s, "within_ring_target": within,
                                          "wait_s": round(now - call.entered_at, 3), "rule": "R-RING"}),
                Connect(call_id=call.call_id, agent_id=agent.agent_id, greeting=greeting, whisper=whisper)]

    def _end_offer(self, call: _Call, now: float, *, reason: str, unreachable: bool) -> list[Action]:
        """R-RING: stop ringing, count the miss (or the unreachable phone), offer the next agent at once."""
        agent = self.agents[call.agent_id]  # type: ignore[index]
        ring_s = round(now - (call.offered_at or now), 3)
        out: list[Action] = [StopRinging(call_id=call.call_id, agent_id=agent.agent_id, attempt=call.attempt)]
        self._fact(call, Fact.OFFER_FAILED, now, agent=agent.agent_id, reason=reason, ring_s=ring_s,
                   unreachable=unreachable)
        if agent.state == AgentState.RINGING and agent.call_id == call.call_id:
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

    def _agent_left_early(self, call: _Call, now: float) -> list[Action]:
        """The agent answered but hung up before the caller was bridged: back in line, at its place."""
        agent = self.agents[call.agent_id]  # type: ignore[index]
        self._call_over(agent, call, now, counted=False)
        self._fact(call, Fact.OFFER_FAILED, now, agent=agent.agent_id, reason="agent_left_before_bridge")
        call.state, call.agent_id, call.answered_at, call.deadline = CallState.WAITING, None, None, None
        return [Publish("call.agent_left_early", {"call_id": call.call_id, "queue": call.queue,
                                                  "agent": agent.agent_id})]

    def _call_over(self, agent: Agent | None, call: _Call, now: float, *, counted: bool = True) -> None:
        """The agent's part in ``call`` is over: ringing → available; talking → wrap-up (R-WRAP),
        counted as a call taken unless ``counted`` is False."""
        if agent is None or agent.call_id != call.call_id:
            return
        if agent.state in (AgentState.ON_CALL, AgentState.RINGING):
            talked = agent.state == AgentState.ON_CALL
            agent.apply(AgentEvent.CALL_ENDED, now)
            if talked:
                if counted:
                    agent.calls_taken += 1
                    agent.last_call_end = now
                wrap_s = self._wrap_up_s(agent, call.queue)
                if wrap_s <= 0:
                    agent.apply(AgentEvent.WRAP_DONE, now)
                else:
                    self._wrap_s[agent.agent_id] = wrap_s
        agent.call_id = None
        self._changed_agents.add(agent.agent_id)

    def _release_agent(self, call: _Call, now: float, agent: Agent | None = None) -> None:
        """Free the agent of a call (or ``agent``, its transfer's target) that leaves the core without being
        served or counted."""
        if agent is None:
            agent = self.agents.get(call.agent_id) if call.agent_id else None
        if agent is not None and agent.call_id == call.call_id:
            if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                agent.force(AgentState.AVAILABLE, now)
            agent.call_id = None
            self._changed_agents.add(agent.agent_id)

    def _end_call(self, call: _Call, by: str, now: float, *, lost: bool = False) -> list[Action]:
        out: list[Action] = []
        x = self.transfers.pop(call.call_id, None)
        if x is not None and x.target_agent:  # a transfer cut short by the end of the call
            self._call_over(self.agents.get(x.target_agent), call, now)
        agent = self.agents.get(call.agent_id) if call.agent_id else None
        if call.state == CallState.RINGING and agent is not None:
            out.append(StopRinging(call_id=call.call_id, agent_id=agent.agent_id, attempt=call.attempt))
        self._call_over(agent, call, now)
        self._fact(call, Fact.HANGUP, now, agent=call.agent_id, by=by)
        fields: dict[str, Any] = {"call_id": call.call_id, "queue": call.queue,
                                  "wait_s": round((call.answered_at or now) - call.entered_at, 3)}
        if call.answered_at is not None:
            talk_s = round(now - (call.bridged_at or call.answered_at), 3)
            fields.update(agent=call.agent_id, hung_up_first=by, rule="R-HANGUP", talk_s=talk_s, lost=lost)
            if call.hold is not None:
                fields["hold_s"] = round(call.hold.total(now), 3)
            out.append(Publish("call.completed", fields))
            if not lost:
                prev = self._handle_s.get(call.queue)
                self._handle_s[call.queue] = talk_s if prev is None else 0.8 * prev + 0.2 * talk_s
        else:
            fields.update(by=by, lost=lost)
            out.append(Publish("call.abandoned", fields))
        call.state = CallState.ENDED
        del self.calls[call.call_id]
        return out

    # -- agents -----------------------------------------------------------------------
    def _wrap_up_s(self, agent: Agent, queue: str | None = None) -> float:
        rules = self.queues.get(queue or (agent.queues[0] if agent.queues else ""))
        return rules.wrap_up_s if rules else 0.0

    def _agent_deadline(self, a: Agent) -> float | None:
        match a.state:
            case AgentState.WRAP_UP:  # R-WRAP: the wrap-up of the queue whose call ended (a restored one: its first)
                return a.since + self._wrap_s.get(a.agent_id, self._wrap_up_s(a))
            case AgentState.UNREACHABLE:
                return a.since + self.UNREACHABLE_RETRY_S
            case AgentState.PAUSED:
                overrun = a.overrun_at(self.busy)
                if a.reason == "missed" and self.busy.missed_resume_s > 0:
                    return min(overrun, a.since + self.busy.missed_resume_s)  # type: ignore[type-var]
                return overrun
        return None

    def _agent_timer(self, a: Agent, now: float) -> list[Action]:
        out: list[Action] = []
        self._changed_agents.add(a.agent_id)
        match a.state:
            case AgentState.WRAP_UP:
                a.apply(AgentEvent.WRAP_DONE, now)  # (its _wrap_s entry is only read in the next wrap-up: left)
            case AgentState.UNREACHABLE:
                a.apply(AgentEvent.REACHABLE, now)
            case AgentState.PAUSED if (a.reason == "missed" and self.busy.missed_resume_s > 0
                                       and now >= a.since + self.busy.missed_resume_s):
                a.apply(AgentEvent.RESUME, now)
                out.append(Publish("agent.resumed", {"agent": a.agent_id, "source": "auto", "rule": "R-RING"}))
            case AgentState.PAUSED:  # R-BUSY
                paused_s = round(now - a.since, 3)
                a.overruns += 1
                if a.overruns == 1:  # R-KPI counts pauses that passed their limit, not repeated alerts
                    self._agent_log.append(AgentLogEntry(agent_id=a.agent_id, at=now, event="busy_overrun",
                                                         state=a.state.value, reason=a.reason))
                out.append(Publish("agent.busy_overrun", {
                    "agent": a.agent_id, "reason": a.reason, "paused_s": paused_s, "alert": a.overruns,
                    "limit_s": self.busy.limit_for(a.reason), "rule": "R-BUSY"}))
                if self.busy.on_overrun == "resume":
                    a.apply(AgentEvent.RESUME, now)
                    out.append(Publish("agent.resumed", {"agent": a.agent_id, "source": "auto", "rule": "R-BUSY"}))
                elif self.busy.on_overrun == "logout":
                    a.apply(AgentEvent.LOGOUT, now)
                    out.append(Publish("agent.logged_out", {"agent": a.agent_id, "source": "auto",
                                                            "rule": "R-BUSY"}))
        return out

    def _command(self, ev: AgentCommand, now: float) -> list[Action]:
        agent = self.agents.get(ev.agent_id)
        if agent is None:
            return [CommandResult(request_id=ev.request_id, agent_id=ev.agent_id, ok=False,
                                  message=f"unknown agent {ev.agent_id}")]
        event = {"login": AgentEvent.LOGIN, "logout": AgentEvent.LOGOUT, "pause": AgentEvent.PAUSE,
                 "resume": AgentEvent.RESUME}.get(ev.command)
        if event is None or not agent.can(event):
            return [CommandResult(request_id=ev.request_id, agent_id=agent.agent_id, ok=False,
                                  message=f"cannot {ev.command} while {agent.state.value}")]
        out: list[Action] = []
        if event == AgentEvent.LOGIN:
            out += self._bind_phone(agent, ev.interface or agent.interface, now)
        agent.apply(event, now, reason=ev.reason or "break")
        self._changed_agents.add(agent.agent_id)
        fields: dict[str, Any] = {"agent": agent.agent_id, "source": ev.source}
        if event == AgentEvent.PAUSE:
            fields.update(reason=agent.reason, limit_s=self.busy.limit_for(agent.reason), rule="R-BUSY")
        if event == AgentEvent.LOGIN:
            fields.update(interface=agent.interface, rule="R-LOGIN")
        name = {"login": "agent.logged_in", "logout": "agent.logged_out", "pause": "agent.paused",
                "resume": "agent.resumed"}[ev.command]
        out.append(Publish(name, fields))
        out.append(CommandResult(request_id=ev.request_id, agent_id=agent.agent_id, ok=True))
        return out

    def _bind_phone(self, agent: Agent, interface: str, now: float) -> list[Action]:
        """R-LOGIN: one agent ID at one phone, one agent at a phone."""
        out: list[Action] = []
        if agent.logged_in and agent.interface and agent.interface != interface:
            out.append(Publish("agent.moved", {"agent": agent.agent_id, "from": agent.interface, "to": interface,
                                               "rule": "R-LOGIN"}))
        for other in self.agents.values():
            if other is not agent and other.interface == interface and other.logged_in:
                if other.can(AgentEvent.LOGOUT) and other.state not in (AgentState.ON_CALL, AgentState.RINGING):
                    other.apply(AgentEvent.LOGOUT, now)
                    out.append(Publish("agent.logged_out", {"agent": other.agent_id, "source": "replaced",
                                                            "by": agent.agent_id, "rule": "R-LOGIN"}))
                other.interface = ""
                self._changed_agents.add(other.agent_id)
        agent.interface = interface
        return out

    def _login_attempt(self, ev: LoginAttempt, now: float) -> list[Action]:
        """R-LOGIN: limited per agent ID and per phone (issue 17); an unknown ID is counted like a known one."""
        outcome = self.login.attempt(ev.agent_id, ev.pin_ok and ev.agent_id in self.agents, now, ev.interface)
        out: list[Action] = []
        if any(k.startswith("phone:") for k in self.login.just_locked):
            out.append(Publish("agent.login_phone_locked", {"interface": ev.interface, "agent": ev.agent_id,
                                                            "lock_s": self.login.lock_s, "rule": "R-LOGIN"}))
        if outcome == "ok":
            agent = self.agents[ev.agent_id]
            if not agent.can(AgentEvent.LOGIN):
                return [LoginResult(request_id=ev.request_id, agent_id=ev.agent_id, outcome="failed"),
                        Publish("agent.login_refused", {"agent": ev.agent_id, "state": agent.state.value})]
            out += self._command(AgentCommand(agent_id=ev.agent_id, command="login", interface=ev.interface,
                                              source="phone"), now)
            out = [a for a in out if not isinstance(a, CommandResult)]
        elif outcome == "locked":
            out.append(Publish("agent.login_locked", {"agent": ev.agent_id, "interface": ev.interface,
                                                      "lock_s": self.login.lock_s, "rule": "R-LOGIN"}))
        elif outcome != "phone_locked":  # phone_locked: its alert above
            out.append(Publish("agent.login_failed", {"agent": ev.agent_id, "interface": ev.interface,
                                                      "outcome": outcome, "rule": "R-LOGIN"}))
        out.append(LoginResult(request_id=ev.request_id, agent_id=ev.agent_id, outcome=outcome))
        return out

    def _phone_state(self, ev: PhoneState, now: float) -> list[Action]:
        out: list[Action] = []
        for agent in self.agents.values():
            if agent.interface != ev.interface:
                continue
            changed = False
            if ev.online is not None and ev.online != agent.phone_online:
                agent.phone_online, changed = ev.online, True
            if ev.busy is not None and ev.busy != agent.phone_busy:
                agent.phone_busy, changed = ev.busy, True
            if changed:
                self._changed_agents.add(agent.agent_id)
                out.append(Publish("agent.phone", {"agent": agent.agent_id, "online": agent.phone_online,
                                                   "busy": agent.phone_busy}))
        return out

    # -- in-call help for the agent: R-HOLD and R-SILENT (incall.py) ---------------------------------
    def _hold(self, ev: HoldRequest, now: float) -> list[Action]:
        call = self.calls.get(ev.call_id)
        result = lambda ok, message="": [CommandResult(request_id=ev.request_id,  # noqa: E731
                                                       agent_id=call.agent_id if call else "", ok=ok, message=message)]
        if call is None or call.state != CallState.CONNECTED or call.agent_id is None:
            return result(False, "the call is not connected to an agent")
        if call.call_id in self.transfers:
            return result(False, "a transfer is in progress")
        if call.hold is None:
            call.hold = Hold(remind_s=self.queues[call.queue].hold_remind_s,
                             apology_s=self.queues[call.queue].hold_apology_s)
        if ev.on == call.hold.on:
            return result(True)  # already so (a phone's re-INVITE after the key, say)
        fields: dict[str, Any] = {"call_id": call.call_id, "agent": call.agent_id, "source": ev.source,
                                  "rule": "R-HOLD"}
        if ev.on:
            call.hold.start(now)
            self._fact(call, Fact.HOLD, now, agent=call.agent_id, source=ev.source)
            return [Publish("call.hold", fields), HoldAction(call_id=call.call_id, hold=True), *result(True)]
        held = call.hold.stop(now)
        self._fact(call, Fact.UNHOLD, now, agent=call.agent_id, held_s=round(held, 3))
        return [Publish("call.unhold", {**fields, "held_s": round(held, 3)}),
                HoldAction(call_id=call.call_id, hold=False, prompts=("hold-sorry",)), *result(True)]

    def _silent_start(self, ev: SilentRequest, now: float) -> list[Action]:
        call = self.calls.get(ev.call_id)
        if call is None or call.state != CallState.CONNECTED or call.silent is not None:
            return []
        if call.hold is not None and call.hold.on or call.call_id in self.transfers:
            return []
        rules = self.queues[call.queue]
        call.talk = None  # the script runs now: talk detection only stops it
        call.silent = SilentScript(wait_s=rules.silent_wait_s, prompts=SILENT_SCRIPTS[rules.silent_script])
        prompt = call.silent.start()
        self._fact(call, Fact.PROMPT_PLAYED, now, prompt=prompt, rule="R-SILENT")
        return [Publish("call.silent_script", {"call_id": call.call_id, "agent": call.agent_id, "source": ev.source,
                                               "rule": "R-SILENT"}),
                PlayToCall(call_id=call.call_id, prompt=prompt, step=call.silent.step)]

    def _silent_next(self, call: _Call, now: float) -> list[Action]:
        prompt = call.silent.wake()  # type: ignore[union-attr]
        if prompt is not None:
            self._fact(call, Fact.PROMPT_PLAYED, now, prompt=prompt, rule="R-SILENT")
            return [PlayToCall(call_id=call.call_id, prompt=prompt, step=call.silent.step)]  # type: ignore[union-attr]
        call.silent = None
        return [Publish("call.silent", {"call_id": call.call_id, "queue": call.queue, "agent": call.agent_id,
                                        "rule": "R-SILENT"}),
                EndSilent(call_id=call.call_id)]

    def _talk_watch(self, call: _Call, now: float) -> list[Action]:
        """R-SILENT: from the bridge, talk detection listens for the caller's first word."""
        call.talk = TalkWatch.after_bridge(now, self.queues[call.queue].silent_detect_s)
        return [DetectTalk(call_id=call.call_id)] if call.talk is not None else []

    def _caller_spoke(self, ev: CallerSpoke, now: float) -> list[Action]:
        """Talk detection heard the caller: no script starts by itself, and one running stops (no hang-up)."""
        call = self.calls.get(ev.call_id)
        if call is None:
            return []
        call.talk = None
        if call.silent is None:
            return []
        step, call.silent = call.silent.step, None
        return [Publish("call.silent_stopped", {"call_id": call.call_id, "agent": call.agent_id, "step": step,
                                                "cause": ev.cause, "rule": "R-SILENT"}),
                StopSilent(call_id=call.call_id)]

    def _hold_apology(self, call: _Call, now: float) -> list[Action]:
        """R-WAIT: the caller has been on hold ``hold_apology_s``: "对不起，请稍等！" once, then the music."""
        hold = call.hold
        assert hold is not None and hold.since is not None
        hold.apologised = True
        held_s = round(now - hold.since, 3)
        self._fact(call, Fact.PROMPT_PLAYED, now, prompt="wait-apology", rule="R-WAIT", held_s=held_s)
        return [Publish("call.hold_apology", {"call_id": call.call_id, "agent": call.agent_id, "held_s": held_s,
                                              "rule": "R-WAIT"}),
                HoldApology(call_id=call.call_id)]

    # -- transfers (R-XFER-CONSENT, R-XFER-CONFIRM, R-XFER-NAME; state table in transfer.py) ------
    def _transfer_request(self, ev: TransferRequest, now: float) -> list[Action]:
        call = self.calls.get(ev.call_id)

        def refuse(message: str) -> list[Action]:
            return [Publish("transfer.refused", {"call_id": ev.call_id, "target": ev.target, "source": ev.source,
                                                 "reason": message}),
                    TransferResult(request_id=ev.request_id, call_id=ev.call_id, ok=False, message=message)]

        if call is None or call.state != CallState.CONNECTED or call.agent_id is None:
            return refuse("the call is not connected to an agent")
        current = self.transfers.get(call.call_id)
        if current is not None and not current.ended:
            return refuse(f"transfer {current.transfer_id} is already {current.state.value}")
        target = ev.target.strip().removeprefix("queue:") if ev.target.startswith("queue:") else ev.target.strip()
        if target in self.queues and (ev.target.startswith("queue:") or target not in self.agents):
            kind, interface = "queue", ""
        elif target in self.agents:
            if target == call.agent_id:
                return refuse("cannot transfer a call to its own agent")
            kind, interface = "agent", self.agents[target].interface
        elif target.isascii() and target.isdigit() and 2 <= len(target) <= 15:  # 0-9 only (issue 17)
            kind, interface = "extension", f"PJSIP/{target}"
        else:
            return refuse(f"unknown transfer target {ev.target!r}")
        self._xfer_seq += 1
        x = Transfer(transfer_id=f"{call.call_id}~x{self._xfer_seq}", call_id=call.call_id, agent_id=call.agent_id,
                     target=target, kind=kind, target_interface=interface,
                     target_agent=target if kind == "agent" else None, source=ev.source)
        self.transfers[call.call_id] = x
        self._fact(call, Fact.TRANSFER, now, agent=call.agent_id, state="requested", target=target, kind=kind)
        return [Publish("transfer.requested", {"call_id": call.call_id, "transfer_id": x.transfer_id,
                                               "agent": call.agent_id, "target": target, "kind": kind,
                                               "source": ev.source, "rule": "R-XFER-CONSENT"}),
                TransferResult(request_id=ev.request_id, call_id=call.call_id, ok=True, transfer_id=x.transfer_id,
                               state=x.state.value),
                HoldForTransfer(call_id=call.call_id, transfer_id=x.transfer_id,
                                prompts=announce.transfer_hold(self._where_to(x)))]

    def _where_to(self, x: Transfer) -> str | None:
        """R-XFER-CONSENT: the name prompt of where the caller goes (a queue's, an agent's), if any."""
        if x.kind == "queue":
            return announce.queue_name(x.target, self.site_prompts)
        return announce.agent_name(x.target_agent, self.site_prompts)

    def _transfer_command(self, ev: TransferCommand, now: float) -> list[Action]:
        x = self.transfers.get(ev.call_id)
        event = {"complete": XferEvent.COMPLETE, "cancel": XferEvent.CANCEL}.get(ev.command)
        if x is None or x.ended or event is None or not x.can(event):
            state = x.state.value if x else "none"
            message = (f"cannot {ev.command} while {state}" if x else "no transfer in progress")
            return [TransferResult(request_id=ev.request_id, call_id=ev.call_id, ok=False, message=message,
                                   state=state)]
        out = self._transfer_event(ev.call_id, event, now)
        return out + [TransferResult(request_id=ev.request_id, call_id=ev.call_id, ok=True,
                                     transfer_id=x.transfer_id, state=x.state.value)]

    def _transfer_event(self, call_id: str, event: XferEvent, now: float, reason: str = "") -> list[Action]:
        x = self.transfers.get(call_id)
        call = self.calls.get(call_id)
        if x is None or x.ended or call is None:
            return []
        if not x.can(event):  # Asterisk's doing (a late or repeated event): ignore
            return [Publish("transfer.event_ignored", {"call_id": call_id, "event": event.value,
                                                       "state": x.state.value})]
        x.apply(event, now)
        out: list[Action] = []
        before: list[Action] = []  # facts of a state passed through on the way (a REFER's consultation)
        target = self.agents.get(x.target_agent) if x.target_agent else None
        rules = self.queues[call.queue]
        if x.state == XferState.CALLER_ON_HOLD:
            if x.kind == "queue":
                x.apply(XferEvent.ENTERED_QUEUE, now)
            elif target is not None and not target.offerable:
                x.apply(XferEvent.TARGET_FAILED, now)
                reason = reason or f"target {target.state.value}"
            else:
                if target is not None:
                    target.apply(AgentEvent.OFFER, now)
                    target.call_id = call_id
                    self._changed_agents.add(target.agent_id)
                x.apply(XferEvent.TARGET_DIALED, now)
                x.deadline = now + rules.ring_target_s
                out.append(DialTarget(call_id=call_id, transfer_id=x.transfer_id, interface=x.target_interface,
                                      timeout_s=rules.originate_timeout_s))
        elif x.state == XferState.CONSULTING:
            if target is not None and target.state == AgentState.RINGING:
                target.apply(AgentEvent.ANSWER, now)
                self._changed_agents.add(target.agent_id)
            out.append(Consult(call_id=call_id, transfer_id=x.transfer_id))
            if x.source == "refer":
                # The phone's own transfer key asked for a blind transfer: once the target has
                # answered (R-XFER-CONFIRM) it completes; the agent did not ask to consult.
                self._fact(call, Fact.TRANSFER, now, agent=x.agent_id, state=x.state.value)
                before.append(Publish("transfer.consulting", {"call_id": call_id, "transfer_id": x.transfer_id,
                                                              "agent": x.agent_id, "target": x.target,
                                                              "state": x.state.value, "rule": "R-XFER-CONFIRM"}))
                x.apply(XferEvent.COMPLETE, now)
        self._fact(call, Fact.TRANSFER, now, agent=x.agent_id, state=x.state.value, reason=reason,
                   **({"target_agent": x.target_agent} if x.state == XferState.COMPLETED else {}))
        fields: dict[str, Any] = {"call_id": call_id, "transfer_id": x.transfer_id, "agent": x.agent_id,
                                  "target": x.target, "state": x.state.value, "rule": "R-XFER-CONFIRM"}
        if reason:
            fields["reason"] = reason
        out = [*before, Publish(f"transfer.{x.state.value}", fields), *out]
        if x.ended:
            out += self._finish_transfer(x, call, target, now)
        return out

    def _finish_transfer(self, x: Transfer, call: _Call, target: Agent | None, now: float) -> list[Action]:
        agent = self.agents.get(x.agent_id)
        del self.transfers[call.call_id]

        match x.state:
            case XferState.COMPLETED if x.kind == "queue":
                self._call_over(agent, call, now)
                self._requeue(call, x.target, now)
                return [EndTransfer(call_id=call.call_id, transfer_id=x.transfer_id, outcome="to_queue")]
            case XferState.COMPLETED:
                self._call_over(agent, call, now)
                call.agent_id = target.agent_id if target is not None else None
                who = target.agent_id if target is not None else None
                return [EndTransfer(call_id=call.call_id, transfer_id=x.transfer_id, outcome="completed",
                                    prompts=announce.transfer_connected(who, announce.agent_name(
                                        who, self.site_prompts)))]  # R-XFER-NAME
            case XferState.CANCELLED | XferState.TARGET_FAILED:
                self._call_over(target, call, now)
                return [EndTransfer(call_id=call.call_id, transfer_id=x.transfer_id, outcome=x.state.value,
                                    prompts=("hold-sorry",))]
            case XferState.REQUEUED:
                self._call_over(agent, call, now)
                self._call_over(target, call, now)
                self._requeue(call, call.queue, now)
                return [EndTransfer(call_id=call.call_id, transfer_id=x.transfer_id, outcome="requeued")]
        # abandoned: the caller hung up
        self._call_over(target, call, now)
        out: list[Action] = [EndTransfer(call_id=call.call_id, transfer_id=x.transfer_id, outcome="abandoned")]
        return out + self._end_call(call, "caller", now)

    def _requeue(self, call: _Call, queue: str, now: float) -> None:
        """Back in line at its head: after a failed-over transfer, or transferred into a queue."""
        call.queue, call.head = queue, True
        call.state, call.agent_id, call.answered_at, call.bridged_at = CallState.WAITING, None, None, None
        call.wait = WaitSchedule(entered_at=now, rules=self.queues[queue].wait, apology_done=True)

    # -- distribution -----------------------------------------------------------------
    def _fact(self, call: _Call, fact: Fact, at: float, agent: str | None = None, **detail: Any) -> None:
        self._facts.append((call.call_id, call.timeline.add(fact, at, agent, **detail)))

    def _line(self, queue: str) -> list[_Call]:
        return sorted((c for c in self.calls.values() if c.queue == queue and c.waiting), key=_line_order)

    def _distribute(self, now: float) -> list[Action]:
        """Offer waiting calls (priority, then first in first out) to free agents."""
        out: list[Action] = []
        # Queues with a free agent now; offers only take agents, so a queue found without one stays so
        # for the rest of this pass. Callers of other queues are never looked at: this runs after every
        # event, and with hundreds waiting and no agent free it must not cost callers x agents.
        open_queues = {q for a in self.agents.values() if a.offerable for q in a.queues}
        if not open_queues:
            return out
        waiting = sorted((c for c in self.calls.values() if c.state == CallState.WAITING and c.queue in open_queues),
                         key=_line_order)
        for call in waiting:
            if call.queue not in open_queues:
                continue
            agent = self._pick(call.queue)
            if agent is None:
                open_queues.discard(call.queue)
                continue
            rules = self.queues[call.queue]
            if call.kept:  # R-CB: its turn: the free agent calls the caller back, agent first
                del self.calls[call.call_id]
                agent.apply(AgentEvent.PAUSE, now, reason="callback")
                self._changed_agents.add(agent.agent_id)
                self._fact(call, Fact.PLACE_REACHED, now, agent=agent.agent_id)
                out += [Publish("call.place_reached", {"call_id": call.call_id, "queue": call.queue,
                                                       "agent": agent.agent_id,
                                                       "wait_s": round(now - call.entered_at, 3), "rule": "R-CB"}),
                        PlaceReached(call_id=call.call_id, queue=call.queue, agent_id=agent.agent_id)]
                continue
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
        free = [a for a in self.agents.values() if a.offerable and queue in a.queues]
        if not free:
            return None
        best = min(a.penalties.get(queue, 0) for a in free)  # lowest penalty tier first
        free = sorted((a for a in free if a.penalties.get(queue, 0) == best), key=lambda a: _id_order(a.agent_id))
        match self.queues[queue].strategy:
            case "round_robin":
                last = self._rr_last.get(queue)
                if last is not None:
                    after = [a for a in free if _id_order(a.agent_id) > _id_order(last)]
                    return after[0] if after else free[0]
                return free[0]
            case "fewest_calls":
                return min(free, key=lambda a: (a.calls_taken, _id_order(a.agent_id)))
        return min(free, key=lambda a: (max(a.last_call_end, a.since), _id_order(a.agent_id)))  # longest idle


def _line_order(c: _Call) -> tuple[bool, int, float, str]:
    """Back-at-the-head calls first, then priority, then first in first out."""
    return (not c.head, -c.priority, c.entered_at, c.call_id)


def _id_order(agent_id: str) -> tuple[int, str]:
    return (len(agent_id), agent_id)
