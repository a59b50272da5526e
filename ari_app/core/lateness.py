"""R-SHIFT: what the seed counts for lateness and early leave — personal leave (事假), absence (旷工), excusals.

The seed (呼叫中心人员管理制度, 员工考勤管理办法 第1条; 坐席管理制度 第九条 to 第十一条)::

    第1条 无理由迟到或早退30 分钟(含30 分钟)以内,按事假0.5 天处理,30 分钟(含30 分钟)以上,按事假1 天处理。
          1 个月内迟到或早退达到三次按旷工1 天处理。
    第十条 迟到或早退时间超过一小时视为旷工。
    第十一条 坐席人员遇重特大自然灾害或班车晚点等情况造成不能按时到岗,不计迟到,但应及时告知上级领导…

Decisions where the text leaves room (each has a test in ``tests/unit/test_lateness.py``):

* Both halves of 第1条 say "含30分钟"; the half day wins at exactly 30 min (≤ 30 min 0 s → 0.5 day; from
  30 min 0.001 s → 1 day). 第十条 says *more than* an hour: 60 min 0 s is still 1 day of personal leave,
  60 min and any fraction more is absence (旷工, the whole day; no personal leave on top).
* A day late *and* early is two occurrences (each judged on its own minutes) unless either is over an hour.
* "达到三次": every third counted late or early leave of a calendar month (3rd, 6th, …) turns that group of three
  into 1 day of absence; the group's own half or whole days of personal leave are *replaced*, not added (one
  penalty for the same lateness). Occurrences over an hour are already absence and are not counted again.
* An excusal (第十一条: a disaster, a late shuttle bus) is recorded by a supervisor with a reason for an agent
  and a day; that day's late and early leave are not counted at all (not even over an hour), and the excused
  occurrences are listed. A day with no login at all is not lateness: it is absence (第4条, 未事先请假…按旷工处理).
* A shift that has not ended when the report is made (a monthly report run during the month) counts nothing
  yet: not a day worked, not a late login, not a no-show.

Pure: input are ``core.attendance`` rows (epoch seconds already judged against the shift) and excusals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

from .attendance import AttendanceRow, Status

__all__ = ["Excuse", "LatenessRules", "MonthSummary", "Occurrence", "SEED", "summarise"]

SEED = {
    "half_day": "无理由迟到或早退30 分钟(含30 分钟)以内,按事假0.5 天处理",
    "whole_day": "30 分钟(含30 分钟)以上,按事假1 天处理",
    "three_times": "1 个月内迟到或早退达到三次按旷工1 天处理",
    "over_an_hour": "迟到或早退时间超过一小时视为旷工",
    "excused": "坐席人员遇重特大自然灾害或班车晚点等情况造成不能按时到岗,不计迟到",
    "no_show": "未事先请假、未准假强行休息或未经批准擅自离岗、编造请假理由,经查明后,按旷工处理",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class LatenessRules:
    half_day_up_to_s: float = 30 * 60.0  # ≤ this: 0.5 day of personal leave (第1条, 含30分钟)
    absent_over_s: float = 60 * 60.0  # > this: absence (第十条, 超过一小时)
    absence_every: int = 3  # this many lates or early leaves in a month: 1 day of absence (第1条)


@dataclass(frozen=True, kw_only=True, slots=True)
class Excuse:
    """第十一条: the agent's lateness and early leave that day are not counted."""
    agent_id: str
    day: date
    reason: str
    by: str  # the supervisor who recorded it
    at: float = 0.0  # when it was recorded


@dataclass(frozen=True, kw_only=True, slots=True)
class Occurrence:
    day: date
    kind: str  # late | early
    seconds: float


