"""The roster's value types: teams, shifts, leave and swap entries, decisions (pure, stdlib only).

Split from ``core.roster`` so that ``core.roster_rules`` (the seed's leave and swap rules) can use
them without importing the roster that calls it. ``core.roster`` re-exports every name here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "LEAVE_KINDS", "LeaveDecision", "LeaveEntry", "RosterError", "Shift", "SwapEntry", "Team", "agent_order",
    "parse_day",
]

LEAVE_KINDS = ("personal", "sick")  # sick (急症): no day's notice needed (第5条)

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RosterError(ValueError):
    """Bad input to the roster: the message names the field and the value."""


def agent_order(agent_id: str) -> tuple[int, int, str]:
    """Sort key for agent-ID order (工号 order): numeric IDs by number, then the rest by text."""
    if agent_id.isascii() and agent_id.isdigit():  # "²" is isdigit() but int() raises (issue 17)
        return (0, int(agent_id), agent_id)
    return (1, 0, agent_id)


def parse_day(value: date | str, what: str = "day") -> date:
    """A ``date`` or an ISO ``YYYY-MM-DD`` string → date; anything else raises RosterError."""
    if isinstance(value, datetime):
        raise RosterError(f"{what}: expected a date as YYYY-MM-DD, got a datetime {value.isoformat()!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DAY.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RosterError(f"{what}: expected a date as YYYY-MM-DD, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Shift:
    name: str = "day"
    timezone: str = "Asia/Shanghai"
    start: time = time(8, 45)
    end: time = time(17, 30)  # before start: ends the next day; == start: 24 hours
    weekdays: frozenset[int] = frozenset(range(5))  # 0 = Monday
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise RosterError("shift.name: must not be empty")
        if not self.weekdays or not all(isinstance(d, int) and 0 <= d <= 6 for d in self.weekdays):
            raise RosterError(f"shift {self.name!r}: weekdays must be 0 (Monday) … 6 (Sunday), got "
                              f"{sorted(self.weekdays)}")
        try:
            tz = ZoneInfo(self.timezone)
        except (KeyError, ValueError):
            raise RosterError(f"shift {self.name!r}: unknown time zone {self.timezone!r}") from None
        object.__setattr__(self, "_tz", tz)

    def bounds(self, day: date) -> tuple[float, float]:
        """Epoch start and end of this shift when it starts on ``day`` (working day or not)."""
        start = datetime.combine(day, self.start, tzinfo=self._tz)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        end = datetime.combine(end_day, self.end, tzinfo=self._tz)
        return start.timestamp(), end.timestamp()


@dataclass(frozen=True, kw_only=True)
class Team:
    name: str
    agents: tuple[str, ...]  # kept in agent-ID order
    shifts: tuple[Shift, ...] = (Shift(),)

    def __post_init__(self) -> None:
        if not self.name:
            raise RosterError("team.name: must not be empty")
        if not self.agents:
            raise RosterError(f"team {self.name!r}: has no agents")
        if len(set(self.agents)) != len(self.agents):
            raise RosterError(f"team {self.name!r}: an agent is listed twice")
        if not self.shifts:
            raise RosterError(f"team {self.name!r}: has no shifts")
        names = [s.name for s in self.shifts]
        if len(set(names)) != len(names):
            raise RosterError(f"team {self.name!r}: two shifts are named alike")
        if len({s.timezone for s in self.shifts}) > 1:
            raise RosterError(f"team {self.name!r}: shifts use different time zones")
        object.__setattr__(self, "agents", tuple(sorted(self.agents, key=agent_order)))

    @property
    def timezone(self) -> str:
        return self.shifts[0].timezone

    def shift(self, name: str) -> Shift:
        for s in self.shifts:
            if s.name == name:
                return s
        raise RosterError(f"team {self.name!r} has no shift {name!r}")


@dataclass(frozen=True, kw_only=True)
class LeaveEntry:
    agent_id: str
    day: date
    shift: str | None = None  # None = the whole day
    overridden_by: str | None = None  # the supervisor who allowed it over the limit
    kind: str = "personal"  # LEAVE_KINDS


@dataclass(frozen=True, kw_only=True)
class SwapEntry:
    """R-LEAVE 换班: ``agent_id`` hands its ``shift`` (None: its team's whole working day) on ``day`` to ``taker``."""
    swap_id: str
    agent_id: str
    day: date
    shift: str | None
    taker: str
    overridden_by: str | None = None


@dataclass(frozen=True, kw_only=True)
class LeaveDecision:
    granted: bool
    agent_id: str
    team: str
    day: date
    shift: str | None
    reason: str
    overridden_by: str | None = None  # set only when the limit was actually exceeded
    conflicts: tuple[str, ...] = ()  # the other agents on leave in the same shift(s)
    kind: str = "personal"
    broken: tuple[str, ...] = ()  # the rules refused by, or overridden (roster_rules.RULES keys)
