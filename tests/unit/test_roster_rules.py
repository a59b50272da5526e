"""R-LEAVE: the seed's leave and swap rules (呼叫中心人员管理制度, 员工考勤管理办法 第2、3、5、6条).

Each test quotes the seed sentence it checks. On the old code (099d431) there is no ``core.roster_rules``,
no ``Roster.request_swap`` and no ``kind``/``now`` for leave: every test here fails there.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from zoneinfo import ZoneInfo

from ari_app.core.agents import AgentLogEntry
from ari_app.core.attendance import Status, attendance
from ari_app.core.callbacks import CallbackRules, Callbacks
from ari_app.core.roster import LeaveEntry, Roster, RosterError, Shift, SwapEntry, Team
from ari_app.core.roster_rules import RULES

TZ = ZoneInfo("Asia/Shanghai")
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 12, d) for d in range(7, 14))
NIGHT = Shift(name="night", start=time(20, 0), end=time(8, 0), weekdays=frozenset(range(7)))
WEEKEND = Shift(name="day", weekdays=frozenset({5, 6}))


def at(d: date, hh: int = 12, mm: int = 0) -> float:
    return datetime.combine(d, time(hh, mm), tzinfo=TZ).timestamp()


def roster() -> Roster:
    return Roster([Team(name="day", agents=("1001", "1002", "1003")),  # Mon–Fri 08:45–17:30
                   Team(name="night", agents=("2001", "2002"), shifts=(NIGHT,)),
                   Team(name="weekend", agents=("3001", "3002"), shifts=(WEEKEND,))])


# -- leave -------------------------------------------------------------------------------------------------------
def test_r_leave_one_leave_or_swap_per_shift():
    """第3条 一个班次允许一名员工请假或换班。如第二名员工需请假或换班,原则上不予批准"""
    r = roster()
    assert r.request_swap("1001", WED, "3001", now=at(MON)).granted  # 1001 hands Wednesday to 3001
    d = r.request_leave("1002", WED, now=at(MON))
    assert (d.granted, d.broken, d.conflicts) == (False, ("one_per_shift",), ("1001",))
    assert d.reason == ("team 'day' already has 1001 on leave or swapping away in shift 'day' on 2026-12-09; one "
                        "agent per team per shift (R-LEAVE 第3条: 一个班次允许一名员工请假或换班); a supervisor may "
                        "override")
    s = r.request_swap("1003", WED, "3002", now=at(MON))
    assert (s.granted, s.broken) == (False, ("one_per_shift",))
    assert r.request_leave("1002", THU, now=at(MON)).granted  # another day is free


def test_r_leave_two_leave_days_a_month():
    """第2条 一个月内允许请假两天,超过两天原则上不予批准"""
    r = roster()
    assert r.request_leave("1001", MON, now=at(date(2026, 12, 1))).granted
    assert r.request_leave("1001", TUE, kind="sick", now=at(date(2026, 12, 1))).granted  # sick leave counts too
    third = r.request_leave("1001", THU, now=at(date(2026, 12, 1)))
    assert (third.granted, third.broken) == (False, ("two_leave_days",))
    assert third.reason == ("agent 1001 would have 3 leave days in 2026-12 (2026-12-07, 2026-12-08, 2026-12-10); "
                            "at most 2 a month (R-LEAVE 第2条: 一个月内允许请假两天)")
    assert r.request_leave("1001", date(2027, 1, 4), now=at(date(2026, 12, 1))).granted  # a new month
    assert r.request_leave("1001", MON, shift="day", now=at(date(2026, 12, 1))).reason == "already on leave"
    over = r.request_leave("1001", THU, now=at(date(2026, 12, 1)), override_by="mgr-wang")
    assert (over.granted, over.overridden_by, over.broken) == (True, "mgr-wang", ("two_leave_days",))
    assert over.reason == "granted by supervisor 'mgr-wang' over two_leave_days 第2条"
    assert LeaveEntry(agent_id="1001", day=THU, overridden_by="mgr-wang") in r.leave_entries()


@pytest.mark.parametrize("asked,kind,granted", [
    (at(TUE, 23, 59), "personal", True),  # the day before, a minute to midnight (Asia/Shanghai)
    (at(WED, 0, 0), "personal", False),  # the day itself
    (at(THU), "personal", False),  # after it
    (at(WED, 7, 0), "sick", True),  # 急症除外
])
def test_r_leave_a_day_ahead_except_sick_leave(asked, kind, granted):
    """第5条 请假或换班(急症除外)须提前一天办理请假和换班手续…否则不予批准"""
    d = roster().request_leave("1001", WED, kind=kind, now=asked)
    assert d.granted is granted
    if not granted:
        assert d.broken == ("a_day_ahead",) and "(R-LEAVE 第5条: 请假或换班(急症除外)须提前一天办理)" in d.reason


def test_r_leave_entries_from_the_file_or_store_have_no_notice_rule_and_kinds_are_checked():
    r = roster()
    assert r.request_leave("1001", WED).granted  # now=None: no request time to judge
    with pytest.raises(RosterError, match="kind: must be one of personal, sick, got 'holiday'"):
        r.request_leave("1002", WED, kind="holiday")


# -- swaps -------------------------------------------------------------------------------------------------------
def test_r_leave_a_swap_hands_the_shift_over_and_everyone_sees_it():
    """A swap: 1001 (day team) hands Wednesday's day shift to 3001 (weekend team, free on weekdays)."""
    r = roster()
    d = r.request_swap("1001", WED, "3001", now=at(MON), swap_id="sw-1")
    assert (d.granted, d.reason, d.entries) == (True, "granted", (
        SwapEntry(swap_id="sw-1", agent_id="1001", day=WED, shift=None, taker="3001"),))
    assert r.off("1001", WED) and not r.on_leave("1001", WED) and (("1001", WED) in r.off_days())
    assert r.plain_from() == THU
    # the duty rota (R-VM-RR) skips the agent who handed the day away, as it skips leave
    cb = Callbacks(CallbackRules(), r, now=at(MON))
    assert cb.duty_agent("day", WED) == "1002"
    # attendance: the giver's row is "swapped", the taker has a row for the shift it took
    log = [AgentLogEntry(agent_id="3001", at=at(WED, 9, 0), event="state", state="available"),
           AgentLogEntry(agent_id="3001", at=at(WED, 17, 30), event="state", state="logged_out")]
    rows = {(x.agent_id, x.team): x for x in attendance(r, log, WED, WED, now=at(WED, 23)) if x.team == "day"}
    assert rows[("1001", "day")].status == Status.SWAPPED
    assert (rows[("3001", "day")].status, rows[("3001", "day")].late_s) == (Status.LATE, 15 * 60)
    assert r.cancel_swap("sw-1") == d.entries and not r.off("1001", WED)


