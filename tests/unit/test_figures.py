"""R-KPI: every figure's formula on a small fixture whose expected values are worked out by hand below.

The fixture is one queue ``q`` over the period [0, 3600) (short abandon 5 s, service level 20 s,
ring target 15 s). Times are seconds; each call's comment gives the numbers that matter.
"""

from __future__ import annotations

import pytest

from ari_app.core.agents import AgentLogEntry
from ari_app.core.figures import (
    AgentTime, CallOutcome, CallRecord, FigureRules, Offer, OutboundAttempt, Segment, agent_time, call_record,
    figures,
)
from ari_app.core.timeline import Fact, TimelineEntry

RULES = FigureRules(short_abandon_s=5.0, sl_threshold_s=20.0, ring_target_s=15.0)


def T(at: float, fact: Fact, agent: str | None = None, **detail) -> TimelineEntry:
    return TimelineEntry(at=at, fact=fact, agent=agent, detail=detail)


def entered(at: float) -> TimelineEntry:
    return T(at, Fact.ENTERED_QUEUE, queue="q", priority=0)


CALLS = {
    # answered by 1001 after 4 s of ringing, bridged at 8, 10 s on hold, caller hangs up at 68:
    # wait 6 (in SL), talk 68-8-10 = 50, hold 10; 1001's wrap-up 68..78 = 10
    "c1": [entered(0), T(2, Fact.OFFERED, "1001"), T(6, Fact.ANSWERED, "1001", ring_s=4.0, within_target=True),
           T(8, Fact.BRIDGED, "1001", greeted=True), T(20, Fact.HOLD, "1001"), T(30, Fact.UNHOLD, "1001"),
           T(68, Fact.HANGUP, "1001", by="caller")],
    # 1002 lets it ring 15 s (a missed offer), 1001 answers after 18 s (outside the ring target):
    # wait 35 (not in SL), talk 196-136 = 60, the agent hangs up first
    "c2": [entered(100), T(101, Fact.OFFERED, "1002"),
           T(116, Fact.OFFER_FAILED, "1002", reason="ring_target", ring_s=15.0, unreachable=False),
           T(117, Fact.OFFERED, "1001"), T(135, Fact.ANSWERED, "1001", ring_s=18.0, within_target=False),
           T(136, Fact.BRIDGED, "1001"), T(196, Fact.HANGUP, "1001", by="agent")],
    # gone after 3 s: a short abandon
    "c3": [entered(200), T(203, Fact.HANGUP, by="caller")],
    # gone after 30 s of waiting: abandoned
    "c4": [entered(300), T(330, Fact.HANGUP, by="caller")],
    # arrived while closed (R-HOURS): not offered at all
    "c5": [entered(400), T(400, Fact.DIVERTED, reason="closed", destination="x")],
    # no agent logged in: sent to voicemail; offered, neither answered nor abandoned
    "c6": [entered(500), T(501, Fact.DIVERTED, reason="no_agent", destination="x")],
    # 1002 answers (ring 4, wait 5), talks 606..640 = 34, then an attended transfer to 1001, who talks
    # 640..700 = 60; 1002 owns the call
    "c7": [entered(600), T(601, Fact.OFFERED, "1002"), T(605, Fact.ANSWERED, "1002", ring_s=4.0, within_target=True),
           T(606, Fact.BRIDGED, "1002"), T(620, Fact.TRANSFER, "1002", state="requested", target="1001", kind="agent"),
           T(630, Fact.TRANSFER, "1002", state="consulting"),
           T(640, Fact.TRANSFER, "1002", state="completed", target_agent="1001"),
           T(700, Fact.HANGUP, "1001", by="caller")],
    # 1002's phone cannot be rung (unreachable: not a missed offer); 1001 answers after 2 s; talk 20
    "c8": [entered(800), T(801, Fact.OFFERED, "1002"),
           T(802, Fact.OFFER_FAILED, "1002", reason="originate_failed", ring_s=1.0, unreachable=True),
           T(803, Fact.OFFERED, "1001"), T(805, Fact.ANSWERED, "1001", ring_s=2.0, within_target=True),
           T(806, Fact.BRIDGED, "1001"), T(826, Fact.HANGUP, "1001", by="caller")],
}

