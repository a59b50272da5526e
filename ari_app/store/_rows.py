"""Rows <-> dataclasses, shared by both backends (one mapping, so they cannot drift apart).

Each ``*_COLUMNS`` string is the column list the backends select and
insert; ``*_row`` gives the parameters in that order, ``*_from_row`` reads
a row back. Enums are stored by value, ``detail`` and the rota as JSON
text, a whole-day leave as shift ``''`` (a key column cannot be NULL).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterable, Sequence

from ..core.callbacks import Attempt, CallbackTask, Outcome, RotaState, TaskState
from ..core.comply import ComplianceRecord
from ..core.lateness import Excuse
from ..core.roster import LeaveEntry, SwapEntry
from ..core.timeline import Fact, TimelineEntry
from .base import AgentSession, VoicemailIntake

Row = Sequence[Any]

AGENT_COLUMNS = "agent_id, state, since, reason, interface, last_call_end, calls_taken"
TASK_COLUMNS = ("task_id, caller, queue, team, recording, created_at, deadline, assigned, state, tries,"
                " next_attempt_at, overdue_at, closed_at, closed_by, kind, note, reassigned_by")
ATTEMPT_COLUMNS = "task_id, seq, at, agent_id, outcome"
INTAKE_COLUMNS = "task_id, caller, queue, recording, started_at, kind, team"
LEAVE_COLUMNS = "agent_id, day, shift, overridden_by, kind"
SWAP_COLUMNS = "swap_id, agent_id, day, shift, taker, overridden_by"
EXCUSE_COLUMNS = "agent_id, day, reason, excused_by, at"


def placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def agent_row(s: AgentSession) -> tuple[Any, ...]:
    return (s.agent_id, s.state, s.since, s.reason, s.interface, s.last_call_end, s.calls_taken)


def agent_from_row(r: Row) -> AgentSession:
    return AgentSession(agent_id=r[0], state=r[1], since=r[2], reason=r[3], interface=r[4],
                        last_call_end=r[5], calls_taken=r[6])


def fact_row(e: TimelineEntry) -> tuple[Any, ...]:
    return (e.at, e.fact.value, e.agent, json.dumps(e.detail, ensure_ascii=False))


def fact_from_row(r: Row) -> TimelineEntry:
    return TimelineEntry(at=r[0], fact=Fact(r[1]), agent=r[2], detail=json.loads(r[3]))


def compliance_row(c: ComplianceRecord) -> tuple[Any, ...]:
    return (c.call_id, c.queue, c.agent, c.entered_at, c.ended_at, json.dumps(dict(c.checks)), c.hung_up_by)


def compliance_from_row(r: Row) -> ComplianceRecord:
    return ComplianceRecord(call_id=r[0], queue=r[1], agent=r[2], entered_at=r[3], ended_at=r[4],
                            checks=json.loads(r[5]), hung_up_by=r[6])


def task_row(t: CallbackTask) -> tuple[Any, ...]:
    return (t.task_id, t.caller, t.queue, t.team, t.recording, t.created_at, t.deadline, t.assigned,
            TaskState(t.state).value, t.tries, t.next_attempt_at, t.overdue_at, t.closed_at, t.closed_by,
            t.kind, t.note, t.reassigned_by)


def attempt_rows(t: CallbackTask) -> list[tuple[Any, ...]]:
    return [(t.task_id, seq, a.at, a.agent_id, Outcome(a.outcome).value)
            for seq, a in enumerate(t.attempts, start=1)]


def tasks_from_rows(rows: Iterable[Row]) -> list[CallbackTask]:
    """Rows of ``TASK_COLUMNS`` followed by ``at, agent_id, outcome`` of one attempt (NULLs: none),
    ordered by task then attempt."""
    n = len(TASK_COLUMNS.split(","))
    tasks: list[CallbackTask] = []
    for r in rows:
        if not tasks or tasks[-1].task_id != r[0]:
            tasks.append(CallbackTask(
                task_id=r[0], caller=r[1], queue=r[2], team=r[3], recording=r[4], created_at=r[5],
                deadline=r[6], assigned=r[7], state=TaskState(r[8]), tries=r[9], next_attempt_at=r[10],
                overdue_at=r[11], closed_at=r[12], closed_by=r[13], kind=r[14], note=r[15],
                reassigned_by=r[16]))
        at, agent_id, outcome = r[n:n + 3]
        if outcome is not None:
            tasks[-1].attempts.append(Attempt(at=at, agent_id=agent_id, outcome=Outcome(outcome)))
    return tasks


def intake_row(i: VoicemailIntake) -> tuple[Any, ...]:
    return (i.task_id, i.caller, i.queue, i.recording, i.started_at, i.kind, i.team)


def intake_from_row(r: Row) -> VoicemailIntake:
    return VoicemailIntake(task_id=r[0], caller=r[1], queue=r[2], recording=r[3], started_at=r[4],
                           kind=r[5], team=r[6])


def leave_key(agent_id: str, day: date, shift: str | None) -> tuple[str, str, str]:
    return (agent_id, day.isoformat(), shift or "")


def leave_row(e: LeaveEntry) -> tuple[Any, ...]:
    return (*leave_key(e.agent_id, e.day, e.shift), e.overridden_by, e.kind)


def _day(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(v)  # PostgreSQL DATE / SQLite text


def leave_from_row(r: Row) -> LeaveEntry:
    return LeaveEntry(agent_id=r[0], day=_day(r[1]), shift=r[2] or None, overridden_by=r[3], kind=r[4])


def swap_row(e: SwapEntry) -> tuple[Any, ...]:
    return (e.swap_id, *leave_key(e.agent_id, e.day, e.shift), e.taker, e.overridden_by)


def swap_from_row(r: Row) -> SwapEntry:
    return SwapEntry(swap_id=r[0], agent_id=r[1], day=_day(r[2]), shift=r[3] or None, taker=r[4],
                     overridden_by=r[5])


def excuse_row(e: Excuse) -> tuple[Any, ...]:
    return (e.agent_id, e.day.isoformat(), e.reason, e.by, e.at)


def excuse_from_row(r: Row) -> Excuse:
    return Excuse(agent_id=r[0], day=_day(r[1]), reason=r[2], by=r[3], at=r[4])


def rota_text(rota: RotaState) -> str:
    return json.dumps(rota.to_dict(), ensure_ascii=False, sort_keys=True)


def rota_from_text(text: str) -> RotaState:
    return RotaState.from_dict(json.loads(text))
