"""The MQTT sink (events/mqtt.py) with a fake clock, a fake view and a fake broker client.

No broker and no sleeping: the e2e test (tests/e2e/test_mqtt.py) runs the real Mosquitto.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
import pytest
from structlog.testing import capture_logs

from ari_app import config
from ari_app.config import MqttConfig
from ari_app.core.acd import Acd, AgentCommand, CallArrived, OfferAnswered, QueueRules
from ari_app.core.agents import Agent
from ari_app.events.bus import ALERTS, Bus
from ari_app.events.logging import MASKED_KEYS
from ari_app.events.mqtt import (
    PUBLIC_FIELDS, AcdView, Backoff, Message, MqttSink, Outbox, _numberish, iso, scrub,
)

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z
NUMBER = "13812345678"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Later:
    """A fake loop.call_later: the test runs what is due."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.pending = clock, []

    def __call__(self, delay, fn):
        self.pending.append((self.clock.now + delay, fn))

    def run_due(self) -> None:
        due = [p for p in self.pending if p[0] <= self.clock.now]
        self.pending = [p for p in self.pending if p[0] > self.clock.now]
        for _, fn in due:
            fn()


class FakeView:
    def __init__(self) -> None:
        self.agents = {
            "1001": {"state": "available", "reason": "", "since": T0 - 60, "queues": ["support"]},
            "1002": {"state": "logged_out", "reason": "", "since": 0.0, "queues": ["support", "sales"]}}
        self.queues = {"support": {"waiting": 0, "agents_logged_in": 1, "agents_available": 1},
                       "sales": {"waiting": 0, "agents_logged_in": 0, "agents_available": 0}}

    def agent_ids(self):
        return list(self.agents)

    def agent(self, agent_id):
        return self.agents.get(agent_id)

    def queue_names(self):
        return list(self.queues)

    def queue(self, name):
        return self.queues.get(name)


def settings(**kw) -> MqttConfig:
    return MqttConfig(**{"host": "127.0.0.1", "prefix": "cc", "buffer_size": 100, "stats_every_s": 1.0,
                         "reconnect_min_s": 1.0, "reconnect_max_s": 8.0, **kw})


def make(**kw):
    clock = Clock()
    later = Later(clock)
    view = FakeView()
    sink = MqttSink(settings(**kw), view, clock=clock, call_later=later)
    return sink, view, clock, later


def drain(sink: MqttSink) -> list[Message]:
    out = []
    while (m := sink.outbox.pop()) is not None:
        out.append(m)
    return out


def body(msg: Message) -> dict:
    return json.loads(msg.payload)


# -- R-PRIVACY: no caller numbers -------------------------------------------------------------------------
def test_scrub_keeps_whitelisted_scalars_and_drops_numbers_and_unknown_keys():
    fields = {"call_id": "1700000000.1", "queue": "support", "agent": "1001", "wait_s": 3.5, "lost": False,
              "caller": NUMBER, "caller_number": NUMBER, "number": NUMBER, "callerid": NUMBER,
              "customer_number": NUMBER, "connected_number": NUMBER, "from": "PJSIP/1001", "to": "PJSIP/1002",
              "interface": "Local/13812345678@x", "target": NUMBER, "destination": "ctx,s,1",
              "reason": {"nested": NUMBER}, "agents": ["1001", "1002"], "tasks": [{"number": NUMBER}]}
    assert scrub(fields) == {"call_id": "1700000000.1", "queue": "support", "agent": "1001", "wait_s": 3.5,
                             "lost": False, "agents": ["1001", "1002"]}


def test_whitelist_holds_no_number_field_even_by_mistake():
    assert not PUBLIC_FIELDS & MASKED_KEYS
    assert [k for k in PUBLIC_FIELDS if _numberish(k)] == []
    # the second lock: a number-like key is dropped even if someone whitelists it
    for key in ("caller_number", "CallerID", "customer_phone", "ani", "contact_number"):
        assert _numberish(key), key


def test_no_caller_number_reaches_any_message_of_any_event():
    sink, *_ = make()
    for event in sorted(ALERTS | {"agent.paused", "call.queued", "call.answered", "call.completed",
                                   "callback.created", "call.keep_place"}):
        sink(event, {"agent": "1001", "queue": "support", "call_id": "c1", "caller": NUMBER,
                     "caller_number": NUMBER, "number": NUMBER, "callerid": NUMBER,
                     "customer_number": NUMBER})
    msgs = drain(sink)
    assert len(msgs) >= len(ALERTS)
    for m in msgs:
        assert NUMBER not in m.payload.decode() and "*5678" not in m.payload.decode(), m


