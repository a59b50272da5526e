"""R-WAIT and R-WAITLIMIT: the waiting caller's schedule and the wait estimate, on their own (fake clock).

The ACD's use of them is in test_acd.py; these pin the edges mutation testing (issue 7) found untested."""

from ari_app.core.waiting import WaitRules, WaitSchedule, estimate_wait

RULES = WaitRules(apology_s=10.0, announce_every_s=30.0, max_wait_s=120.0)


def test_r_waitlimit_estimate_is_whole_rounds_of_the_serving_agents():
    assert estimate_wait(1, 2, 100.0) == 100.0
    assert estimate_wait(3, 2, 100.0) == 200.0  # the 3rd caller waits for the 2nd round of 2 agents
    assert estimate_wait(4, 2, 100.0) == 200.0
    assert estimate_wait(5, 2, 100.0) == 300.0
    assert estimate_wait(3, 0, 100.0) == 300.0  # no agent serving: counted as one


def test_r_wait_schedule_apology_then_every_30_s_then_the_voicemail_offer():
    w = WaitSchedule(entered_at=1000.0, rules=RULES)
    assert w.next_at() == 1010.0
    assert w.due(1009.9) == []
    assert w.due(1010.0) == ["apology"]
    assert w.next_at() == 1040.0
    assert w.due(1040.0) == ["position"]
    assert w.next_at() == 1070.0


def test_r_waitlimit_announcements_missed_while_ringing_are_skipped_not_replayed():
    w = WaitSchedule(entered_at=1000.0, rules=RULES)
    w.due(1010.0)
    # the caller was ringing an agent at 1040; the schedule is looked at again at 1055: one announcement,
    # and the next one stays on the 30 s grid from the apology (1070), not 30 s from now or later
    assert w.due(1055.0) == ["position"]
    assert w.next_at() == 1070.0
    assert w.due(1101.0) == ["position"]  # 1100 was due: played late, once
    assert w.next_at() == 1120.0  # max_wait_s
    assert w.due(1120.0) == ["voicemail_offer"]
    assert w.next_at() == 1130.0


def test_r_waitlimit_a_rounding_error_never_repeats_an_announcement_at_once():
    # 10.7 - 10.0 is 0.6999…: whole periods elapsed round down to 0; still one announcement per period
    w = WaitSchedule(entered_at=0.0, rules=WaitRules(apology_s=10.0, announce_every_s=0.7, max_wait_s=1e9))
    w.due(10.0)
    assert w.due(10.7) == ["position"]
    assert w.next_at() > 10.7
    assert w.due(10.7) == []
