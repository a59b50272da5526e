"""R-LEAVE: teams, their shifts, and who is on leave on which day.

* A **team** is a name and its agents. Agents are always listed in
  *agent-ID order* (``agent_order``: all-digit IDs by number, so ``999``
  comes before ``1000``; other IDs after them, by text). An agent belongs
  to exactly one team.
* A team works one or more **shifts** (``Shift``: name, time zone, daily
  start/end, weekday set). A shift whose end is before its start runs
  past midnight into the next day; one whose end equals its start lasts
  24 hours (``00:00``–``24:00``: all day, with no gap at midnight). All shifts of a team share one time zone.
  A day is a working day of a shift when it is not a roster holiday and is
  either one of the shift's weekdays or an extra working day (调休, worked
  like a Monday — the same rule as ``core/hours.py``).
* **Leave** is an entry per agent and day, for one named shift or the whole
  day (``shift=None``), of a kind (``personal`` or ``sick``). A **swap**
  (换班, ``SwapEntry``) hands one agent's shift (or whole working day) to
  another agent, the *taker*; an exchange is two swaps made together (one
  ``swap_id``). The giver is *off* (``off``/``off_days``: the rota skips them,
  as it skips leave); the taker works the shift (attendance counts them).
  The seed's rules (人员管理制度 第2、3、5、6条) are checked in
  ``core.roster_rules``: one agent per team and shift on leave *or* swapping
  away, two leave days and two swaps a month, a day's notice (sick leave
  excepted), no consecutive shifts after a swap. A refusal names its rule;
  a supervisor may override (the decision lists the rules overridden, so
  the shell can log them).

Bad input from our own callers (unknown agent, agent in no team, a day that
is not ``YYYY-MM-DD``, an unknown shift) raises ``RosterError`` with an
exact message and changes nothing; a business refusal (over the limit, not a
working day) is a ``LeaveDecision`` with ``granted=False`` and a reason.

Pure: times are epoch seconds; ``zoneinfo`` only reads the tz database.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from .roster_rules import SwapDecision, leave_decision, swap_decision
from .roster_types import (LEAVE_KINDS, LeaveDecision, LeaveEntry, RosterError, Shift, SwapEntry, Team, agent_order,
                           parse_day)

__all__ = [
    "LEAVE_KINDS", "LeaveDecision", "LeaveEntry", "Roster", "RosterError", "Shift", "SwapEntry", "Team",
    "agent_order", "parse_day",
]

_SEARCH_DAYS = 400  # how far ahead to look for a team's next working day


class Roster:
    """Teams, shifts, holidays, leave and swaps. Leave and swaps are the only state that changes."""

    def __init__(self, teams: Iterable[Team], *, agents: Iterable[str] | None = None,
                 holidays: Iterable[date] = (), extra_workdays: Iterable[date] = (),
                 leave: Iterable[LeaveEntry] = (), swaps: Iterable[SwapEntry] = ()) -> None:
        self._teams: dict[str, Team] = {}
        self._team_of: dict[str, str] = {}
        for team in teams:
            if team.name in self._teams:
                raise RosterError(f"team {team.name!r}: defined twice")
            self._teams[team.name] = team
            for a in team.agents:
                if a in self._team_of:
                    raise RosterError(f"agent {a!r} is in teams {self._team_of[a]!r} and {team.name!r}; "
                                      "an agent belongs to one team")
                self._team_of[a] = team.name
        self._agents = frozenset(agents) if agents is not None else frozenset(self._team_of)
        for a in self._team_of:
            if a not in self._agents:
                raise RosterError(f"team {self._team_of[a]!r}: unknown agent {a!r}")
        self.holidays = frozenset(parse_day(d, "holidays") for d in holidays)
        self.extra_workdays = frozenset(parse_day(d, "extra_workdays") for d in extra_workdays)
        self._leave: list[LeaveEntry] = []
        for entry in leave:
            self._check_agent(entry.agent_id)
            self._leave.append(entry)
        self._swaps: list[SwapEntry] = []
        self.restore_swaps(swaps)

    # -- teams ----------------------------------------------------------------
    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(self._teams)

    def team(self, name: str) -> Team:
        try:
            return self._teams[name]
        except KeyError:
            raise RosterError(f"unknown team {name!r}") from None

    def members(self, team: str) -> tuple[str, ...]:
        """The team's agents in agent-ID order."""
        return self.team(team).agents

    def team_of(self, agent_id: str) -> str:
        return self._check_agent(agent_id)

    def find_team(self, agent_id: str) -> str | None:
        """The agent's team, or None for an agent the roster does not place (no error)."""
        return self._team_of.get(agent_id)

    def timezone(self, team: str) -> ZoneInfo:
        return self.team(team).shifts[0]._tz

    def local_day(self, team: str, now: float) -> date:
        return datetime.fromtimestamp(now, self.timezone(team)).date()

    # -- working days and shift times ----------------------------------------
    def shift_works(self, shift: Shift, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.extra_workdays or day.weekday() in shift.weekdays

    def works_on(self, team: str, day: date | str) -> bool:
        d = parse_day(day)
        return any(self.shift_works(s, d) for s in self.team(team).shifts)

    def shift_bounds(self, team: str, day: date | str,
                     shift: str | None = None) -> tuple[float, float] | None:
        """Epoch (start, end) of the team's shift starting on ``day`` in the team's time zone.

        ``shift=None``: the team's whole working day — the earliest start to the
        latest end of its shifts that run that day. None on a non-working day.
        """
        d = parse_day(day)
        t = self.team(team)
        shifts = (t.shift(shift),) if shift is not None else t.shifts
        spans = [s.bounds(d) for s in shifts if self.shift_works(s, d)]
        if not spans:
            return None
        return min(a for a, _ in spans), max(b for _, b in spans)

    def shifts_on(self, team: str, day: date | str) -> tuple[tuple[str, float, float], ...]:
        """(name, start, end) of each of the team's shifts that runs on ``day``, by start."""
        d = parse_day(day)
        spans = [(s.name, *s.bounds(d)) for s in self.team(team).shifts if self.shift_works(s, d)]
        return tuple(sorted(spans, key=lambda x: x[1]))

    def duty_day(self, team: str, now: float) -> date | None:
        """The working day whose shift is running at ``now``, else the next one to start."""
        d = self.local_day(team, now) - timedelta(days=1)  # a night shift from yesterday may still run
        for _ in range(_SEARCH_DAYS):
            b = self.shift_bounds(team, d)
            if b is not None and b[1] > now:
                return d
            d += timedelta(days=1)
        return None

    def plain_from(self) -> date:
        """The first day after every holiday, extra working day and leave entry: from it on, each team
        works by its shifts' weekdays alone and nobody is on leave (issue 17: the rota counts those days)."""
        days = [*self.holidays, *self.extra_workdays, *(e.day for e in self._leave), *(e.day for e in self._swaps)]
        last = max(days, default=None)
        return date.min if last is None else last + timedelta(days=1) if last < date.max else date.max

    def working_days(self, team: str, first: date, last: date) -> int:
        """How many days of ``first``..``last`` (both included) the team works, by weekday alone: for
        days from ``plain_from()`` on (holidays and extra working days are not looked at)."""
        if last < first:
            return 0
        weekdays = frozenset().union(*(s.weekdays for s in self.team(team).shifts))
        weeks, rest = divmod((last - first).days + 1, 7)
        return weeks * len(weekdays) + sum((first.weekday() + i) % 7 in weekdays for i in range(rest))

    # -- leave (R-LEAVE) -------------------------------------------------------
    def leave_entries(self) -> tuple[LeaveEntry, ...]:
        """Everything to persist."""
        return tuple(self._leave)

    def leave_on(self, team: str, day: date | str) -> tuple[LeaveEntry, ...]:
        d = parse_day(day)
        members = set(self.members(team))
        return tuple(e for e in self._leave if e.day == d and e.agent_id in members)

    def on_leave(self, agent_id: str, day: date | str, *, shift: str | None = None) -> bool:
        """With ``shift``: the agent's leave covers that shift. Without: any leave that day."""
        team = self._check_agent(agent_id)
        d = parse_day(day)
        if shift is not None:
            self.team(team).shift(shift)
        return any(e.agent_id == agent_id and e.day == d and (shift is None or e.shift in (None, shift))
                   for e in self._leave)

    def request_leave(self, agent_id: str, day: date | str, *, shift: str | None = None,
                      override_by: str | None = None, kind: str = "personal", now: float | None = None
                      ) -> LeaveDecision:
        """Grant or refuse by the seed's rules (``core.roster_rules``); ``now`` None: no notice rule (entries from
        the roster file or the store)."""
        return leave_decision(self, agent_id, day, shift=shift, override_by=override_by, kind=kind, now=now)

    def _add_leave(self, entry: LeaveEntry) -> None:
        if entry.shift is None:  # a whole day replaces the agent's single-shift entries that day
            self._leave = [e for e in self._leave if not (e.agent_id == entry.agent_id and e.day == entry.day)]
        self._leave.append(entry)

    # -- swaps (R-LEAVE 换班) -------------------------------------------------------------------------
    def swap_entries(self) -> tuple[SwapEntry, ...]:
        return tuple(self._swaps)

    def restore_swaps(self, entries: Iterable[SwapEntry]) -> None:
        """Swaps granted before (the store's): added without the rules, agents and shifts checked."""
        for e in entries:
            team = self._check_agent(e.agent_id)
            if e.shift is not None:
                self.team(team).shift(e.shift)
            self._check_agent(e.taker)
            if not any(x.agent_id == e.agent_id and x.day == e.day and x.shift == e.shift for x in self._swaps):
                self._swaps.append(e)

    @contextmanager
    def _trial_swaps(self, entries: Iterable[SwapEntry]) -> Iterator[Callable[[Iterable[SwapEntry]], None]]:
        """Add ``entries`` (as ``restore_swaps``) for the rules to look at; on leaving, the swaps are as before
        unless ``commit(final)`` was called and the block ended without an error: then ``final`` (the entries
        as granted) are kept instead."""
        before = list(self._swaps)
        kept: list[SwapEntry] | None = None

        def commit(final: Iterable[SwapEntry]) -> None:
            nonlocal kept
            kept = list(final)

        try:
            self.restore_swaps(entries)
            yield commit
        except BaseException:
            kept = None
            raise
        finally:
            self._swaps = before if kept is None else [*before, *kept]

    def swaps_on(self, team: str, day: date | str) -> tuple[SwapEntry, ...]:
        """The swaps handing away a shift of ``team`` on ``day``."""
        d = parse_day(day)
        members = set(self.members(team))
        return tuple(e for e in self._swaps if e.day == d and e.agent_id in members)

    def swapped_away(self, agent_id: str, day: date | str, *, shift: str | None = None) -> bool:
        self._check_agent(agent_id)
        d = parse_day(day)
        return any(e.agent_id == agent_id and e.day == d and (shift is None or e.shift in (None, shift))
                   for e in self._swaps)

    def off(self, agent_id: str, day: date | str, *, shift: str | None = None) -> bool:
        """Not working that day (or shift): on leave or swapped away. The rota skips such agents (R-VM-RR)."""
        return self.on_leave(agent_id, day, shift=shift) or self.swapped_away(agent_id, day, shift=shift)

    def off_days(self) -> set[tuple[str, date]]:
        """(agent, day) of every leave entry and every swap away."""
        return {(e.agent_id, e.day) for e in self._leave} | {(e.agent_id, e.day) for e in self._swaps}

    def request_swap(self, agent_id: str, day: date | str, taker: str, *, shift: str | None = None,
                     back_day: date | str | None = None, back_shift: str | None = None, now: float | None = None,
                     override_by: str | None = None, swap_id: str = "") -> SwapDecision:
        """``agent_id`` hands its shift on ``day`` to ``taker``; with ``back_day`` the taker hands its own shift
        that day back (an exchange). Granted swaps are in ``swap_entries()``."""
        return swap_decision(self, agent_id, day, taker, shift=shift, back_day=back_day, back_shift=back_shift,
                             now=now, override_by=override_by, swap_id=swap_id)

    def cancel_swap(self, swap_id: str) -> tuple[SwapEntry, ...]:
        """Remove every entry of the swap; the removed entries (none: unknown id)."""
        gone = tuple(e for e in self._swaps if e.swap_id == swap_id)
        self._swaps = [e for e in self._swaps if e.swap_id != swap_id]
        return gone

    def cancel_leave(self, agent_id: str, day: date | str, *, shift: str | None = None) -> bool:
        """Remove the agent's leave that day (``shift=None``: all of it). False if there was none."""
        team = self._check_agent(agent_id)
        d = parse_day(day)
        if shift is not None:
            self.team(team).shift(shift)
        before = len(self._leave)
        self._leave = [e for e in self._leave
                       if not (e.agent_id == agent_id and e.day == d and (shift is None or e.shift == shift))]
        return len(self._leave) != before

    # -- internals ---------------------------------------------------------------
    def _check_agent(self, agent_id: str) -> str:
        if agent_id not in self._agents:
            raise RosterError(f"unknown agent {agent_id!r}")
        team = self._team_of.get(agent_id)
        if team is None:
            raise RosterError(f"agent {agent_id!r} is in no team")
        return team
