"""R-QA: N random recorded calls per agent (seeded, reproducible) plus every call that broke a rule."""

from __future__ import annotations

from ari_app.core.comply import ComplianceRecord
from ari_app.core.qa import qa_sample


def rec(call_id, agent, at, broken=()):
    checks = {"R-RING": True, "R-HANGUP": True}
    checks.update({r: False for r in broken})
    return ComplianceRecord(call_id=call_id, queue="q", agent=agent, entered_at=at, ended_at=at + 60,
                            checks=checks)


RECORDS = [rec(f"a{i}", "1001", i) for i in range(10)] + [rec(f"b{i}", "1002", 100 + i) for i in range(2)] + [
    rec("bad1", "1001", 50, broken=("R-HANGUP",)), rec("bad2", "1002", 150, broken=("R-RING", "R-HANGUP")),
    rec("gone", None, 5)]
RECORDINGS = {r.call_id: f"qa/2026-11-26/{r.call_id}" for r in RECORDS if r.call_id != "a3"}


def test_sample_has_n_random_per_agent_plus_every_broken_call():
    s = qa_sample(RECORDS, RECORDINGS, per_agent=3, seed=7)
    random_ = [e for e in s if e.why == "random"]
    assert sorted(e.agent for e in random_) == ["1001", "1001", "1001", "1002", "1002"]  # 1002 has only 2
    assert {e.call_id: e.why for e in s if e.why != "random"} == {"bad1": "R-HANGUP", "bad2": "R-RING R-HANGUP"}
    assert all(e.recording == RECORDINGS[e.call_id] for e in s)
    assert "a3" not in {e.call_id for e in random_}  # not recorded: cannot be listened to
    assert "gone" not in {e.call_id for e in s}  # never answered: no agent to review


def test_same_seed_same_sample_other_seed_other_sample():
    one = [e.call_id for e in qa_sample(RECORDS, RECORDINGS, per_agent=3, seed=7)]
    assert one == [e.call_id for e in qa_sample(RECORDS, RECORDINGS, per_agent=3, seed=7)]
    others = {tuple(e.call_id for e in qa_sample(RECORDS, RECORDINGS, per_agent=3, seed=s)) for s in range(20)}
    assert len(others) > 1


def test_entries_name_the_agent_and_when_the_call_entered():
    # mutation testing (issue 7): each entry carries the call's agent and time, random or broken
    s = qa_sample(RECORDS, RECORDINGS, per_agent=10, seed=1)
    by_id = {r.call_id: r for r in RECORDS}
    assert len(s) == 13  # 9 recorded + 2 recorded + 2 broken
    for e in s:
        assert (e.agent, e.entered_at) == (by_id[e.call_id].agent, by_id[e.call_id].entered_at)
