"""The MQTT sink against a REAL Mosquitto broker and the real Asterisk (issue 6).

Each test starts its own ``mosquitto`` on a free loopback port with ``allow_anonymous false``
and a password file (made with ``mosquitto_passwd``), and the service with
tests/e2e/config.toml plus an ``[mqtt]`` section. The subscribers are aiomqtt clients.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import shutil
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from conftest import E2E_API, E2E_TOKEN, Service, config_with

MQTT_USER = "ari-app"
MQTT_PASSWORD = "e2e-mqtt-test-only-password"  # test-only: the broker lives for one test in a tmp dir
PREFIX = "cc-e2e"
NUMBER = "13812345678"  # a caller's number: must never reach the broker (R-PRIVACY)


def _tool(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()), None)
    assert path, f"{name} not found: install the Debian packages mosquitto and mosquitto-clients"
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A real Mosquitto on 127.0.0.1:<free port>, users from a password file, persistence in its dir."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        passwd = self.dir / "passwd"
        subprocess.run([_tool("mosquitto_passwd"), "-c", "-b", str(passwd), MQTT_USER, MQTT_PASSWORD],
                       check=True, capture_output=True, timeout=10)
        passwd.chmod(0o600)
        # As root Mosquitto drops to user "mosquitto", which could not read this directory: stay who we are.
        (self.dir / "mosquitto.conf").write_text(
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {passwd}\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "log_dest stdout\n"
            "log_type all\n")
        self.log = self.dir / "mosquitto.log"

    def start(self) -> "Broker":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([_tool("mosquitto"), "-c", str(self.dir / "mosquitto.conf")],
                                         stdout=out, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"mosquitto exited:\n{self.log.read_text()[-2000:]}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen on {self.port}:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # saves the persistence db (sessions, retained messages)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "mosquitto").start()
    yield b
    b.stop()


class Subscriber:
    """Subscribes to ``<PREFIX>/#`` (QoS 1) and keeps every message; reconnects (and resubscribes) by itself.

    ``client_id`` with ``persistent=True``: a persistent session, so QoS 1 messages published while it
    is away are kept for it by the broker."""

    def __init__(self, port: int, client_id: str | None = None, persistent: bool = False) -> None:
        self.port, self.client_id, self.persistent = port, client_id, persistent
        self.messages: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> "Subscriber":
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 10)
        return self

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, username=MQTT_USER, password=MQTT_PASSWORD,
                                          identifier=self.client_id, clean_session=not self.persistent,
                                          timeout=5) as c:
                    await c.subscribe(f"{PREFIX}/#", qos=1)
                    self.connected.set()
                    async for m in c.messages:
                        self.messages.append({"topic": str(m.topic), "retain": m.retain, "qos": m.qos,
                                              "raw": bytes(m.payload).decode(), "body": json.loads(m.payload),
                                              "at": time.time()})
            except aiomqtt.MqttError:
                self.connected.clear()
                await asyncio.sleep(0.2)

    def find(self, topic: str, **match: Any) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["topic"] == topic
                and all(m["body"].get(k) == v for k, v in match.items())]

    async def wait(self, topic: str, timeout: float = 10, since_ts: float | None = None,
                   **match: Any) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = [m for m in self.find(topic, **match) if since_ts is None or m["body"]["ts"] >= since_ts]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no MQTT message on {topic} {match} within {timeout}s; got: "
                             + ", ".join(f"{m['topic']}:{m['body'].get('event')}"
                                         for m in self.messages[-20:]))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def mqtt_config(tmp_path: Path, port: int) -> Path:
    """tests/e2e/config.toml with an [mqtt] section."""
    return config_with(tmp_path, (f'\n[mqtt]\nhost = "127.0.0.1"\nport = {port}\nusername = "{MQTT_USER}"\n'
                                  f'password_env = "E2E_MQTT_PASSWORD"\nprefix = "{PREFIX}"\nbuffer_size = 200\n'
                                  "reconnect_min_s = 0.2\nreconnect_max_s = 1\nstats_every_s = 0.5\n"),
                       name="config-mqtt.toml")


@pytest.fixture
async def mqtt_service(asterisk, ari, tmp_path, broker):
    svc = Service(tmp_path, config=mqtt_config(tmp_path, broker.port),
                  env={"E2E_MQTT_PASSWORD": MQTT_PASSWORD}).start()
    await svc.wait_for("ari.resynced")
    await svc.wait_for("mqtt.connected", timeout=10)
    yield svc
    svc.stop()
    assert not svc.errors(), f"service logged errors: {svc.errors()[:3]}"


async def pause(agent_id: str, reason: str) -> None:
    async with httpx.AsyncClient(base_url=E2E_API, headers={"Authorization": f"Bearer {E2E_TOKEN}"},
                                 timeout=5) as http:
        r = await http.post(f"/agents/{agent_id}/pause", json={"reason": reason})
        assert r.status_code == 200, r.text


async def test_anonymous_and_wrong_password_clients_are_refused_by_the_broker(broker):
    for creds in ({}, {"username": MQTT_USER, "password": "wrong"}):
        with pytest.raises(aiomqtt.MqttCodeError) as e:
            async with aiomqtt.Client("127.0.0.1", broker.port, timeout=5, **creds):
                pass
        assert str(e.value) == "[code:135] Not authorized"  # CONNACK refused, not a network error
    async with aiomqtt.Client("127.0.0.1", broker.port, username=MQTT_USER, password=MQTT_PASSWORD,
                              timeout=5) as ok:
        await ok.publish(f"{PREFIX}/probe", b"{}", qos=1)  # the configured user gets in


async def test_retained_agent_state_queue_stats_and_the_busy_overrun_alert(mqtt_service, ari, broker):
    await pause("2005", "lunch")
    paused = await mqtt_service.wait_for("agent.paused", agent="2005", timeout=5)
    # the log line comes before the service's publish reaches the broker: a first subscriber waits for the
    # state to arrive there (live or retained; a later subscriber raced it once in CI and got it live)
    probe = await Subscriber(broker.port).start()
    try:
        await probe.wait(f"{PREFIX}/agents/2005/state", state="paused")
    finally:
        await probe.stop()
    # a subscriber that comes later gets the agent's state from the broker: retained
    sub = await Subscriber(broker.port).start()
    try:
        state = await sub.wait(f"{PREFIX}/agents/2005/state", state="paused")
        assert state["retain"] is True
        b = state["body"]
        assert (b["schema"], b["agent"], b["reason"], b["queues"]) == (1, "2005", "lunch", ["busy"])
        assert b["event"] in ("agent.paused", "snapshot") and abs(b["ts"] - time.time()) < 30
        paused_at = datetime.fromisoformat(paused["timestamp"].replace("Z", "+00:00")).timestamp()
        assert b["time"].endswith("Z") and abs(b["since"] - paused_at) < 1
        # R-BUSY: the limit is 3 s in the e2e config; the alert arrives on its own topic, QoS 1
        alert = await sub.wait(f"{PREFIX}/events/agent.busy_overrun", timeout=8, agent="2005")
        assert alert["qos"] == 1 and alert["retain"] is False
        a = alert["body"]
        assert (a["schema"], a["event"], a["reason"], a["rule"]) == (
            1, "agent.busy_overrun", "lunch", "R-BUSY")
        assert a["paused_s"] >= 3
        await mqtt_service.wait_for("agent.busy_overrun", agent="2005", timeout=2)

        # a call with a caller number: the queue's stats count it, the number never reaches the broker
        await ari.call_queue("lab", talk_s=1, caller_id=NUMBER)
        answered = await mqtt_service.wait_for("call.answered", queue="lab", timeout=10)
        await mqtt_service.wait_for("call.completed", call_id=answered["call_id"], timeout=15)
        stats = await sub.wait(f"{PREFIX}/queues/lab/stats", timeout=5, answered_today=1)
        s = stats["body"]
        assert s["schema"] == 1 and s["queue"] == "lab" and s["agents_logged_in"] == 1 and s["waiting"] == 0
        await sub.wait(f"{PREFIX}/agents/2001/state", timeout=5, state="on_call")
        assert sub.find(f"{PREFIX}/events/call.offer_missed") == []  # not an alert here: nothing missed
        leaked = [m for m in sub.messages if NUMBER in m["raw"] or "*5678" in m["raw"]]
        assert leaked == [] and len(sub.messages) > 5
    finally:
        await sub.stop()


async def test_broker_down_calls_still_answered_and_events_resume(mqtt_service, ari, broker):
    sub = await Subscriber(broker.port, client_id="e2e-persistent-sub", persistent=True).start()
    try:
        await sub.wait(f"{PREFIX}/agents/2001/state")  # the snapshot of the service's connect
        broker.stop()
        await mqtt_service.wait_for("mqtt.disconnected", timeout=10)

        # the broker is away: calls are answered at once all the same
        await ari.call_queue("lab", talk_s=2)
        answered = await mqtt_service.wait_for("call.answered", queue="lab", timeout=10)
        assert answered["agent"] == "2001" and answered["wait_s"] < 3
        await mqtt_service.wait_for("call.completed", call_id=answered["call_id"], timeout=15)
        await pause("2005", "meeting")  # the API answers too
        overrun = await mqtt_service.wait_for("agent.busy_overrun", agent="2005", timeout=8)
        assert overrun["reason"] == "meeting"
        assert len(mqtt_service.events("mqtt.disconnected")) == 1  # once, not per reconnect attempt

        restarted = time.time()
        broker.start()
        await mqtt_service.wait_for("mqtt.connected", count=2, timeout=10)
        # the alert raised while the broker was away was buffered and arrives now
        alert = await sub.wait(f"{PREFIX}/events/agent.busy_overrun", timeout=10, agent="2005",
                               reason="meeting")
        assert alert["body"]["ts"] < restarted and alert["at"] >= restarted
        # and the retained states are current again
        state = await sub.wait(f"{PREFIX}/agents/2005/state", timeout=10, since_ts=restarted, state="paused")
        assert state["body"]["reason"] == "meeting"
        await sub.wait(f"{PREFIX}/queues/lab/stats", timeout=10, since_ts=restarted, answered_today=1)
        # new events flow again: a call after the broker came back
        await ari.call_queue("lab", talk_s=1)
        await sub.wait(f"{PREFIX}/queues/lab/stats", timeout=10, answered_today=2)
        assert mqtt_service.events("mqtt.dropped") == []
    finally:
        await sub.stop()