# -- topics and payloads -------------------------------------------------------------------------------------
def test_agent_event_gives_the_retained_agent_state_and_its_queues_stats():
    sink, view, clock, _ = make()
    view.agents["1001"].update(state="paused", reason="lunch", since=T0 - 5)
    sink("agent.paused", {"agent": "1001", "reason": "lunch", "source": "api", "rule": "R-BUSY"})
    state, stats = drain(sink)
    assert (state.topic, state.qos, state.retain) == ("cc/agents/1001/state", 0, True)
    assert body(state) == {"schema": 1, "event": "agent.paused", "time": "2025-11-24T16:00:00.000Z", "ts": T0,
                           "agent": "1001", "state": "paused", "reason": "lunch", "since": T0 - 5,
                           "since_time": "2025-11-24T15:59:55.000Z", "queues": ["support"]}
    assert (stats.topic, stats.retain) == ("cc/queues/support/stats", True)
    assert body(stats)["agents_available"] == 1 and body(stats)["event"] == "agent.paused"


def test_alerts_go_to_the_events_topic_with_qos_1_and_other_events_do_not():
    sink, *_ = make()
    sink("agent.busy_overrun", {"agent": "1001", "reason": "lunch", "paused_s": 903.2, "alert": 1,
                                "limit_s": 900.0, "rule": "R-BUSY"})
    sink("call.offered", {"call_id": "c1", "queue": "support", "agent": "1001"})
    sink("callback.overdue", {"task_id": "t1", "team": "desk", "queue": "support", "late_s": 5.0,
                              "rule": "R-SLA24"})
    events = [m for m in drain(sink) if "/events/" in m.topic]
    assert [(m.topic, m.qos, m.retain) for m in events] == [("cc/events/agent.busy_overrun", 1, False),
                                                            ("cc/events/callback.overdue", 1, False)]
    overrun = body(events[0])
    assert overrun == {"schema": 1, "event": "agent.busy_overrun", "time": iso(T0), "ts": T0, "agent": "1001",
                       "reason": "lunch", "paused_s": 903.2, "alert": 1, "limit_s": 900.0, "rule": "R-BUSY"}


def test_every_bus_alert_is_an_mqtt_alert():
    sink, *_ = make()
    for event in ALERTS:
        sink(event, {"agent": "9999"})  # unknown agent: no state message, still the alert
    assert sorted(m.topic for m in drain(sink)) == sorted(f"cc/events/{e}" for e in ALERTS)


def test_call_events_give_queue_stats_with_todays_answered_and_abandoned():
    sink, view, clock, later = make(stats_every_s=0)
    view.queues["support"]["waiting"] = 2
    sink("call.answered", {"call_id": "c1", "queue": "support", "agent": "1001", "caller_number": NUMBER})
    sink("call.answered", {"call_id": "c2", "queue": "support", "agent": "1001"})
    sink("call.abandoned", {"call_id": "c3", "queue": "support"})
    [stats] = [m for m in drain(sink) if m.topic == "cc/queues/support/stats"]  # coalesced: one waiting
    b = body(stats)
    assert (b["answered_today"], b["abandoned_today"], b["waiting"], b["queue"], b["event"]) == (
        2, 1, 2, "support", "call.abandoned")
    clock.now += 86_400  # the next day starts from zero
    sink("call.queued", {"call_id": "c4", "queue": "support"})
    [stats] = [m for m in drain(sink) if m.topic == "cc/queues/support/stats"]
    assert (body(stats)["answered_today"], body(stats)["abandoned_today"]) == (0, 0)


def test_queue_stats_at_most_once_per_interval_the_last_change_sent_when_due():
    sink, view, clock, later = make(stats_every_s=1.0)
    sink("call.queued", {"call_id": "c1", "queue": "support"})
    assert [m.topic for m in drain(sink)] == ["cc/queues/support/stats"]
    for i in range(5):
        clock.now += 0.1
        view.queues["support"]["waiting"] = i + 1
        sink("call.queued", {"call_id": f"c{i + 2}", "queue": "support"})
    assert drain(sink) == [] and len(later.pending) == 1  # one deferred message, not five
    clock.now = T0 + 0.99
    later.run_due()
    assert drain(sink) == []
    clock.now = T0 + 1.0
    later.run_due()
    [stats] = drain(sink)
    assert body(stats)["waiting"] == 5 and body(stats)["ts"] == T0 + 1.0