LOG = [
    # 1001: logged in before the period; wrap-up after c1 (68..78); paused 1000..2000 with one overrun;
    # out at 3500. Logged in 3500 s of the period, paused 1000 s.
    AgentLogEntry(agent_id="1001", at=-100, event="state", state="available"),
    AgentLogEntry(agent_id="1001", at=6, event="state", state="on_call"),
    AgentLogEntry(agent_id="1001", at=68, event="state", state="wrap_up"),
    AgentLogEntry(agent_id="1001", at=78, event="state", state="available"),
    AgentLogEntry(agent_id="1001", at=1000, event="state", state="paused", reason="lunch"),
    AgentLogEntry(agent_id="1001", at=1900, event="busy_overrun", state="paused", reason="lunch"),
    AgentLogEntry(agent_id="1001", at=2000, event="state", state="available"),
    AgentLogEntry(agent_id="1001", at=3500, event="state", state="logged_out"),
    # 1002: logged in 50..1050, never paused
    AgentLogEntry(agent_id="1002", at=50, event="state", state="available"),
    AgentLogEntry(agent_id="1002", at=1050, event="state", state="logged_out"),
]

OUTBOUND = [OutboundAttempt(agent="1001", at=100, connected=True, kind="own"),
            OutboundAttempt(agent="1001", at=200, connected=False, kind="callback"),
            OutboundAttempt(agent="1002", at=4000, connected=True, kind="own")]  # after the period


def compute():
    records = [call_record(cid, entries, RULES) for cid, entries in CALLS.items()]
    return figures(records, RULES, agent_log=LOG, outbound=OUTBOUND, overdue_callbacks=["1002", None],
                   start=0, end=3600)


def test_call_outcomes():
    outcomes = {cid: call_record(cid, e, RULES).outcome for cid, e in CALLS.items()}
    assert outcomes == {"c1": CallOutcome.ANSWERED, "c2": CallOutcome.ANSWERED, "c3": CallOutcome.SHORT_ABANDON,
                        "c4": CallOutcome.ABANDONED, "c5": CallOutcome.CLOSED, "c6": CallOutcome.DIVERTED,
                        "c7": CallOutcome.ANSWERED, "c8": CallOutcome.ANSWERED}


def test_short_abandon_boundary_is_strictly_below_the_threshold():
    at_threshold = call_record("x", [entered(0), T(5.0, Fact.HANGUP, by="caller")], RULES)
    just_below = call_record("y", [entered(0), T(4.999, Fact.HANGUP, by="caller")], RULES)
    assert at_threshold.outcome == CallOutcome.ABANDONED
    assert just_below.outcome == CallOutcome.SHORT_ABANDON


def test_queue_figures():
    q = compute()[0]["q"]
    assert (q.entered, q.short_abandons, q.offered) == (7, 1, 6)  # c5 closed is not counted at all
    assert (q.answered, q.answered_in_sl, q.abandoned, q.diverted) == (4, 3, 1, 1)
    assert q.answer_rate == pytest.approx(4 / 6)
    assert q.service_level == pytest.approx(3 / 6)
    assert q.abandon_rate == pytest.approx(1 / 6)
    assert (q.offers_answered, q.offers_answered_in_target, q.missed_offers) == (4, 3, 1)
    assert q.ring_compliance == pytest.approx(0.75)
    assert (q.talk_s, q.hold_s, q.wrap_s) == (pytest.approx(50 + 60 + 34 + 60 + 20), 10, 10)
    assert q.aht_s == pytest.approx((224 + 10 + 10) / 4)
    assert q.agent_hung_up_first == 1


