"""R-LEAVE: teams, shifts in their time zone, and the one-agent-per-shift leave limit."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.roster import LeaveDecision, LeaveEntry, Roster, RosterError, Shift, Team, agent_order, parse_day

SH = ZoneInfo("Asia/Shanghai")
MON, TUE, SAT = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 8)


def make(**kw):
    return Roster([Team(name="support", agents=("1001", "1002", "1003")),
                   Team(name="sales", agents=("2001", "2002"))], **kw)


def two_shift_roster():
    shifts = (Shift(name="am", start=time(8, 45), end=time(12, 0)), Shift(name="pm", start=time(13, 30), end=time(17, 30)))
    return Roster([Team(name="support", agents=("1001", "1002", "1003"), shifts=shifts)])


# -- teams and agent-ID order -----------------------------------------------------------------
def test_members_are_in_agent_id_order_numbers_by_value():
    r = Roster([Team(name="t", agents=("1010", "999", "A7", "1002"))])
    assert r.members("t") == ("999", "1002", "1010", "A7")
    assert sorted(["10", "9", "b", "a"], key=agent_order) == ["9", "10", "a", "b"]


def test_an_agent_belongs_to_one_team():
    with pytest.raises(RosterError, match="agent '1001' is in teams 'a' and 'b'; an agent belongs to one team"):
        Roster([Team(name="a", agents=("1001",)), Team(name="b", agents=("1001", "1002"))])


def test_team_validation_messages():
    with pytest.raises(RosterError, match="team 'x': has no agents"):
        Team(name="x", agents=())
    with pytest.raises(RosterError, match="team 'x': shifts use different time zones"):
        Team(name="x", agents=("1",), shifts=(Shift(name="a"), Shift(name="b", timezone="Europe/Berlin")))
    with pytest.raises(RosterError, match="shift 'day': unknown time zone 'Mars/Base'"):
        Shift(timezone="Mars/Base")


def test_a_shift_whose_end_equals_its_start_lasts_24_hours_with_no_gap_at_midnight():
    day_long = Shift(name="all", start=time(0, 0), end=time(0, 0), weekdays=frozenset(range(7)))
    r = Roster([Team(name="support", agents=("1001",), shifts=(day_long,))])
    start, end = r.shift_bounds("support", MON, "all")
    assert (start, end) == (datetime(2025, 3, 3, tzinfo=SH).timestamp(), datetime(2025, 3, 4, tzinfo=SH).timestamp())
    for hh, mm, ss in ((23, 59, 0), (23, 59, 59), (0, 0, 0), (12, 0, 0)):
        now = datetime(2025, 3, 3, hh, mm, ss, tzinfo=SH).timestamp()
        assert r.duty_day("support", now) == MON if hh else TUE
    nine = Shift(name="n", start=time(9, 0), end=time(9, 0))  # 09:00 to 09:00 the next day
    assert nine.bounds(MON)[1] - nine.bounds(MON)[0] == 24 * 3600


# -- bad input: exact messages, nothing changes ------------------------------------------------
@pytest.mark.parametrize("agent,message", [
    ("9999", "unknown agent '9999'"),
    ("3001", "agent '3001' is in no team"),
])
def test_unknown_agent_and_agent_in_no_team(agent, message):
    r = make(agents=("1001", "1002", "1003", "2001", "2002", "3001"))
    for call in (lambda: r.request_leave(agent, MON), lambda: r.on_leave(agent, MON),
                 lambda: r.cancel_leave(agent, MON)):
        with pytest.raises(RosterError) as e:
            call()
        assert str(e.value) == message
    assert r.leave_entries() == ()


@pytest.mark.parametrize("bad", ["2025/03/04", "2025-3-4", "2025-02-30", "", "tomorrow", 20250304])
def test_day_format(bad):
    r = make()
    with pytest.raises(RosterError) as e:
        r.request_leave("1001", bad)
    assert str(e.value) == f"day: expected a date as YYYY-MM-DD, got {bad!r}"
    assert r.leave_entries() == ()


def test_day_accepts_iso_text_and_date_but_not_datetime():
    assert parse_day("2025-03-04") == TUE
    assert parse_day(TUE) == TUE
    with pytest.raises(RosterError, match="got a datetime"):
        parse_day(datetime(2025, 3, 4, 9, 0))


def test_unknown_shift_and_empty_supervisor():
    r = two_shift_roster()
    with pytest.raises(RosterError, match="^team 'support' has no shift 'night'$"):
        r.request_leave("1001", MON, shift="night")
    with pytest.raises(RosterError, match=r"^override_by: must name the supervisor, got ' '$"):
        r.request_leave("1001", MON, override_by=" ")


# -- R-LEAVE: one agent per team per shift ---------------------------------------------------------
def test_second_leave_in_a_team_is_refused_with_a_reason():
    r = make()
    first = r.request_leave("1001", "2025-03-04")
    assert (first.granted, first.reason, first.overridden_by, first.team) == (True, "granted", None, "support")
    second = r.request_leave("1002", TUE)
    assert not second.granted
    assert second.reason == ("team 'support' already has 1001 on leave in shift 'day' on 2025-03-04; "
                             "one agent per team per shift (R-LEAVE 第3条: 一个班次允许一名员工请假或换班); "
                             "a supervisor may override")
    assert second.conflicts == ("1001",)
    assert r.on_leave("1001", TUE) and not r.on_leave("1002", TUE)
    assert r.leave_entries() == (LeaveEntry(agent_id="1001", day=TUE),)


def test_other_team_and_other_day_are_not_limited():
    r = make()
    assert r.request_leave("1001", TUE).granted
    assert r.request_leave("2001", TUE).granted  # another team
    assert r.request_leave("1002", MON).granted  # another day
    assert r.request_leave("1001", TUE).reason == "already on leave"
    assert len(r.leave_entries()) == 3


def test_supervisor_override_is_recorded():
    r = make()
    r.request_leave("1001", TUE)
    d = r.request_leave("1002", TUE, override_by="sup-li")
    assert d.granted and d.overridden_by == "sup-li" and d.conflicts == ("1001",)
    assert d.reason == "granted over the limit by supervisor 'sup-li'; also on leave: 1001"
    assert LeaveEntry(agent_id="1002", day=TUE, overridden_by="sup-li") in r.leave_entries()
    assert r.on_leave("1002", TUE)


def test_override_without_a_conflict_is_not_an_override():
    r = make()
    d = r.request_leave("1001", TUE, override_by="sup-li")
    assert d.granted and d.overridden_by is None and d.reason == "granted"


def test_cancelled_leave_frees_the_shift():
    r = make()
    r.request_leave("1001", TUE)
    assert r.cancel_leave("1001", "2025-03-04") is True
    assert r.cancel_leave("1001", TUE) is False
    assert not r.on_leave("1001", TUE)
    assert r.request_leave("1002", TUE).granted


def test_leave_per_shift():
    r = two_shift_roster()
    assert r.request_leave("1001", MON, shift="am").granted
    assert r.request_leave("1002", MON, shift="pm").granted  # another shift of the same day
    whole = r.request_leave("1003", MON)
    assert not whole.granted and whole.conflicts == ("1001", "1002")
    assert "1001 on leave in shift 'am'" in whole.reason
    assert not r.request_leave("1003", MON, shift="am").granted
    assert r.on_leave("1001", MON) and r.on_leave("1001", MON, shift="am") and not r.on_leave("1001", MON, shift="pm")
    assert r.request_leave("1001", MON).granted is False  # a whole day would clash with 1002's afternoon
    r.cancel_leave("1002", MON, shift="pm")
    assert r.request_leave("1001", MON).granted  # whole day replaces the morning entry
    assert [e for e in r.leave_entries() if e.agent_id == "1001"] == [LeaveEntry(agent_id="1001", day=MON)]


def test_leave_on_a_non_working_day_is_refused():
    r = make(holidays=[date(2025, 3, 5)])
    d = r.request_leave("1001", SAT)
    assert not d.granted and d.reason == "2025-03-08 is not a working day for team 'support'"
    assert not r.request_leave("1001", "2025-03-05").granted  # holiday
    assert make(extra_workdays=[SAT]).request_leave("1001", SAT).granted  # 调休


def test_leave_restored_from_the_store():
    r = make(leave=[LeaveEntry(agent_id="1001", day=TUE)])
    assert r.on_leave("1001", TUE)
    assert not r.request_leave("1003", TUE).granted


# -- shifts in the team's time zone ---------------------------------------------------------------
def test_shift_bounds_in_shanghai():
    r = make()
    start, end = r.shift_bounds("support", "2025-03-03")
    assert start == datetime(2025, 3, 3, 8, 45, tzinfo=SH).timestamp()
    assert start == datetime(2025, 3, 3, 0, 45, tzinfo=timezone.utc).timestamp()
    assert end - start == 8 * 3600 + 45 * 60
    assert r.shift_bounds("support", SAT) is None
    assert make(holidays=[MON]).shift_bounds("support", MON) is None
    assert make(extra_workdays=[SAT]).shift_bounds("support", SAT) is not None


def test_shift_bounds_follow_daylight_saving_time():
    r = Roster([Team(name="berlin", agents=("1",), shifts=(Shift(timezone="Europe/Berlin", start=time(8, 0),
                                                                  end=time(16, 0)),))])
    winter = r.shift_bounds("berlin", "2025-03-28")[0]
    summer = r.shift_bounds("berlin", "2025-03-31")[0]
    assert winter == datetime(2025, 3, 28, 7, 0, tzinfo=timezone.utc).timestamp()
    assert summer == datetime(2025, 3, 31, 6, 0, tzinfo=timezone.utc).timestamp()


def test_two_shifts_and_a_night_shift():
    r = two_shift_roster()
    start, end = r.shift_bounds("support", MON)
    assert end - start == (17.5 - 8.75) * 3600
    s, e = r.shift_bounds("support", MON, shift="pm")
    assert s == datetime(2025, 3, 3, 13, 30, tzinfo=SH).timestamp()
    night = Roster([Team(name="n", agents=("1",), shifts=(Shift(start=time(22, 0), end=time(6, 0)),))])
    s, e = night.shift_bounds("n", MON)
    assert e == datetime(2025, 3, 4, 6, 0, tzinfo=SH).timestamp() and e - s == 8 * 3600
    assert night.duty_day("n", datetime(2025, 3, 4, 3, 0, tzinfo=SH).timestamp()) == MON


def test_duty_day_is_the_running_or_next_working_day():
    r = make()
    at = lambda d, h, m=0: datetime(2025, 3, d, h, m, tzinfo=SH).timestamp()  # noqa: E731
    assert r.duty_day("support", at(3, 7)) == MON
    assert r.duty_day("support", at(3, 17, 29)) == MON
    assert r.duty_day("support", at(3, 17, 30)) == TUE
    assert r.duty_day("support", at(7, 18)) == date(2025, 3, 10)  # Friday evening → Monday
    assert r.duty_day("support", at(8, 12)) == date(2025, 3, 10)


# -- R-LEAVE: bad configuration, every exact message ---------------------------------------------------
@pytest.mark.parametrize("make_it,message", [
    (lambda: Shift(name=""), "shift.name: must not be empty"),
    (lambda: Shift(weekdays=frozenset()), "shift 'day': weekdays must be 0 (Monday) … 6 (Sunday), got []"),
    (lambda: Shift(weekdays=frozenset({0, 7})), "shift 'day': weekdays must be 0 (Monday) … 6 (Sunday), got [0, 7]"),
    (lambda: Shift(name="n", weekdays=frozenset({-1, 3})),
     "shift 'n': weekdays must be 0 (Monday) … 6 (Sunday), got [-1, 3]"),
    (lambda: Shift(weekdays=frozenset({1.0})), "shift 'day': weekdays must be 0 (Monday) … 6 (Sunday), got [1.0]"),
    (lambda: Shift(timezone="Mars/Base"), "shift 'day': unknown time zone 'Mars/Base'"),
    (lambda: Shift(timezone="/etc/localtime"), "shift 'day': unknown time zone '/etc/localtime'"),
    (lambda: Team(name="", agents=("1",)), "team.name: must not be empty"),
    (lambda: Team(name="x", agents=()), "team 'x': has no agents"),
    (lambda: Team(name="x", agents=("1", "2", "1")), "team 'x': an agent is listed twice"),
    (lambda: Team(name="x", agents=("1",), shifts=()), "team 'x': has no shifts"),
    (lambda: Team(name="x", agents=("1",), shifts=(Shift(name="a"), Shift(name="a", start=time(9, 0)))),
     "team 'x': two shifts are named alike"),
    (lambda: Team(name="x", agents=("1",), shifts=(Shift(name="a"), Shift(name="b", timezone="Europe/Berlin"))),
     "team 'x': shifts use different time zones"),
    (lambda: Roster([Team(name="a", agents=("1",)), Team(name="a", agents=("2",))]), "team 'a': defined twice"),
    (lambda: Roster([Team(name="a", agents=("1", "2"))], agents=("1", "3")), "team 'a': unknown agent '2'"),
    (lambda: Roster([Team(name="a", agents=("1",))], holidays=["2025/03/04"]),
     "holidays: expected a date as YYYY-MM-DD, got '2025/03/04'"),
    (lambda: Roster([Team(name="a", agents=("1",))], extra_workdays=["8 March"]),
     "extra_workdays: expected a date as YYYY-MM-DD, got '8 March'"),
    (lambda: Roster([Team(name="a", agents=("1",))], leave=[LeaveEntry(agent_id="2", day=TUE)]),
     "unknown agent '2'"),
])
def test_r_leave_bad_shifts_teams_and_rosters_are_refused_with_exact_messages(make_it, message):
    with pytest.raises(RosterError) as e:
        make_it()
    assert str(e.value) == message


def test_r_leave_a_roster_keeps_its_teams_in_order_and_takes_days_as_text():
    r = Roster([Team(name="b", agents=("2",)), Team(name="a", agents=("1",), shifts=(
        Shift(name="x", timezone="Europe/Berlin"),))], holidays=["2025-03-04"], extra_workdays=["2025-03-08"])
    assert r.teams == ("b", "a")
    assert r.team("a").timezone == "Europe/Berlin" and r.timezone("a") == ZoneInfo("Europe/Berlin")
    assert (r.holidays, r.extra_workdays) == (frozenset({TUE}), frozenset({SAT}))
    assert (r.works_on("b", TUE), r.works_on("b", "2025-03-08"), r.works_on("b", MON)) == (False, True, True)
    assert r.find_team("2") == "b" and r.find_team("3") is None and r.team_of("1") == "a"
    with pytest.raises(RosterError, match="^unknown team 'c'$"):
        r.team("c")


def test_r_leave_the_local_day_and_duty_day_are_in_the_team_s_time_zone():
    r = Roster([Team(name="sh", agents=("1",)),
                Team(name="ny", agents=("2",), shifts=(Shift(timezone="America/New_York"),))])
    t = datetime(2025, 3, 4, 1, 0, tzinfo=SH).timestamp()  # Tuesday in Shanghai, Monday noon in New York
    assert (r.local_day("sh", t), r.local_day("ny", t)) == (TUE, MON)
    assert (r.duty_day("sh", t), r.duty_day("ny", t)) == (TUE, MON)


def test_r_leave_no_working_day_ahead_gives_no_duty_day():
    every_day = [date(2025, 3, 1) + (date(2025, 3, 2) - date(2025, 3, 1)) * i for i in range(420)]
    r = Roster([Team(name="t", agents=("1",))], holidays=every_day)
    assert r.duty_day("t", datetime(2025, 3, 3, 10, 0, tzinfo=SH).timestamp()) is None
    # the day after the search window is still found: 400 days are searched, from yesterday
    r = Roster([Team(name="t", agents=("1",))], holidays=every_day[:398])
    assert r.duty_day("t", datetime(2025, 3, 1, 10, 0, tzinfo=SH).timestamp()) == every_day[398]


def test_r_leave_shifts_on_lists_the_running_shifts_by_start():
    shifts = (Shift(name="pm", start=time(13, 30), end=time(17, 30)),
              Shift(name="night", start=time(22, 0), end=time(6, 0), weekdays=frozenset({0})),
              Shift(name="am", start=time(8, 45), end=time(12, 0)))
    r = Roster([Team(name="t", agents=("1",), shifts=shifts)])
    h = lambda d, hh, mm=0: datetime(2025, 3, d, hh, mm, tzinfo=SH).timestamp()  # noqa: E731
    assert r.shifts_on("t", MON) == (("am", h(3, 8, 45), h(3, 12)), ("pm", h(3, 13, 30), h(3, 17, 30)),
                                     ("night", h(3, 22), h(4, 6)))
    assert r.shifts_on("t", "2025-03-04") == (("am", h(4, 8, 45), h(4, 12)), ("pm", h(4, 13, 30), h(4, 17, 30)))
    assert r.shifts_on("t", SAT) == ()
    assert r.shift_bounds("t", MON) == (h(3, 8, 45), h(4, 6))
    assert r.shift_bounds("t", TUE, shift="night") is None


def test_r_leave_a_shift_that_does_not_run_that_day_is_refused_with_the_whole_decision():
    shifts = (Shift(name="am", start=time(8, 45), end=time(12, 0)),
              Shift(name="sat", start=time(9, 0), end=time(12, 0), weekdays=frozenset({5})))
    r = Roster([Team(name="t", agents=("1", "2"), shifts=shifts)])
    assert r.request_leave("1", MON, shift="sat") == LeaveDecision(
        granted=False, agent_id="1", team="t", day=MON, shift="sat",
        reason="shift 'sat' of team 't' does not run on 2025-03-03")
    assert r.request_leave("1", SAT, shift="am") == LeaveDecision(
        granted=False, agent_id="1", team="t", day=SAT, shift="am",
        reason="shift 'am' of team 't' does not run on 2025-03-08")
    assert r.request_leave("2", "2025-03-09") == LeaveDecision(
        granted=False, agent_id="2", team="t", day=date(2025, 3, 9), shift=None,
        reason="2025-03-09 is not a working day for team 't'")
    assert r.request_leave("1", SAT) == LeaveDecision(granted=True, agent_id="1", team="t", day=SAT, shift=None,
                                                      reason="granted")
    assert r.leave_entries() == (LeaveEntry(agent_id="1", day=SAT),)


def test_r_leave_decisions_carry_every_field_for_shift_leave_conflicts_and_overrides():
    r = two_shift_roster()
    am = dict(agent_id="1001", day=MON, shift="am")
    assert r.request_leave("1001", MON, shift="am") == LeaveDecision(granted=True, team="support",
                                                                     reason="granted", **am)
    assert r.request_leave("1001", "2025-03-03", shift="am") == LeaveDecision(
        granted=True, team="support", reason="already on leave", **am)
    refused = r.request_leave("1002", MON)
    assert refused == LeaveDecision(
        granted=False, agent_id="1002", team="support", day=MON, shift=None, conflicts=("1001",),
        broken=("one_per_shift",),
        reason="team 'support' already has 1001 on leave in shift 'am' on 2025-03-03; one agent per team per "
               "shift (R-LEAVE 第3条: 一个班次允许一名员工请假或换班); a supervisor may override")
    over = r.request_leave("1002", MON, shift="am", override_by="sup-li")
    assert over == LeaveDecision(
        granted=True, agent_id="1002", team="support", day=MON, shift="am", overridden_by="sup-li",
        conflicts=("1001",), broken=("one_per_shift",),
        reason="granted over the limit by supervisor 'sup-li'; also on leave: 1001")
    third = r.request_leave("1003", MON)
    assert third == LeaveDecision(
        granted=False, agent_id="1003", team="support", day=MON, shift=None, conflicts=("1001", "1002"),
        broken=("one_per_shift",), reason="team 'support' already has 1001, 1002 on leave in shift 'am' on 2025-03-03; one agent per team "
               "per shift (R-LEAVE 第3条: 一个班次允许一名员工请假或换班); a supervisor may override")
    both = r.request_leave("1003", MON, override_by="sup-wang")
    assert both == LeaveDecision(
        granted=True, agent_id="1003", team="support", day=MON, shift=None, overridden_by="sup-wang",
        conflicts=("1001", "1002"), broken=("one_per_shift",),
        reason="granted over the limit by supervisor 'sup-wang'; also on leave: 1001, 1002")
    assert r.request_leave("1003", MON, shift="pm") == LeaveDecision(
        granted=True, agent_id="1003", team="support", day=MON, shift="pm", reason="already on leave")
    assert r.leave_entries() == (LeaveEntry(**am), LeaveEntry(agent_id="1002", day=MON, shift="am",
                                                               overridden_by="sup-li"),
                                 LeaveEntry(agent_id="1003", day=MON, overridden_by="sup-wang"))
    assert r.leave_on("support", MON) == r.leave_entries() and r.leave_on("support", TUE) == ()


def test_r_leave_whole_day_leave_replaces_only_that_agent_s_entries_of_that_day():
    r = two_shift_roster()
    r.request_leave("1001", MON, shift="am")
    r.request_leave("1001", TUE, shift="am")
    r.request_leave("1002", TUE, shift="pm")
    own = r.request_leave("1001", MON, shift="pm")  # the agent's own morning is no conflict
    assert (own.granted, own.reason, own.conflicts) == (True, "granted", ())
    whole = r.request_leave("1001", MON)
    assert (whole.granted, whole.reason, whole.conflicts) == (True, "granted", ())
    assert r.leave_entries() == (LeaveEntry(agent_id="1001", day=TUE, shift="am"),
                                 LeaveEntry(agent_id="1002", day=TUE, shift="pm"),
                                 LeaveEntry(agent_id="1001", day=MON))
    assert r.request_leave("1001", MON).reason == "already on leave"


def test_r_leave_cancelling_one_shift_keeps_the_others():
    r = two_shift_roster()
    r.request_leave("1001", MON, shift="am")
    r.request_leave("1001", MON, shift="pm")
    r.request_leave("1001", TUE, shift="pm")
    r.request_leave("1002", TUE, shift="am")
    assert r.cancel_leave("1001", MON, shift="am") is True
    assert r.cancel_leave("1001", MON, shift="am") is False
    assert r.leave_entries() == (LeaveEntry(agent_id="1001", day=MON, shift="pm"),
                                 LeaveEntry(agent_id="1001", day=TUE, shift="pm"),
                                 LeaveEntry(agent_id="1002", day=TUE, shift="am"))
    assert r.cancel_leave("1001", TUE) is True
    assert r.leave_entries() == (LeaveEntry(agent_id="1001", day=MON, shift="pm"),
                                 LeaveEntry(agent_id="1002", day=TUE, shift="am"))
    with pytest.raises(RosterError, match="^team 'support' has no shift 'night'$"):
        r.cancel_leave("1001", MON, shift="night")
    with pytest.raises(RosterError, match="^team 'support' has no shift 'night'$"):
        r.on_leave("1001", MON, shift="night")
    assert len(r.leave_entries()) == 2


def test_r_leave_shifts_are_ordered_by_start_and_conflicts_by_agent_id_order():
    shifts = (Shift(name="short", start=time(9, 0), end=time(12, 0)), Shift(name="long", start=time(8, 0), end=time(18, 0)))
    r = Roster([Team(name="t", agents=("1000", "999", "1001"), shifts=shifts)])
    assert [name for name, _, _ in r.shifts_on("t", MON)] == ["long", "short"]  # by start, not by end
    r.request_leave("1000", MON)
    r.request_leave("999", MON, override_by="sup")
    d = r.request_leave("1001", MON, shift="short")
    assert d.conflicts == ("999", "1000")  # agent-ID order: 999 before 1000
    assert d.reason.startswith("team 't' already has 1000, 999 on leave in shift 'short'")  # in leave order
