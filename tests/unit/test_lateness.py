"""R-SHIFT: the seed's penalties for lateness and early leave (人员管理制度 第1条; 坐席管理制度 第十条, 第十一条).

Each table row quotes the seed sentence it checks. Old code (099d431) had no ``core.lateness``: every test here
fails there with ImportError; the boundaries are exact to the second.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from zoneinfo import ZoneInfo

from ari_app.core.agents import AgentLogEntry
from ari_app.core.attendance import AttendanceRow, Status, attendance
from ari_app.core.lateness import SEED, Excuse, summarise
from ari_app.core.roster import Roster, Shift, Team

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60.0


def row(day: int, late: float = 0.0, early: float = 0.0, *, agent: str = "1001", login: bool = True,
        status: Status | None = None) -> AttendanceRow:
    d = date(2026, 12, day)
    start = datetime.combine(d, time(8, 45), tzinfo=TZ).timestamp()
    return AttendanceRow(agent_id=agent, team="t", day=d, shift_start=start, shift_end=start + 8.75 * 3600,
                         first_login=start + late if login else None, last_logout=None, late_s=late, early_s=early,
                         status=status or (Status.LATE if late else Status.ON_TIME))


def one(rows, excuses=()):
    [s] = summarise(rows, excuses)
    return s


# (seed sentence, rows, personal leave days, absences, lates, early leaves)
TABLE = [
    (SEED["half_day"], [row(1, late=1)], 0.5, 0, 1, 0),
    (SEED["half_day"], [row(1, late=30 * MIN)], 0.5, 0, 1, 0),  # 30 min 0 s: 含30分钟 → half a day
    (SEED["whole_day"], [row(1, late=30 * MIN + 0.001)], 1.0, 0, 1, 0),
    (SEED["whole_day"], [row(1, early=45 * MIN)], 1.0, 0, 0, 1),
    (SEED["over_an_hour"], [row(1, late=60 * MIN)], 1.0, 0, 1, 0),  # exactly an hour: not "超过"
    (SEED["over_an_hour"], [row(1, late=60 * MIN + 1)], 0, 1, 1, 0),
    (SEED["over_an_hour"], [row(1, early=61 * MIN)], 0, 1, 0, 1),
    # late and early the same day: two occurrences, each judged on its own minutes
    (SEED["half_day"], [row(1, late=10 * MIN, early=40 * MIN)], 1.5, 0, 1, 1),
    # over an hour either way: absence for the day, no personal leave on top
    (SEED["over_an_hour"], [row(1, late=10 * MIN, early=90 * MIN)], 0, 1, 1, 1),
    (SEED["three_times"], [row(1, late=5 * MIN), row(2, late=5 * MIN)], 1.0, 0, 2, 0),
    # the third replaces the group's half days by one day of absence
    (SEED["three_times"], [row(1, late=5 * MIN), row(2, early=40 * MIN), row(3, late=5 * MIN)], 0, 1, 2, 1),
    (SEED["three_times"], [row(d, late=5 * MIN) for d in (1, 2, 3, 4)], 0.5, 1, 4, 0),
    (SEED["three_times"], [row(d, late=5 * MIN) for d in range(1, 7)], 0, 2, 6, 0),
    # an occurrence over an hour is already absence and not counted again towards the three
    (SEED["three_times"], [row(1, late=5 * MIN), row(2, late=2 * 3600), row(3, late=5 * MIN)], 1.0, 1, 3, 0),
    (SEED["no_show"], [row(1, login=False, status=Status.ABSENT)], 0, 1, 0, 0),
    ("请假 (R-LEAVE): not counted", [row(1, login=False, status=Status.LEAVE)], 0, 0, 0, 0),
    ("换班 (R-LEAVE): not counted", [row(1, login=False, status=Status.SWAPPED)], 0, 0, 0, 0),
]


@pytest.mark.parametrize("seed,rows,leave,absences,lates,earlies", TABLE,
                         ids=[f"{i}-{t[0][:12]}" for i, t in enumerate(TABLE)])
def test_r_shift_the_seed_s_penalties(seed, rows, leave, absences, lates, earlies):
    s = one(rows)
    assert (s.personal_leave_days, s.absences, s.lates, s.early_leaves) == (leave, absences, lates, earlies), seed
    assert s.rules and all("第" in line for line in s.rules) if (leave or absences) else not s.rules
    assert s.days_worked == sum(r.first_login is not None for r in rows)


def test_r_shift_each_count_names_its_rule():
    s = one([row(1, late=5 * MIN), row(2, late=45 * MIN), row(3, early=2 * 3600), row(4, login=False,
                                                                                     status=Status.ABSENT)])
    assert s.rules == [
        "2026-12-01 late 迟到 5 min → personal leave 事假 ≤ 30 min → 0.5 day (第1条: 30分钟以内按事假0.5天)",
        "2026-12-02 late 迟到 45 min → personal leave 事假 > 30 min → 1 day (第1条: 30分钟以上按事假1天)",
        "2026-12-03 early leave 早退 120 min > 60 min → absence 旷工 1 day (第十条: 超过一小时视为旷工)",
        "2026-12-04 no login 未登录 → absence 旷工 1 day (第4条: 未事先请假、未准假强行休息或未经…)",
    ]
    three = one([row(d, late=5 * MIN) for d in (1, 2, 3)])
    assert three.rules == ["2026-12-01 late 迟到, 2026-12-02 late 迟到, 2026-12-03 late 迟到: 3 in a month → "
                           "absence 旷工 1 day instead of their personal leave (第1条: 达到三次按旷工1天处理)"]


def test_r_shift_excused_lateness_is_not_counted():
    """第十一条 坐席人员遇重特大自然灾害或班车晚点等情况造成不能按时到岗,不计迟到"""
    bus = Excuse(agent_id="1001", day=date(2026, 12, 2), reason="班车晚点", by="sup-li")
    rows = [row(1, late=5 * MIN), row(2, late=2 * 3600), row(3, late=5 * MIN)]
    s = one(rows, [bus])
    assert (s.lates, s.personal_leave_days, s.absences, s.excused) == (2, 1.0, 0, 1)
    assert "2026-12-02 late 迟到 120 min excused, not counted (第十一条)" in s.rules
    # an excusal of another agent or another day changes nothing
    other = Excuse(agent_id="1002", day=date(2026, 12, 2), reason="x", by="sup-li")
    assert one(rows, [other]).absences == 1


def test_r_shift_the_three_are_counted_per_calendar_month_and_agent():
    rows = [row(30, late=5 * MIN), row(31, late=5 * MIN),
            _jan(1, 5 * MIN),
            row(30, late=5 * MIN, agent="1002")]
    got = {(s.agent_id, s.month): (s.personal_leave_days, s.absences) for s in summarise(rows)}
    assert got == {("1001", "2026-12"): (1.0, 0), ("1001", "2027-01"): (0.5, 0), ("1002", "2026-12"): (0.5, 0)}


def _jan(day: int, late: float) -> AttendanceRow:
    r = row(1, late=late)
    return AttendanceRow(agent_id=r.agent_id, team=r.team, day=date(2027, 1, day), shift_start=r.shift_start,
                         shift_end=r.shift_end, first_login=r.first_login, last_logout=None, late_s=late, early_s=0,
                         status=Status.LATE)


def test_r_shift_from_logins_to_the_month_s_summary():
    """The rows come from the agents' log against the roster's shift (08:45–17:30, 第七条/第九条)."""
    roster = Roster([Team(name="t", agents=("1001",), shifts=(Shift(),))])
    days = [date(2026, 12, d) for d in (1, 2, 3)]  # Tue, Wed, Thu

    def at(d, hh, mm, ss=0):
        return datetime.combine(d, time(hh, mm, ss), tzinfo=TZ).timestamp()

    log = []
    for d, (hh, mm, ss) in zip(days, [(9, 15, 0), (8, 45, 0), (9, 45, 1)]):  # 30 min 0 s, on time, 60 min 1 s
        log += [AgentLogEntry(agent_id="1001", at=at(d, hh, mm, ss), event="state", state="available"),
                AgentLogEntry(agent_id="1001", at=at(d, 17, 30), event="state", state="logged_out")]
    rows = attendance(roster, log, days[0], days[-1], now=at(days[-1], 23, 0))
    s = one(rows)
    assert (s.days_worked, s.lates, s.personal_leave_days, s.absences) == (3, 2, 0.5, 1)


# -- review of issue 18: a swapped day counts once; a shift still running counts nothing ------------------------
WED = date(2026, 12, 2)


def _at(d, hh, mm, ss=0):
    return datetime.combine(d, time(hh, mm, ss), tzinfo=TZ).timestamp()


def _swapped_roster() -> Roster:
    """1001 hands Wednesday to 1002 of the same team; 1002 works its own shift that day too, so the swap
    breaks no_consecutive and a supervisor overrode it (第6条)."""
    roster = Roster([Team(name="t", agents=("1001", "1002"), shifts=(Shift(),))])
    d = roster.request_swap("1001", WED, "1002", now=_at(date(2026, 12, 1), 9, 0), override_by="sup-li")
    assert d.granted and d.broken == ("no_consecutive",)
    return roster


def _in(agent, d, hh, mm, out=(17, 30)):
    return [AgentLogEntry(agent_id=agent, at=_at(d, hh, mm), event="state", state="available"),
            AgentLogEntry(agent_id=agent, at=_at(d, *out), event="state", state="logged_out")]


def test_r_leave_the_taker_of_a_swap_in_its_own_team_is_counted_once_that_day():
    """第1条 30分钟以内按事假0.5天: the day the taker worked both its shift and the one it took is one
    day, one late login, half a day. Before the fix it had two rows: 2 days worked, 2 lates, 1 day of 事假."""
    roster = _swapped_roster()
    rows = attendance(roster, _in("1002", WED, 9, 0), WED, WED, now=_at(WED, 23, 0))
    assert sorted((r.agent_id, r.status) for r in rows) == [("1001", Status.SWAPPED), ("1002", Status.LATE)]
    got = {s.agent_id: (s.days_worked, s.lates, s.personal_leave_days, s.absences) for s in summarise(rows)}
    assert got == {"1001": (0, 0, 0.0, 0), "1002": (1, 1, 0.5, 0)}


def test_r_leave_a_taker_on_leave_that_day_is_on_leave_not_absent():
    """The shift taken is not held against a taker whose leave was granted after the swap: no 旷工 (第4条)."""
    roster = _swapped_roster()
    assert roster.request_leave("1002", WED, kind="sick", now=_at(WED, 7, 0), override_by="sup-li").granted
    rows = attendance(roster, [], WED, WED, now=_at(WED, 23, 0))
    assert sorted((r.agent_id, r.status) for r in rows) == [("1001", Status.SWAPPED), ("1002", Status.LEAVE)]
    got = [(s.agent_id, s.absences, s.days_worked) for s in summarise(rows)]
    assert got == [("1001", 0, 0), ("1002", 0, 0)]


def test_r_leave_a_taker_from_another_team_has_one_row_under_its_own_team():
    """A taker whose own team works other hours: one row from the earliest start to the latest end."""
    roster = Roster([Team(name="a", agents=("1001",), shifts=(Shift(),)),
                     Team(name="b", agents=("2001",), shifts=(Shift(start=time(13, 0), end=time(21, 0)),))])
    day_before = _at(date(2026, 12, 1), 9, 0)
    assert roster.request_swap("1001", WED, "2001", now=day_before, override_by="sup").granted
    [row_2001] = [r for r in attendance(roster, _in("2001", WED, 8, 40, out=(21, 0)), WED, WED,
                                        now=_at(WED, 23, 0)) if r.agent_id == "2001"]
    assert (row_2001.team, row_2001.shift_start, row_2001.shift_end, row_2001.status) == (
        "b", _at(WED, 8, 45), _at(WED, 21, 0), Status.ON_TIME)


def test_r_shift_a_shift_still_running_counts_nothing_in_the_month():
    """A monthly report run at 10:00 on the 2nd: the 2nd's shift (08:45-17:30) has no login yet, or a late
    one; neither is 旷工 nor 事假 until the shift is over (before the fix: absence 1 day for the no-show)."""
    roster = Roster([Team(name="t", agents=("1001", "1002"), shifts=(Shift(),))])
    log = _in("1001", date(2026, 12, 1), 8, 40) + _in("1002", date(2026, 12, 1), 8, 40) + \
        [AgentLogEntry(agent_id="1001", at=_at(WED, 9, 0), event="state", state="available")]
    rows = attendance(roster, log, date(2026, 12, 1), date(2026, 12, 31), now=_at(WED, 10, 0))
    assert {(r.agent_id, r.day, r.status, r.in_progress) for r in rows if r.day == WED} == {
        ("1001", WED, Status.LATE, True), ("1002", WED, Status.ABSENT, True)}
    got = {s.agent_id: (s.days_worked, s.lates, s.personal_leave_days, s.absences) for s in summarise(rows)}
    assert got == {"1001": (1, 0, 0.0, 0), "1002": (1, 0, 0.0, 0)}
    # once the shift is over the same day counts
    rows = attendance(roster, log, date(2026, 12, 1), date(2026, 12, 31), now=_at(WED, 17, 30))
    got = {s.agent_id: (s.days_worked, s.lates, s.personal_leave_days, s.absences) for s in summarise(rows)}
    assert got == {"1001": (2, 1, 0.5, 0), "1002": (1, 0, 0.0, 1)}