def test_agent_state_is_republished_on_change_only_outside_agent_events():
    sink, view, clock, _ = make()
    sink("call.offered", {"call_id": "c1", "queue": "support", "agent": "1001"})
    first = [m for m in drain(sink) if "/agents/" in m.topic]
    assert len(first) == 1  # not seen before
    sink("call.announced", {"call_id": "c1", "queue": "support", "agent": "1001"})
    sink.agent_changed("1001")
    assert [m for m in drain(sink) if "/agents/" in m.topic] == []  # nothing changed
    view.agents["1001"].update(state="wrap_up", since=T0)
    sink.agent_changed("1001")  # e.g. the core's wrap-up timer: no bus event
    [state] = [m for m in drain(sink) if "/agents/" in m.topic]
    assert body(state)["state"] == "wrap_up" and body(state)["event"] == "agent.changed"
    sink("agent.busy_overrun", {"agent": "1001"})  # agent.*: always
    assert len([m for m in drain(sink) if "/agents/" in m.topic]) == 1


def test_snapshot_has_every_agent_and_queue():
    sink, *_ = make()
    sink.snapshot()
    topics = sorted(m.topic for m in drain(sink))
    assert topics == ["cc/agents/1001/state", "cc/agents/1002/state", "cc/queues/sales/stats",
                      "cc/queues/support/stats"]


def test_sink_on_the_bus_never_raises_and_a_bad_view_is_logged():
    sink, view, *_ = make()
    view.agent = lambda agent_id: 1 / 0
    bus = Bus([sink])
    with capture_logs() as logs:
        bus.publish("agent.paused", {"agent": "1001"})
    assert [e["event"] for e in logs] == ["bus.sink_failed"]
    with capture_logs() as logs:
        sink.agent_changed("1001")  # called by the core's task directly: must not raise either
    assert [(e["event"], e["log_level"]) for e in logs] == [("mqtt.sink_failed", "error")]


# -- the bounded buffer ------------------------------------------------------------------------------------
def msg(topic, n=0, retain=False, qos=0):
    return Message(topic, str(n).encode(), qos=qos, retain=retain)


def test_outbox_full_drops_the_oldest_and_counts():
    box = Outbox(3)
    for i in range(5):
        box.put(msg("e", i, qos=1))
    assert box.dropped == 2 and [m.payload for m in box.peek_all()] == [b"2", b"3", b"4"]


def test_outbox_coalesces_retained_state_per_topic_in_place():
    box = Outbox(10)
    box.put(msg("a/state", 1, retain=True))
    box.put(msg("alert", 2))
    box.put(msg("a/state", 3, retain=True))
    box.put(msg("b/state", 4, retain=True))
    box.put(msg("alert", 5))
    assert [(m.topic, m.payload) for m in box.peek_all()] == [
        ("a/state", b"3"), ("alert", b"2"), ("b/state", b"4"), ("alert", b"5")]
    assert box.dropped == 0


def test_outbox_push_front_after_a_failed_publish_unless_a_newer_state_came():
    box = Outbox(2)
    box.put(msg("a/state", 1, retain=True))
    box.put(msg("alert", 2))
    failed = box.pop()
    box.push_front(failed)
    assert [m.payload for m in box.peek_all()] == [b"1", b"2"]
    failed = box.pop()
    box.put(msg("a/state", 3, retain=True))  # arrived while the publish was in flight
    box.push_front(failed)
    assert [m.payload for m in box.peek_all()] == [b"2", b"3"] and box.dropped == 0
    box.push_front(msg("alert", 0))  # full: the oldest (this one, first in line) goes
    assert [m.payload for m in box.peek_all()] == [b"2", b"3"] and box.dropped == 1


