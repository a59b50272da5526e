"""R-LEAVE: the seed's rules for leave and shift swaps (呼叫中心人员管理制度, 员工考勤管理办法 第2、3、5、6条).

    第2条 一个月内允许请假两天,超过两天原则上不予批准,如特殊原因需出示相关证明,并经部门主管和经理同意。
    第3条 一个班次允许一名员工请假或换班。如第二名员工需请假或换班,原则上不予批准…
    第5条 请假或换班(急症除外)须提前一天办理请假和换班手续,经主管批准方可生效,否则不予批准。
    第6条 一个月允许换班两次,换班后严禁连续上班,否则按事假处理。

How the roster (``core.roster``) reads them — each decision has a test in ``tests/unit/test_roster_rules.py``:

* ``one_per_shift``: per team and shift and day, at most one agent on leave **or** handing the shift away by a
  swap (the giver; the taker is not absent). A whole-day entry covers every shift the team runs that day.
* ``two_leave_days``: an agent's distinct days with any leave in a calendar month (the leave day's month),
  sick leave included (more needs a certificate and the managers: a supervisor's override).
* ``a_day_ahead``: leave and swaps are asked for on an earlier calendar day than the day itself, in the team's
  time zone (requested on the 6th for the 7th: fine; on the 7th for the 7th: refused). Sick leave (急症) is
  excepted. Entries from the roster file and the store are not judged by it (no request time).
* ``two_swaps``: an agent takes part (handing a shift away or taking one) in at most two swaps whose day falls in
  a calendar month; an exchange (A takes B's shift, B takes A's) is one swap for each of them.
* ``no_consecutive``: "严禁连续上班" is read as no back-to-back shifts: a shift taken by a swap must leave at
  least ``min_rest_s`` (default 8 h) between it and every other shift the taker works the day before, the
  same day and the day after (overlapping or touching shifts are the plain case). Not "no consecutive
  *days*": with the default Monday–Friday roster nobody could then take any shift at all.

A refusal is a decision with ``granted=False``, a reason that quotes each broken rule's article, and
``broken`` (the rule keys). ``override_by`` (a supervisor) grants it anyway; the decision's ``broken`` then
lists what was overridden. Other refusals (not a working day, the agent already off, unknown names) are not
rules of the seed and cannot be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .roster_types import LEAVE_KINDS, LeaveDecision, LeaveEntry, RosterError, SwapEntry, agent_order, parse_day

# The roster these rules read (core.roster.Roster; not imported: the roster calls these rules)
Roster = Any

__all__ = ["LeaveRules", "RULES", "SwapDecision", "leave_decision", "swap_decision"]

RULES = {  # key: (article, the seed's words)
    "one_per_shift": ("第3条", "一个班次允许一名员工请假或换班"),
    "two_leave_days": ("第2条", "一个月内允许请假两天"),
    "a_day_ahead": ("第5条", "请假或换班(急症除外)须提前一天办理"),
    "two_swaps": ("第6条", "一个月允许换班两次"),
    "no_consecutive": ("第6条", "换班后严禁连续上班"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaveRules:
    per_shift: int = 1  # agents per team and shift on leave or swapping away (第3条)
    leave_days_a_month: int = 2  # 第2条
    swaps_a_month: int = 2  # 第6条
    min_rest_s: float = 8 * 3600.0  # 第6条: less rest than this between two shifts is consecutive work


@dataclass(frozen=True, kw_only=True, slots=True)
class SwapDecision:
    granted: bool
    swap_id: str
    entries: tuple[SwapEntry, ...]  # the swap's entries (granted or not)
    reason: str
    broken: tuple[str, ...] = ()
    overridden_by: str | None = None
    conflicts: tuple[str, ...] = ()


def _cite(rule: str) -> str:
    article, words = RULES[rule]
    return f"(R-LEAVE {article}: {words})"


def _rules(roster: Roster) -> LeaveRules:
    return getattr(roster, "leave_rules", None) or LeaveRules()


def _same_month(a: date, b: date) -> bool:
    return (a.year, a.month) == (b.year, b.month)


def _running(roster: Roster, team: str, d: date, shift: str | None) -> list[str]:
    t = roster.team(team)
    running = [s.name for s in t.shifts if roster.shift_works(s, d)]
    return running if shift is None else [shift] if shift in running else []


def _not_ahead(roster: Roster, team: str, d: date, now: float | None, what: str) -> str | None:
    if now is None:
        return None
    today = roster.local_day(team, now)
    if d > today:
        return None
    return (f"{what} on {d.isoformat()} must be asked for by the day before (today is {today.isoformat()} for "
            f"team {team!r}) {_cite('a_day_ahead')}")


def _shift_conflicts(roster: Roster, agent_id: str, team: str, d: date, wanted: list[str]
                     ) -> tuple[dict[str, list[str]], bool]:
    """shift -> other agents of the team off in it (leave or swapped away); and whether any is a swap."""
    conflicts: dict[str, list[str]] = {}
    swapping = False
    for e in (*roster.leave_on(team, d), *roster.swaps_on(team, d)):
        if e.agent_id == agent_id:
            continue
        for s in wanted:
            if e.shift in (None, s) and e.agent_id not in conflicts.get(s, []):
                conflicts.setdefault(s, []).append(e.agent_id)
                swapping = swapping or isinstance(e, SwapEntry)
    return conflicts, swapping


def _per_shift(roster: Roster, agent_id: str, team: str, d: date, wanted: list[str]
               ) -> tuple[str | None, tuple[str, ...]]:
    conflicts, swapping = _shift_conflicts(roster, agent_id, team, d, wanted)
    busy = {s: who for s, who in conflicts.items() if len(who) >= _rules(roster).per_shift}
    if not busy:
        return None, ()
    others = tuple(sorted({a for v in busy.values() for a in v}, key=agent_order))
    s, who = next(iter(busy.items()))
    what = "on leave or swapping away" if swapping else "on leave"
    return (f"team {team!r} already has {', '.join(who)} {what} in shift {s!r} on {d.isoformat()}; one agent per "
            f"team per shift {_cite('one_per_shift')}; a supervisor may override"), others


def _check_common(roster: Roster, agent_id: str, override_by: str | None) -> str:
    team = roster.team_of(agent_id)
    if override_by is not None and not override_by.strip():
        raise RosterError(f"override_by: must name the supervisor, got {override_by!r}")
    return team


# -- leave ----------------------------------------------------------------------------------------------------
def leave_decision(roster: Roster, agent_id: str, day: date | str, *, shift: str | None, override_by: str | None,
                   kind: str, now: float | None) -> LeaveDecision:
    team_name = _check_common(roster, agent_id, override_by)
    d = parse_day(day)
    if shift is not None:
        roster.team(team_name).shift(shift)
    if kind not in LEAVE_KINDS:
        raise RosterError(f"kind: must be one of {', '.join(LEAVE_KINDS)}, got {kind!r}")

    def decide(granted: bool, reason: str, **kw: Any) -> LeaveDecision:
        return LeaveDecision(granted=granted, agent_id=agent_id, team=team_name, day=d, shift=shift, reason=reason,
                             kind=kind, **kw)

    wanted = _running(roster, team_name, d, shift)
    if not wanted and shift is None:
        return decide(False, f"{d.isoformat()} is not a working day for team {team_name!r}")
    if not wanted:
        return decide(False, f"shift {shift!r} of team {team_name!r} does not run on {d.isoformat()}")
    whole = any(e.agent_id == agent_id and e.day == d and e.shift is None for e in roster.leave_entries())
    if roster.on_leave(agent_id, d, shift=shift) if shift is not None else whole:
        return decide(True, "already on leave")
    if roster.swapped_away(agent_id, d, shift=shift):
        return decide(False, f"agent {agent_id} has handed {'shift ' + repr(shift) if shift else 'the day'} on "
                             f"{d.isoformat()} to another agent (a swap): cancel the swap first")
    broken: list[tuple[str, str]] = []
    per_shift, others = _per_shift(roster, agent_id, team_name, d, wanted)
    if per_shift:
        broken.append(("one_per_shift", per_shift))
    days = {e.day for e in roster.leave_entries() if e.agent_id == agent_id and _same_month(e.day, d)} | {d}
    limit = _rules(roster).leave_days_a_month
    if len(days) > limit:
        broken.append(("two_leave_days", f"agent {agent_id} would have {len(days)} leave days in "
                                         f"{d.strftime('%Y-%m')} ({', '.join(x.isoformat() for x in sorted(days))}); "
                                         f"at most {limit} a month {_cite('two_leave_days')}"))
    if kind != "sick" and (late := _not_ahead(roster, team_name, d, now, "leave")):
        broken.append(("a_day_ahead", late + "; sick leave (kind sick, 急症) is excepted"))
    keys = tuple(k for k, _ in broken)
    if broken and override_by is None:
        return decide(False, "; ".join(m for _, m in broken), conflicts=others, broken=keys)
    overrider = override_by if broken else None
    roster._add_leave(LeaveEntry(agent_id=agent_id, day=d, shift=shift, overridden_by=overrider, kind=kind))
    if not overrider:
        return decide(True, "granted")
    if keys == ("one_per_shift",):
        reason = f"granted over the limit by supervisor {overrider!r}; also on leave: {', '.join(others)}"
    else:
        reason = (f"granted by supervisor {overrider!r} over {', '.join(f'{k} {RULES[k][0]}' for k in keys)}"
                  + (f"; also on leave: {', '.join(others)}" if others else ""))
    return decide(True, reason, overridden_by=overrider, conflicts=others, broken=keys)


# -- swaps ------------------------------------------------------------------------------------------------------
def _spans(roster: Roster, agent_id: str, d: date) -> list[tuple[float, float, str, SwapEntry | None]]:
    """The shifts the agent works on ``d``: its team's unless off in them, and those taken by swaps."""
    out: list[tuple[float, float, str, SwapEntry | None]] = []
    team = roster.find_team(agent_id)
    if team is not None:
        for name, a, b in roster.shifts_on(team, d):
            if not roster.off(agent_id, d, shift=name):
                out.append((a, b, f"its own shift {name!r} on {d.isoformat()}", None))
    for e in roster.swap_entries():
        if e.taker == agent_id and e.day == d:
            giver_team = roster.team_of(e.agent_id)
            for name, a, b in roster.shifts_on(giver_team, d):
                if e.shift in (None, name):
                    out.append((a, b, f"shift {name!r} of team {giver_team!r} on {d.isoformat()}", e))
    return out


