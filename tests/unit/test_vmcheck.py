"""R-VM-CHECK rounds (issue 18 item 10), with a fake clock.

The seed: "在正常工作日内，每家有限公司每天听取三次语音信箱留言内容。每天同时四家有限公司为
一轮次接听语音信箱留言，把所有有限公司分成6个轮次，每轮次有限公司按照时间间隔10分钟接听一次留言。"
24 teams (companies) in 6 rounds of 4, 10 minutes apart, three checks a day each, 2 hours apart
("每隔二小时"), from 09:00 on Monday 2025-03-03 in Asia/Shanghai, shifts 08:45–17:30.
"""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from ari_app import config
from ari_app.core.callbacks import (
    CallbackError, CallbackRules, Callbacks, CallDutyAgent, DutyAnswered, DutyCallEnded, VoicemailLeft,
)
from ari_app.core.roster import Roster, Shift, Team
from ari_app.core.vmcheck import ROUND_GAP_S, check_times, round_errors, round_offsets

SH = ZoneInfo("Asia/Shanghai")
TEAMS = [f"c{i:02d}" for i in range(1, 25)]
ROUNDS = [TEAMS[i:i + 4] for i in range(0, 24, 4)]  # [[c01..c04], [c05..c08], … [c21..c24]]
# The exact check times of each round on Monday 03 (written out, not computed).
ROUND_TIMES = [
    ["09:00", "11:00", "13:00"], ["09:10", "11:10", "13:10"], ["09:20", "11:20", "13:20"],
    ["09:30", "11:30", "13:30"], ["09:40", "11:40", "13:40"], ["09:50", "11:50", "13:50"],
]


def at(day, hm):
    h, m = map(int, hm.split(":"))
    return datetime(2025, 3, day, h, m, tzinfo=SH).timestamp()


def hm(t):
    return datetime.fromtimestamp(t, SH).strftime("%H:%M")


def roster24(shifts=(Shift(),)):
    return Roster([Team(name=t, agents=(str(1001 + i),), shifts=shifts) for i, t in enumerate(TEAMS)])


def check_log(cb, until):
    """Fire the timers up to ``until``; every check call is answered and hung up at once."""
    log: dict[str, list[str]] = {}
    for _ in range(10_000):
        if (t := cb.get_timer()) is None or t > until:
            return log
        for a in cb.handle_timer(t):
            if isinstance(a, CallDutyAgent):
                log.setdefault(a.team, []).append(hm(t))
                cb.handle(DutyAnswered(agent_id=a.agent_id), t)
                cb.handle(DutyCallEnded(agent_id=a.agent_id), t)
    raise AssertionError("the timer is stuck")


def rounds_core(shifts=(Shift(),), **rules):
    cb = Callbacks(CallbackRules(rounds=tuple(map(tuple, ROUNDS)), check_every_s=7200.0, **rules),
                   roster24(shifts), now=at(3, "07:00"))
    for team in TEAMS:
        cb.handle(VoicemailLeft(task_id=f"vm-{team}", caller="13800135678", queue=team, recording=f"vm/{team}"),
                  at(3, "08:00"))
    return cb