def test_agent_figures():
    agents = compute()[1]
    a1, a2 = agents["1001"], agents["1002"]
    # 1001 owns c1, c2, c8; talks in c7 after the transfer
    assert (a1.offered, a1.answered, a1.answered_in_sl) == (3, 3, 2)
    assert (a1.offers_answered, a1.offers_answered_in_target, a1.missed_offers) == (3, 2, 0)
    assert a1.ring_compliance == pytest.approx(2 / 3)
    assert (a1.talk_s, a1.hold_s, a1.wrap_s) == (pytest.approx(50 + 60 + 60 + 20), 10, 10)
    assert a1.aht_s == pytest.approx(210 / 3)
    assert (a1.logged_in_s, a1.paused_s) == (3500, 1000)
    assert a1.occupancy == pytest.approx(210 / 2500)
    assert (a1.busy_overruns, a1.agent_hung_up_first) == (1, 1)
    assert (a1.outbound, a1.outbound_connected) == (2, 1)
    # 1002 owns c7 (34 s of talk before the transfer); one missed offer (c2); unreachable in c8 is not missed
    assert (a2.offered, a2.answered, a2.missed_offers, a2.offers_answered) == (1, 1, 1, 1)
    assert a2.talk_s == pytest.approx(34)
    assert a2.occupancy == pytest.approx(34 / 1000)
    assert (a2.outbound, a2.callbacks_overdue) == (0, 1)


def test_totals():
    total = compute()[2]
    assert (total.offered, total.answered, total.abandoned, total.short_abandons) == (6, 4, 1, 1)
    assert (total.outbound, total.outbound_connected) == (2, 1)  # the 4000 s call is after the period
    assert (total.busy_overruns, total.callbacks_overdue) == (1, 2)
    assert (total.logged_in_s, total.paused_s) == (4500, 1000)


def test_ratios_of_nothing_are_none_not_zero():
    q, _, total = figures([], RULES, start=0, end=10)
    assert q == {} and total.answer_rate is None and total.aht_s is None and total.occupancy is None


def test_calls_outside_the_period_are_not_counted():
    records = [call_record(cid, entries, RULES) for cid, entries in CALLS.items()]
    q = figures(records, RULES, start=300, end=700)[0]["q"]
    assert (q.entered, q.offered, q.answered, q.abandoned) == (3, 3, 1, 1)  # c4, c6, c7


def test_agent_time_clips_the_period_and_takes_the_state_before_it():
    t = agent_time(LOG, 1500, 2500)["1001"]
    assert (t.logged_in_s, t.paused_s, t.busy_overruns) == (1000, 500, 1)


def test_resynced_call_keeps_its_original_entry_time():
    r = call_record("r", [T(100, Fact.RESYNCED, queue="q", entered_at=40.0, state="waiting"),
                          T(110, Fact.HANGUP, by="caller")], RULES)
    assert (r.entered_at, r.queue, r.outcome, r.wait_s) == (40.0, "q", CallOutcome.ABANDONED, 70.0)


def test_a_call_with_no_end_is_open_and_not_counted():
    r = call_record("o", [entered(0), T(1, Fact.OFFERED, "1001")], RULES)
    assert r.outcome == CallOutcome.OPEN
    assert figures([r], RULES, start=0, end=10)[2].entered == 0


