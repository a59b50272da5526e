"""A report as a text table, CSV or (see ``chart``) a PNG chart: every figure of SPEC.md's table."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from ..core.attendance import AttendanceRow
from ..core.figures import FIGURE_LABELS
from ..core.qa import SampleEntry
from ..core.targets import show
from . import Report

__all__ = ["attendance_csv", "attendance_table", "csv_text", "fmt", "qa_csv", "qa_table", "table"]

_RATIOS = {"answer_rate", "service_level", "abandon_rate", "ring_compliance", "occupancy"}


def fmt(name: str, value: float | int | None) -> str:
    if value is None:
        return "-"
    if name in _RATIOS:
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _grid(header: list[str], rows: list[list[str]], *, left: int = 1) -> str:
    """Columns two spaces apart: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) if i >= left else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
              for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def table(report: Report) -> str:
    """Figures down, queues/agents across: narrow enough for a terminal whatever the number of agents.

    R-KPI: a figure that missed its target is marked ``!`` and listed below the table."""
    header = ["Figure 指标"] + [f"{r.kind} {r.name}" if r.kind != "total" else "total" for r in report.rows]
    missed = {(b.kind, b.name, b.figure) for b in report.breaches}
    body = [[f"{en} {zh}"] + [fmt(attr, r.figures.as_dict()[attr]) + ("!" if (r.kind, r.name, attr) in missed
                                                                      else "") for r in report.rows]
            for attr, en, zh in FIGURE_LABELS]
    return f"{report.title}\n\n{_grid(header, body)}\n{_targets_not_met(report)}"


def _targets_not_met(report: Report) -> str:
    """R-KPI: the rows that missed a target (既定标准), or nothing when no target is configured or missed."""
    if not report.breaches:
        return ""
    labels = {attr: f"{en} {zh}" for attr, en, zh in FIGURE_LABELS}
    header = ["Kind", "Queue/Agent 队列/工号", "Figure 指标", "Target 标准", "Actual 实际"]
    body = [[b.kind, b.name, labels.get(b.figure, b.figure), b.target.text(),
             show(b.figure, b.actual) + (f" ({b.days} days)" if b.days > 1 else "")] for b in report.breaches]
    return f"\n! Targets not met 未能达到既定标准\n\n{_grid(header, body)}\n"


def _breach_cell(report: Report, kind: str, name: str) -> str:
    """CSV: the row's missed targets, ``figure actual op target`` (raw numbers), ``; ``-separated."""
    return "; ".join(f"{b.figure} {round(b.actual, 4):g} {b.target.direction.op} {b.target.value:g}"
                     for b in report.breaches if (b.kind, b.name) == (kind, name))


def csv_text(report: Report) -> str:
    """One row per queue/agent/total, raw numbers (ratios 0..1, seconds), for spreadsheets."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["period", "kind", "name", *(attr for attr, _, _ in FIGURE_LABELS), "targets_not_met"])
    for r in report.rows:
        values = r.figures.as_dict()
        w.writerow([report.label, r.kind, r.name, *("" if values[a] is None else
                                                    round(values[a], 4) if isinstance(values[a], float)
                                                    else values[a] for a, _, _ in FIGURE_LABELS),
                    _breach_cell(report, r.kind, r.name)])
    return out.getvalue()


def _clock(t: float | None, tz: str) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%H:%M")


def attendance_table(rows: list[AttendanceRow], tz: str) -> str:
    header = ["Day 日期", "Agent 工号", "Team", "In 登录", "Out 退出", "Late 迟到(min)", "Early 早退(min)",
              "Status 状态"]
    body = [[r.day.isoformat(), r.agent_id, r.team, _clock(r.first_login, tz), _clock(r.last_logout, tz),
             f"{r.late_s / 60:.0f}", f"{r.early_s / 60:.0f}", r.status.value] for r in rows]
    return _grid(header, body) + "\n"


def attendance_csv(rows: list[AttendanceRow]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["day", "agent", "team", "first_login", "last_logout", "late_s", "early_s", "status"])
    for r in rows:
        w.writerow([r.day.isoformat(), r.agent_id, r.team, r.first_login or "", r.last_logout or "",
                    round(r.late_s), round(r.early_s), r.status.value])
    return out.getvalue()


_QA_PICKS = {"best": "优秀 excellent", "worst": "不合格 failed"}  # R-QA: the agent's best (passed) and worst


def qa_table(entries: list[SampleEntry], tz: str) -> str:
    header = ["Agent 工号", "Call", "Entered", "Why 原因", "Recording 录音", "Score 合规"]
    body = [[e.agent, e.call_id, datetime.fromtimestamp(e.entered_at, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"),
             _QA_PICKS.get(e.why, e.why), e.recording or "(not recorded)", e.score or "-"] for e in entries]
    return _grid(header, body) + "\n"


def qa_csv(entries: list[SampleEntry]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["agent", "call_id", "entered_at", "why", "recording", "score"])
    for e in entries:
        w.writerow([e.agent, e.call_id, e.entered_at, e.why, e.recording or "", e.score])
    return out.getvalue()
