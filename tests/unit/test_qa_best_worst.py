"""R-QA (issue 18 item 12): each agent's best and worst recorded calls by the compliance record (R-COMPLY).

The seed: "每月挑选优秀录音以及不合格的录音针对每个客户服务代表的服务质量进行点评，提高服务质量。"
Score = (rules broken, rules kept) over the checks that applied. Best (优秀) only from calls that passed (0 broken,
≥ 1 kept): the most kept; worst (不合格, failed) only from calls that broke a rule: the most broken, then the fewest
kept; otherwise that pick is left out. Ties → the earliest call, then id.
"""

from __future__ import annotations

import pytest

from ari_app.core.comply import ComplianceRecord
from ari_app.core.qa import best_and_worst, qa_list, score

K, B, NA = True, False, None  # kept, broken, did not apply


def rec(call_id, agent, at, ring=K, greet=K, wait=NA, xfer=NA, hangup=K):
    checks = {"R-RING": ring, "R-GREET": greet, "R-WAIT": wait, "R-XFER-CONFIRM": xfer, "R-HANGUP": hangup}
    return ComplianceRecord(call_id=call_id, queue="q", agent=agent, entered_at=at, ended_at=at + 60,
                            checks=checks)


# agent 1001: the transfer kept everything (5 kept) beats a plain perfect call (3 kept); two broken beats one
# agent 1002: only one call recorded (n2 is not), and it broke a rule: a worst, no best
# agent 1003: nothing recorded: neither
# agent 1004: every call compliant and alike: the earliest is the best; no worst (nothing failed)
# agent 1005: every call broke a rule: no best; equal broken counts: the worst is the one that kept fewer
# agent 1006: no check applied to its only call: it neither passed nor failed, so neither
RECORDS = [
    rec("a-plain", "1001", 10),
    rec("a-xfer", "1001", 20, wait=K, xfer=K),
    rec("a-late", "1001", 30, ring=B),
    rec("a-rude", "1001", 40, ring=B, hangup=B),
    rec("a-unrec", "1001", 50, ring=B, greet=B, hangup=B),  # worst of all, but not recorded: not picked
    rec("n1", "1002", 10, hangup=B),
    rec("n2", "1002", 20),
    rec("z1", "1003", 10, ring=B),
    rec("t3", "1004", 30), rec("t1", "1004", 10), rec("t2b", "1004", 20), rec("t2a", "1004", 20),
    rec("w1", "1005", 10, ring=B, greet=NA, hangup=NA),  # broke 1, kept 0
    rec("w2", "1005", 20, ring=B),  # broke 1, kept 2
    rec("none", "1006", 10, ring=NA, greet=NA, hangup=NA),
    rec("gone", None, 5, ring=NA, greet=NA, hangup=NA),  # never answered: no agent
]
RECORDINGS = {r.call_id: f"qa/2026-11-26/{r.call_id}" for r in RECORDS if r.call_id not in ("a-unrec", "n2", "z1")}


def picks(records, recordings=RECORDINGS):
    return {(e.agent, e.why): e.call_id for e in best_and_worst(records, recordings)}


@pytest.mark.parametrize("record,expected", [
    (rec("x", "1", 0), (0, 3)),
    (rec("x", "1", 0, wait=K, xfer=K), (0, 5)),
    (rec("x", "1", 0, ring=B, hangup=B), (2, 1)),
    (rec("x", "1", 0, ring=NA, greet=NA, hangup=NA), (0, 0)),
    (rec("x", "1", 0, wait=B, xfer=B, ring=B, greet=B, hangup=B), (5, 0)),
])
def test_r_qa_the_score_counts_rules_broken_and_kept_of_those_that_applied(record, expected):
    assert score(record) == expected


def test_r_qa_best_and_worst_per_agent_from_a_table_of_compliance_records():
    assert picks(RECORDS) == {
        ("1001", "best"): "a-xfer", ("1001", "worst"): "a-rude",
        ("1002", "worst"): "n1",
        ("1004", "best"): "t1",
        ("1005", "worst"): "w1",
    }


def test_r_qa_a_call_that_broke_a_rule_is_never_the_best():
    """不合格 is not 优秀: before the fix an agent's only recorded call, which broke R-HANGUP, was its
    best."""
    entries = [e for e in best_and_worst(RECORDS, RECORDINGS) if e.agent == "1002"]
    assert [(e.why, e.call_id, e.recording, e.score) for e in entries] == [
        ("worst", "n1", "qa/2026-11-26/n1", "kept 2 of 3; broke R-HANGUP")]
    assert [e.why for e in best_and_worst(RECORDS, RECORDINGS) if e.agent == "1005"] == ["worst"]


def test_r_qa_an_all_compliant_agent_has_no_worst():
    """Before the fix the second-best of four perfect calls was named the worst (不合格)."""
    got = [(e.why, e.call_id) for e in best_and_worst(RECORDS, RECORDINGS) if e.agent == "1004"]
    assert got == [("best", "t1")]


def test_r_qa_an_agent_with_no_recorded_call_or_no_check_that_applied_is_not_named():
    assert not [e for e in best_and_worst(RECORDS, RECORDINGS) if e.agent in ("1003", "1006")]
    assert best_and_worst(RECORDS, {}) == []


def test_r_qa_ties_are_stable_whatever_the_input_order():
    once = best_and_worst(RECORDS, RECORDINGS)
    assert best_and_worst(list(reversed(RECORDS)), RECORDINGS) == once
    assert [(e.agent, e.why) for e in once] == [("1001", "best"), ("1001", "worst"), ("1002", "worst"),
                                                 ("1004", "best"), ("1005", "worst")]


def test_r_qa_picks_carry_the_score_the_time_and_the_recording():
    by = {(e.agent, e.why): e for e in best_and_worst(RECORDS, RECORDINGS)}
    best, worst = by["1001", "best"], by["1001", "worst"]
    assert (best.entered_at, best.recording, best.score) == (20, "qa/2026-11-26/a-xfer", "kept 5 of 5")
    assert (worst.entered_at, worst.recording, worst.score) == (
        40, "qa/2026-11-26/a-rude", "kept 1 of 3; broke R-RING R-HANGUP")


def test_r_qa_the_monthly_list_is_the_sample_then_the_picks_per_agent():
    entries = qa_list(RECORDS, RECORDINGS, per_agent=1, seed=7)
    agents = [e.agent for e in entries]
    assert agents == sorted(agents)  # grouped per agent
    whys = [e.why for e in entries if e.agent == "1001"]
    assert whys[-2:] == ["best", "worst"] and "random" in whys
    assert [e.why for e in entries if e.agent == "1004"] == ["random", "best"]
    assert [e.why for e in entries if e.agent == "1005"] == ["R-RING", "R-RING", "worst"]
    assert [e.why for e in entries if e.agent == "1003"] == ["R-RING"]  # broken, unrecorded: sampled, not picked