# -- mutation testing (issue 7): a whole record from the ACD's own timeline, and facts without ring times --------
def test_r_kpi_call_record_of_a_call_with_every_kind_of_offer_two_holds_and_a_transfer():
    from ari_app.core.acd import (
        Acd, AgentCommand, CallArrived, CallBridged, CallEnded, HoldRequest, OfferAnswered, OfferFailed, QueueRules,
    )
    from ari_app.core.agents import Agent
    from ari_app.core.figures import Offer, Segment
    from ari_app.core.transfer import TransferCommand, TransferRequest, TransferUpdate, XferEvent

    t0 = 1_800_000_000.0
    acd = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20)],
              [Agent(agent_id=a, interface=f"PJSIP/{a}", queues=("support",)) for a in ("1001", "1002", "1003")])
    for a in ("1001", "1002", "1003"):
        acd.handle(AgentCommand(agent_id=a, command="login"), t0 - 100)
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=t0), t0)  # rings 1001
    acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="chan_unavailable", unreachable=True), t0 + 1)
    acd.handle_timer(t0 + 16)  # 1002 did not answer within 15 s (R-RING): 1003 rings
    acd.handle(OfferAnswered(call_id="c1", agent_id="1003"), t0 + 20)
    acd.handle(CallBridged(call_id="c1", agent_id="1003"), t0 + 22)
    for on, at in ((True, 30), (False, 40), (True, 50), (False, 55)):  # two holds: 10 s and 5 s (R-HOLD)
        acd.handle(HoldRequest(call_id="c1", on=on), t0 + at)
    acd.handle(AgentCommand(agent_id="1001", command="login"), t0 + 56)  # its phone is back
    acd.handle(TransferRequest(call_id="c1", target="1001"), t0 + 60)
    acd.handle(TransferUpdate(call_id="c1", event=XferEvent.CALLER_HELD), t0 + 61)
    acd.handle(TransferUpdate(call_id="c1", event=XferEvent.TARGET_ANSWERED), t0 + 65)
    acd.handle(TransferCommand(call_id="c1", command="complete"), t0 + 70)
    acd.handle(HoldRequest(call_id="c1", on=True), t0 + 80)  # still on hold when the caller hangs up
    acd.handle(CallEnded(call_id="c1", by="caller"), t0 + 90)
    entries = [e for c, e in acd.drain_facts() if c == "c1"]
    rec = call_record("c1", entries, RULES)
    assert (rec.call_id, rec.queue, rec.entered_at, rec.ended_at, rec.outcome, rec.agent, rec.answered_at,
            rec.hung_up_by) == ("c1", "support", t0, t0 + 90, CallOutcome.ANSWERED, "1003", t0 + 20, "caller")
    assert rec.offers == (
        Offer(agent="1001", at=t0, ring_s=1.0, answered=False, within_target=False, missed=False, unreachable=True),
        Offer(agent="1002", at=t0 + 1, ring_s=15.0, answered=False, within_target=False, missed=True),
        Offer(agent="1003", at=t0 + 16, ring_s=4.0, answered=True, within_target=True, missed=False))
    assert rec.segments == (Segment(agent="1003", start=t0 + 22, end=t0 + 70, hold_s=15.0),
                            Segment(agent="1001", start=t0 + 70, end=t0 + 90, hold_s=10.0))
    assert (rec.talk_s, rec.hold_s, rec.wait_s) == (43.0, 25.0, 20.0)


def test_r_ring_offers_without_recorded_ring_times_are_timed_from_the_offer():
    rules = FigureRules(ring_target_s=7.0)
    entries = [entered(0), T(0, Fact.OFFERED, "1001"), T(9, Fact.OFFER_FAILED, "1001", reason="ring_target"),
               T(10, Fact.OFFERED, "1002"), T(17, Fact.ANSWERED, "1002"), T(18, Fact.BRIDGED, "1002"),
               T(30, Fact.HANGUP, "1002", by="agent")]
    rec = call_record("c", entries, rules)
    assert [(o.agent, o.at, o.ring_s, o.answered, o.within_target, o.missed) for o in rec.offers] == [
        ("1001", 0, 9, False, False, True), ("1002", 10, 7, True, True, False)]  # 7 s: within a 7 s target
    assert rec.hung_up_by == "agent"


def test_r_kpi_counts_add_up_over_several_calls_of_each_kind():
    records = [call_record(f"{cid}-{n}", entries, RULES) for n in (1, 2) for cid, entries in CALLS.items()]
    q, agents, total = figures(records, RULES, agent_log=LOG, outbound=OUTBOUND,
                               overdue_callbacks=["1002", "1002"], start=0, end=3600)
    q = q["q"]
    assert (q.entered, q.short_abandons, q.offered, q.answered, q.abandoned, q.diverted) == (14, 2, 12, 8, 2, 2)
    assert (q.missed_offers, q.agent_hung_up_first, q.answered_in_sl) == (2, 2, 6)
    assert agents["1002"].callbacks_overdue == 2 and agents["1002"].missed_offers == 2