def test_r_leave_two_swaps_a_month():
    """第6条 一个月允许换班两次"""
    r = roster()
    assert r.request_swap("1001", MON, "3001", now=at(date(2026, 12, 1))).granted
    assert r.request_swap("1002", TUE, "3001", now=at(date(2026, 12, 1))).granted
    third = r.request_swap("1003", WED, "3001", now=at(date(2026, 12, 1)))
    assert (third.granted, third.broken) == (False, ("two_swaps",))
    assert third.reason == ("agent 3001 would take part in 3 swaps in 2026-12; at most 2 a month "
                            "(R-LEAVE 第6条: 一个月允许换班两次)")
    assert r.request_swap("1003", WED, "3002", now=at(date(2026, 12, 1))).granted  # another taker is free
    assert r.request_swap("1003", date(2027, 1, 6), "3001", now=at(date(2026, 12, 1))).granted  # a new month


@pytest.mark.parametrize("giver,day,taker,refused", [
    ("1001", TUE, "2001", True),  # 2001 works nights: Mon 20:00–Tue 08:00, then the day shift 08:45: 45 min
    ("2001", TUE, "1001", True),  # 1001 would work 08:45–17:30 then 20:00–08:00: 2.5 h between
    ("1001", TUE, "3001", False),  # the weekend team is off on weekdays
    ("3001", SAT, "1001", False),  # Friday 17:30 to Saturday 08:45: 15 h 15 min of rest (not consecutive)
    ("1001", TUE, "1002", True),  # a team mate already works that shift: overlapping
])
def test_r_leave_no_consecutive_shifts_after_a_swap(giver, day, taker, refused):
    """第6条 换班后严禁连续上班 (back-to-back shifts: less than 8 h between them, see core.roster_rules)"""
    r = roster()
    d = r.request_swap(giver, day, taker, now=at(date(2026, 12, 1)))
    assert d.granted is not refused
    if refused:
        assert d.broken == ("no_consecutive",) and f"({'R-LEAVE 第6条'}: {RULES['no_consecutive'][1]})" in d.reason
        assert r.swap_entries() == ()  # nothing kept
    over = roster().request_swap(giver, day, taker, now=at(date(2026, 12, 1)), override_by="sup-li")
    assert over.granted and over.overridden_by == ("sup-li" if refused else None)