@dataclass(kw_only=True, slots=True)
class MonthSummary:
    agent_id: str
    team: str
    month: str  # YYYY-MM
    days_worked: int = 0  # working days the agent logged in
    lates: int = 0  # counted (not excused) late logins, over an hour included
    early_leaves: int = 0
    personal_leave_days: float = 0.0  # 事假 from lateness and early leave
    absences: float = 0.0  # 旷工 days: over an hour, three in a month, no-shows
    excused: int = 0  # late or early occurrences excused (第十一条)
    rules: list[str] = field(default_factory=list)  # the rule behind each count, in day order

    def as_dict(self) -> dict[str, object]:
        return {"agent_id": self.agent_id, "team": self.team, "month": self.month, "days_worked": self.days_worked,
                "lates": self.lates, "early_leaves": self.early_leaves,
                "personal_leave_days": self.personal_leave_days, "absences": self.absences,
                "excused": self.excused, "rules": list(self.rules)}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds % 60 == 0 else f"{seconds / 60:.1f} min"


def _word(kind: str) -> str:
    return "late 迟到" if kind == "late" else "early leave 早退"


def summarise(rows: Iterable[AttendanceRow], excuses: Iterable[Excuse] = (), *,
              rules: LatenessRules = LatenessRules()) -> list[MonthSummary]:
    """One summary per agent and calendar month of the rows (the rows' own ``day``), in (month, agent) order."""
    excused = {(e.agent_id, e.day) for e in excuses}
    by_key: dict[tuple[str, str], MonthSummary] = {}
    pending: dict[tuple[str, str], list[tuple[Occurrence, float]]] = {}  # counted occurrences, leave each
    for r in sorted(rows, key=lambda r: (r.day, r.agent_id)):
        month = r.day.strftime("%Y-%m")
        s = by_key.setdefault((r.agent_id, month), MonthSummary(agent_id=r.agent_id, team=r.team, month=month))
        if r.in_progress or r.status in (Status.LEAVE, Status.SWAPPED):
            continue  # a shift still running (no login yet is not yet 旷工, a late login not yet final)
        day = r.day.isoformat()
        if r.first_login is None:
            s.absences += 1
            s.rules.append(f"{day} no login 未登录 → absence 旷工 1 day (第4条: {SEED['no_show'][:16]}…)")
            continue
        s.days_worked += 1
        found = [Occurrence(day=r.day, kind=k, seconds=v) for k, v in (("late", r.late_s), ("early", r.early_s))
                 if v > 0]
        if not found:
            continue
        if (r.agent_id, r.day) in excused:
            s.excused += len(found)
            s.rules.extend(f"{day} {_word(o.kind)} {_minutes(o.seconds)} excused, not counted (第十一条)"
                           for o in found)
            continue
        s.lates += sum(o.kind == "late" for o in found)
        s.early_leaves += sum(o.kind == "early" for o in found)
        over = [o for o in found if o.seconds > rules.absent_over_s]
        if over:
            s.absences += 1
            s.rules.append(f"{day} {_word(over[0].kind)} {_minutes(over[0].seconds)} > 60 min → absence 旷工 "
                           "1 day (第十条: 超过一小时视为旷工)")
            continue
        group = pending.setdefault((r.agent_id, month), [])
        for o in found:
            leave = 0.5 if o.seconds <= rules.half_day_up_to_s else 1.0
            group.append((o, leave))
            if len(group) == rules.absence_every:
                s.absences += 1
                days = ", ".join(f"{g.day.isoformat()} {_word(g.kind)}" for g, _ in group)
                s.rules.append(f"{days}: {rules.absence_every} in a month → absence 旷工 1 day instead of their "
                               "personal leave (第1条: 达到三次按旷工1天处理)")
                group.clear()
    for (agent, month), group in pending.items():  # the rest of the month's occurrences: personal leave each
        s = by_key[(agent, month)]
        for o, leave in group:
            s.personal_leave_days += leave
            why = "≤ 30 min → 0.5 day (第1条: 30分钟以内按事假0.5天)" if leave == 0.5 else \
                "> 30 min → 1 day (第1条: 30分钟以上按事假1天)"
            s.rules.append(f"{o.day.isoformat()} {_word(o.kind)} {_minutes(o.seconds)} → personal leave 事假 {why}")
    for s in by_key.values():  # in day order (each line starts with its day)
        s.rules.sort()
    return [by_key[k] for k in sorted(by_key, key=lambda k: (k[1], k[0]))]
