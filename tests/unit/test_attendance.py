"""R-SHIFT: late after 08:45, early leave before 17:30, absent when more than an hour of either."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ari_app.core.agents import AgentLogEntry
from ari_app.core.attendance import AttendanceRow, Status, attendance, sessions
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


# -- mutation testing (issue 7): whole rows, and the edges of a shift -------------------------------------------
def row_of(log, agent="1001", day=THU, now=None, roster=ROSTER):
    got = {(r.agent_id, r.day): r for r in attendance(roster, log, day, day, now=now or at(SAT, 0, 0))}
    return got[(agent, day)]


def test_r_shift_rows_of_an_agent_never_in_and_one_on_leave_in_full():
    start, end = at(FRI, 8, 45), at(FRI, 17, 30)
    assert rows()[("1002", FRI)] == AttendanceRow(
        agent_id="1002", team="t", day=FRI, shift_start=start, shift_end=end, first_login=None, last_logout=None,
        late_s=end - start, early_s=0.0, status=Status.ABSENT)
    assert rows()[("1001", FRI)] == AttendanceRow(
        agent_id="1001", team="t", day=FRI, shift_start=start, shift_end=end, first_login=None, last_logout=None,
        late_s=0.0, early_s=0.0, status=Status.LEAVE)
    assert rows()[("1002", THU)] == AttendanceRow(
        agent_id="1002", team="t", day=THU, shift_start=at(THU, 8, 45), shift_end=at(THU, 17, 30),
        first_login=at(THU, 9, 10), last_logout=at(THU, 17, 0), late_s=25 * 60, early_s=30 * 60,
        status=Status.LATE_AND_EARLY)


def test_r_shift_a_days_row_ignores_the_next_days_session():
    log = [login("1001", at(THU, 8, 40)), logout("1001", at(THU, 17, 0)),
           login("1001", at(FRI, 8, 40)), logout("1001", at(FRI, 17, 40))]
    r = row_of(log)
    assert (r.first_login, r.last_logout, r.early_s, r.status) == (
        at(THU, 8, 40), at(THU, 17, 0), 30 * 60, Status.EARLY_LEAVE)


def test_r_shift_a_login_at_the_shift_end_or_a_session_over_4_h_before_it_does_not_count():
    assert row_of([login("1001", at(THU, 17, 30))]).first_login is None
    # a session that ended exactly 4 h before the start (04:45), or 4 h 2 s before it, is not this shift's
    for ended in (at(THU, 4, 45), at(THU, 4, 45) - 2, at(THU, 4, 15)):
        assert row_of([login("1001", at(THU, 3, 0)), logout("1001", ended)]).first_login is None
    # one that ended 3.5 h before the start does: logged in early, gone long before the shift
    r = row_of([login("1001", at(THU, 3, 0)), logout("1001", at(THU, 5, 15))])
    assert (r.first_login, r.late_s, r.status) == (at(THU, 3, 0), 0.0, Status.ABSENT)


def test_r_shift_late_and_early_by_a_fraction_of_a_second_still_count():
    r = row_of([login("1001", at(THU, 8, 45) + 0.5), logout("1001", at(THU, 17, 30) - 0.5)])
    assert (r.late_s, r.early_s, r.status) == (0.5, 0.5, Status.LATE_AND_EARLY)
    r = row_of([login("1001", at(THU, 8, 45)), logout("1001", at(THU, 17, 30) - 0.5)])
    assert (r.early_s, r.status) == (0.5, Status.EARLY_LEAVE)
    r = row_of([login("1001", at(THU, 8, 45) + 0.5), logout("1001", at(THU, 17, 30))])
    assert (r.late_s, r.status) == (0.5, Status.LATE)


def test_r_shift_exactly_one_hour_early_is_early_leave_not_absent():
    r = row_of([login("1001", at(THU, 8, 40)), logout("1001", at(THU, 16, 30))])
    assert (r.early_s, r.status) == (3600, Status.EARLY_LEAVE)


def test_r_shift_early_leave_is_judged_once_the_shift_is_over():
    log = [login("1001", at(THU, 8, 40)), logout("1001", at(THU, 17, 0))]
    assert row_of(log, now=at(THU, 17, 30)).status == Status.EARLY_LEAVE  # the end itself: over
    assert row_of(log, now=at(THU, 17, 29)).status == Status.ON_TIME  # not yet known


def test_r_shift_a_shift_starting_now_has_a_row():
    got = attendance(ROSTER, [], THU, THU, now=at(THU, 8, 45))
    assert {r.agent_id for r in got} == {"1001", "1002", "1003"}
    assert attendance(ROSTER, [], THU, THU, now=at(THU, 8, 45) - 1) == []


def test_r_shift_a_team_off_that_day_does_not_hide_the_teams_after_it():
    roster = Roster([Team(name="weekend", agents=("2001",), shifts=(Shift(weekdays=frozenset({5, 6})),)),
                     Team(name="t", agents=("1001",), shifts=(Shift(),))])
    got = attendance(roster, [], THU, THU, now=at(FRI, 0, 0))
    assert [(r.agent_id, r.team) for r in got] == [("1001", "t")]


def test_sessions_an_event_at_until_counts_and_later_ones_do_not():
    log = [login("1001", 10.0), logout("1001", 20.0), login("1001", 30.0)]
    assert sessions(log, until=20.0) == {"1001": [(10.0, 20.0)]}
    assert sessions(log, until=19.0) == {"1001": [(10.0, None)]}


def test_r_shift_the_report_shows_when_an_agent_who_stayed_to_the_end_logged_out():
    # regression (found by mutation testing, issue 7): a logout at or after the shift's end came out as
    # last_logout None ("still logged in"), a blank in the report for every agent who left on time
    assert rows()[("1001", THU)].last_logout == at(THU, 17, 35)
    r = row_of([login("1001", at(THU, 8, 40)), logout("1001", at(THU, 17, 30))])
    assert (r.last_logout, r.early_s, r.status) == (at(THU, 17, 30), 0.0, Status.ON_TIME)
    r = row_of([login("1001", at(THU, 8, 40)), logout("1001", at(THU, 12, 0)), login("1001", at(THU, 13, 0))])
    assert (r.last_logout, r.status) == (None, Status.ON_TIME)  # still logged in: no logout yet