def test_r_kpi_service_level_boundary_and_the_period_end():
    at_threshold = [entered(0), T(20, Fact.ANSWERED, "1001", ring_s=1.0), T(21, Fact.BRIDGED, "1001"),
                    T(50, Fact.HANGUP, "1001", by="caller")]
    q = figures([call_record("x", at_threshold, RULES)], RULES, agent_log=[], outbound=[], overdue_callbacks=[],
                start=0, end=3600)[0]["q"]
    assert q.answered_in_sl == 1  # answered at exactly sl_threshold_s: in time
    at_end = [entered(3600), T(3650, Fact.HANGUP, by="caller")]
    q = figures([call_record("y", at_end, RULES)], RULES, agent_log=[], outbound=[], overdue_callbacks=[],
                start=0, end=3600)[0]
    assert q == {}  # entered at the end of the period: the next period's call


def test_r_hold_a_second_hold_running_at_the_hang_up_adds_to_the_first():
    entries = [entered(0), T(1, Fact.ANSWERED, "1001", ring_s=1.0), T(2, Fact.BRIDGED, "1001"),
               T(10, Fact.HOLD, "1001"), T(15, Fact.UNHOLD, "1001"), T(20, Fact.HOLD, "1001"),
               T(32, Fact.HANGUP, "1001", by="caller")]
    assert call_record("c", entries, RULES).segments[0].hold_s == 17


# -- mutation testing (issue 7), second pass: records of timelines without details, the period's edges -------
def test_r_kpi_a_timeline_of_bare_facts_gives_the_whole_record():
    """Facts stored before their details were recorded: no queue, no ring times, no reasons, no "by"."""
    entries = [T(0, Fact.ENTERED_QUEUE), T(1, Fact.OFFERED, "1002"), T(16, Fact.OFFER_FAILED, "1002"),
               T(17, Fact.OFFERED, "1001"), T(20, Fact.ANSWERED, "1001"), T(21, Fact.BRIDGED, "1001"),
               T(80, Fact.HANGUP)]
    assert call_record("c", entries, RULES) == CallRecord(
        call_id="c", queue="", entered_at=0, ended_at=80, outcome=CallOutcome.ANSWERED, agent="1001", answered_at=20,
        offers=(Offer(agent="1002", at=1, ring_s=15, answered=False, within_target=False, missed=True),
                Offer(agent="1001", at=17, ring_s=3, answered=True, within_target=True, missed=False)),
        segments=(Segment(agent="1001", start=21, end=80),), hung_up_by=None)
    assert call_record("none", [T(0, Fact.HANGUP, by="caller")], RULES) is None  # never entered a queue


def test_r_ring_recorded_ring_times_win_over_the_facts_times_when_the_offers_were_lost():
    """A call rebuilt after a restart: its OFFERED facts were lost, the answer and the miss kept theirs."""
    entries = [T(100, Fact.RESYNCED, state="waiting", queue="q", entered_at=90),
               T(110, Fact.OFFER_FAILED, "1002", reason="ring_target", ring_s=15.0, unreachable=False),
               T(120, Fact.ANSWERED, "1001", ring_s=4.0, within_target=False),
               T(121, Fact.BRIDGED, "1001"), T(130, Fact.HANGUP, "1001", by="caller")]
    rec = call_record("c", entries, RULES)
    assert rec.offers == (Offer(agent="1002", at=95, ring_s=15, answered=False, within_target=False, missed=True),
                          Offer(agent="1001", at=116, ring_s=4, answered=True, within_target=False, missed=False))
    assert (rec.queue, rec.entered_at, rec.wait_s) == ("q", 90, 30)


