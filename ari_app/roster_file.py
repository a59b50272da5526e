"""The roster file (R-LEAVE, R-VM-RR, R-VM-CHECK): teams, shifts, holidays, leave → ``core.roster.Roster``.

A module of its own rather than part of ``config.py``: the roster is a second
file with its own source name in every error, operators edit it far more often
than the service's config (leave), and ``ari-app check-config`` and the
service both load it through here. It reads like ``config.py`` (the same
``_Reader``: dotted paths, every error at once, unknown keys reported)::

    timezone = "Asia/Shanghai"            # every team's shifts (a team may set its own)
    holidays = ["2026-10-01"]             # no shift runs
    extra_workdays = ["2026-09-28"]       # 调休: worked like a Monday
    [teams.support]                       # teams in file order: the order of the check stagger
    agents = ["1001", "1002", "1003"]     # agent IDs from the config's [agents]; one team each
    [[teams.support.shifts]]              # absent: one shift "day", Mon–Fri 08:45–17:30 (core.roster.Shift)
    name = "day"
    start = "08:45"
    end = "17:30"                         # not after start: the shift ends the next day
    weekdays = ["mon-fri"]                # day names or ranges, as in [calendars] windows
    [[leave]]
    agent = "1002"
    day = "2026-11-27"
    shift = "day"                         # optional: the whole day when absent
    override_by = "9001"                  # optional: a supervisor allowing leave over the seed's rules
    kind = "sick"                         # optional: personal (default) or sick

Leave in the file is judged by the seed's rules (``core.roster_rules``) but the day's notice (the file has no
request time). Swaps are made through the API only (``POST /roster/swap``, kept in the store).

Errors are ``roster.<dotted path>: …`` (``roster.teams.support.shifts[0].start:
expected HH:MM, got '8h'``); ``load_roster`` raises ``ConfigError`` whose
source is the file's path. Leave entries go through
``Roster.request_leave`` in file order, so the one-leave-per-team-and-shift
rule and the two leave days a month (R-LEAVE) hold for the file too unless ``override_by`` is given.

Without a roster file (``[callbacks]`` with no ``roster``), ``default_roster``
makes one team per queue, named like the queue, of the agents whose *first*
queue it is (an agent belongs to one team), each with the default
``core.roster.Shift``; queues left without agents get no team.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from .config import (
    _AGENT_ID, AgentConfig, Config, ConfigError, QueueConfig, _Reader, _valid_dates, _valid_tz, read_toml,
    time_of_day,
)
from .core.roster import LEAVE_KINDS, LeaveEntry, Roster, RosterError, Shift, SwapEntry, Team, parse_day

__all__ = ["default_roster", "load_roster", "make_roster", "parse_roster"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_RANGE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?\Z")
_DEFAULT = Shift()


def load_roster(path: str | os.PathLike[str], agent_ids: Iterable[str] | None = None) -> Roster:
    """Read and check the roster file; ``agent_ids``: the config's agents (None: any ID is known)."""
    p = Path(path)
    return parse_roster(read_toml(p), agent_ids, source=str(p))


def parse_roster(data: Mapping[str, Any], agent_ids: Iterable[str] | None = None, *,
                 source: str = "<roster>") -> Roster:
    errors: list[str] = []
    known = None if agent_ids is None else set(agent_ids)
    top = _Reader(data, "roster", errors)
    tz_default = top.get("timezone", str, _DEFAULT.timezone, check=_valid_tz, must="an IANA time zone")
    holidays = top.get("holidays", tuple, (), check=_valid_dates, must="a list of dates YYYY-MM-DD")
    extra = top.get("extra_workdays", tuple, (), check=_valid_dates, must="a list of dates YYYY-MM-DD")

    teams: list[Team] = []
    for name, path, tdata in top.named_tables("teams", "team"):
        team = _team(name, tdata, path, tz_default, known, errors)
        if team is not None:
            teams.append(team)

    leave = data.get("leave", [])
    top.seen.add("leave")
    if not isinstance(leave, list) or not all(isinstance(x, dict) for x in leave):
        errors.append(f"roster.leave: must be a list of tables ([[leave]]), got {leave!r}")
        leave = []
    top.finish()
    if errors:
        raise ConfigError(source, errors)

    try:
        roster = Roster(teams, agents=known, holidays=holidays, extra_workdays=extra)
    except RosterError as e:
        raise ConfigError(source, [f"roster: {e}"]) from None
    for i, entry in enumerate(leave):
        _leave(roster, entry, f"roster.leave[{i}]", known, errors)
    if errors:
        raise ConfigError(source, errors)
    return roster


