"""R-KPI targets live (events/kpi.py): a breach of today's figures is an MQTT alert on entering it and on
recovering, a log line (kpi.target_breached / kpi.target_recovered, rule R-KPI) and a Prometheus gauge.

SPEC.md Targets (revised 2026-12): "… and a live breach is an alert on MQTT and a Prometheus gauge."
The bus, the MQTT sink (with test_mqtt_sink's fake clock and view) and the metrics are the real ones; the
figures come from a fake, or (the last tests) from a real SQLite store through the report's own reader."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from ari_app import config as config_mod
from ari_app.core.figures import Figures
from ari_app.core.targets import TargetSet, parse_target
from ari_app.events.bus import ALERTS, Bus, log_sink
from ari_app.events.kpi import LiveTargets, live_targets
from ari_app.events.metrics import Metrics
from ari_app.events.mqtt import MqttSink
from ari_app.store import open_store
from ari_app.store.base import StoreError
from ari_app.store.worker import inline

from test_mqtt_sink import NUMBER, Clock, FakeView, Later, drain, settings
from test_report import cfg_path  # noqa: F401  (test_report's day in a real SQLite store)

DAY = "2026-12-07"


def targets() -> TargetSet:
    return TargetSet(queues={"support": {"answer_rate": parse_target("answer_rate", ">= 90%"),
                                         "abandon_rate": parse_target("abandon_rate", "<= 10%")}},
                     agents={"outbound": parse_target("outbound", 20),  # a daily minimum: not live
                             "busy_overruns": parse_target("busy_overruns", 0)})


class Today:
    """The fake store: today's figures, as the test sets them."""

    def __init__(self) -> None:
        self.by_queue: dict[str, Figures] = {}
        self.by_agent: dict[str, Figures] = {}
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        return DAY, dict(self.by_queue), dict(self.by_agent)


def support(offered: int, answered: int, abandoned: int = 0) -> Figures:
    return Figures(entered=offered, offered=offered, answered=answered, abandoned=abandoned)


def wired():
    """The service's wiring: LiveTargets publishes on the bus; the bus feeds the log, MQTT and metrics."""
    bus = Bus([log_sink])
    clock = Clock()
    mqtt = MqttSink(settings(), FakeView(), clock=clock, call_later=Later(clock))
    bus.add(mqtt)
    today = Today()
    live = LiveTargets(targets(), figures=today, publish=bus.publish, agents=["1001"], every_s=60)
    bus.add(live)
    metrics = Metrics(targets=live.status)
    bus.add(metrics)
    return live, today, mqtt, metrics


def alerts(mqtt: MqttSink) -> list[tuple[str, dict]]:
    return [(m.topic, json.loads(m.payload)) for m in drain(mqtt) if "/events/" in m.topic]