def test_sink_logs_drops_with_a_count_at_most_every_ten_seconds():
    sink, view, clock, _ = make(buffer_size=2)
    with capture_logs() as logs:
        for i in range(30):
            clock.now = T0 + i * 0.1
            sink("call.offer_missed", {"call_id": f"c{i}"})
        clock.now = T0 + 10.5
        sink("call.offer_missed", {"call_id": "late"})
    drops = [e for e in logs if e["event"] == "mqtt.dropped"]
    assert [(d["dropped"], d["total"], d["log_level"]) for d in drops] == [
        (1, 1, "warning"), (28, 29, "warning")]
    assert len(sink.outbox) == 2


# -- back-off and the owner task -----------------------------------------------------------------------------
def test_backoff_doubles_up_to_the_cap_and_resets():
    b = Backoff(0.5, 3.0)
    assert [b.next() for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    b.reset()
    assert b.next() == 0.5


class FakeBroker:
    """Hands out fake clients; a script says what each connection attempt does."""

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)  # "refuse", "up" (stays up), "drop_after:<n>" (n publishes, then lost)
        self.clients: list[FakeClient] = []
        self.published: list[tuple[str, dict, int, bool]] = []

    def __call__(self) -> "FakeClient":
        c = FakeClient(self, self.script.pop(0) if self.script else "refuse")
        self.clients.append(c)
        return c


class FakeClient:
    def __init__(self, broker: FakeBroker, mode: str) -> None:
        self.broker, self.mode, self.entered, self.exited = broker, mode, 0, 0
        self.lost = asyncio.Event()
        self.left = int(mode.split(":")[1]) if mode.startswith("drop_after") else None

    async def __aenter__(self):
        self.entered += 1
        assert self.entered == 1, "an aiomqtt client is never reused"
        if self.mode == "refuse":
            raise MqttConnectError(5)
        return self

    async def __aexit__(self, *exc):
        self.exited += 1

    async def publish(self, topic, payload, qos=0, retain=False, timeout=None):
        if self.left is not None:
            if self.left == 0:
                self.lost.set()
                raise aiomqtt.MqttCodeError(4, "Could not publish message")
            self.left -= 1
        self.broker.published.append((topic, json.loads(payload), qos, retain))

    @property
    def messages(self):
        client = self

        class Iter:
            def __aiter__(self):
                return self

            async def __anext__(self):
                await client.lost.wait()
                raise aiomqtt.MqttError("Disconnected during message iteration") from aiomqtt.MqttCodeError(
                    7, "Unexpected disconnection")
        return Iter()


