"""R-COMPLY: each check of the compliance record, with a call that keeps it and one that breaks it."""

from __future__ import annotations

from ari_app.core.comply import CHECKS, ComplianceRules, evaluate
from ari_app.core.timeline import Fact, TimelineEntry

RULES = ComplianceRules(ring_target_s=15.0, apology_s=10.0, greeting=True, tolerance_s=2.0)


def T(at, fact, agent=None, **detail):
    return TimelineEntry(at=at, fact=fact, agent=agent, detail=detail)


def answered_call(*, ring_s=4.0, greeted=True, answer_at=6.0, apology_at=None, by="caller", transfer=()):
    entries = [T(0, Fact.ENTERED_QUEUE, queue="q")]
    if apology_at is not None:
        entries.append(T(apology_at, Fact.PROMPT_PLAYED, prompt="apology"))
    entries += [T(answer_at - ring_s, Fact.OFFERED, "1001"),
                T(answer_at, Fact.ANSWERED, "1001", ring_s=ring_s, within_target=ring_s <= 15),
                T(answer_at + 2, Fact.BRIDGED, "1001", greeted=greeted), *transfer,
                T(answer_at + 60, Fact.HANGUP, "1001", by=by)]
    return evaluate("c", entries, RULES)


def test_a_call_that_keeps_every_rule():
    rec = answered_call()
    assert rec.passed and rec.broken == ()
    assert rec.checks == {"R-RING": True, "R-GREET": True, "R-WAIT": None, "R-XFER-CONFIRM": None,
                          "R-HANGUP": True}
    assert set(rec.checks) == set(CHECKS)
    assert (rec.queue, rec.agent, rec.entered_at, rec.ended_at, rec.hung_up_by) == ("q", "1001", 0, 66, "caller")


def test_ring_target():
    assert answered_call(ring_s=15.0).checks["R-RING"] is True
    rec = answered_call(ring_s=15.5, answer_at=16.0, apology_at=10.0)
    assert rec.checks["R-RING"] is False and rec.broken == ("R-RING",)


def test_greeting():
    assert answered_call(greeted=True).checks["R-GREET"] is True
    assert answered_call(greeted=False).checks["R-GREET"] is False
    assert answered_call(greeted=None).checks["R-GREET"] is None  # not known: not held against the agent
    no_greeting = evaluate("c", [T(0, Fact.ENTERED_QUEUE, queue="q"), T(2, Fact.ANSWERED, "1", ring_s=1.0),
                                 T(3, Fact.BRIDGED, "1", greeted=False), T(9, Fact.HANGUP, "1", by="caller")],
                           ComplianceRules(greeting=False))
    assert no_greeting.checks["R-GREET"] is None


def test_wait_apology():
    assert answered_call(answer_at=6.0).checks["R-WAIT"] is None  # answered before it was due
    assert answered_call(answer_at=14.0, apology_at=10.2).checks["R-WAIT"] is True
    assert answered_call(answer_at=14.0).checks["R-WAIT"] is False  # due at 10 s, never played
    assert answered_call(answer_at=30.0, apology_at=13.0).checks["R-WAIT"] is False  # 3 s late
    abandoned = evaluate("c", [T(0, Fact.ENTERED_QUEUE, queue="q"), T(25, Fact.HANGUP, by="caller")], RULES)
    assert abandoned.checks["R-WAIT"] is False and abandoned.agent is None
    assert abandoned.checks["R-HANGUP"] is None and abandoned.checks["R-RING"] is None


def test_transfer_attended():
    attended = (T(20, Fact.TRANSFER, "1001", state="requested", kind="agent"),
                T(25, Fact.TRANSFER, "1001", state="consulting"),
                T(30, Fact.TRANSFER, "1001", state="completed", target_agent="1002"))
    blind = (T(20, Fact.TRANSFER, "1001", state="requested", kind="agent"),
             T(22, Fact.TRANSFER, "1001", state="completed", target_agent="1002"))
    to_queue = (T(20, Fact.TRANSFER, "1001", state="requested", kind="queue"),
                T(22, Fact.TRANSFER, "1001", state="completed"))
    assert answered_call(transfer=attended).checks["R-XFER-CONFIRM"] is True
    assert answered_call(transfer=blind).checks["R-XFER-CONFIRM"] is False
    assert answered_call(transfer=to_queue).checks["R-XFER-CONFIRM"] is True  # the allowed exception


