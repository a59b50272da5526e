"""Reports from the store (R-KPI, R-SHIFT, R-QA): ``ari-app report daily|monthly|attendance|qa``.

The shell around the pure core: it reads one period's facts from the store
(call timelines, the agents' state log, outbound attempts, overdue
callbacks, compliance records, recordings) and hands them to
``core.figures``, ``core.attendance`` and ``core.qa``. Periods are calendar
days and months in ``[reports] timezone``. Reading the store directly, a
report works while the service is stopped.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..config import Config
from ..core.attendance import AttendanceRow, attendance
from ..core.agents import AgentLogEntry
from ..core.figures import CallRecord, FigureRules, Figures, OutboundAttempt, call_record, figures
from ..core.qa import SampleEntry, qa_list
from ..core.targets import Breach
from ..store.base import Repository
from . import targets  # R-KPI 既定标准

__all__ = ["Report", "Row", "attendance_report", "call_records", "daily", "figures_between", "month_days", "monthly",
           "period", "qa_report"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    kind: str  # queue | agent | total | day
    name: str
    figures: Figures


@dataclass(kw_only=True, slots=True)
class Report:
    title: str  # e.g. "Daily figures 每日指标 2026-11-26"
    label: str  # e.g. "2026-11-26"
    kind: str  # daily | monthly
    start: float
    end: float
    rows: list[Row] = field(default_factory=list)
    by_day: list[Row] = field(default_factory=list)  # monthly: the total of each day (for the chart)
    breaches: list[Breach] = field(default_factory=list)  # R-KPI: targets not met (report/targets.py)


def month_days(month: str) -> tuple[date, date]:
    """The first and last day of ``YYYY-MM``. Raises ValueError naming the input."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"{month!r}: expected a month YYYY-MM") from None
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def period(day_or_month: str, tz: str) -> tuple[float, float]:
    """Epoch [start, end) of ``YYYY-MM-DD`` or ``YYYY-MM`` in ``tz``. Raises ValueError naming the input."""
    zone = ZoneInfo(tz)
    try:
        if len(day_or_month) == 7:
            first, last = month_days(day_or_month)
        else:
            first = last = datetime.strptime(day_or_month, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{day_or_month!r}: expected a day YYYY-MM-DD or a month YYYY-MM") from None
    start = datetime.combine(first, time(0), tzinfo=zone).timestamp()
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).timestamp()
    return start, end


def _rules(cfg: Config) -> dict[str, FigureRules]:
    return {name: FigureRules(short_abandon_s=q.short_abandon_s, sl_threshold_s=q.sl_threshold_s,
                              ring_target_s=q.ring_target_s) for name, q in cfg.queues.items()}


def call_records(store: Repository, cfg: Config, start: float, end: float) -> list[CallRecord]:
    """Every queue entry of [start, end) as the figures see it (``core.figures.call_record``)."""
    rules = _rules(cfg)
    records = []
    for call_id, entries in store.timelines(start, end).items():
        queue = next((str(e.detail["queue"]) for e in entries if e.detail.get("queue")), "")
        rec = call_record(call_id, entries, rules.get(queue) or FigureRules())
        if rec is not None:
            records.append(rec)
    return records


@dataclass(frozen=True, kw_only=True, slots=True)
class _Sources:
    """A period's facts, read from the store once; any sub-period's figures are computed from them."""
    records: list[CallRecord]
    agent_log: list[AgentLogEntry]  # the period's entries and each agent's state before it
    outbound: list[OutboundAttempt]

    @classmethod
    def read(cls, store: Repository, cfg: Config, start: float, end: float) -> "_Sources":
        return cls(records=call_records(store, cfg, start, end), agent_log=store.agent_log(start, end),
                   outbound=store.outbound(start, end))

    def figures(self, store: Repository, cfg: Config, start: float, end: float,
                ) -> tuple[dict[str, Figures], dict[str, Figures], Figures]:
        """``core.figures.figures`` over [start, end), which lies within the period read."""
        return figures(self.records, _rules(cfg), agent_log=self.agent_log, outbound=self.outbound,
                       overdue_callbacks=store.overdue_callbacks(start, end), start=start, end=end)