async def until(cond, steps=200):
    for _ in range(steps):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_run_backs_off_reconnects_with_fresh_clients_and_keeps_unsent_messages():
    clock = Clock()
    sleeps: list[float] = []

    async def sleep(s):
        sleeps.append(s)
        await asyncio.sleep(0)

    broker = FakeBroker(["refuse", "refuse", "refuse", "drop_after:3", "up"])
    view = FakeView()
    sink = MqttSink(settings(), view, clock=clock, call_later=Later(clock), client_factory=broker,
                    sleep=sleep)
    sink("agent.busy_overrun", {"agent": "1001", "reason": "lunch"})  # while nobody is connected
    with capture_logs() as logs:
        task = asyncio.create_task(sink.run())
        await until(lambda: len(broker.clients) == 5 and len(sink.outbox) == 0 and sink.connected)
        sink("call.offer_missed", {"call_id": "c9", "agent": "1002", "queue": "support"})
        await until(lambda: len(sink.outbox) == 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len({id(c) for c in broker.clients}) == 5 and all(c.entered == 1 for c in broker.clients)
    assert sleeps == [1.0, 2.0, 4.0, 1.0]  # doubling while refused, reset after a connection
    events = [(e["event"], e.get("reason")) for e in logs if e["event"].startswith("mqtt.")]
    assert events == [("mqtt.disconnected", str(MqttConnectError(5))),
                      ("mqtt.connected", None),
                      ("mqtt.disconnected", str(aiomqtt.MqttCodeError(4, "Could not publish message"))),
                      ("mqtt.connected", None)]  # once per transition, not per attempt
    topics = [p[0] for p in broker.published]
    # the alert buffered before any connection, then the snapshot; the message lost with the
    # connection is sent again on the next one; the later alert too
    assert topics == [
        "cc/agents/1001/state", "cc/queues/support/stats", "cc/events/agent.busy_overrun",
        "cc/agents/1002/state",  # the line dropped under this one: sent again on the next connection
        "cc/queues/sales/stats", "cc/agents/1001/state", "cc/queues/support/stats",
        "cc/events/call.offer_missed"]  # (the support stats of this one wait for stats_every_s)
    assert broker.published[2][2:] == (1, False) and broker.published[0][2:] == (0, True)
    assert broker.published[2][1]["event"] == "agent.busy_overrun"
    assert broker.published[0][1]["event"] == "snapshot"
    assert sink.sent == len(broker.published)


async def test_a_connection_lost_while_idle_is_noticed_and_logged():
    clock = Clock()
    broker = FakeBroker(["up", "up"])
    sink = MqttSink(settings(), FakeView(), clock=clock, call_later=Later(clock), client_factory=broker,
                    sleep=lambda s: asyncio.sleep(0))
    with capture_logs() as logs:
        task = asyncio.create_task(sink.run())
        await until(lambda: sink.connected and len(sink.outbox) == 0)
        broker.clients[0].lost.set()  # the broker goes away; nothing to publish
        await until(lambda: len(broker.clients) == 2 and sink.connected)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [(e["event"], e.get("reason")) for e in logs if e["event"].startswith("mqtt.")] == [
        ("mqtt.connected", None), ("mqtt.disconnected", "[code:7] The connection was lost."),
        ("mqtt.connected", None)]  # the cause, not aiomqtt's "Disconnected during message iteration"
    assert broker.clients[0].exited == 1


async def test_the_sink_never_waits_for_the_broker():
    """With the broker away, a burst of events is only buffered: no await, no I/O, bounded."""
    sink, *_ = make(buffer_size=50)
    for i in range(10_000):
        sink("call.offer_missed", {"call_id": f"c{i}", "queue": "support", "agent": "1001"})
    assert len(sink.outbox) == 50 and sink.outbox.dropped > 9_900


# -- the view of the real core ------------------------------------------------------------------------------
def test_acd_view_reads_agents_and_queue_figures():
    acd = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20)],
              [Agent(agent_id=a, interface=f"PJSIP/{a}", queues=("support",))
               for a in ("1001", "1002", "1003")])
    for a in ("1001", "1002"):
        acd.handle(AgentCommand(agent_id=a, command="login"), T0)
    acd.handle(AgentCommand(agent_id="1002", command="pause", reason="lunch"), T0 + 1)
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0 + 2), T0 + 2)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 3)
    acd.handle(CallArrived(call_id="c2", queue="support", entered_at=T0 + 4), T0 + 4)
    view = AcdView(acd, clock=lambda: T0 + 10)
    assert view.agent("1002") == {"state": "paused", "reason": "lunch", "since": T0 + 1,
                                  "queues": ["support"]}
    assert view.agent("1001")["state"] == "on_call" and view.agent("1001")["reason"] == ""
    assert view.agent("nope") is None and view.queue("nope") is None
    assert view.queue("support") == {"waiting": 1, "longest_wait_s": 6.0, "agents_logged_in": 2,
                                     "agents_available": 0, "agents_on_call": 1, "agents_paused": 1}


def test_service_wires_the_sink_to_the_bus_and_the_core(tmp_path):
    from ari_app.app import Service
    from ari_app.store import Store

    cfg = config.parse({**GOOD, "mqtt": {"host": "127.0.0.1", "prefix": "site1/cc"}})
    svc = Service(cfg, store=Store(tmp_path / "state.db"), clock=lambda: T0)
    assert svc.mqtt is not None and svc.mqtt in svc.bus.sinks
    login = AgentCommand(agent_id="1001", command="login", interface="PJSIP/1001")
    svc._apply(lambda: svc.acd.handle(login, T0))
    topics = [m.topic for m in svc.mqtt.outbox.peek_all()]
    assert topics[0] == "site1/cc/agents/1001/state" and "site1/cc/queues/support/stats" in topics
    assert body(svc.mqtt.outbox.peek_all()[0])["state"] == "available"
    no_mqtt = Service(config.parse(GOOD), store=Store(tmp_path / "other.db"), clock=lambda: T0)
    assert no_mqtt.mqtt is None