def test_who_hung_up_first():
    assert answered_call(by="caller").checks["R-HANGUP"] is True
    rec = answered_call(by="agent")
    assert rec.checks["R-HANGUP"] is False and rec.broken == ("R-HANGUP",) and not rec.passed
    assert answered_call(by="system").checks["R-HANGUP"] is None


def test_unfinished_or_foreign_timelines_give_no_record():
    assert evaluate("c", [T(0, Fact.ENTERED_QUEUE, queue="q")], RULES) is None
    assert evaluate("c", [T(0, Fact.HANGUP, by="caller")], RULES) is None


# -- mutation testing (issue 7): the edges of each check -------------------------------------------------
def test_resynced_call_is_judged_from_when_it_entered_the_queue_not_from_the_resync():
    entries = [T(50, Fact.RESYNCED, state="waiting", queue="q", entered_at=0.0),
               T(60, Fact.HANGUP, by="caller")]
    rec = evaluate("c", entries, RULES)
    assert rec.entered_at == 0.0
    assert rec.checks["R-WAIT"] is False  # waited 60 s from entering, never heard the apology


def test_r_ring_an_answer_without_a_ring_time_counts_as_rung_zero_seconds():
    entries = [T(0, Fact.ENTERED_QUEUE, queue="q"), T(2, Fact.ANSWERED, "1"), T(9, Fact.HANGUP, "1", by="caller")]
    assert evaluate("c", entries, ComplianceRules(ring_target_s=0.5)).checks["R-RING"] is True


def test_r_wait_boundaries():
    # answered exactly when the apology fell due: it was due
    assert answered_call(answer_at=10.0).checks["R-WAIT"] is False
    assert answered_call(answer_at=10.0, apology_at=10.0).checks["R-WAIT"] is True
    # half a second early still counts, one second early does not; tolerance_s late still counts
    assert answered_call(answer_at=20.0, apology_at=9.5).checks["R-WAIT"] is True
    assert answered_call(answer_at=20.0, apology_at=9.0).checks["R-WAIT"] is False
    assert answered_call(answer_at=20.0, apology_at=12.0).checks["R-WAIT"] is True


def test_r_wait_another_prompt_at_ten_seconds_is_no_apology():
    entries = [T(0, Fact.ENTERED_QUEUE, queue="q"), T(10, Fact.PROMPT_PLAYED, prompt="position"),
               T(25, Fact.HANGUP, by="caller")]
    assert evaluate("c", entries, RULES).checks["R-WAIT"] is False


def test_r_xfer_confirm_applies_only_to_completed_transfers():
    cancelled = (T(20, Fact.TRANSFER, "1001", state="requested", kind="agent"),
                 T(25, Fact.TRANSFER, "1001", state="cancelled"))
    assert answered_call(transfer=cancelled).checks["R-XFER-CONFIRM"] is None
    # a completion with no consultation on record (e.g. the request was before a restart) is not attended
    only_completed = (T(30, Fact.TRANSFER, "1001", state="completed", target_agent="1002"),)
    assert answered_call(transfer=only_completed).checks["R-XFER-CONFIRM"] is False


def test_who_hung_up_is_none_when_not_known_or_diverted():
    no_by = evaluate("c", [T(0, Fact.ENTERED_QUEUE), T(2, Fact.ANSWERED, "1", ring_s=1.0), T(9, Fact.HANGUP, "1")],
                     RULES)
    assert no_by.hung_up_by is None and no_by.checks["R-HANGUP"] is None
    assert no_by.queue == "" and no_by.call_id == "c"
    diverted = evaluate("c", [T(0, Fact.ENTERED_QUEUE, queue="q"), T(1, Fact.DIVERTED, reason="closed")], RULES)
    assert diverted.hung_up_by is None and diverted.ended_at == 1