def _hhmm(roster: Roster, team: str, t: float) -> str:
    return datetime.fromtimestamp(t, roster.timezone(team)).strftime("%H:%M")


def _consecutive(roster: Roster, e: SwapEntry) -> str | None:
    """The taker of ``e`` (already in the roster) works another shift too close to the one it takes."""
    rest = _rules(roster).min_rest_s
    taken = [(a, b, what) for a, b, what, src in _spans(roster, e.taker, e.day) if src is e]
    others = [(a, b, what) for day in (e.day - timedelta(days=1), e.day, e.day + timedelta(days=1))
              for a, b, what, src in _spans(roster, e.taker, day) if src is not e]
    team = roster.team_of(e.agent_id)
    for a, b, what in taken:
        for x, y, other in others:
            gap = max(a - y, x - b)
            if gap < rest:
                how = "overlapping" if gap < 0 else f"with {gap / 3600:.1f} h between them"
                return (f"agent {e.taker} would work {what} ({_hhmm(roster, team, a)}–{_hhmm(roster, team, b)}) "
                        f"and {other}, {how}; at least {rest / 3600:g} h rest between shifts after a swap "
                        f"{_cite('no_consecutive')}")
    return None


def _swaps_in_month(roster: Roster, agent_id: str, d: date) -> set[str]:
    return {e.swap_id for e in roster.swap_entries()
            if agent_id in (e.agent_id, e.taker) and _same_month(e.day, d)}