# -- the seed's schedule ---------------------------------------------------------------------------------
def test_r_vm_check_24_teams_in_6_rounds_of_4_ten_minutes_apart_three_checks_a_day():
    cb = rounds_core(checks_per_day=3)
    log = check_log(cb, at(3, "23:59"))
    assert log == {team: ROUND_TIMES[i // 4] for i, team in enumerate(TEAMS)}
    assert cb.rules.round_gap_s == ROUND_GAP_S == 600.0  # the default lives in the core


def test_r_vm_check_without_a_daily_limit_rounds_check_every_2_h_until_the_shift_ends():
    log = check_log(rounds_core(), at(3, "23:59"))
    assert log["c01"] == ["09:00", "11:00", "13:00", "15:00", "17:00"]
    assert log["c24"] == ["09:50", "11:50", "13:50", "15:50"]  # 17:50 is after the 17:30 end


def test_r_vm_check_three_a_day_counts_only_checks_inside_a_shift():
    shifts = (Shift(name="am", start=time(8, 45), end=time(12, 0)), Shift(name="pm", start=time(13, 30),
                                                                           end=time(17, 30)))
    log = check_log(rounds_core(shifts, checks_per_day=3), at(3, "23:59"))
    assert log["c01"] == ["09:00", "11:00", "15:00"]  # 13:00 is the lunch break
    assert log["c24"] == ["09:50", "11:50", "13:50"]


def test_r_vm_check_a_custom_round_gap_and_rounds_of_different_sizes():
    rules = CallbackRules(rounds=(("c01",), tuple(TEAMS[1:20]), tuple(TEAMS[20:])), round_gap_s=900.0)
    assert (rules.offset_s("c01"), rules.offset_s("c02"), rules.offset_s("c20"), rules.offset_s("c21"),
            rules.offset_s("c24")) == (0.0, 900.0, 900.0, 1800.0, 1800.0)


def test_r_vm_check_without_rounds_the_per_team_stagger_stays():
    rules = CallbackRules(check_offsets={"c01": 0.0, "c02": 600.0})
    assert (rules.rounds, rules.offset_s("c02"), rules.checks_per_day) == ((), 600.0, 0)


# -- the pure pieces -------------------------------------------------------------------------------------
def test_check_times_within_spans_and_the_daily_limit():
    spans = [(100.0, 400.0), (500.0, 900.0)]
    assert check_times(50.0, 100.0, spans) == [150.0, 250.0, 350.0, 550.0, 650.0, 750.0, 850.0]
    assert check_times(50.0, 100.0, spans, per_day=3) == [150.0, 250.0, 350.0]
    assert check_times(400.0, 100.0, spans, per_day=2) == [500.0, 600.0]  # the span's end is outside it
    assert check_times(0.0, 100.0, []) == []


def test_round_offsets_are_the_round_index_times_the_gap():
    assert round_offsets([["a", "b"], ["c"], ["d", "e"]], 600.0) == {"a": 0, "b": 0, "c": 600, "d": 1200, "e": 1200}


# -- validation: why it does not fit ---------------------------------------------------------------------
@pytest.mark.parametrize("rounds,gap,every,message", [
    ([["a", "b"], ["c", "a"]], 600, 7200,
     "callbacks.rounds[1]: team 'a' is already in callbacks.rounds[0] (a team checks in one round)"),
    ([["a", "a"], ["b", "c"]], 600, 7200,
     "callbacks.rounds[0]: team 'a' is already in this round (a team checks in one round)"),
    ([["a", "b"], ["c", "x"]], 600, 7200, "callbacks.rounds[1]: unknown team 'x' (teams: a, b, c)"),
    ([["a"], ["c"]], 600, 7200,
     "callbacks.rounds: no round lists 'b' (with rounds set, every team of the roster needs one)"),
    ([["a", "b"], [], ["c"]], 600, 7200, "callbacks.rounds[1]: an empty round (a round lists one team or more)"),
    ([], 600, 7200,
     "callbacks.rounds: must list at least one round (leave it out for one team per round, stagger_s apart)"),
    ([["a"], ["b"], ["c"]], 3000, 5400,
     "callbacks.round_gap_s: 3 rounds × 3000 s = 9000 s is longer than check_every_s (5400): round 1's next "
     "check (+5400 s) would come before round 3's (+6000 s); use fewer rounds (teams can share one), a shorter "
     "round_gap_s or a longer check_every_s"),
    ([["a"], ["b"], ["c"]], 3600, 7200,
     "callbacks.round_gap_s: 3 rounds × 3600 s = 10800 s is longer than check_every_s (7200): round 1's next "
     "check (+7200 s) would come at the same time as round 3's (+7200 s); use fewer rounds (teams can share "
     "one), a shorter round_gap_s or a longer check_every_s"),
    ([["a"], ["b"], ["c"]], 3000, 7200,
     "callbacks.round_gap_s: 3 rounds × 3000 s = 9000 s is longer than check_every_s (7200): round 1's next "
     "check (+7200 s) would come only 1200 s after round 3's (+6000 s); use fewer rounds (teams can share "
     "one), a shorter round_gap_s or a longer check_every_s"),
])
def test_r_vm_check_rounds_that_do_not_fit_say_why(rounds, gap, every, message):
    assert round_errors(rounds, gap_s=gap, check_every_s=every, teams=["a", "b", "c"]) == [message]


def test_r_vm_check_rounds_that_just_fit_are_accepted():
    assert round_errors([["a"], ["b"], ["c"]], gap_s=2400, check_every_s=7200, teams=["a", "b", "c"]) == []
    assert round_errors(ROUNDS, gap_s=600, check_every_s=3600, teams=TEAMS) == []  # 6 × 10 min = 1 h
    assert round_errors(ROUNDS, gap_s=600, check_every_s=3599, teams=TEAMS) != []


def test_r_vm_check_the_core_refuses_bad_rounds():
    with pytest.raises(CallbackError, match=r"^callbacks.rounds: set rounds or check_offsets, not both$"):
        CallbackRules(rounds=(("a",),), check_offsets={"a": 0})
    with pytest.raises(CallbackError, match=r"^callbacks.rounds\[1\]: team 'a' is already in callbacks.rounds\[0\]"):
        CallbackRules(rounds=(("a",), ("a",)))
    with pytest.raises(CallbackError, match=r"^callbacks.checks_per_day: must be >= 0 \(0 = no limit\), got -1$"):
        CallbackRules(checks_per_day=-1)
    with pytest.raises(CallbackError, match=r"^callbacks.rounds\[0\]: unknown team 'zz' \(teams: c01, "):
        Callbacks(CallbackRules(rounds=(("zz",), tuple(TEAMS))), roster24(), now=0.0)


# -- the config file -------------------------------------------------------------------------------------
def config24(**callbacks):
    return {"ari": {"password": "x"}, "queues": {t: {} for t in TEAMS},
            "agents": {str(1001 + i): {"queues": [t]} for i, t in enumerate(TEAMS)}, "callbacks": callbacks}


def errors_of(data):
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    return e.value.errors


def test_r_vm_check_config_rounds_become_the_core_rules():
    cb = config.parse(config24(rounds=ROUNDS, checks_per_day=3)).callbacks
    assert cb.rules.rounds == tuple(map(tuple, ROUNDS)) and cb.rules.round_gap_s == 600.0
    assert (cb.rules.checks_per_day, cb.rules.check_offsets) == (3, {})
    assert cb.rules.offset_s("c05") == 600.0 and cb.rules.offset_s("c24") == 3000.0
    assert config.parse(config24(rounds=ROUNDS, round_gap_s=1200)).callbacks.rules.offset_s("c24") == 6000.0


def test_r_vm_check_config_without_rounds_24_teams_10_min_apart_do_not_fit_in_2_h():
    assert errors_of(config24()) == [
        "callbacks.stagger_s: 24 teams 600 s apart need check_every_s > 13800, got 7200 "
        "(or let teams share a slot: callbacks.rounds)"]


def test_r_vm_check_config_errors_name_the_key_and_the_values():
    bad = [["c01", "c02"], ["c02", "c99"]] + ROUNDS[1:]
    assert errors_of(config24(rounds=bad, stagger_s=300, check_every_s=3600)) == [
        "callbacks.rounds: set rounds or stagger_s, not both",
        "callbacks.rounds[1]: team 'c02' is already in callbacks.rounds[0] (a team checks in one round)",
        "callbacks.rounds[1]: unknown team 'c99' (teams: " + ", ".join(TEAMS) + ")",
        "callbacks.rounds: no round lists 'c03', 'c04' (with rounds set, every team of the roster needs one)",
        "callbacks.round_gap_s: 7 rounds × 600 s = 4200 s is longer than check_every_s (3600): round 1's next "
        "check (+3600 s) would come at the same time as round 7's (+3600 s); use fewer rounds (teams can share "
        "one), a shorter round_gap_s or a longer check_every_s"]
    assert errors_of(config24(round_gap_s=300, stagger_s=0)) == [
        "callbacks.round_gap_s: only with callbacks.rounds (without rounds, stagger_s spaces the teams)"]
    assert errors_of(config24(rounds=[["c01", 2]], checks_per_day=-1)) == [
        "callbacks.rounds: must be a list of rounds, each a list of team names, got [['c01', 2]]",
        "callbacks.checks_per_day: must be >= 0 (0 = every check_every_s until the shift ends), got -1"]