def test_r_ring_an_agent_leaving_before_the_bridge_is_one_answered_offer_and_the_next_offer_counts():
    entries = [entered(0), T(1, Fact.OFFERED, "1001"), T(3, Fact.ANSWERED, "1001", ring_s=2.0, within_target=True),
               T(4, Fact.OFFER_FAILED, "1001", reason="agent_left_before_bridge"),
               T(4, Fact.OFFERED, "1002"), T(9, Fact.ANSWERED, "1002", ring_s=5.0, within_target=True),
               T(10, Fact.BRIDGED, "1002"), T(40, Fact.HANGUP, "1002", by="caller")]
    rec = call_record("c", entries, RULES)
    assert [(o.agent, o.answered) for o in rec.offers] == [("1001", True), ("1002", True)]
    assert (rec.agent, rec.answered_at, rec.segments) == ("1001", 3, (Segment(agent="1002", start=10, end=40),))


def test_r_kpi_records_of_kept_diverted_lost_and_requeued_calls():
    kept = [entered(0), T(12, Fact.KEPT_PLACE, position=2), T(40, Fact.PLACE_REACHED, "1001")]
    assert call_record("k", kept, RULES) == CallRecord(call_id="k", queue="q", entered_at=0, ended_at=None,
                                                       outcome=CallOutcome.KEPT_PLACE)
    diverted = [entered(0), T(30, Fact.DIVERTED, reason="voicemail", destination="vm")]
    assert call_record("d", diverted, RULES) == CallRecord(call_id="d", queue="q", entered_at=0, ended_at=30,
                                                           outcome=CallOutcome.DIVERTED)
    lost = [entered(0), T(50, Fact.HANGUP, by="system")]  # waiting when the service restarted
    assert call_record("l", lost, RULES) == CallRecord(call_id="l", queue="q", entered_at=0, ended_at=50,
                                                       outcome=CallOutcome.DIVERTED, hung_up_by="system")
    # an agent hangs up before the transfer's target answered: the caller is back in line, the agent's part ends
    requeued = [entered(0), T(2, Fact.ANSWERED, "1001", ring_s=2.0), T(3, Fact.BRIDGED, "1001"),
                T(10, Fact.HOLD, "1001"), T(20, Fact.TRANSFER, "1001", state="requeued", reason=""),
                T(25, Fact.OFFERED, "1002"), T(27, Fact.ANSWERED, "1002", ring_s=2.0), T(28, Fact.BRIDGED, "1002"),
                T(30, Fact.HOLD, "1002"), T(35, Fact.UNHOLD, "1002"), T(60, Fact.HANGUP, "1002", by="caller")]
    assert call_record("r", requeued, RULES).segments == (Segment(agent="1001", start=3, end=20, hold_s=10),
                                                          Segment(agent="1002", start=28, end=60, hold_s=5))


def test_r_kpi_agent_time_edges_two_pauses_two_wrap_ups_and_instant_states():
    log = [AgentLogEntry(agent_id="1001", at=0, event="state", state="available"),
           AgentLogEntry(agent_id="1001", at=100, event="busy_overrun", state="paused", reason="lunch"),  # at start
           AgentLogEntry(agent_id="1001", at=110, event="state", state="paused", reason="lunch"),
           AgentLogEntry(agent_id="1001", at=130, event="state", state="available"),
           AgentLogEntry(agent_id="1001", at=140, event="state", state="wrap_up"),
           AgentLogEntry(agent_id="1001", at=150, event="state", state="paused", reason="break"),
           AgentLogEntry(agent_id="1001", at=155, event="state", state="available"),
           AgentLogEntry(agent_id="1001", at=160, event="state", state="wrap_up"),  # a 0 s wrap-up
           AgentLogEntry(agent_id="1001", at=160, event="state", state="available"),
           AgentLogEntry(agent_id="1001", at=170, event="state", state="wrap_up"),
           AgentLogEntry(agent_id="1001", at=175, event="state", state="available"),
           AgentLogEntry(agent_id="1001", at=200, event="busy_overrun", state="paused", reason="x")]  # at the end
    assert agent_time(log, 100, 200) == {"1001": AgentTime(logged_in_s=100, paused_s=25, wrap_s=15,
                                                           busy_overruns=1, wrap_periods=((140, 150), (170, 175)))}