def figures_between(store: Repository, cfg: Config, start: float, end: float,
                    ) -> tuple[dict[str, Figures], dict[str, Figures], Figures]:
    """(per queue, per agent, total) figures of [start, end)."""
    return _Sources.read(store, cfg, start, end).figures(store, cfg, start, end)


def _rows(by_queue: dict[str, Figures], by_agent: dict[str, Figures], total: Figures, *,
          queue: str | None, agent: str | None) -> list[Row]:
    rows: list[Row] = []
    if agent is None:
        rows += [Row(kind="queue", name=q, figures=f) for q, f in sorted(by_queue.items())
                 if queue is None or q == queue]
    if queue is None:
        rows += [Row(kind="agent", name=a, figures=f) for a, f in sorted(by_agent.items())
                 if agent is None or a == agent]
    if queue is None and agent is None:
        rows.append(Row(kind="total", name="all", figures=total))
    return rows


def daily(store: Repository, cfg: Config, day: str, *, queue: str | None = None,
          agent: str | None = None) -> Report:
    start, end = period(day, cfg.reports.timezone)
    by_queue, by_agent, total = figures_between(store, cfg, start, end)
    return Report(title=f"Daily figures 每日指标 {day}", label=day, kind="daily", start=start, end=end,
                  rows=_rows(by_queue, by_agent, total, queue=queue, agent=agent),
                  breaches=targets.judge(cfg, by_queue, by_agent, queue=queue, agent=agent))


def monthly(store: Repository, cfg: Config, month: str, *, queue: str | None = None,
            agent: str | None = None) -> Report:
    start, end = period(month, cfg.reports.timezone)
    sources = _Sources.read(store, cfg, start, end)  # the days below reuse the month's facts
    by_queue, by_agent, total = sources.figures(store, cfg, start, end)
    report = Report(title=f"Monthly figures 每月指标 {month}", label=month, kind="monthly", start=start, end=end,
                    rows=_rows(by_queue, by_agent, total, queue=queue, agent=agent))
    first, last = month_days(month)
    active_days = targets.ActiveDays()  # R-KPI: per-day targets are judged per day worked
    for n in range((last - first).days + 1):
        day = (first + timedelta(days=n)).isoformat()
        d_start, d_end = period(day, cfg.reports.timezone)
        q, a, t = sources.figures(store, cfg, d_start, d_end)
        active_days.add(q, a)
        f = q.get(queue, Figures()) if queue else a.get(agent, Figures()) if agent else t
        report.by_day.append(Row(kind="day", name=day[8:], figures=f))
    report.breaches = targets.judge(cfg, by_queue, by_agent, days=active_days, queue=queue, agent=agent)
    return report


def attendance_report(store: Repository, cfg: Config, first: date, last: date, *, now: float,
                      agent: str | None = None) -> list[AttendanceRow]:
    """R-SHIFT: per agent per working day, from the roster and the agents' logins and logouts."""
    from ..roster_file import make_roster

    roster = make_roster(cfg, store.leave(), store.swaps())  # a swapped-away agent is not absent (issue 18)
    start, _ = period(first.isoformat(), cfg.reports.timezone)
    _, end = period(last.isoformat(), cfg.reports.timezone)
    rows = attendance(roster, store.agent_log(start - 86400, min(end, now)), first, last, now=now)
    return [r for r in rows if agent is None or r.agent_id == agent]


def qa_report(store: Repository, cfg: Config, month: str, *, per_agent: int, seed: int,
              agent: str | None = None) -> list[SampleEntry]:
    """R-QA: ``per_agent`` random recorded calls per agent in the month, plus every call that broke a rule,
    then the agent's best and worst recorded calls by the compliance record (``core.qa.best_and_worst``)."""
    start, end = period(month, cfg.reports.timezone)
    records = [r for r in store.compliance(start, end) if agent is None or r.agent == agent]
    return qa_list(records, store.recordings(start - 86400, end + 86400), per_agent=per_agent, seed=seed)
