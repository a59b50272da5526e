"""The ACD records what the figures are computed from (R-KPI, R-COMPLY): the agents' state log and
the details of its facts; then a real call through the core gives the figures and compliance it should."""

from __future__ import annotations

from ari_app.core.acd import AgentCommand, CallBridged, CallEnded, OfferAnswered
from ari_app.core.agents import BusyPolicy
from ari_app.core.comply import ComplianceRules, evaluate
from ari_app.core.figures import CallOutcome, FigureRules, call_record, figures
from ari_app.core.timeline import Fact

from test_acd import T0, arrive, make


def test_agent_log_holds_each_state_entered_and_one_overrun_per_pause():
    acd = make(busy=BusyPolicy(limit_s=60, repeat_every_s=30), agents=("1001",))
    first = acd.drain_agent_log()
    assert [(e.agent_id, e.event, e.state) for e in first] == [("1001", "state", "available")]
    assert acd.drain_agent_log() == []  # nothing changed
    acd.handle(AgentCommand(agent_id="1001", command="pause", reason="lunch"), T0)
    acd.handle_timer(T0 + 60)  # R-BUSY: first alert
    acd.handle_timer(T0 + 90)  # repeated alert: still one overrun of this pause
    acd.handle(AgentCommand(agent_id="1001", command="resume"), T0 + 100)
    log = [(e.at - T0, e.event, e.state, e.reason) for e in acd.drain_agent_log()]
    assert log == [(0, "state", "paused", "lunch"), (60, "busy_overrun", "paused", "lunch"),
                   (100, "state", "available", "")]


def test_a_call_through_the_core_yields_its_figures_and_compliance():
    acd = make(agents=("1001",))
    acd.drain_agent_log()
    arrive(acd)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 4)
    acd.handle(CallBridged(call_id="c1", agent_id="1001", greeted=True), T0 + 7)
    acd.handle(CallEnded(call_id="c1", by="agent"), T0 + 67)
    entries = [e for cid, e in acd.drain_facts() if cid == "c1"]
    assert entries[0].fact == Fact.ENTERED_QUEUE and entries[0].detail["queue"] == "support"
    rec = call_record("c1", entries, FigureRules())
    assert (rec.outcome, rec.agent, rec.wait_s, rec.talk_s) == (CallOutcome.ANSWERED, "1001", 4, 60)
    q = figures([rec], FigureRules(), agent_log=acd.drain_agent_log(), start=T0, end=T0 + 3600)[0]["support"]
    assert (q.offered, q.answered, q.answered_in_sl, q.offers_answered_in_target) == (1, 1, 1, 1)
    comp = evaluate("c1", entries, ComplianceRules())
    assert comp.checks["R-GREET"] is True and comp.checks["R-RING"] is True
    assert comp.broken == ("R-HANGUP",)  # the agent hung up first


def test_an_unreachable_phone_is_marked_in_the_fact():
    from ari_app.core.acd import OfferFailed
    acd = make()
    arrive(acd)
    acd.handle(OfferFailed(call_id="c1", agent_id="1001", reason="originate_failed", unreachable=True), T0 + 1)
    [failed] = [e for _, e in acd.drain_facts() if e.fact == Fact.OFFER_FAILED]
    assert failed.detail["unreachable"] is True