def test_r_leave_the_consecutive_message_says_which_shifts():
    d = roster().request_swap("2001", TUE, "1001", now=at(date(2026, 12, 1)))
    assert d.reason == ("agent 1001 would work shift 'night' of team 'night' on 2026-12-08 (20:00–08:00) and its "
                        "own shift 'day' on 2026-12-08, with 2.5 h between them; at least 8 h rest between shifts "
                        "after a swap (R-LEAVE 第6条: 换班后严禁连续上班)")


def test_r_leave_an_exchange_is_one_swap_for_each_and_both_halves_are_judged():
    r = roster()
    d = r.request_swap("1001", WED, "3001", back_day=SAT, now=at(MON), swap_id="ex-1")
    assert d.granted and [(e.agent_id, e.day, e.taker) for e in d.entries] == [("1001", WED, "3001"),
                                                                                 ("3001", SAT, "1001")]
    assert r.off("3001", SAT) and r.off("1001", WED)
    assert r.request_swap("1002", THU, "3001", now=at(MON)).granted  # 3001's second swap this month
    assert r.request_swap("1003", FRI, "3001", now=at(MON)).broken == ("two_swaps",)
    late = roster().request_swap("1001", MON, "3001", back_day=SAT, now=at(MON))
    assert (late.granted, late.broken) == (False, ("a_day_ahead",))


def test_r_leave_swap_refusals_that_are_not_rules():
    r = roster()
    assert r.request_leave("3001", SAT).granted
    d = r.request_swap("1001", TUE, "3001", back_day=SAT, now=at(MON))
    assert (d.granted, d.broken) == (False, ())
    assert d.reason == "agent 3001 is already off on 2026-12-12 (on leave or swapped away): cancel that first"
    assert r.request_swap("1001", SAT, "3002", now=at(MON)).reason == (
        "team 'day' does not work on 2026-12-12: agent 1001 has nothing to hand over")
    with pytest.raises(RosterError, match="cannot swap with itself"):
        r.request_swap("1001", TUE, "1001")
    with pytest.raises(RosterError, match="unknown agent '9'"):
        r.request_swap("1001", TUE, "9")
    assert r.request_swap("1001", WED, "3002", now=at(MON)).granted
    assert "has handed the day on 2026-12-09 to another agent" in r.request_leave("1001", WED, now=at(MON)).reason


def test_r_leave_a_trial_swap_is_rolled_back_unless_committed():
    """The swap rules look at the roster with the swap in it (第6条); a refusal or an error leaves it as before."""
    r = roster()
    entry = SwapEntry(swap_id="t", agent_id="1001", day=WED, shift=None, taker="3001")
    with r._trial_swaps([entry]):
        assert r.swapped_away("1001", WED)
    assert r.swap_entries() == ()
    with pytest.raises(ZeroDivisionError), r._trial_swaps([entry]) as commit:
        commit([entry])
        1 / 0
    assert r.swap_entries() == ()
    with r._trial_swaps([entry]) as commit:
        commit([entry])
    assert r.swap_entries() == (entry,)
    refused = r.request_swap("1002", THU, "1003", now=at(MON))  # 1003 works Thursday too: refused
    assert (refused.granted, r.swap_entries()) == (False, (entry,))


def test_r_leave_the_roster_file_s_leave_has_a_kind_and_the_monthly_rule():
    """第2条 一个月内允许请假两天 holds for the roster file too (not 第5条: the file has no request time)."""
    from ari_app.config import ConfigError
    from ari_app.roster_file import parse_roster

    def leave(*days, kind=None):
        return [{"agent": "1001", "day": d, **({"kind": kind} if kind else {})} for d in days]

    team = {"teams": {"t": {"agents": ["1001", "1002"]}}}
    r = parse_roster({**team, "leave": leave("2026-12-07", kind="sick")})
    assert r.leave_entries() == (LeaveEntry(agent_id="1001", day=MON, kind="sick"),)
    with pytest.raises(ConfigError) as e:
        parse_roster({**team, "leave": leave("2026-12-07", "2026-12-08", "2026-12-09")})
    assert "roster.leave[2]: agent 1001 would have 3 leave days in 2026-12" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_roster({**team, "leave": leave("2026-12-07", kind="holiday")})
    assert "roster.leave[0].kind" in str(e.value) and "personal or sick" in str(e.value)