def _team(name: str, data: Mapping[str, Any], path: str, tz_default: str, known: set[str] | None,
          errors: list[str]) -> Team | None:
    before = len(errors)
    r = _Reader(data, path, errors)
    agents = r.get("agents", tuple, (), check=lambda v: bool(v) and all(isinstance(a, str) for a in v),
                   must="a non-empty list of agent IDs")
    if "agents" not in data:
        errors.append(f"{path}.agents: missing (a list of agent IDs, e.g. agents = [\"1001\", \"1002\"])")
    for a in agents:
        if not _AGENT_ID.match(a):
            errors.append(f"{path}.agents: agent IDs (工号) are 1-10 digits, got {a!r}")
        elif known is not None and a not in known:
            errors.append(f"{path}.agents: unknown agent {a!r} (not in the config's [agents])")
    tz = r.get("timezone", str, tz_default, check=_valid_tz, must="an IANA time zone")
    shifts: list[Shift] = []
    raw = data.get("shifts", None)
    r.seen.add("shifts")
    if raw is None:
        raw = [{}]
    elif not isinstance(raw, list) or not raw or not all(isinstance(x, dict) for x in raw):
        errors.append(f"{path}.shifts: must be a non-empty list of tables ([[teams.{name}.shifts]]), "
                      f"got {raw!r}")
        raw = []
    for i, sdata in enumerate(raw):
        spath = f"{path}.shifts[{i}]"
        sr = _Reader(sdata, spath, errors)
        sname = sr.get("name", str, _DEFAULT.name, check=bool, must="non-empty")
        start = time_of_day(sr, "start", _DEFAULT.start)
        end = time_of_day(sr, "end", _DEFAULT.end, midnight_24=True)
        days = sr.get("weekdays", tuple, None, check=lambda v: _weekdays(v) is not None,
                      must="a list of day names or ranges, e.g. ['mon-fri'] or ['mon', 'wed']")
        sr.finish()
        weekdays = _DEFAULT.weekdays if days is None else _weekdays(days) or frozenset()
        try:
            shifts.append(Shift(name=sname, timezone=tz, start=start, end=end, weekdays=weekdays))
        except RosterError as e:
            errors.append(f"{spath}: {e}")
    r.finish()
    if len(errors) > before:
        return None
    try:
        return Team(name=name, agents=agents, shifts=tuple(shifts))
    except RosterError as e:
        errors.append(f"{path}: {e}")
        return None


def _weekdays(values: tuple[Any, ...]) -> frozenset[int] | None:
    """``["mon-fri", "sat"]`` → {0, …, 5}; None when anything is not a day name or range."""
    days: set[int] = set()
    for v in values:
        m = _DAY_RANGE.match(v.strip().lower()) if isinstance(v, str) else None
        if m is None:
            return None
        d1 = _DAYS.index(m[1])
        d2 = _DAYS.index(m[2]) if m[2] else d1
        if d2 < d1:
            return None
        days.update(range(d1, d2 + 1))
    return frozenset(days) if days else None


def _leave(roster: Roster, data: Mapping[str, Any], path: str, known: set[str] | None,
           errors: list[str]) -> None:
    before = len(errors)
    r = _Reader(data, path, errors)
    agent = r.get("agent", str, "", check=bool, must="an agent ID")
    day = r.get("day", str, "")
    shift = r.get("shift", str, None, check=bool, must="a shift name")
    override_by = r.get("override_by", str, None, check=lambda v: bool(v.strip()), must="the supervisor's ID")
    kind = r.get("kind", str, "personal", check=lambda v: v in LEAVE_KINDS, must=" or ".join(LEAVE_KINDS))
    r.finish()
    for key in ("agent", "day"):
        if key not in data:
            errors.append(f"{path}.{key}: missing")
    if agent and known is not None and agent not in known:
        errors.append(f"{path}.agent: unknown agent {agent!r} (not in the config's [agents])")
    try:
        if day:
            parse_day(day)
    except RosterError:
        errors.append(f"{path}.day: expected a date as YYYY-MM-DD, got {day!r}")
    if len(errors) > before:
        return
    try:
        decision = roster.request_leave(agent, day, shift=shift, override_by=override_by, kind=kind)
    except RosterError as e:
        errors.append(f"{path}: {e}")
        return
    if not decision.granted:
        errors.append(f"{path}: {decision.reason}")


def default_roster(queues: Iterable[str] | Mapping[str, QueueConfig],
                   agents: Mapping[str, AgentConfig]) -> Roster:
    """One team per queue, named like it, of the agents whose first queue it is; the default Shift."""
    members: dict[str, list[str]] = {q: [] for q in queues}
    for agent_id, a in agents.items():
        if a.queues and a.queues[0] in members:
            members[a.queues[0]].append(agent_id)
    return Roster([Team(name=q, agents=tuple(ids)) for q, ids in members.items() if ids], agents=list(agents))


def make_roster(cfg: Config, leave: Iterable[LeaveEntry] = (), swaps: Iterable[SwapEntry] = ()) -> Roster:
    """A fresh ``Roster`` for the service: the roster file, else the default roster. Raises ConfigError.

    ``leave`` and ``swaps``: entries recorded at run time (the store's, through the API/CLI) join the file's
    (R-LEAVE); they were judged by the rules when granted and are not judged again."""
    if cfg.callbacks is not None and cfg.callbacks.roster:
        roster = load_roster(cfg.callbacks.roster, cfg.agents)
    else:
        roster = default_roster(cfg.queues, cfg.agents)
    for entry in leave:
        roster.request_leave(entry.agent_id, entry.day, shift=entry.shift, override_by=entry.overridden_by or "store",
                             kind=entry.kind)
    roster.restore_swaps(swaps)
    return roster