def gauge(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_entering_and_leaving_a_breach_is_one_alert_each_and_the_gauge_follows():
    live, today, mqtt, metrics = wired()
    # before any check: every live target is watched, none breached; outbound (a daily minimum) is not live
    assert gauge(metrics, "callcenter_target_breach", figure="answer_rate", queue="support") == 0
    assert gauge(metrics, "callcenter_target", figure="answer_rate", queue="support") == 0.9
    assert gauge(metrics, "callcenter_agent_target_breach", figure="busy_overruns", agent="1001") == 0
    assert gauge(metrics, "callcenter_agent_target_breach", figure="outbound", agent="1001") is None

    today.by_queue["support"] = support(10, 8, abandoned=2)  # 80 % answered: below 90 %; 20 % abandoned
    with capture_logs() as logs:
        asyncio.run(live.check())
    got = alerts(mqtt)
    assert [(t, b["figure"], b["op"], b["target_value"], b["actual"]) for t, b in got] == [
        ("cc/events/kpi.target_breached", "answer_rate", ">=", 0.9, 0.8),
        ("cc/events/kpi.target_breached", "abandon_rate", "<=", 0.1, 0.2)]
    assert all(b["queue"] == "support" and b["rule"] == "R-KPI" and b["day"] == DAY for _, b in got)
    kpi = [e for e in logs if e["event"].startswith("kpi.")]
    assert [(e["event"], e["log_level"], e["figure"], e["rule"]) for e in kpi] == [
        ("kpi.target_breached", "warning", "answer_rate", "R-KPI"),
        ("kpi.target_breached", "warning", "abandon_rate", "R-KPI")]
    assert gauge(metrics, "callcenter_target_breach", figure="answer_rate", queue="support") == 1
    assert gauge(metrics, "callcenter_target_breach", figure="abandon_rate", queue="support") == 1

    today.by_queue["support"] = support(11, 9, abandoned=2)  # still in breach: no second alert
    asyncio.run(live.check())
    assert alerts(mqtt) == []

    today.by_queue["support"] = support(20, 18, abandoned=2)  # exactly 90 % and 10 %: both met
    with capture_logs() as logs:
        asyncio.run(live.check())
    got = alerts(mqtt)
    assert [(t, b["figure"], b["actual"]) for t, b in got] == [
        ("cc/events/kpi.target_recovered", "answer_rate", 0.9),
        ("cc/events/kpi.target_recovered", "abandon_rate", 0.1)]
    assert [(e["event"], e["log_level"]) for e in logs if e["event"].startswith("kpi.")] == [
        ("kpi.target_recovered", "info"), ("kpi.target_recovered", "info")]
    assert gauge(metrics, "callcenter_target_breach", figure="answer_rate", queue="support") == 0


def test_agent_breach_and_no_caller_number_in_the_alert():
    live, today, mqtt, metrics = wired()
    today.by_agent["1001"] = Figures(logged_in_s=600.0, busy_overruns=1, outbound=0)  # outbound: not live
    asyncio.run(live.check())
    [(topic, body)] = alerts(mqtt)
    assert topic == "cc/events/kpi.target_breached"
    assert {k: body[k] for k in ("agent", "figure", "target_value", "actual")} == {
        "agent": "1001", "figure": "busy_overruns", "target_value": 0.0, "actual": 1.0}
    assert NUMBER not in json.dumps(body)
    assert gauge(metrics, "callcenter_agent_target_breach", figure="busy_overruns", agent="1001") == 1
    assert "kpi.target_breached" in ALERTS


def test_no_calls_today_is_no_breach():
    live, today, mqtt, _ = wired()
    today.by_queue["support"] = support(0, 0)
    asyncio.run(live.check())
    assert alerts(mqtt) == [] and live.breached == {}


def test_a_call_ending_brings_the_next_check_forward():
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    async def scenario() -> None:
        today = Today()
        events: list[str] = []
        live = LiveTargets(targets(), figures=today, publish=lambda e, f: events.append(e), every_s=3600,
                           settle_s=2.0, min_gap_s=40.0, clock=lambda: 100.0, sleep=sleep)
        task = asyncio.create_task(live.run())
        while live.checks < 1:
            await asyncio.sleep(0)
        today.by_queue["support"] = support(10, 5)
        live("call.queued", {"queue": "support"})  # does not move a judged figure: no check
        for _ in range(5):
            await asyncio.sleep(0)
        assert live.checks == 1
        live("call.completed", {"queue": "support"})
        while live.checks < 2:
            await asyncio.sleep(0)
        task.cancel()
        assert events == ["kpi.target_breached"]
        assert slept == [40.0]  # no sooner than min_gap_s after the last check (settle_s at least)

    asyncio.run(scenario())


@pytest.mark.parametrize("every_s, min_gap_s", [(60.0, 10.0), (1.0, 1.0), (3600.0, 0.0)])
def test_a_burst_of_call_ends_never_checks_more_often_than_every_30_s(every_s, min_gap_s):
    """Each check re-reads all of today's records on the store's single thread: a busy hour's call ends
    (here one on every turn of the loop, for 5 minutes of the fake clock) give one check per 30 s, whatever
    the caller asks for."""
    clock = Clock(1000.0)

    async def sleep(s: float) -> None:  # the fake clock: a sleep is time passing, at once
        clock.now += s
        await asyncio.sleep(0)

    async def scenario() -> list[float]:
        at: list[float] = []
        today = Today()

        async def figures():
            at.append(clock.now)
            return await today()

        live = LiveTargets(targets(), figures=figures, publish=lambda e, f: None, every_s=every_s,
                           min_gap_s=min_gap_s, clock=clock, sleep=sleep)
        assert live.min_gap_s == 30.0 and live.every_s >= 30.0
        task = asyncio.create_task(live.run())
        while clock.now < 1300.0:
            live("call.completed" if len(at) % 2 else "call.answered", {"queue": "support"})
            await asyncio.sleep(0)
        task.cancel()
        return at

    at = asyncio.run(scenario())
    assert len(at) >= 10  # the burst did bring checks forward ...
    assert min(b - a for a, b in zip(at, at[1:])) >= 30.0  # ... never closer than the floor


@pytest.mark.parametrize("error, level", [(StoreError("database is locked"), "warning"),
                                          (OSError("unreachable"), "warning"), (KeyError("bug"), "error")])
def test_a_failing_read_is_logged_and_the_loop_goes_on(error, level):
    async def broken():
        raise error

    async def scenario() -> None:
        live = LiveTargets(targets(), figures=broken, publish=lambda e, f: None, every_s=3600)
        task = asyncio.create_task(live.run())
        with capture_logs() as logs:
            for _ in range(5):
                await asyncio.sleep(0)
        assert not task.done()
        task.cancel()
        assert [(e["event"], e["log_level"]) for e in logs] == [("kpi.check_failed", level)]

    asyncio.run(scenario())


def test_no_read_while_the_store_refuses_writes():
    down = [True]
    today = Today()
    live = LiveTargets(targets(), figures=today, publish=lambda e, f: None, ready=lambda: not down[0])
    asyncio.run(live.check())
    assert today.calls == 0 and live.checks == 0
    down[0] = False
    asyncio.run(live.check())
    assert today.calls == 1 and live.checks == 1


# -- the service's wiring: today's figures from the store, as the report reads them ---------------------------
LIVE = """
[targets]
live_every_s = 30
[targets.queues.q]
answer_rate = ">= 90%"
service_level = ">= 50%"
[targets.agents]
outbound = 5
"""


def test_live_targets_read_todays_figures_from_the_store(cfg_path: Path):  # noqa: F811
    cfg_path.write_text(cfg_path.read_text() + LIVE)
    cfg = config_mod.load(str(cfg_path))
    store = open_store(cfg.store_url)
    events: list[tuple[str, dict]] = []
    noon = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    live = live_targets(cfg, store, inline, lambda e, f: events.append((e, dict(f))), now=lambda: noon)
    assert live is not None and live.every_s == 30
    asyncio.run(live.check())
    store.close()
    assert events == [("kpi.target_breached", {"queue": "q", "figure": "answer_rate", "op": ">=",
                                               "target_value": 0.9, "actual": 0.6667, "day": "2026-11-26",
                                               "rule": "R-KPI"})]


def test_no_live_target_no_live_check(cfg_path: Path):  # noqa: F811
    base = cfg_path.read_text()
    cfg_path.write_text(base + "[targets.agents]\noutbound = 5\n")  # a daily minimum only
    assert live_targets(config_mod.load(str(cfg_path)), None, inline, print) is None
    cfg_path.write_text(base + LIVE.replace("live_every_s = 30", "live_every_s = 0"))
    assert live_targets(config_mod.load(str(cfg_path)), None, inline, print) is None