# -- config ---------------------------------------------------------------------------------------------
GOOD = {"ari": {"password": "x"}, "queues": {"support": {}},
        "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]}}}


def errors_of(mqtt):
    with pytest.raises(config.ConfigError) as e:
        config.parse({**GOOD, "mqtt": mqtt})
    return e.value.errors


def test_config_mqtt_absent_is_none_and_defaults_are_documented_values():
    assert config.parse(GOOD).mqtt is None
    m = config.parse({**GOOD, "mqtt": {"host": "broker.local"}}).mqtt
    assert (m.host, m.port, m.prefix, m.buffer_size, m.keepalive, m.username, m.password) == (
        "broker.local", 1883, "callcenter", 1000, 60, "", "")


def test_config_mqtt_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("MQTT_TEST_PW", "s3cret")
    m = config.parse({**GOOD, "mqtt": {"host": "h", "username": "ari-app",
                                       "password_env": "MQTT_TEST_PW"}}).mqtt
    assert m.password == "s3cret" and "s3cret" not in repr(m)
    assert errors_of({"host": "h", "username": "u", "password_env": "MQTT_NOT_SET_X"}) == [
        "mqtt.password_env: environment variable MQTT_NOT_SET_X is not set"]


def test_config_mqtt_precise_errors_all_at_once():
    assert errors_of({"port": 0, "prefix": "cc/#", "buffer_size": 0, "keepalive": 1, "reconnect_min_s": 5,
                      "reconnect_max_s": 2, "password": "p", "client_id": "a b", "stats_every_s": -1,
                      "ca_file": "/nonexistent/ca.pem", "hots": "x"}) == [
        'mqtt.host: missing (the broker\'s host name or address, e.g. "127.0.0.1")',
        "mqtt.port: must be 1..65535, got 0",
        "mqtt.password: set username too (a password is sent only with a username)",
        "mqtt.prefix: must be topic levels of letters, digits, _ . - joined by / (no + or #, no leading or "
        "trailing /), got 'cc/#'",
        "mqtt.buffer_size: must be 1..1000000, got 0",
        "mqtt.client_id: must be 1-64 letters, digits, _ . - (or \"\" for a generated one), got 'a b'",
        "mqtt.keepalive: must be 5..65535 (seconds), got 1",
        "mqtt.reconnect_max_s: must be >= reconnect_min_s (5), got 2",
        "mqtt.stats_every_s: must be >= 0 (0 = on every change), got -1",
        "mqtt.ca_file: must be an existing file, got '/nonexistent/ca.pem'",
        "mqtt.hots: unknown key",
    ]
    assert errors_of({"host": "h", "port": "1883", "tls": "yes"}) == [
        "mqtt.port: must be an integer, got '1883'", "mqtt.tls: must be true or false, got 'yes'"]
    assert errors_of({"host": "h", "prefix": "/cc"})[0].startswith("mqtt.prefix: must be topic levels")
    assert errors_of({"host": "h", "prefix": "$SYS"})[0].startswith("mqtt.prefix: must be topic levels")
    assert errors_of({"host": "h", "username": "u", "password": "p", "password_env": "HOME"}) == [
        "mqtt.password: set password or password_env, not both"]
    assert errors_of("broker") == ["mqtt: must be a table, got 'broker'"]


def test_config_mqtt_ca_file_needs_tls(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert errors_of({"host": "h", "ca_file": str(ca)}) == [
        "mqtt.ca_file: set tls = true too (ca_file is used only with TLS)"]
    assert config.parse({**GOOD, "mqtt": {"host": "h", "tls": True, "ca_file": str(ca)}}).mqtt.tls


def test_example_config_documents_mqtt_and_it_parses_when_uncommented(tmp_path, monkeypatch):
    text = Path("config/example.toml").read_text()
    block = re.search(r"^# \[mqtt\].*?(?=^\s*$)", text, re.S | re.M)
    assert block, "config/example.toml has a commented-out [mqtt] section"
    uncommented = "\n".join(ln[2:] if ln.startswith("# ") else ln for ln in block.group(0).splitlines())
    f = tmp_path / "example.toml"
    f.write_text(text + "\n" + uncommented + "\n")
    monkeypatch.setenv("MQTT_PASSWORD", "x")
    m = config.load(f).mqtt
    assert m is not None and m.username == "ari-app" and m.prefix == "callcenter"


def test_readme_documents_every_topic():
    readme = Path("README.md").read_text()
    section = readme.split("## MQTT topics", 1)[1].split("\n## ", 1)[0]
    for topic in ("callcenter/agents/<agent_id>/state", "callcenter/queues/<name>/stats",
                  "callcenter/events/<event>"):
        assert topic in section
    for event in ALERTS:
        assert event in section, event
