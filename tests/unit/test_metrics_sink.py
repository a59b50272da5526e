"""Prometheus metrics (events/metrics.py, R-KPI): each metric moves with the facts that should move it.

Read back through the metrics' own registry (``get_sample_value``), so the names and labels checked
are the ones Prometheus scrapes. The loop-lag recorder runs with an injected clock and sleep.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from ari_app.core.acd import (
    Acd, AgentCommand, CallArrived, CallBridged, CallEnded, OfferAnswered, Publish, QueueRules,
)
from ari_app.core.agents import Agent
from ari_app.events.bus import Bus
from ari_app.events.metrics import Metrics

T0 = 1_800_000_000.0


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def feed(m: Metrics, *facts: tuple[str, dict]) -> None:
    for event, fields in facts:
        m(event, fields)


def answered(queue: str, wait_s: float, ring_s: float, agent: str = "1001") -> tuple[str, dict]:
    return ("call.answered", {"call_id": f"c-{queue}-{wait_s}", "queue": queue, "agent": agent,
                              "ring_s": ring_s, "within_ring_target": True, "wait_s": wait_s,
                              "rule": "R-RING"})


def abandoned(queue: str, wait_s: float, lost: bool = False) -> tuple[str, dict]:
    return ("call.abandoned", {"call_id": "c", "queue": queue, "wait_s": wait_s, "by": "caller",
                               "lost": lost})


# -- calls: wait, ring and talk per queue ------------------------------------------------------------------
def test_answered_calls_fill_the_wait_and_ring_histograms_of_their_own_queue():
    m = Metrics()
    feed(m, answered("support", 12.0, 3.0), answered("support", 4.0, 1.5), answered("sales", 30.0, 9.0))
    assert value(m, "callcenter_calls_answered_total", queue="support") == 2
    assert value(m, "callcenter_calls_answered_total", queue="sales") == 1
    wait = "callcenter_queue_wait_seconds"
    assert value(m, f"{wait}_count", queue="support", outcome="answered") == 2
    assert value(m, f"{wait}_sum", queue="support", outcome="answered") == 16.0
    assert value(m, f"{wait}_count", queue="sales", outcome="answered") == 1
    assert value(m, f"{wait}_sum", queue="sales", outcome="answered") == 30.0
    # the buckets: 4 s is within 5 s, 12 s is not; both within the 20 s service level
    assert value(m, f"{wait}_bucket", queue="support", outcome="answered", le="5.0") == 1
    assert value(m, f"{wait}_bucket", queue="support", outcome="answered", le="20.0") == 2
    assert value(m, "callcenter_ring_seconds_count", queue="support") == 2
    assert value(m, "callcenter_ring_seconds_sum", queue="support") == 4.5
    assert value(m, "callcenter_ring_seconds_sum", queue="sales") == 9.0
    assert value(m, "callcenter_calls_abandoned_total", queue="support") is None  # nothing abandoned


def test_short_abandons_are_counted_on_their_own_and_both_are_in_the_wait_histogram():
    m = Metrics(short_abandon_s=5.0)
    feed(m, abandoned("support", 2.0), abandoned("support", 4.999), abandoned("support", 5.0),
         abandoned("support", 40.0), abandoned("sales", 1.0))
    assert value(m, "callcenter_calls_short_abandoned_total", queue="support") == 2
    assert value(m, "callcenter_calls_abandoned_total", queue="support") == 2  # 5.0 s is not short any more
    assert value(m, "callcenter_calls_short_abandoned_total", queue="sales") == 1
    assert value(m, "callcenter_calls_abandoned_total", queue="sales") is None
    wait = "callcenter_queue_wait_seconds"
    assert value(m, f"{wait}_count", queue="support", outcome="abandoned") == 4
    assert value(m, f"{wait}_sum", queue="support", outcome="abandoned") == pytest.approx(51.999)
    assert value(m, f"{wait}_count", queue="support", outcome="answered") is None


def test_short_abandon_threshold_is_configurable_and_zero_turns_it_off():
    m = Metrics(short_abandon_s=0.0)
    feed(m, abandoned("support", 0.5))
    assert value(m, "callcenter_calls_abandoned_total", queue="support") == 1
    assert value(m, "callcenter_calls_short_abandoned_total", queue="support") is None


def test_calls_lost_while_away_are_neither_abandoned_nor_timed():
    m = Metrics()
    feed(m, abandoned("support", 30.0, lost=True),
         ("call.completed", {"call_id": "c2", "queue": "support", "wait_s": 3.0, "agent": "1001",
                             "hung_up_first": "system", "talk_s": 99.0, "lost": True}))
    assert value(m, "callcenter_calls_lost_total", queue="support") == 2
    assert value(m, "callcenter_calls_abandoned_total", queue="support") is None
    assert value(m, "callcenter_calls_short_abandoned_total", queue="support") is None
    assert value(m, "callcenter_queue_wait_seconds_count", queue="support", outcome="abandoned") is None
    assert value(m, "callcenter_talk_seconds_count", queue="support") is None


def test_talk_time_per_queue_from_completed_calls():
    m = Metrics()
    for queue, talk in (("support", 30.0), ("support", 90.0), ("sales", 10.0)):
        feed(m, ("call.completed", {"call_id": "c", "queue": queue, "wait_s": 1.0, "agent": "1001",
                                    "hung_up_first": "caller", "rule": "R-HANGUP", "talk_s": talk,
                                    "lost": False}))
    assert value(m, "callcenter_talk_seconds_count", queue="support") == 2
    assert value(m, "callcenter_talk_seconds_sum", queue="support") == 120.0
    assert value(m, "callcenter_talk_seconds_bucket", queue="support", le="60.0") == 1
    assert value(m, "callcenter_talk_seconds_sum", queue="sales") == 10.0


def test_queued_diverted_missed_offers_and_busy_overruns():
    m = Metrics()
    feed(m,
         ("call.queued", {"call_id": "c1", "queue": "support", "priority": 0, "resynced": False}),
         ("call.queued", {"call_id": "c2", "queue": "support", "priority": 0, "resynced": False}),
         ("call.queued", {"call_id": "c3", "queue": "support", "priority": 0, "resynced": True}),  # not new
         ("call.diverted", {"call_id": "c4", "queue": "support", "reason": "closed", "wait_s": 0.0}),
         ("call.diverted", {"call_id": "c5", "queue": "support", "reason": "voicemail", "wait_s": 130.0}),
         ("call.offer_missed", {"call_id": "c1", "queue": "support", "agent": "1002", "ring_s": 15.0,
                                "reason": "ring_target", "rule": "R-RING"}),
         ("call.offer_missed", {"call_id": "c2", "queue": "support", "agent": "1002", "ring_s": 15.0,
                                "reason": "ring_target", "rule": "R-RING"}),
         ("call.offer_missed", {"call_id": "c6", "queue": "sales", "agent": "1002", "ring_s": 15.0,
                                "reason": "ring_target", "rule": "R-RING"}),
         ("agent.busy_overrun", {"agent": "1001", "reason": "lunch", "paused_s": 900.0, "alert": 1,
                                 "limit_s": 900.0, "rule": "R-BUSY"}),
         ("agent.busy_overrun", {"agent": "1001", "reason": "lunch", "paused_s": 1200.0, "alert": 2,
                                 "limit_s": 900.0, "rule": "R-BUSY"}),
         ("agent.busy_overrun", {"agent": "1003", "reason": "break", "paused_s": 900.0, "alert": 1,
                                 "limit_s": 900.0, "rule": "R-BUSY"}))
    assert value(m, "callcenter_calls_queued_total", queue="support") == 2
    assert value(m, "callcenter_calls_diverted_total", queue="support", reason="closed") == 1
    assert value(m, "callcenter_calls_diverted_total", queue="support", reason="voicemail") == 1
    assert value(m, "callcenter_offers_missed_total", queue="support", agent="1002") == 2
    assert value(m, "callcenter_offers_missed_total", queue="sales", agent="1002") == 1
    assert value(m, "callcenter_agent_busy_overruns_total", agent="1001", reason="lunch") == 2
    assert value(m, "callcenter_agent_busy_overruns_total", agent="1003", reason="break") == 1


def test_callback_events_are_counted_per_team():
    m = Metrics()
    feed(m,
         ("callback.created", {"task_id": "t1", "queue": "support", "team": "desk", "recording": "r",
                               "created_at": T0, "deadline": T0 + 86400, "rule": "R-VM"}),
         ("callback.created", {"task_id": "t2", "queue": "support", "team": "desk", "recording": "",
                               "kind": "followup", "created_at": T0, "deadline": T0 + 86400, "rule": "R-CB"}),
         ("callback.attempt", {"task_id": "t1", "team": "desk", "agent": "5001", "outcome": "no_answer",
                               "attempt": 1, "outbound": 1, "final": False, "rule": "R-CB"}),
         ("callback.attempt", {"task_id": "t1", "team": "desk", "agent": "5001", "outcome": "reached",
                               "attempt": 2, "outbound": 1, "final": True, "rule": "R-CB"}),
         ("callback.overdue", {"task_id": "t2", "team": "desk", "queue": "support", "agent": None,
                               "created_at": T0, "deadline": T0 + 86400, "late_s": 1.0, "rule": "R-SLA24"}))
    assert value(m, "callcenter_callbacks_created_total", team="desk", kind="voicemail") == 1
    assert value(m, "callcenter_callbacks_created_total", team="desk", kind="followup") == 1
    assert value(m, "callcenter_callback_attempts_total", team="desk", outcome="no_answer") == 1
    assert value(m, "callcenter_callback_attempts_total", team="desk", outcome="reached") == 1
    assert value(m, "callcenter_callbacks_went_overdue_total", team="desk") == 1


def test_bad_or_missing_durations_are_skipped_not_raised_and_other_events_are_ignored():
    m = Metrics()
    feed(m, ("call.answered", {"queue": "support", "ring_s": "soon"}),  # no wait_s, ring_s not a number
         ("call.abandoned", {"queue": "support", "wait_s": float("nan"), "lost": False}),
         ("call.completed", {"queue": "support", "talk_s": -1.0, "lost": False}),
         ("call.offered", {"call_id": "c1", "queue": "support", "agent": "1001", "attempt": 1}))
    assert value(m, "callcenter_calls_answered_total", queue="support") == 1
    assert value(m, "callcenter_queue_wait_seconds_count", queue="support", outcome="answered") is None
    assert value(m, "callcenter_ring_seconds_count", queue="support") is None
    assert value(m, "callcenter_calls_abandoned_total", queue="support") == 1  # counted, not timed
    assert value(m, "callcenter_talk_seconds_count", queue="support") is None


def test_each_metrics_has_its_own_registry():
    a, b = Metrics(), Metrics()
    feed(a, answered("support", 1.0, 1.0))
    assert value(a, "callcenter_calls_answered_total", queue="support") == 1
    assert value(b, "callcenter_calls_answered_total", queue="support") is None


def test_the_real_core_s_facts_move_the_metrics():
    """The field names the sink reads are the ones the core publishes (wait_s, ring_s, talk_s)."""
    acd = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",))])
    m = Metrics(short_abandon_s=5.0)
    bus = Bus([m])

    def run(ev, at):
        for a in acd.handle(ev, at):
            if isinstance(a, Publish):
                bus.publish(a.event, a.fields)

    run(AgentCommand(agent_id="1001", command="login"), T0 - 100)
    run(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    run(CallArrived(call_id="c2", queue="support", entered_at=T0 + 1), T0 + 1)  # waits: 1001 rings for c1
    run(CallArrived(call_id="c3", queue="support", entered_at=T0 + 2), T0 + 2)
    run(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 4)
    run(CallBridged(call_id="c1", agent_id="1001"), T0 + 5)
    run(CallEnded(call_id="c2", by="caller"), T0 + 4)  # hung up after 3 s: a short abandon
    run(CallEnded(call_id="c3", by="caller"), T0 + 32)  # after 30 s
    run(CallEnded(call_id="c1", by="caller"), T0 + 65)
    assert value(m, "callcenter_calls_queued_total", queue="support") == 3
    assert value(m, "callcenter_calls_answered_total", queue="support") == 1
    assert value(m, "callcenter_calls_short_abandoned_total", queue="support") == 1
    assert value(m, "callcenter_calls_abandoned_total", queue="support") == 1
    wait = "callcenter_queue_wait_seconds"
    assert value(m, f"{wait}_sum", queue="support", outcome="answered") == 4.0
    assert value(m, f"{wait}_count", queue="support", outcome="abandoned") == 2
    assert value(m, f"{wait}_sum", queue="support", outcome="abandoned") == 33.0
    assert value(m, "callcenter_ring_seconds_sum", queue="support") == 4.0
    assert value(m, "callcenter_talk_seconds_sum", queue="support") == 60.0


# -- gauges read at scrape time ---------------------------------------------------------------------------
AGENTS = [
    {"agent_id": "1001", "state": "on_call", "queues": ["support", "sales"]},
    {"agent_id": "1002", "state": "available", "queues": ["support"]},
    {"agent_id": "1003", "state": "paused", "queues": ["support"]},
    {"agent_id": "1004", "state": "available", "queues": ["sales"]},
    {"agent_id": "1005", "state": "logged_out", "queues": ["sales"]},
]


def test_agents_per_state_from_a_snapshot_every_state_present():
    snapshot = [dict(a) for a in AGENTS]
    m = Metrics(agents=lambda: snapshot)
    got = {s: value(m, "callcenter_agents", state=s) for s in
           ("logged_out", "available", "ringing", "on_call", "wrap_up", "paused", "unreachable")}
    assert got == {"logged_out": 1, "available": 2, "ringing": 0, "on_call": 1, "wrap_up": 0, "paused": 1,
                   "unreachable": 0}
    assert value(m, "callcenter_queue_agents", queue="support", state="available") == 1
    assert value(m, "callcenter_queue_agents", queue="support", state="on_call") == 1
    assert value(m, "callcenter_queue_agents", queue="sales", state="on_call") == 1  # in both of its queues
    assert value(m, "callcenter_queue_agents", queue="sales", state="paused") == 0
    # read at every scrape: a change shows at once
    snapshot[1]["state"] = "ringing"
    assert value(m, "callcenter_agents", state="available") == 1
    assert value(m, "callcenter_agents", state="ringing") == 1


def test_calls_waiting_and_the_ari_connection():
    state = {"waiting": {"support": 2, "sales": 0}, "ari": (1, True)}
    m = Metrics(waiting=lambda: state["waiting"], ari=lambda: state["ari"])
    assert value(m, "callcenter_queue_calls_waiting", queue="support") == 2
    assert value(m, "callcenter_queue_calls_waiting", queue="sales") == 0
    assert value(m, "callcenter_ari_reconnects_total") == 0  # the first connection is not a reconnect
    assert value(m, "callcenter_ari_connected") == 1
    state["ari"] = (4, False)
    assert value(m, "callcenter_ari_reconnects_total") == 3
    assert value(m, "callcenter_ari_connected") == 0


class FakeDesk:
    def __init__(self, tasks):
        self.roster = SimpleNamespace(teams=("desk", "sales"))
        self.tasks = tasks
        self.asked = []

    def task_list(self, **query):
        self.asked.append(query)
        return [t for t in self.tasks if t["state"] in ("open", "in_progress")]


def test_callbacks_open_and_overdue_per_team_from_the_desk():
    desk = FakeDesk([{"team": "desk", "state": "open", "overdue": True},
                     {"team": "desk", "state": "in_progress", "overdue": False},
                     {"team": "desk", "state": "open", "overdue": False},
                     {"team": "desk", "state": "reached", "overdue": False}])
    m = Metrics(callbacks=lambda: desk)
    assert value(m, "callcenter_callbacks_open", team="desk") == 3
    assert value(m, "callcenter_callbacks_overdue", team="desk") == 1
    assert value(m, "callcenter_callbacks_open", team="sales") == 0  # every team of the roster, zeros too
    assert value(m, "callcenter_callbacks_overdue", team="sales") == 0
    assert desk.asked[-1] == {"open_only": True}
    assert value(Metrics(callbacks=lambda: None), "callcenter_callbacks_open", team="desk") is None


def test_a_failing_source_is_logged_and_the_rest_of_the_scrape_still_works():
    def broken():
        raise RuntimeError("desk down")

    m = Metrics(agents=lambda: AGENTS, callbacks=lambda: SimpleNamespace(task_list=lambda **_: broken()))
    feed(m, answered("support", 1.0, 1.0))
    with capture_logs() as logs:
        text = m.render().decode()
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {"callcenter_agents", "callcenter_calls_answered", "callcenter_queue_wait_seconds"} <= families
    assert "callcenter_callbacks_open" not in families
    assert [(e["event"], e["source"]) for e in logs] == [("metrics.collect_failed", "callbacks")]


# -- event-loop lag -----------------------------------------------------------------------------------------
async def test_loop_lag_records_how_late_each_wake_up_was():
    now = [100.0]
    overshoot = iter([0.0, 0.003, 0.2, 1.5])
    rounds = []

    async def sleep(s):
        rounds.append(s)
        if len(rounds) > 4:
            raise asyncio.CancelledError
        now[0] += s + next(overshoot)

    m = Metrics()
    with pytest.raises(asyncio.CancelledError):
        await m.loop_lag_watch(0.5, clock=lambda: now[0], sleep=sleep).run()
    assert rounds == [0.5] * 5
    name = "callcenter_event_loop_lag_seconds"
    assert value(m, f"{name}_count") == 4
    assert value(m, f"{name}_sum") == pytest.approx(1.703)
    assert value(m, f"{name}_bucket", le="0.005") == 2
    assert value(m, f"{name}_bucket", le="0.25") == 3
    assert value(m, f"{name}_bucket", le="1.0") == 3
    assert value(m, "callcenter_event_loop_lag_last_seconds") == pytest.approx(1.5)


def test_a_clock_that_went_backwards_is_no_negative_lag():
    m = Metrics()
    m.record_loop_lag(-0.01)
    assert value(m, "callcenter_event_loop_lag_seconds_sum") == 0.0
    assert value(m, "callcenter_event_loop_lag_seconds_count") == 1


# -- the service's wiring (app.py) ---------------------------------------------------------------------------
def make_service(tmp_path, short_abandon_s=None, **metrics):
    from ari_app.app import Service
    from ari_app.config import parse
    from ari_app.store import Store

    support = {} if short_abandon_s is None else {"short_abandon_s": short_abandon_s}  # the queue's own (R-KPI)
    cfg = parse({"ari": {"password": "x"}, "queues": {"support": support, "sales": {}},
                 "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]},
                            "1002": {"interface": "PJSIP/1002", "queues": ["support", "sales"]}},
                 **({"metrics": metrics} if metrics else {})})
    return Service(cfg, store=Store(tmp_path / "state.db"), ari=SimpleNamespace(), clock=lambda: T0)


def test_service_publishes_to_its_metrics_and_reads_its_agents_and_calls(tmp_path):
    svc = make_service(tmp_path, short_abandon_s=2)
    m = svc.metrics()
    assert m is not None and m in svc.bus.sinks
    svc.bus.publish("call.abandoned", {"call_id": "c1", "queue": "support", "wait_s": 3.0, "by": "caller",
                                       "lost": False})
    assert value(m, "callcenter_calls_abandoned_total", queue="support") == 1  # 3 s > short_abandon_s = 2
    assert value(m, "callcenter_agents", state="logged_out") == 2
    assert value(m, "callcenter_queue_agents", queue="sales", state="logged_out") == 1
    svc.acd.handle(AgentCommand(agent_id="1001", command="login"), T0)
    svc.acd.handle(CallArrived(call_id="c1", queue="sales", entered_at=T0), T0)  # nobody of sales logged in
    svc.acd.handle(CallArrived(call_id="c2", queue="support", entered_at=T0), T0)  # rings 1001
    svc.acd.handle(CallArrived(call_id="c3", queue="support", entered_at=T0), T0)  # waits
    assert svc.waiting_calls() == {"support": 2, "sales": 0}
    assert value(m, "callcenter_queue_calls_waiting", queue="support") == 2
    assert value(m, "callcenter_agents", state="ringing") == 1
    assert value(m, "callcenter_ari_reconnects_total") == 0 and value(m, "callcenter_ari_connected") == 0


def test_service_without_metrics(tmp_path):
    svc = make_service(tmp_path, enabled=False)
    assert svc.metrics() is None and len(svc.bus.sinks) == 1


# -- [metrics] in the config ---------------------------------------------------------------------------------
def test_metrics_section_defaults_and_exact_errors():
    from ari_app.config import ConfigError, MetricsConfig, parse

    good = {"ari": {"password": "x"}, "queues": {"support": {}}}
    assert parse(good).metrics == MetricsConfig(enabled=True, loop_lag_interval_s=1.0)
    m = parse({**good, "metrics": {"enabled": False, "loop_lag_interval_s": 0.25}}).metrics
    assert (m.enabled, m.loop_lag_interval_s) == (False, 0.25)
    with pytest.raises(ConfigError) as e:
        parse({**good, "metrics": {"enabled": "yes", "short_abandon_s": -1, "loop_lag_interval_s": 0,
                                   "port": 9100}})
    assert e.value.errors == [  # the short-abandon threshold is the queue's (queues.<name>.short_abandon_s)
        "metrics.enabled: must be true or false, got 'yes'",
        "metrics.loop_lag_interval_s: must be 0.05-60 seconds, got 0",
        "metrics.short_abandon_s: unknown key",
        "metrics.port: unknown key",
    ]
    with pytest.raises(ConfigError) as e:
        parse({**good, "metrics": 5})
    assert e.value.errors == ["metrics: must be a table, got 5"]
