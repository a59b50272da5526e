"""R-SHIFT: attendance from logins and logouts, per agent per working day.

The seed: log in by 8:45 and out at 17:30; logging in after 8:45 is late,
leaving before 17:30 is early, and more than an hour of either is absence
(旷工). The shift times, working days and leave come from the roster
(``core.roster``); the login sessions from the agents' state log (any state
but ``logged_out`` is logged in). An agent who handed a shift away by a swap
(R-LEAVE 换班) is ``swapped`` that day; the taker works the shift it took: one
row per agent and day, its own shift and the taken one merged (a taker on leave
keeps its leave row). A row whose shift has not ended at the report's ``now``
is ``in_progress``: its status is what is known so far, and ``core.lateness``
counts nothing for it. The seed's penalties (事假, 旷工, excusals) are ``core.lateness``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Iterable

from .agents import AgentLogEntry, AgentState
from .roster import Roster

__all__ = ["AttendanceRow", "Status", "attendance", "sessions"]

ABSENT_AFTER_S = 3600.0  # more than an hour late or early (超过一小时视为旷工)


class Status(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    EARLY_LEAVE = "early_leave"
    LATE_AND_EARLY = "late_and_early"
    ABSENT = "absent"
    LEAVE = "leave"  # on leave that day (R-LEAVE): not counted against the agent
    SWAPPED = "swapped"  # handed the shift to another agent (R-LEAVE 换班): not counted against the agent


@dataclass(frozen=True, kw_only=True, slots=True)
class AttendanceRow:
    agent_id: str
    team: str
    day: date
    shift_start: float
    shift_end: float
    first_login: float | None
    last_logout: float | None  # None: still logged in at the end of the report, or never in
    late_s: float
    early_s: float
    status: Status
    in_progress: bool = False  # the shift had not ended at the report's ``now``: nothing counted yet


def sessions(log: Iterable[AgentLogEntry], until: float) -> dict[str, list[tuple[float, float | None]]]:
    """Per agent, the (login, logout) spans; logout None when still logged in at ``until``."""
    out: dict[str, list[tuple[float, float | None]]] = {}
    open_at: dict[str, float] = {}
    for e in sorted((e for e in log if e.event == "state"), key=lambda e: e.at):
        if e.at > until:
            break
        spans = out.setdefault(e.agent_id, [])
        if e.state != AgentState.LOGGED_OUT:
            open_at.setdefault(e.agent_id, e.at)
        elif e.agent_id in open_at:
            spans.append((open_at.pop(e.agent_id), e.at))
    for agent, t in open_at.items():
        out.setdefault(agent, []).append((t, None))
    return out


def attendance(roster: Roster, log: Iterable[AgentLogEntry], first: date, last: date, *,
               now: float) -> list[AttendanceRow]:
    """One row per agent per working day from ``first`` to ``last`` inclusive whose shift has started by
    ``now``, for every agent of every team and every taker of a swap (R-LEAVE 换班).

    A taker's row merges the shifts it works that day — its own team's (unless it is off) and those it
    took — judged from the earliest start to the latest end, so the day counts once. A taker on leave
    that day has its leave row only: the shift it took is not held against it."""
    spans = sessions(log, now)
    rows: list[AttendanceRow] = []
    day = first
    while day <= last:
        worked: dict[str, list[tuple[float, float]]] = {}  # agent -> the shifts it works that day
        team_of: dict[str, str] = {}  # the row's team: the agent's own, else the team whose shift it took
        off_rows: dict[str, AttendanceRow] = {}
        for team in roster.teams:
            bounds = roster.shift_bounds(team, day)
            if bounds is None or bounds[0] > now:
                continue
            start, end = bounds
            for agent in roster.members(team):
                team_of[agent] = team
                off = Status.LEAVE if roster.on_leave(agent, day) else \
                    Status.SWAPPED if roster.swapped_away(agent, day) else None
                if off is None:
                    worked.setdefault(agent, []).append(bounds)
                else:
                    off_rows[agent] = AttendanceRow(agent_id=agent, team=team, day=day, shift_start=start,
                                                    shift_end=end, first_login=None, last_logout=None,
                                                    late_s=0.0, early_s=0.0, status=off,
                                                    in_progress=now < end)
            for swap in roster.swaps_on(team, day):  # the agent who took a shift works it (R-LEAVE 换班)
                taken = roster.shift_bounds(team, day, swap.shift) or bounds
                if taken[0] <= now and not roster.on_leave(swap.taker, day):
                    team_of.setdefault(swap.taker, team)
                    worked.setdefault(swap.taker, []).append(taken)
        for agent, team in team_of.items():  # team by team in agent-ID order, then takers from other teams
            shifts = worked.get(agent)
            if shifts:  # a swapped-away agent who took another shift that day works that one
                rows.append(_row(agent, team, day, min(a for a, _ in shifts), max(b for _, b in shifts),
                                 spans.get(agent, []), now))
            else:
                rows.append(off_rows[agent])
        day += timedelta(days=1)
    return rows


def _row(agent: str, team: str, day: date, start: float, end: float,
         spans: list[tuple[float, float | None]], now: float) -> AttendanceRow:
    # the sessions that touch this shift (a login up to 4 h early counts for it)
    touching = [(a, b) for a, b in spans if a < end and (b is None or b > start - 4 * 3600)]
    if not touching:
        return AttendanceRow(agent_id=agent, team=team, day=day, shift_start=start, shift_end=end,
                             first_login=None, last_logout=None, late_s=end - start, early_s=0.0,
                             status=Status.ABSENT, in_progress=now < end)
    first_login = min(a for a, _ in touching)
    ends = [b for _, b in touching]
    # None only while a session is still open; a logout after the shift's end is still when the agent left
    last_logout = None if any(b is None for b in ends) else max(b for b in ends if b is not None)
    late_s = max(0.0, first_login - start)
    shift_over = now >= end
    early_s = 0.0 if last_logout is None or not shift_over else max(0.0, end - last_logout)
    if late_s > ABSENT_AFTER_S or early_s > ABSENT_AFTER_S:
        status = Status.ABSENT
    elif late_s > 0 and early_s > 0:
        status = Status.LATE_AND_EARLY
    elif late_s > 0:
        status = Status.LATE
    elif early_s > 0:
        status = Status.EARLY_LEAVE
    else:
        status = Status.ON_TIME
    return AttendanceRow(agent_id=agent, team=team, day=day, shift_start=start, shift_end=end,
                         first_login=first_login, last_logout=last_logout, late_s=late_s, early_s=early_s,
                         status=status, in_progress=not shift_over)
