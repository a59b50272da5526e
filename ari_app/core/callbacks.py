"""Voicemail callbacks: tasks, who handles them, when the agent is called, retries, deadlines.

Rules here: R-VM (a voicemail becomes a persisted callback task), R-VM-RR
(the daily duty rota, or round-robin per task), R-VM-CHECK (2-hourly checks
within the shift, staggered per team; roll-over at the end of the shift),
R-CB (agent-first callback attempts, outcomes, back-off, ``max_attempts``)
and R-SLA24 (deadline 24 h from creation, ``callback.overdue`` once).

Pure, sans-I/O (STYLE.md): ``handle(ev, now)`` and ``handle_timer(now)``
return actions; ``get_timer()`` is the earliest time anything is due, and
``handle`` first runs whatever fell due up to ``now`` (so a late timer never
sees events out of order). ``drain_changed()`` and ``rota_state()`` give
the shell what to persist (R-VM: nothing is lost across restarts). Times
are epoch seconds (wall clock: the rota and checks follow the team's
calendar in its time zone). Teams, shifts and leave come from a
``core.roster.Roster`` the shell owns and may change at any time (send
``RosterChanged`` to apply a change at once; otherwise it applies at the
next check). Caller numbers appear only in ``DialCustomer``, never in a
``Publish`` (R-PRIVACY).

The rota (R-VM-RR), precisely
-----------------------------
Agents are taken in agent-ID order (``roster.agent_order``), wrapping round.
"Eligible on day D" means: a member of the team with no leave at all on D
(a single-shift leave also skips the agent, since duty lasts the whole
working day); in ``per_task`` mode with ``require_logged_in`` also logged in.

Each team has one explicit, persisted ``RotaPointer(last_agent, day, duty)``:

* **duty mode** (default). ``day`` is the latest working day the rota has
  been fixed for, ``duty`` that day's duty agent (None: everybody was on
  leave), ``last_agent`` the most recent agent who actually held duty. The
  duty agent of working day D is fixed the first time D is needed (a task
  arrives, a check, a roll-over): for every working day after ``day`` up to
  D in turn, the duty is the first eligible agent *after* ``last_agent``,
  and that agent becomes ``last_agent``. So the rota moves one step per
  working day whether or not voicemail arrived; weekends and holidays do not
  move it; an agent on leave is skipped and the next in order takes the day
  (依次顺延) — the skipped agent is not owed a turn: the next day continues
  after the agent who actually held duty. A fresh rota starts at the lowest
  ID. If the fixed duty agent of D is put on leave later, the next eligible
  agent after them takes over and their open tasks follow.
* **per_task mode.** ``last_agent`` is the agent who got the previous task;
  a new task goes to the first eligible agent after it (``day``/``duty`` are
  unused).

The *duty day* for a time t is the working day whose shift is running at t,
else the next one to start (``Roster.duty_day``): voicemail left in the
evening or at the weekend belongs to the next working day's duty agent.

Roll-over (R-VM-CHECK): at the end of the team's working day (the end of its
last shift) the open tasks move to the duty agent of the next working day —
the next eligible agent by the rota on that day. In per_task mode the tasks
stay with their owners, except those whose owner is on leave on the next
working day, which go round-robin. Tasks in a running callback call are not
moved until the call ends (the next check moves any left over).

Checks (R-VM-CHECK)
-------------------
Check times of a team on a working day are ``check_start + offset(team) +
k * check_every_s`` (k = 0, 1, …) that fall inside one of the team's shifts
that day, the first ``checks_per_day`` of them if set (``core.vmcheck``). The
offset is the team's round's (``rounds``: teams sharing one offset, round i
at ``i * round_gap_s``) or, without rounds, its ``check_offsets``. At a check
time, *if the team has open tasks*, every agent holding due tasks (open,
back-off passed) gets ``CallDutyAgent`` — in duty mode that is the duty
agent. An agent who is busy (``AgentPresence(busy=True)``) or
who does not answer (``DutyCallEnded`` before ``DutyAnswered``) has a
*missed check*: it runs as soon as ``AgentPresence(busy=False)`` arrives,
if that is still within the shift and due tasks remain; otherwise the next
check covers it. Several passed check times (the shell slept) make one check.

Supervisor moves and follow-up lists
------------------------------------
``ReassignTask`` moves an open task (not in a running call) to another agent
of the task's team who is not on leave on the duty day; the task keeps that
agent (``reassigned_by`` is set) until it ends or rolls over at the end of
the working day — in duty mode too — unless the agent goes on leave, when
the normal rule takes it back. Refusals are ``CallbackCommandResult(ok=False)``.

``FollowupImported`` (回访 lists, R-CB last sentence) creates tasks of kind
``followup`` with no recording (the shell skips the playback when
``recording`` is empty). They are dealt round-robin in agent-ID order over the
team's eligible agents with the per_task rules (leave; ``require_logged_in``)
in either mode, from a pointer of their own, ``"<team>:followup"`` in
``RotaState``, so the voicemail rota is not disturbed; at roll-over they stay
with their owners unless the owner is on leave. R-SLA24 applies to them too.

Callback calls (R-CB), agent-first
----------------------------------
``CallDutyAgent`` → the shell calls the agent → ``DutyAnswered`` → the core
sends ``DialCustomer`` for one task at a time (the shell plays the voicemail
to the agent, then dials the customer and bridges) → ``AttemptResult`` →
next ``DialCustomer`` … → ``EndDutyCall``. The shell reports the result of
every dialled customer before ``DutyCallEnded``; a task still in progress
when the agent's call ends goes back to open without an attempt. Outcomes
no_answer / busy / failed are retried after ``min(cap, base * factor**(n-1))``
(n = attempts so far) until ``max_attempts``, then the task ends with the last
outcome; reached and wrong_number end it at once. A retry falling due inside
the shift calls the agent again (reason ``retry``); outside it waits for the
next check. Every attempt is an outbound call of the agent
(``outbound_calls``, and the ``callback.attempt`` fact with ``outbound: 1``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Callable, Iterable, Mapping

from . import prompts
from .acd import Publish
from .roster import Roster, RosterError, agent_order, parse_day
from .numbers import DEFAULT_DIAL_PATTERNS
from .vmcheck import ROUND_GAP_S, check_times, round_errors, round_offsets

__all__ = [
    "Action", "AgentPresence", "Attempt", "AttemptResult", "CallDutyAgent", "CallbackCommandResult",
    "CallbackError", "CallbackRules", "CallbackTask", "Callbacks", "CloseTask", "DialCustomer",
    "DutyAnswered", "DutyCallEnded", "EndDutyCall", "Event", "PlaceTurn", "FOLLOWUP_POINTER", "FollowupImported",
    "CheckNow", "FollowupRow", "MODES", "Outcome", "Publish", "ReassignTask", "ReopenTask",
    "RosterChanged", "RotaPointer", "RotaState", "STAGGER_S", "TRANSITIONS", "TaskEvent", "TaskState",
    "TaskStateError", "VoicemailLeft", "stagger",
]

MODES = ("duty", "per_task")


class CallbackError(ValueError):
    """Bad configuration or input from our own code; the message names the field and the value."""


# --- task states, as a table (h11 style) ------------------------------------------------------------
class TaskState(StrEnum):
    OPEN = "open"  # waiting for a callback (new, reopened, or a retry after back-off)
    IN_PROGRESS = "in_progress"  # the customer is being dialled for this task
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    WRONG_NUMBER = "wrong_number"
    CLOSED = "closed"  # closed by an agent or supervisor without a callback


class Outcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    WRONG_NUMBER = "wrong_number"


RETRYABLE = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED})


class TaskEvent(StrEnum):
    START = "start"
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    WRONG_NUMBER = "wrong_number"
    RETRY = "retry"  # a retryable outcome with attempts left
    ABORT = "abort"  # the agent's call ended before the customer was dialled
    CLOSE = "close"
    REOPEN = "reopen"


S, E = TaskState, TaskEvent
_FINAL = (S.REACHED, S.NO_ANSWER, S.BUSY, S.FAILED, S.WRONG_NUMBER, S.CLOSED)
TRANSITIONS: dict[TaskState, dict[TaskEvent, TaskState]] = {
    S.OPEN: {E.START: S.IN_PROGRESS, E.CLOSE: S.CLOSED},
    S.IN_PROGRESS: {E.REACHED: S.REACHED, E.NO_ANSWER: S.NO_ANSWER, E.BUSY: S.BUSY, E.FAILED: S.FAILED,
                    E.WRONG_NUMBER: S.WRONG_NUMBER, E.RETRY: S.OPEN, E.ABORT: S.OPEN},
    **{s: {E.REOPEN: S.OPEN} for s in _FINAL},
}
OPEN_STATES = frozenset({S.OPEN, S.IN_PROGRESS})
del S, E


class TaskStateError(Exception):
    def __init__(self, task_id: str, state: TaskState, event: TaskEvent) -> None:
        super().__init__(f"callback {task_id}: cannot {event.value} while {state.value}")
        self.task_id, self.state, self.event = task_id, state, event


@dataclass(frozen=True, kw_only=True, slots=True)
class Attempt:
    at: float
    agent_id: str | None
    outcome: Outcome


@dataclass(kw_only=True, slots=True)
class CallbackTask:
    """R-VM: one voicemail to call back. The shell persists it whenever it changes."""
    task_id: str
    caller: str  # the number to call back: never logged unmasked, never published
    queue: str
    team: str
    recording: str
    created_at: float
    deadline: float  # R-SLA24: created_at + 24 h
    assigned: str | None = None
    state: TaskState = TaskState.OPEN
    attempts: list[Attempt] = field(default_factory=list)
    tries: int = 0  # attempts since the task was (re)opened: what max_attempts counts
    next_attempt_at: float | None = None  # back-off: not dialled before this
    overdue_at: float | None = None  # when callback.overdue was emitted (once)
    closed_at: float | None = None
    closed_by: str | None = None
    kind: str = "voicemail"  # voicemail | followup (回访 list) | keep_place (the caller chose a callback)
    note: str = ""  # follow-up lists: what the call is about
    reassigned_by: str | None = None  # a supervisor's ReassignTask: keeps the agent until the roll-over

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def due(self, now: float) -> bool:
        return self.state == TaskState.OPEN and (self.next_attempt_at is None or self.next_attempt_at <= now)

    def apply(self, event: TaskEvent, now: float) -> TaskState:
        try:
            new = TRANSITIONS[self.state][event]
        except KeyError:
            raise TaskStateError(self.task_id, self.state, event) from None
        self.state = new
        if new in OPEN_STATES:
            self.closed_at = None
            self.closed_by = None
        elif self.closed_at is None:
            self.closed_at = now
        return new


# --- configuration ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CallbackRules:
    mode: str = "duty"  # duty | per_task (R-VM-RR)
    require_logged_in: bool = False  # per_task: only logged-in agents get tasks
    check_start: time = time(9, 0)  # R-VM-CHECK: the first check of the day (before the offset)
    check_every_s: float = 7200.0
    check_offsets: Mapping[str, float] = field(default_factory=dict)  # team -> stagger (s), see stagger()
    rounds: tuple[tuple[str, ...], ...] = ()  # R-VM-CHECK rounds (core.vmcheck); instead of check_offsets
    round_gap_s: float = ROUND_GAP_S  # round i checks i * round_gap_s after check_start
    checks_per_day: int = 0  # at most this many checks a working day (the seed: 3); 0 = until the shift ends
    deadline_s: float = 86400.0  # R-SLA24
    max_attempts: int = 3  # R-CB
    backoff_base_s: float = 600.0
    backoff_factor: float = 2.0
    backoff_cap_s: float = 3600.0
    queue_teams: Mapping[str, str] = field(default_factory=dict)  # queue -> team handling its voicemail
    dial_patterns: tuple[str, ...] = DEFAULT_DIAL_PATTERNS  # issue 17: the numbers a callback may dial (numbers.py)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CallbackError(f"callbacks.mode: must be 'duty' or 'per_task', got {self.mode!r}")
        for name in ("check_every_s", "deadline_s", "backoff_base_s", "backoff_cap_s"):
            value = getattr(self, name)
            if not value > 0:
                raise CallbackError(f"callbacks.{name}: must be > 0, got {value!r}")
        if not self.backoff_factor >= 1:
            raise CallbackError(f"callbacks.backoff_factor: must be >= 1, got {self.backoff_factor!r}")
        if not (isinstance(self.max_attempts, int) and self.max_attempts >= 1):
            raise CallbackError(f"callbacks.max_attempts: must be >= 1, got {self.max_attempts!r}")
        for team, offset in self.check_offsets.items():
            if not 0 <= offset < self.check_every_s:
                raise CallbackError(f"callbacks.check_offsets.{team}: must be >= 0 and < check_every_s "
                                    f"({self.check_every_s:g}), got {offset!r}")
        if not (isinstance(self.checks_per_day, int) and self.checks_per_day >= 0):
            raise CallbackError(f"callbacks.checks_per_day: must be >= 0 (0 = no limit), got {self.checks_per_day!r}")
        if self.rounds:
            if self.check_offsets:
                raise CallbackError("callbacks.rounds: set rounds or check_offsets, not both")
            if errors := round_errors(self.rounds, gap_s=self.round_gap_s, check_every_s=self.check_every_s):
                raise CallbackError("; ".join(errors))

    def backoff_s(self, tries: int) -> float:
        """R-CB: the wait after the ``tries``-th failed attempt."""
        return min(self.backoff_cap_s, self.backoff_base_s * self.backoff_factor ** (tries - 1))

    def offset_s(self, team: str) -> float:
        if self.rounds:  # R-VM-CHECK: the team's round (config and Callbacks.__init__ reject a team in none)
            offsets = round_offsets(self.rounds, self.round_gap_s)
            assert team in offsets, f"team {team!r} is in no round of callbacks.rounds"
            return offsets[team]
        return float(self.check_offsets.get(team, 0.0))


STAGGER_S = 600.0  # R-VM-CHECK: the seed staggers groups by 10 minutes


def stagger(teams: Iterable[str], step_s: float = STAGGER_S) -> dict[str, float]:
    """Check offsets that stagger teams ``step_s`` apart in the order given (the seed: 10 minutes)."""
    return {team: i * step_s for i, team in enumerate(teams)}


# --- the persisted rota pointer -----------------------------------------------------------------------
FOLLOWUP_POINTER = ":followup"  # RotaState key "<team>:followup": the follow-up lists' own round-robin


@dataclass(frozen=True, kw_only=True)
class RotaPointer:
    last_agent: str | None = None  # who held duty last (duty) / got the last task (per_task)
    day: date | None = None  # duty: the latest working day the rota was fixed for
    duty: str | None = None  # duty: that day's duty agent (None: nobody eligible)


@dataclass(frozen=True, kw_only=True)
class RotaState:
    """All teams' pointers; ``to_dict``/``from_dict`` give the JSON the store keeps."""
    pointers: Mapping[str, RotaPointer] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, str | None]]:
        return {team: {"last_agent": p.last_agent, "day": p.day.isoformat() if p.day else None,
                       "duty": p.duty} for team, p in sorted(self.pointers.items())}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RotaState:
        pointers: dict[str, RotaPointer] = {}
        for team, raw in data.items():
            if not isinstance(raw, Mapping):
                raise CallbackError(f"rota.{team}: expected a mapping, got {raw!r}")
            if not isinstance(team, str) or not team or team.count(":") > 1 or (
                    ":" in team and (team.startswith(":") or not team.endswith(FOLLOWUP_POINTER))):
                raise CallbackError(f"rota.{team}: expected a team name or '<team>{FOLLOWUP_POINTER}'")
            unknown = set(raw) - {"last_agent", "day", "duty"}
            if unknown:
                raise CallbackError(f"rota.{team}: unknown keys {sorted(unknown)}")
            for key in ("last_agent", "duty"):
                if raw.get(key) is not None and not isinstance(raw[key], str):
                    raise CallbackError(f"rota.{team}.{key}: expected an agent ID, got {raw[key]!r}")
            day = raw.get("day")
            if day is not None:
                try:
                    day = parse_day(day)
                except RosterError:
                    raise CallbackError(f"rota.{team}.day: expected a date as YYYY-MM-DD, "
                                        f"got {day!r}") from None
            pointers[team] = RotaPointer(last_agent=raw.get("last_agent"), day=day, duty=raw.get("duty"))
        return cls(pointers=pointers)


