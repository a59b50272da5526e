"""``ari-app report attendance-monthly``: the seed's monthly attendance (R-SHIFT, issue 18).

Per agent and month: days worked, lates, early leaves, personal-leave days (事假) from them, absences (旷工),
excused lateness (第十一条), and the rule behind each count (``core.lateness``). The rows come from the
roster (the file's and the store's leave and swaps) and the agents' logins and logouts, like
``report attendance``; the excusals are the store's (``POST /attendance/excuse``).
"""

from __future__ import annotations

import csv
import io

from ..config import Config
from ..core.attendance import attendance
from ..core.lateness import MonthSummary, summarise
from ..store.base import Repository
from . import month_days, period
from .render import _grid

__all__ = ["attendance_month", "month_csv", "month_table"]


def attendance_month(store: Repository, cfg: Config, month: str, *, now: float,
                     agent: str | None = None) -> list[MonthSummary]:
    """Raises ValueError naming a malformed ``month`` (YYYY-MM)."""
    from ..roster_file import make_roster

    first, last = month_days(month)
    roster = make_roster(cfg, store.leave(), store.swaps())
    start, end = period(month, cfg.reports.timezone)
    rows = attendance(roster, store.agent_log(start - 86400, min(end + 86400, now)), first, last, now=now)
    summaries = summarise(rows, store.excuses(first, last))
    return [s for s in summaries if agent is None or s.agent_id == agent]


_HEADER = ["Agent 工号", "Team", "Worked 出勤天", "Late 迟到", "Early 早退", "Personal leave 事假(天)",
           "Absence 旷工(天)", "Excused 免计"]


def _cells(s: MonthSummary) -> list[str]:
    return [s.agent_id, s.team, str(s.days_worked), str(s.lates), str(s.early_leaves), f"{s.personal_leave_days:g}",
            f"{s.absences:g}", str(s.excused)]


def month_table(summaries: list[MonthSummary], month: str) -> str:
    lines = [f"Monthly attendance 月度考勤 {month}", "", _grid(_HEADER, [_cells(s) for s in summaries], left=2)]
    rules = [f"  {s.agent_id}: {line}" for s in summaries for line in s.rules]
    if rules:
        lines += ["", "Rules 依据 (人员管理制度 第1条、第4条; 坐席管理制度 第十条、第十一条):", *rules]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def month_csv(summaries: list[MonthSummary]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["month", "agent", "team", "days_worked", "lates", "early_leaves", "personal_leave_days",
                "absences", "excused", "rules"])
    for s in summaries:
        w.writerow([s.month, s.agent_id, s.team, s.days_worked, s.lates, s.early_leaves, s.personal_leave_days,
                    s.absences, s.excused, " | ".join(s.rules)])
    return out.getvalue()
