"""The figures' sources on both backends (R-KPI, R-COMPLY, R-QA, R-SHIFT): what is written reads back."""

from __future__ import annotations

from ari_app.core.agents import AgentLogEntry
from ari_app.core.callbacks import Attempt, CallbackTask, Outcome, TaskState
from ari_app.core.comply import ComplianceRecord
from ari_app.core.figures import OutboundAttempt
from ari_app.core.timeline import Fact, TimelineEntry
from ari_app.store import open_store
from ari_app.store.base import OutboundCall


def test_agent_log_gives_the_period_and_each_agents_state_before_it(url):
    s = open_store(url)
    s.append_agent_log([
        AgentLogEntry(agent_id="1001", at=10.0, event="state", state="available"),
        AgentLogEntry(agent_id="1001", at=50.0, event="state", state="paused", reason="lunch"),
        AgentLogEntry(agent_id="1002", at=20.0, event="state", state="available"),
        AgentLogEntry(agent_id="1001", at=150.0, event="state", state="available"),
        AgentLogEntry(agent_id="1001", at=160.0, event="busy_overrun", state="paused", reason="lunch"),
        AgentLogEntry(agent_id="1002", at=300.0, event="state", state="logged_out"),
    ])
    got = [(e.agent_id, e.at, e.event, e.state, e.reason) for e in s.agent_log(100.0, 200.0)]
    assert got == [("1002", 20.0, "state", "available", ""), ("1001", 50.0, "state", "paused", "lunch"),
                   ("1001", 150.0, "state", "available", ""), ("1001", 160.0, "busy_overrun", "paused", "lunch")]
    s.close()


def test_timelines_of_calls_that_entered_in_the_period_are_whole(url):
    s = open_store(url)
    s.append_facts([
        ("a", TimelineEntry(at=5.0, fact=Fact.ENTERED_QUEUE, detail={"queue": "q"})),
        ("b", TimelineEntry(at=105.0, fact=Fact.ENTERED_QUEUE, detail={"queue": "q"})),
        ("b", TimelineEntry(at=250.0, fact=Fact.HANGUP, agent="1001", detail={"by": "caller"})),
        ("c", TimelineEntry(at=120.0, fact=Fact.RESYNCED, detail={"queue": "q", "entered_at": 90.0})),
    ])
    got = s.timelines(100.0, 200.0)
    assert sorted(got) == ["b", "c"]
    assert [e.fact for e in got["b"]] == [Fact.ENTERED_QUEUE, Fact.HANGUP]  # the hang-up after the period too
    s.close()


def test_compliance_and_recordings_round_trip(url):
    s = open_store(url)
    rec = ComplianceRecord(call_id="c1", queue="q", agent="1001", entered_at=100.0, ended_at=180.5,
                           checks={"R-RING": True, "R-GREET": None, "R-HANGUP": False}, hung_up_by="agent")
    s.save_compliance(rec)
    s.save_compliance(rec)  # idempotent (a restart may compute it again)
    s.save_recording("c1", "qa/2026-11-26/c1", 101.0)
    assert s.compliance(0.0, 1000.0) == [rec]
    assert s.compliance(100.5, 1000.0) == []
    assert s.compliance(0.0, 1000.0)[0].broken == ("R-HANGUP",)
    assert s.recordings(0.0, 1000.0) == {"c1": "qa/2026-11-26/c1"}
    assert s.recordings(200.0, 1000.0) == {}
    s.close()


def test_outbound_counts_own_calls_and_callback_attempts(url):
    s = open_store(url)
    s.add_outbound(OutboundCall(call_id="cdr-1", agent_id="1001", at=10.0, connected=True, talk_s=30.0))
    s.add_outbound(OutboundCall(call_id="cdr-1", agent_id="1001", at=10.0, connected=True))  # once only
    s.add_outbound(OutboundCall(call_id="cdr-2", agent_id="1002", at=500.0))
    s.save_tasks([CallbackTask(task_id="t1", caller="138", queue="q", team="t", recording="r", created_at=1.0,
                               deadline=86401.0, assigned="1002", state=TaskState.REACHED,
                               attempts=[Attempt(at=20.0, agent_id="1002", outcome=Outcome.NO_ANSWER),
                                         Attempt(at=40.0, agent_id="1002", outcome=Outcome.REACHED)],
                               tries=2, overdue_at=60.0)])
    assert s.outbound(0.0, 100.0) == [
        OutboundAttempt(agent="1001", at=10.0, connected=True, kind="own"),
        OutboundAttempt(agent="1002", at=20.0, connected=False, kind="callback"),
        OutboundAttempt(agent="1002", at=40.0, connected=True, kind="callback")]
    assert s.overdue_callbacks(0.0, 100.0) == ["1002"]
    assert s.overdue_callbacks(61.0, 100.0) == []
    s.close()