def test_r_wrap_a_call_gets_the_wrap_up_starting_within_a_second_of_its_end():
    log = [AgentLogEntry(agent_id="1001", at=0, event="state", state="available"),
           AgentLogEntry(agent_id="1001", at=50.5, event="state", state="wrap_up"),
           AgentLogEntry(agent_id="1001", at=60, event="state", state="available"),
           AgentLogEntry(agent_id="1001", at=101, event="state", state="wrap_up"),
           AgentLogEntry(agent_id="1001", at=111, event="state", state="available")]
    calls = [[entered(0), T(1, Fact.ANSWERED, "1001", ring_s=1.0), T(2, Fact.BRIDGED, "1001"),
              T(50, Fact.HANGUP, "1001", by="caller")],
             [entered(60), T(61, Fact.ANSWERED, "1001", ring_s=1.0), T(62, Fact.BRIDGED, "1001"),
              T(100, Fact.HANGUP, "1001", by="caller")],  # the wrap-up 1.0 s later is not this call's
             [entered(200), T(201, Fact.ANSWERED, "1002", ring_s=1.0), T(202, Fact.BRIDGED, "1002"),
              T(210, Fact.HANGUP, "1002", by="caller")]]  # 1002 has no log at all: no wrap-up
    _, agents, total = figures([call_record(f"c{n}", c, RULES) for n, c in enumerate(calls)], RULES,
                               agent_log=log, start=0, end=3600)
    assert (agents["1001"].wrap_s, agents["1002"].wrap_s, total.wrap_s) == (9.5, 0, 9.5)


def test_r_kpi_per_queue_rules_ratios_of_one_and_abandoned_versus_diverted():
    fast = {"q": FigureRules(sl_threshold_s=5.0)}
    answered = [entered(0), T(10, Fact.ANSWERED, "1001", ring_s=1.0), T(11, Fact.BRIDGED, "1001"),
                T(20, Fact.HANGUP, "1001", by="caller")]
    q = figures([call_record("a", answered, RULES)], fast, start=0, end=3600)[0]["q"]
    assert (q.offered, q.answered, q.answered_in_sl, q.answer_rate, q.service_level) == (1, 1, 0, 1.0, 0.0)
    q = figures([call_record("a", answered, RULES)], {"other": FigureRules(sl_threshold_s=5.0)}, start=0,
                end=3600)[0]["q"]
    assert q.answered_in_sl == 1  # no rules for "q": the defaults (20 s)
    calls = [[entered(0), T(30, Fact.HANGUP, by="caller")], [entered(40), T(70, Fact.HANGUP, by="caller")],
             [entered(80), T(81, Fact.DIVERTED, reason="no_agent", destination="vm")]]
    q = figures([call_record(f"c{n}", c, RULES) for n, c in enumerate(calls)], RULES, start=0, end=3600)[0]["q"]
    assert (q.offered, q.abandoned, q.diverted) == (3, 2, 1)


def test_r_kpi_outbound_attempts_at_the_periods_edges_and_without_an_agent():
    outbound = [OutboundAttempt(agent="1001", at=-1, connected=True), OutboundAttempt(agent="1001", at=0,
                                                                                         connected=True),
                OutboundAttempt(agent=None, at=10, connected=False),
                OutboundAttempt(agent="1001", at=3600, connected=True)]
    _, agents, total = figures([], RULES, outbound=outbound, start=0, end=3600)
    assert (total.outbound, total.outbound_connected) == (2, 1)
    assert list(agents) == ["1001"] and (agents["1001"].outbound, agents["1001"].outbound_connected) == (1, 1)