def swap_decision(roster: Roster, agent_id: str, day: date | str, taker: str, *, shift: str | None,
                  back_day: date | str | None, back_shift: str | None, now: float | None, override_by: str | None,
                  swap_id: str) -> SwapDecision:
    team = _check_common(roster, agent_id, override_by)
    taker_team = roster.team_of(taker)
    if taker == agent_id:
        raise RosterError(f"taker: an agent cannot swap with itself ({agent_id})")
    d = parse_day(day)
    bd = None if back_day is None else parse_day(back_day, "back_day")
    if shift is not None:
        roster.team(team).shift(shift)
    if back_shift is not None:
        if bd is None:
            raise RosterError("back_shift: only with back_day (an exchange)")
        roster.team(taker_team).shift(back_shift)
    swap_id = swap_id or f"{agent_id}-{d.isoformat()}-{taker}"
    entries = [SwapEntry(swap_id=swap_id, agent_id=agent_id, day=d, shift=shift, taker=taker)]
    if bd is not None:
        entries.append(SwapEntry(swap_id=swap_id, agent_id=taker, day=bd, shift=back_shift, taker=agent_id))

    def decide(granted: bool, reason: str, **kw: Any) -> SwapDecision:
        return SwapDecision(granted=granted, swap_id=swap_id, entries=tuple(entries), reason=reason, **kw)

    if any(e.swap_id == swap_id for e in roster.swap_entries()):
        raise RosterError(f"swap_id: {swap_id!r} is taken")
    broken: list[tuple[str, str]] = []
    conflicts: list[str] = []
    for e in entries:
        e_team = roster.team_of(e.agent_id)
        wanted = _running(roster, e_team, e.day, e.shift)
        if not wanted:
            what = f"shift {e.shift!r} of team {e_team!r} does not run" if e.shift else \
                f"team {e_team!r} does not work"
            return decide(False, f"{what} on {e.day.isoformat()}: agent {e.agent_id} has nothing to hand over")
        for who in (e.agent_id, e.taker):
            if roster.off(who, e.day, shift=e.shift if who == e.agent_id else None):
                return decide(False, f"agent {who} is already off on {e.day.isoformat()} (on leave or swapped "
                                     "away): cancel that first")
        if late := _not_ahead(roster, e_team, e.day, now, "a swap"):
            broken.append(("a_day_ahead", late))
        per_shift, others = _per_shift(roster, e.agent_id, e_team, e.day, wanted)
        if per_shift:
            broken.append(("one_per_shift", per_shift))
            conflicts += others
    limit = _rules(roster).swaps_a_month
    for who in (agent_id, taker):
        for month_day in sorted({e.day.replace(day=1) for e in entries}):
            n = len(_swaps_in_month(roster, who, month_day)) + 1
            if n > limit:
                broken.append(("two_swaps", f"agent {who} would take part in {n} swaps in "
                                            f"{month_day.strftime('%Y-%m')}; at most {limit} a month "
                                            f"{_cite('two_swaps')}"))
    with roster._trial_swaps(entries) as commit:  # the consecutive rule looks at the roster with the swap
        broken += [("no_consecutive", why) for e in entries if (why := _consecutive(roster, e))]
        keys = tuple(dict.fromkeys(k for k, _ in broken))
        if broken and override_by is None:
            return decide(False, "; ".join(m for _, m in broken), broken=keys,
                          conflicts=tuple(sorted(set(conflicts), key=agent_order)))
        overrider = override_by if broken else None
        if overrider:
            entries = [SwapEntry(swap_id=e.swap_id, agent_id=e.agent_id, day=e.day, shift=e.shift, taker=e.taker,
                                 overridden_by=overrider) for e in entries]
        commit(entries)
    if overrider:
        return decide(True, f"granted by supervisor {overrider!r} over "
                            f"{', '.join(f'{k} {RULES[k][0]}' for k in keys)}", broken=keys, overridden_by=overrider,
                      conflicts=tuple(sorted(set(conflicts), key=agent_order)))
    return decide(True, "granted")
