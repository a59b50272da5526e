"""R-SHIFT: late after 08:45, early leave before 17:30, absent when more than an hour of either."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ari_app.core.agents import AgentLogEntry
from ari_app.core.attendance import Status, attendance, sessions
from ari_app.core.roster import LeaveEntry, Roster, Shift, Team

TZ = ZoneInfo("Asia/Shanghai")
THU, FRI, SAT = date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28)


def at(day: date, hh: int, mm: int) -> float:
    return datetime.combine(day, time(hh, mm), tzinfo=TZ).timestamp()


def login(agent, t):
    return AgentLogEntry(agent_id=agent, at=t, event="state", state="available")


def logout(agent, t):
    return AgentLogEntry(agent_id=agent, at=t, event="state", state="logged_out")


ROSTER = Roster([Team(name="t", agents=("1001", "1002", "1003"), shifts=(Shift(),))],
                leave=[LeaveEntry(agent_id="1001", day=FRI)])
LOG = [
    login("1001", at(THU, 8, 40)), logout("1001", at(THU, 17, 35)),  # on time
    login("1002", at(THU, 9, 10)), logout("1002", at(THU, 17, 0)),  # 25 min late, 30 min early
    login("1003", at(THU, 9, 46)), logout("1003", at(THU, 17, 30)),  # 61 min late: absent
    # Friday: 1001 on leave; 1002 never logs in; 1003 leaves at 16:29 (61 min early: absent)
    login("1003", at(FRI, 8, 44)),
    AgentLogEntry(agent_id="1003", at=at(FRI, 12, 0), event="state", state="paused", reason="lunch"),
    logout("1003", at(FRI, 16, 29)),
]


def rows():
    return {(r.agent_id, r.day): r for r in attendance(ROSTER, LOG, THU, SAT, now=at(SAT, 12, 0))}


def test_statuses_per_agent_per_day():
    got = {k: r.status for k, r in rows().items()}
    assert got == {("1001", THU): Status.ON_TIME, ("1002", THU): Status.LATE_AND_EARLY,
                   ("1003", THU): Status.ABSENT, ("1001", FRI): Status.LEAVE, ("1002", FRI): Status.ABSENT,
                   ("1003", FRI): Status.ABSENT}  # Saturday is not a working day


def test_minutes_late_and_early():
    r = rows()[("1002", THU)]
    assert (r.late_s, r.early_s) == (25 * 60, 30 * 60)
    assert (r.first_login, r.last_logout) == (at(THU, 9, 10), at(THU, 17, 0))
    assert rows()[("1003", FRI)].early_s == 61 * 60  # a pause is still logged in


def test_one_hour_exactly_is_late_not_absent():
    log = [login("1001", at(THU, 9, 45)), logout("1001", at(THU, 17, 30))]
    r = {x.agent_id: x for x in attendance(ROSTER, log, THU, THU, now=at(FRI, 0, 0))}["1001"]
    assert (r.status, r.late_s) == (Status.LATE, 3600)


def test_a_shift_still_running_is_not_early_leave():
    log = [login("1001", at(THU, 8, 30))]
    r = {x.agent_id: x for x in attendance(ROSTER, log, THU, THU, now=at(THU, 11, 0))}["1001"]
    assert (r.status, r.last_logout) == (Status.ON_TIME, None)


def test_sessions_pair_logins_with_logouts():
    s = sessions(LOG, until=at(SAT, 0, 0))
    assert s["1003"] == [(at(THU, 9, 46), at(THU, 17, 30)), (at(FRI, 8, 44), at(FRI, 16, 29))]
