"""R-LEAVE: teams, shifts in their time zone, and the one-agent-per-shift leave limit."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.roster import LeaveEntry, Roster, RosterError, Shift, Team, agent_order, parse_day

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
                             "one agent per team per shift (R-LEAVE); a supervisor may override")
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