# --- events (what happened) ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class VoicemailLeft:
    """R-VM: a caller left a voicemail (the shell has stored the recording and the task row's id)."""
    task_id: str
    caller: str
    queue: str
    recording: str
    created_at: float | None = None  # when it was left; default: now
    team: str | None = None  # default: callbacks.queue_teams[queue], else the team named like the queue
    kind: str = "voicemail"
    note: str = ""
    not_before: float | None = None  # keep my place: not called by a check before this (a fallback time)


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaceTurn:
    """R-CB keep my place: the caller's kept place reached the front and the ACD set ``agent_id`` aside
    (paused, reason ``callback``): call that agent now for this task, ahead of its other work."""
    task_id: str
    agent_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentPresence:
    """The agent's state as the ACD sees it; None = unchanged."""
    agent_id: str
    logged_in: bool | None = None
    busy: bool | None = None  # on a call or paused: a check waits (R-VM-CHECK)


@dataclass(frozen=True, kw_only=True, slots=True)
class DutyAnswered:
    agent_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DutyCallEnded:
    """The agent's callback call ended; before ``DutyAnswered`` that is a missed check."""
    agent_id: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class AttemptResult:
    task_id: str
    outcome: Outcome


@dataclass(frozen=True, kw_only=True, slots=True)
class CloseTask:
    task_id: str
    by: str
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ReopenTask:
    task_id: str
    by: str
    request_id: str | None = None
    stored: CallbackTask | None = None  # a closed task no longer in memory: the store's copy (forget_closed)


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckNow:
    """R-VM-CHECK on demand: a supervisor (or the demo) runs a team's duty check now, not at its time."""
    team: str | None  # None: every team
    by: str
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RosterChanged:
    """Leave or teams changed: re-check today's duty and move tasks now."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ReassignTask:
    """A supervisor moves an open task to another agent of its team (R-VM-RR)."""
    task_id: str
    agent_id: str
    by: str
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FollowupRow:
    """One number of a follow-up list (回访, R-CB); the shell makes the task id."""
    task_id: str
    number: str
    note: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class FollowupImported:
    """R-CB: a follow-up list for ``team``; tasks already known (same id) are ignored."""
    tasks: tuple[FollowupRow, ...]
    team: str
    created_at: float | None = None  # default: now
    queue: str | None = None  # the tasks' queue label; default: the team's name


Event = (VoicemailLeft | PlaceTurn | AgentPresence | DutyAnswered | DutyCallEnded | AttemptResult | CloseTask | ReopenTask
         | RosterChanged | ReassignTask | FollowupImported | CheckNow)


# --- actions (what the shell must do) -----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class CallDutyAgent:
    """R-VM-CHECK: call the agent's phone for these tasks; answer → DutyAnswered, else DutyCallEnded."""
    team: str
    agent_id: str
    task_ids: tuple[str, ...]
    reason: str  # check | retry | missed_check


@dataclass(frozen=True, kw_only=True, slots=True)
class DialCustomer:
    """R-CB: play ``recording`` to the agent on the line, then dial ``caller``, bridge → AttemptResult."""
    task_id: str
    agent_id: str
    caller: str
    recording: str
    attempt: int  # 1-based, since the task was (re)opened
    left: tuple[str, ...] = ()  # prompts before the voicemail: when it was left, the number's tail (issue 18)


@dataclass(frozen=True, kw_only=True, slots=True)
class EndDutyCall:
    team: str
    agent_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CallbackCommandResult:
    request_id: str | None
    task_id: str
    ok: bool
    message: str = ""


Action = CallDutyAgent | DialCustomer | EndDutyCall | CallbackCommandResult | Publish


@dataclass(kw_only=True, slots=True)
class _Session:
    """One callback call to one agent: the tasks still to dial, one at a time."""
    team: str
    agent_id: str
    queue: list[str]
    reason: str
    answered: bool = False
    current: str | None = None
    handled: int = 0


class Callbacks:
    def __init__(self, rules: CallbackRules, roster: Roster, *, now: float,
                 tasks: Iterable[CallbackTask] = (), rota: RotaState | None = None) -> None:
        self.rules, self.roster = rules, roster
        try:
            for team in rules.check_offsets:
                roster.team(team)
            for team in rules.queue_teams.values():
                roster.team(team)
        except RosterError as e:
            raise CallbackError(f"callbacks: {e}") from None
        if rules.rounds and (errors := round_errors(rules.rounds, gap_s=rules.round_gap_s,
                                                    check_every_s=rules.check_every_s, teams=roster.teams)):
            raise CallbackError("; ".join(errors))
        self.tasks: dict[str, CallbackTask] = {}
        self._rota: dict[str, RotaPointer] = dict(rota.pointers) if rota else {}
        self._through = {team: now for team in roster.teams}  # schedule handled up to here, per team
        self._armed: set[str] = set()  # tasks with a retry time still to act on
        self._sessions: dict[str, _Session] = {}  # agent -> its callback call
        self._pending: dict[str, str] = {}  # agent -> team: a missed check (R-VM-CHECK)
        self._busy: set[str] = set()
        self._logged_in: set[str] = set()
        self._changed: set[str] = set()
        self.outbound_calls: dict[str, int] = defaultdict(int)  # R-CB / R-KPI: attempts per agent
        self.outbound_connected: dict[str, int] = defaultdict(int)
        self.overdue_count = 0  # R-SLA24
        for task in tasks:
            self.tasks[task.task_id] = task
            if task.state == TaskState.IN_PROGRESS:  # no call survives a restart
                task.apply(TaskEvent.ABORT, now)
                self._changed.add(task.task_id)
            if task.state == TaskState.OPEN and task.next_attempt_at is not None:
                self._armed.add(task.task_id)

    # -- for the store -----------------------------------------------------------------------------
    def drain_changed(self) -> list[CallbackTask]:
        ids, self._changed = self._changed, set()
        return [self.tasks[i] for i in sorted(ids)]

    def forget_closed(self, task_ids: Iterable[str] | None = None) -> list[str]:
        """R-PRIVACY, issue 17: closed tasks (of ``task_ids``, default all) leave memory once drained and
        persisted (the shell calls this when the write has landed), so memory holds the open tasks only;
        reports and a reopen read closed ones from the store."""
        gone = sorted(i for i in (self.tasks if task_ids is None else task_ids) if (t := self.tasks.get(i))
                      and not t.is_open and i not in self._changed and not self._in_session(i))
        for i in gone:
            del self.tasks[i]
            self._armed.discard(i)
        return gone

    def rota_state(self) -> RotaState:
        return RotaState(pointers=dict(self._rota))

    def duty_agent(self, team: str, day: date) -> str | None:
        """The duty agent of ``day`` as the rota stands (a preview: the pointer does not move)."""
        p = self._advance(team, self._rota.get(team, RotaPointer()), day)
        return p.duty if p.day == day else None

    # -- events ------------------------------------------------------------------------------------
    def handle(self, ev: Event, now: float) -> list[Action]:
        out = self.handle_timer(now)  # whatever fell due first, then the event
        match ev:
            case VoicemailLeft():
                out += self._voicemail(ev, now)
            case PlaceTurn():
                out += self._place_turn(ev, now)
            case AgentPresence():
                out += self._presence(ev, now)
            case DutyAnswered():
                session = self._sessions.get(ev.agent_id)
                if session is not None and not session.answered:
                    session.answered = True
                    out += self._next_dial(session, now)
            case DutyCallEnded():
                out += self._call_ended(ev, now)
            case AttemptResult():
                out += self._attempt_result(ev, now)
            case CloseTask():
                out += self._close(ev, now)
            case ReopenTask():
                out += self._reopen(ev, now)
            case RosterChanged():
                for team in self.roster.teams:
                    out += self._sync(team, now, reason="roster")
            case ReassignTask():
                out += self._reassign(ev, now)
            case CheckNow():
                out += self._check_now(ev, now)
            case FollowupImported():
                out += self._followups(ev, now)
        return out

    # -- timers ------------------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        due: list[float] = []
        for t in self.tasks.values():
            if t.is_open and t.overdue_at is None:
                due.append(t.deadline)
        due += [t for i in self._armed if (t := self.tasks[i].next_attempt_at) is not None]
        for team in self.roster.teams:
            if self._has_open(team) and (p := self._next_point(team, self._through[team])) is not None:
                due.append(p[0])
        return min(due, default=None)

    def handle_timer(self, now: float) -> list[Action]:
        out = self._overdue(now)
        for team in self.roster.teams:
            out += self._schedule(team, now)
        out += self._retries(now)
        return out

    # -- R-VM: new tasks ---------------------------------------------------------------------------
    def _voicemail(self, ev: VoicemailLeft, now: float) -> list[Action]:
        if ev.task_id in self.tasks:
            return []  # delivered twice
        team = ev.team or self.rules.queue_teams.get(ev.queue) or ev.queue
        if team not in self.roster.teams:
            raise CallbackError(f"queue {ev.queue!r}: no team {team!r} handles its voicemail "
                                "(set callbacks.queue_teams)")
        created = now if ev.created_at is None else ev.created_at
        task = CallbackTask(task_id=ev.task_id, caller=ev.caller, queue=ev.queue, team=team,
                            recording=ev.recording, created_at=created,
                            deadline=created + self.rules.deadline_s, kind=ev.kind, note=ev.note)
        if ev.not_before is not None:
            task.next_attempt_at = ev.not_before
            self._armed.add(task.task_id)
        self.tasks[task.task_id] = task
        self._changed.add(task.task_id)
        out: list[Action] = [Publish("callback.created", {
            "task_id": task.task_id, "queue": task.queue, "team": team, "recording": task.recording,
            "created_at": created, "deadline": task.deadline, "rule": "R-VM"})]
        day = self.roster.duty_day(team, now)
        if day is None:
            out.append(self._assign(task, None, "new"))
        elif self.rules.mode == "duty":
            duty = self._fix_duty(team, day, out)
            out += self._assign_all([task], duty, "new")
        else:
            out.append(self._assign(task, self._round_robin(team, day, self.rules.require_logged_in), "new"))
        return out

    def _place_turn(self, ev: PlaceTurn, now: float) -> list[Action]:
        task = self.tasks.get(ev.task_id)
        if task is None or task.state != TaskState.OPEN or self._in_session(task.task_id):
            return [Publish("callback.place_turn_ignored", {"task_id": ev.task_id, "agent": ev.agent_id,
                                                            "rule": "R-CB"})]
        previous = task.assigned
        task.assigned, task.reassigned_by, task.next_attempt_at = ev.agent_id, "keep_place", None
        self._armed.discard(task.task_id)
        self._changed.add(task.task_id)
        out: list[Action] = [Publish("callback.assigned", {
            "task_id": task.task_id, "team": task.team, "agent": ev.agent_id, "previous": previous,
            "reason": "keep_place", "mode": self.rules.mode, "rule": "R-CB"})]
        session = self._sessions.get(ev.agent_id)
        if session is not None:  # already on a callback call: this one goes next
            session.queue.insert(0, task.task_id)
            return out
        self._pending.pop(ev.agent_id, None)
        self._sessions[ev.agent_id] = _Session(team=task.team, agent_id=ev.agent_id, queue=[task.task_id],
                                               reason="keep_place")
        return out + [CallDutyAgent(team=task.team, agent_id=ev.agent_id, task_ids=(task.task_id,),
                                    reason="keep_place"),
                      Publish("callback.check", {"team": task.team, "agent": ev.agent_id, "tasks": 1,
                                                 "reason": "keep_place", "rule": "R-CB"})]

    # -- R-VM-RR: the rota --------------------------------------------------------------------------
    def _next_after(self, team: str, after: str | None, ok: Callable[[str], bool]) -> str | None:
        members = self.roster.members(team)
        i = 0
        if after is not None:
            key = agent_order(after)
            i = next((k for k, m in enumerate(members) if agent_order(m) > key), len(members))
        return next((a for a in members[i:] + members[:i] if ok(a)), None)

    def _free_on(self, day: date) -> Callable[[str], bool]:
        return lambda agent: not self.roster.off(agent, day)  # on leave or swapped away (R-LEAVE)

    def _advance(self, team: str, p: RotaPointer, day: date) -> RotaPointer:
        """Duty mode: the pointer once ``day`` is fixed (pure; see the module docstring)."""
        if p.day == day:
            if p.duty is not None and self._free_on(day)(p.duty):
                return p
            pick = self._next_after(team, p.duty or p.last_agent, self._free_on(day))
            return RotaPointer(last_agent=pick or p.last_agent, day=day, duty=pick)
        if p.day is not None and p.day > day:
            return p  # the rota never goes back
        d = day if p.day is None else p.day + timedelta(days=1)
        last, pick = p.last_agent, None
        away = self.roster.off_days()  # leave and swaps away (R-LEAVE)
        plain = self.roster.plain_from()
        while d <= day and d < plain:  # days that may have holidays or leave: one by one
            if self.roster.works_on(team, d):
                pick = self._next_after(team, last, lambda a, d=d: (a, d) not in away)
                last = pick or last
            d += timedelta(days=1)
        if d <= day and (steps := self.roster.working_days(team, d, day)):  # issue 17: counted, not walked:
            members = self.roster.members(team)  # nobody on leave, so one agent after another per working day
            first = self._next_after(team, last, lambda a: True)
            pick = members[(members.index(first) + steps - 1) % len(members)] if first is not None else None
            last = pick or last
        return RotaPointer(last_agent=last, day=day, duty=pick)

    def _fix_duty(self, team: str, day: date, out: list[Action]) -> str | None:
        old = self._rota.get(team, RotaPointer())
        new = self._advance(team, old, day)
        if new != old:
            self._rota[team] = new
            if (new.day, new.duty) != (old.day, old.duty):
                out.append(Publish("callback.duty", {"team": team, "day": day.isoformat(), "agent": new.duty,
                                                     "rule": "R-VM-RR"}))
        return new.duty

    def _round_robin(self, team: str, day: date, need_login: bool, *, followup: bool = False) -> str | None:
        """per_task mode and follow-ups: the next eligible agent after the pointer, which moves on."""
        key = team + FOLLOWUP_POINTER if followup else team
        p = self._rota.get(key, RotaPointer())
        free = self._free_on(day)
        pick = self._next_after(team, p.last_agent,
                                lambda a: free(a) and (not need_login or a in self._logged_in))
        if pick is not None:
            self._rota[key] = replace(p, last_agent=pick)
        return pick

    def _by_duty(self, task: CallbackTask) -> bool:
        """Does the duty rota place this task? (duty mode; follow-ups always go round-robin)"""
        return self.rules.mode == "duty" and task.kind != "followup"

    def _assign(self, task: CallbackTask, agent: str | None, reason: str) -> Publish:
        previous, task.assigned = task.assigned, agent
        self._changed.add(task.task_id)
        fields = {"task_id": task.task_id, "team": task.team, "agent": agent, "previous": previous,
                  "reason": reason, "mode": self.rules.mode, "rule": "R-VM-RR"}
        return Publish("callback.assigned" if agent is not None else "callback.unassigned", fields)

    def _assign_all(self, tasks: list[CallbackTask], agent: str | None, reason: str) -> list[Action]:
        return [self._assign(t, agent, reason) for t in tasks if t.assigned != agent or reason == "new"]

    def _sync(self, team: str, now: float, *, reason: str) -> list[Action]:
        """Put every movable open task of the team with the agent the rota says (R-VM-RR, R-VM-CHECK)."""
        day = self.roster.duty_day(team, now)
        if day is None:
            return []
        movable = sorted((t for t in self.tasks.values() if t.team == team and t.state == TaskState.OPEN
                          and not self._in_session(t.task_id)), key=lambda t: (t.created_at, t.task_id))
        out: list[Action] = []
        free = self._free_on(day)
        for t in movable:
            ends = reason == "rollover" or t.assigned is None or not free(t.assigned)
            if t.reassigned_by is not None and ends:
                t.reassigned_by = None  # the supervisor's choice ends here: the normal rule takes over
                self._changed.add(t.task_id)
        by_duty = [t for t in movable if self._by_duty(t)]
        if self.rules.mode == "duty" and (by_duty or reason != "roster"):
            duty = self._fix_duty(team, day, out)
            out += self._assign_all([t for t in by_duty if t.reassigned_by is None], duty, reason)
        need_login = self.rules.require_logged_in and reason != "rollover"
        for t in movable:
            if self._by_duty(t) or t.reassigned_by is not None:
                continue
            gone = need_login and t.assigned not in self._logged_in
            if t.assigned is None or not free(t.assigned) or gone:
                pick = self._round_robin(team, day, need_login, followup=t.kind == "followup")
                if pick != t.assigned:
                    out.append(self._assign(t, pick, reason))
        return out

    # -- R-VM-CHECK: checks and roll-over -----------------------------------------------------------
    def _spans(self, team: str, day: date) -> tuple[tuple[str, float, float], ...]:
        return self.roster.shifts_on(team, day)

    def _next_point(self, team: str, after: float) -> tuple[float, str] | None:
        """The team's next check time or end of working day after ``after``."""
        day = self.roster.duty_day(team, after)
        if day is None:
            return None
        spans = self._spans(team, day)
        end = max(e for _, _, e in spans)
        tz = self.roster.timezone(team)
        first = datetime.combine(day, self.rules.check_start, tzinfo=tz).timestamp() + self.rules.offset_s(team)
        for t in check_times(first, self.rules.check_every_s, [(s, e) for _, s, e in spans],
                             per_day=self.rules.checks_per_day):
            if t > after:
                return t, "check"
        return end, "end"

    def _in_shift(self, team: str, now: float) -> bool:
        day = self.roster.duty_day(team, now)
        return day is not None and any(s <= now < e for _, s, e in self._spans(team, day))

    def _schedule(self, team: str, now: float) -> list[Action]:
        out: list[Action] = []
        if self._has_open(team):
            t = self._through[team]
            while (p := self._next_point(team, t)) is not None and p[0] <= now:
                at, kind = p
                if kind == "end":
                    out += self._roll_over(team, at)
                elif (nxt := self._next_point(team, at)) is None or nxt[0] > now:
                    out += self._check(team, now, reason="check")  # passed checks make one
                t = at
        self._through[team] = max(self._through[team], now)
        return out

    def _roll_over(self, team: str, end: float) -> list[Action]:
        for agent in [a for a, tm in self._pending.items() if tm == team]:
            del self._pending[agent]  # the shift is over: a missed check waits for the next one
        moves = self._sync(team, end, reason="rollover")
        moved = [a for a in moves
                 if isinstance(a, Publish) and a.event in ("callback.assigned", "callback.unassigned")]
        if moved:
            agents = sorted({str(a.fields["agent"]) for a in moved if a.fields["agent"] is not None})
            moves.append(Publish("callback.rolled_over", {"team": team, "tasks": len(moved), "agents": agents,
                                                          "rule": "R-VM-CHECK"}))
        return moves

    def _check(self, team: str, now: float, *, reason: str,
               agents: Iterable[str] | None = None) -> list[Action]:
        out = self._sync(team, now, reason=reason if reason != "missed_check" else "check")
        holders = sorted({t.assigned for t in self.tasks.values()
                          if t.team == team and t.assigned is not None and t.due(now)
                          and not self._in_session(t.task_id)}, key=agent_order)
        if agents is not None:
            holders = [a for a in holders if a in set(agents)]
        for agent in holders:
            out += self._wake(team, agent, now, reason)
        return out

    def _due_for(self, agent: str, now: float) -> list[str]:
        due = [t for t in self.tasks.values()
               if t.assigned == agent and t.due(now) and not self._in_session(t.task_id)]
        return [t.task_id for t in sorted(due, key=lambda t: (t.created_at, t.task_id))]

    def _wake(self, team: str, agent: str, now: float, reason: str) -> list[Action]:
        ids = self._due_for(agent, now)
        if not ids:
            return []
        self._armed.difference_update(ids)
        session = self._sessions.get(agent)
        if session is not None:  # already on the line: the new work joins the call
            session.queue += ids
            return []
        if agent in self._busy:
            self._pending[agent] = team
            return [Publish("callback.check_missed", {"team": team, "agent": agent, "reason": "agent_busy",
                                                      "tasks": len(ids), "rule": "R-VM-CHECK"})]
        self._pending.pop(agent, None)
        self._sessions[agent] = _Session(team=team, agent_id=agent, queue=list(ids), reason=reason)
        return [CallDutyAgent(team=team, agent_id=agent, task_ids=tuple(ids), reason=reason),
                Publish("callback.check", {"team": team, "agent": agent, "tasks": len(ids), "reason": reason,
                                           "rule": "R-VM-CHECK"})]

    def _presence(self, ev: AgentPresence, now: float) -> list[Action]:
        for flag, group in ((ev.logged_in, self._logged_in), (ev.busy, self._busy)):
            if flag is True:
                group.add(ev.agent_id)
            elif flag is False:
                group.discard(ev.agent_id)
        out: list[Action] = []
        team = self.roster.find_team(ev.agent_id)
        if team is None:
            return out
        if ev.logged_in and self.rules.require_logged_in:
            day = self.roster.duty_day(team, now)
            for t in sorted(self.tasks.values(), key=lambda t: (t.created_at, t.task_id)):
                if (day is not None and t.team == team and t.state == TaskState.OPEN and t.assigned is None
                        and not self._by_duty(t)):
                    pick = self._round_robin(team, day, True, followup=t.kind == "followup")
                    out.append(self._assign(t, pick, "login"))
        if ev.busy is False and ev.agent_id in self._pending:
            team = self._pending.pop(ev.agent_id)
            if self._in_shift(team, now):
                out += self._check(team, now, reason="missed_check", agents=[ev.agent_id])
        return out

    # -- R-CB: the callback call -----------------------------------------------------------------------
    def _in_session(self, task_id: str) -> bool:
        return any(task_id == s.current or task_id in s.queue for s in self._sessions.values())

    def _next_dial(self, session: _Session, now: float) -> list[Action]:
        while session.queue:
            task = self.tasks.get(session.queue.pop(0))
            if task is None or task.state != TaskState.OPEN or task.assigned != session.agent_id:
                continue  # closed or moved meanwhile
            task.apply(TaskEvent.START, now)
            self._changed.add(task.task_id)
            session.current = task.task_id
            left = (tuple(prompts.callback_left_announcement(task.created_at, self.roster.timezone(session.team),
                                                             task.caller)) if task.recording else ())
            return [DialCustomer(task_id=task.task_id, agent_id=session.agent_id, caller=task.caller,
                                 recording=task.recording, attempt=task.tries + 1, left=left)]
        del self._sessions[session.agent_id]
        return [EndDutyCall(team=session.team, agent_id=session.agent_id),
                Publish("callback.check_done", {"team": session.team, "agent": session.agent_id,
                                                "handled": session.handled, "rule": "R-VM-CHECK"})]

    def _call_ended(self, ev: DutyCallEnded, now: float) -> list[Action]:
        session = self._sessions.pop(ev.agent_id, None)
        if session is None:
            return []
        if session.current is not None:
            task = self.tasks[session.current]
            if task.state == TaskState.IN_PROGRESS:
                task.apply(TaskEvent.ABORT, now)
                self._changed.add(task.task_id)
        if not session.answered:
            self._pending[ev.agent_id] = session.team
            return [Publish("callback.check_missed", {"team": session.team, "agent": ev.agent_id,
                                                      "reason": ev.reason or "not_answered",
                                                      "rule": "R-VM-CHECK"})]
        return [Publish("callback.check_done", {"team": session.team, "agent": ev.agent_id,
                                                "handled": session.handled, "left": len(session.queue),
                                                "rule": "R-VM-CHECK"})]

    def _attempt_result(self, ev: AttemptResult, now: float) -> list[Action]:
        task = self.tasks.get(ev.task_id)
        if task is None or task.state != TaskState.IN_PROGRESS:
            return []  # late or duplicate
        outcome = Outcome(ev.outcome)
        agent = task.assigned
        task.attempts.append(Attempt(at=now, agent_id=agent, outcome=outcome))
        task.tries += 1
        self._changed.add(task.task_id)
        if agent is not None:
            self.outbound_calls[agent] += 1
            if outcome == Outcome.REACHED:
                self.outbound_connected[agent] += 1
        final = not (outcome in RETRYABLE and task.tries < self.rules.max_attempts)
        if final:
            task.apply(TaskEvent(outcome.value), now)
            task.next_attempt_at = None
        else:
            task.apply(TaskEvent.RETRY, now)
            task.next_attempt_at = now + self.rules.backoff_s(task.tries)
            self._armed.add(task.task_id)
        out: list[Action] = [Publish("callback.attempt", {
            "task_id": task.task_id, "team": task.team, "agent": agent, "outcome": outcome.value,
            "attempt": task.tries, "outbound": 1, "final": final, "next_attempt_at": task.next_attempt_at,
            "rule": "R-CB"})]
        if final:
            out.append(Publish("callback.closed", {"task_id": task.task_id, "team": task.team, "agent": agent,
                                                   "state": task.state.value, "attempts": task.tries,
                                                   "rule": "R-CB"}))
        session = next((s for s in self._sessions.values() if s.current == task.task_id), None)
        if session is not None:
            session.current = None
            session.handled += 1
            out += self._next_dial(session, now)
        return out

    def _retries(self, now: float) -> list[Action]:
        fired = sorted(i for i in self._armed if (self.tasks[i].next_attempt_at or 0.0) <= now)
        self._armed.difference_update(fired)
        out: list[Action] = []
        woken: set[tuple[str, str]] = set()
        for task_id in fired:
            task = self.tasks[task_id]
            if not task.due(now) or not self._in_shift(task.team, now):
                continue  # outside the shift the next check takes it
            out += self._sync(task.team, now, reason="check")
            if task.assigned is not None and (task.team, task.assigned) not in woken:
                woken.add((task.team, task.assigned))
                out += self._wake(task.team, task.assigned, now, "retry")
        return out

    # -- R-SLA24 ---------------------------------------------------------------------------------------
    def _overdue(self, now: float) -> list[Action]:
        out: list[Action] = []
        for task in sorted(self.tasks.values(), key=lambda t: (t.deadline, t.task_id)):
            if task.is_open and task.overdue_at is None and task.deadline <= now:
                task.overdue_at = now
                self.overdue_count += 1
                self._changed.add(task.task_id)
                out.append(Publish("callback.overdue", {
                    "task_id": task.task_id, "team": task.team, "queue": task.queue, "agent": task.assigned,
                    "created_at": task.created_at, "deadline": task.deadline, "late_s": now - task.deadline,
                    "rule": "R-SLA24"}))
        return out

    # -- supervisor commands ---------------------------------------------------------------------------
    def _close(self, ev: CloseTask, now: float) -> list[Action]:
        task = self.tasks.get(ev.task_id)
        if task is None:
            return [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=False,
                                          message=f"unknown callback task {ev.task_id!r}")]
        if TaskEvent.CLOSE not in TRANSITIONS[task.state]:
            return [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=False,
                                          message=f"callback {ev.task_id}: cannot close while "
                                                  f"{task.state.value}")]
        task.apply(TaskEvent.CLOSE, now)
        task.closed_by, task.next_attempt_at = ev.by, None
        self._armed.discard(task.task_id)
        self._changed.add(task.task_id)
        return [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=True),
                Publish("callback.closed", {"task_id": task.task_id, "team": task.team,
                                            "agent": task.assigned, "state": task.state.value, "by": ev.by,
                                            "attempts": task.tries, "rule": "R-CB"})]

    def _reopen(self, ev: ReopenTask, now: float) -> list[Action]:
        task = self.tasks.get(ev.task_id)
        if task is None and ev.stored is not None and ev.stored.task_id == ev.task_id and not ev.stored.is_open:
            task = self.tasks[ev.task_id] = ev.stored  # forgotten when closed: back from the store
        if task is None:
            return [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=False,
                                          message=f"unknown callback task {ev.task_id!r}")]
        if TaskEvent.REOPEN not in TRANSITIONS[task.state]:
            return [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=False,
                                          message=f"callback {ev.task_id}: cannot reopen while "
                                                  f"{task.state.value}")]
        task.apply(TaskEvent.REOPEN, now)
        task.tries, task.next_attempt_at = 0, None
        self._changed.add(task.task_id)
        out: list[Action] = [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=True),
                             Publish("callback.reopened", {"task_id": task.task_id, "team": task.team,
                                                           "by": ev.by, "rule": "R-CB"})]
        return out + self._sync(task.team, now, reason="reopened")

    def _reassign(self, ev: ReassignTask, now: float) -> list[Action]:
        def refuse(message: str) -> list[Action]:
            return [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=False,
                                          message=message)]

        task = self.tasks.get(ev.task_id)
        if task is None:
            return refuse(f"unknown callback task {ev.task_id!r}")
        if not task.is_open:
            return refuse(f"callback {ev.task_id}: cannot reassign while {task.state.value}")
        if task.state == TaskState.IN_PROGRESS or self._in_session(task.task_id):
            return refuse(f"callback {ev.task_id}: in a callback call with agent {task.assigned}; "
                          "reassign it after the call")
        try:
            team = self.roster.team_of(ev.agent_id)
        except RosterError as e:
            return refuse(f"callback {ev.task_id}: {e}")
        if team != task.team:
            return refuse(f"callback {ev.task_id}: agent {ev.agent_id!r} is in team {team!r}, not in the "
                          f"task's team {task.team!r}")
        day = self.roster.duty_day(team, now)
        if day is not None and self.roster.on_leave(ev.agent_id, day):
            return refuse(f"callback {ev.task_id}: agent {ev.agent_id!r} is on leave on {day.isoformat()}")
        previous = task.assigned
        task.assigned, task.reassigned_by = ev.agent_id, ev.by
        self._changed.add(task.task_id)
        return [CallbackCommandResult(request_id=ev.request_id, task_id=ev.task_id, ok=True),
                Publish("callback.reassigned", {"task_id": task.task_id, "team": task.team,
                                                "agent": ev.agent_id, "previous": previous, "by": ev.by,
                                                "rule": "R-VM-RR"})]

    def _check_now(self, ev: CheckNow, now: float) -> list[Action]:
        """R-VM-CHECK run now: every holder of due tasks of the team(s) is called (or marked to be called when
        free), as at a scheduled check; the schedule itself does not move."""
        if ev.team is not None and ev.team not in self.roster.teams:
            return [CallbackCommandResult(request_id=ev.request_id, task_id="", ok=False,
                                          message=f"unknown team {ev.team!r}")]
        out: list[Action] = []
        for team in [ev.team] if ev.team is not None else list(self.roster.teams):
            out += self._check(team, now, reason="manual")
        called = [f"{a.agent_id} ({a.team})" for a in out if isinstance(a, CallDutyAgent)]
        busy = [f"{a.fields['agent']} ({a.fields['team']})" for a in out
                if isinstance(a, Publish) and a.event == "callback.check_missed"]
        message = (f"called {', '.join(called)}" if called else "nobody to call") + (
            f"; busy, called when free: {', '.join(busy)}" if busy else "")
        return [*out, Publish("callback.check_requested", {"team": ev.team, "by": ev.by, "called": len(called),
                                                           "rule": "R-VM-CHECK"}),
                CallbackCommandResult(request_id=ev.request_id, task_id="", ok=True, message=message)]

    # -- R-CB: follow-up lists (回访) -------------------------------------------------------------------
    def _followups(self, ev: FollowupImported, now: float) -> list[Action]:
        if ev.team not in self.roster.teams:
            raise CallbackError(f"follow-up list: unknown team {ev.team!r}")
        created = now if ev.created_at is None else ev.created_at
        day = self.roster.duty_day(ev.team, now)
        out: list[Action] = []
        dealt: dict[str, int] = defaultdict(int)
        duplicates = 0
        for row in ev.tasks:
            if row.task_id in self.tasks:
                duplicates += 1  # imported twice
                continue
            task = CallbackTask(task_id=row.task_id, caller=row.number, queue=ev.queue or ev.team,
                                team=ev.team, recording="", created_at=created,
                                deadline=created + self.rules.deadline_s, kind="followup", note=row.note)
            self.tasks[task.task_id] = task
            self._changed.add(task.task_id)
            out.append(Publish("callback.created", {
                "task_id": task.task_id, "queue": task.queue, "team": task.team, "recording": "",
                "kind": "followup", "created_at": created, "deadline": task.deadline, "rule": "R-CB"}))
            agent = None
            if day is not None:
                agent = self._round_robin(ev.team, day, self.rules.require_logged_in, followup=True)
            out.append(self._assign(task, agent, "new"))
            dealt[agent or ""] += 1
        out.append(Publish("callback.followups_imported", {
            "team": ev.team, "imported": len(ev.tasks) - duplicates, "duplicates": duplicates,
            "agents": {a: dealt[a] for a in sorted(dealt, key=agent_order) if a},
            "unassigned": dealt.get("", 0), "rule": "R-CB"}))
        return out

    # -- helpers -------------------------------------------------------------------------------------------
    def _has_open(self, team: str) -> bool:
        return any(t.team == team and t.is_open for t in self.tasks.values())
