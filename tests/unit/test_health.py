"""GET /health (readiness), GET /health/live and ``ari-app health`` (issue 15), on the real ``Service``.

The service talks REST to the fake ARI server (tests/unit/fake_ari.py: canned replies in order), and its
event websocket is a fake socket (``Service(events_connect=...)``): a connect is refused, or opens a socket
the test closes to play a lost link. Each connect asks for ``GET /asterisk/info`` and then resyncs
(application, channels, bridges), so ``Ari.program()`` queues those four replies.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from ari_app import api, config
from ari_app.__main__ import main
from ari_app.api import ApiSettings
from ari_app.app import Service
from ari_app.store import Store
from ari_app.store.base import StoreError

DEBIAN = "22.10.1~dfsg+~cs6.15.60671435-1"
SUPPORTED = ">= 22.0, < 23.0"


class FakeSocket:
    """The event websocket: no events; ``drop()`` closes it from Asterisk's side."""

    def __init__(self) -> None:
        self._q: asyncio.Queue[str | None] = asyncio.Queue()

    def __aiter__(self) -> FakeSocket:
        return self

    async def __anext__(self) -> str:
        item = await self._q.get()
        if item is None:
            raise StopAsyncIteration
        return item

    def drop(self) -> None:
        self._q.put_nowait(None)

    async def close(self) -> None:
        self._q.put_nowait(None)


class Ari:
    """The fake ARI server and the websocket connects of one service."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.refuse = False  # connects fail (Asterisk away)
        self.attempts = 0
        self.sockets: list[FakeSocket] = []

    async def connect(self, url: str) -> FakeSocket:
        self.attempts += 1
        if self.refuse:
            raise ConnectionRefusedError("connection refused")
        self.sockets.append(FakeSocket())
        return self.sockets[-1]

    def program(self, version: Any = DEBIAN) -> None:
        """The replies of one connect: /asterisk/info, then the resync's (nothing to rebuild)."""
        self.server.reply(200, {"system": {"version": version, "entity_id": "fake"}} if version is not None
                          else {"config": {}})
        self.server.reply(200, {"name": "callcenter", "channel_ids": []})
        self.server.reply(200, [])  # GET /channels
        self.server.reply(200, [])  # GET /bridges


def make_config(url: str, **extra: Any) -> config.Config:
    ari = {"url": url, "password": "x", "reconnect_min_s": 0.02, "reconnect_max_s": 0.05,
           **extra.pop("ari", {})}
    return config.parse({"ari": ari, "queues": {"support": {}}, "agents": {"1001": {"queues": ["support"]}},
                         **extra})


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


@asynccontextmanager
async def service(server: Any, tmp_path: Any, *, start: bool = True, refuse: bool = False,
                  version: Any = DEBIAN, **extra: Any) -> AsyncIterator[tuple[Service, Ari]]:
    """A service whose ARI event stream runs (connected and resynced unless ``refuse``); nothing else runs."""
    ari = Ari(server)
    ari.refuse = refuse
    svc = Service(make_config(server.url, **extra), store=Store(tmp_path / "state.db"),
                  events_connect=ari.connect)
    if start and not refuse:
        ari.program(version)
    task = asyncio.create_task(svc.stream.run()) if start else None
    try:
        if start and not refuse:
            await until(svc.stream.connected.is_set)
        yield svc, ari
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await svc.dispatcher.aclose()
        await svc.ari.aclose()
        svc.store.close()


@asynccontextmanager
async def http(svc: Service) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(api.build_app(svc, ApiSettings(listen_port=0)))) as c:
        yield c


async def health(client: TestClient) -> tuple[int, dict[str, Any]]:
    r = await client.get("/health")
    return r.status, await r.json()


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [x for x in logs if x["event"] == name]


# -- ARI: connected and resynced ---------------------------------------------------------------------------
async def test_503_while_ari_is_down_or_resyncing_200_once_connected_and_resynced(ari_server, tmp_path):
    with capture_logs() as logs:
        async with service(ari_server, tmp_path, refuse=True) as (svc, ari), http(svc) as client:
            await until(lambda: ari.attempts >= 2)
            assert await health(client) == (503, {
                "status": "unavailable", "failing": ["ari"],
                "checks": {"ari": {"ok": False, "reason": "not connected"}, "store": {"ok": True}}})

            ari.program("22.10.1")
            ari.refuse = False
            await until(svc.stream.connected.is_set)
            assert await health(client) == (200, {"status": "ok", "checks": {
                "ari": {"ok": True, "asterisk": "22.10.1"}, "store": {"ok": True}}})

            ari.server.hold()  # the next connect's requests wait at Asterisk: connected, not resynced
            ari.program("22.10.1")
            ari.sockets[-1].drop()
            await until(lambda: len(ari.sockets) == 2 and not svc.stream.connected.is_set())
            await ari.server.arrived(5)
            status, body = await health(client)
            assert (status, body["failing"], body["checks"]["ari"]) == (
                503, ["ari"], {"ok": False, "reason": "connected, resync not finished"})
            ari.server.release()
            await until(svc.stream.connected.is_set)
            assert (await health(client))[0] == 200
    assert [x["version"] for x in events(logs, "asterisk.version")] == ["22.10.1"] * 2  # once per connect
    assert [r.path for r in ari.server.requests[::4]] == ["/ari/asterisk/info"] * 2
    assert not events(logs, "audit.api")  # /health writes no audit line, as before


async def test_live_answers_200_while_not_ready(ari_server, tmp_path):
    with capture_logs() as logs:
        async with service(ari_server, tmp_path, refuse=True) as (svc, _), http(svc) as client:
            r = await client.get("/health/live")
            assert (r.status, await r.json()) == (200, {"status": "ok"})
            assert (await health(client))[0] == 503
            r = await client.get("/health/live", headers={"Authorization": "Bearer nonsense"})  # no auth
            assert r.status == 200
    assert not events(logs, "audit.api")


# -- the store -----------------------------------------------------------------------------------------------
async def test_503_naming_store_while_the_outbox_holds_refused_writes(ari_server, tmp_path):
    refusing = [True]

    def write() -> None:
        if refusing[0]:
            raise StoreError("database is locked")

    async with service(ari_server, tmp_path) as (svc, _), http(svc) as client:
        assert (await health(client))[0] == 200
        svc.writes.write("facts", write, svc.clock(), rows=3)
        svc.writes.write("agent_log", lambda: None, svc.clock())  # held behind it, in order
        status, body = await health(client)
        assert (status, body["status"], body["failing"]) == (503, "unavailable", ["store"])
        store = body["checks"]["store"]
        assert store | {"down_s": 0} == {"ok": False, "held_writes": 2, "down_s": 0,
                                         "reason": "the store refuses writes: database is locked"}
        assert body["checks"]["ari"]["ok"] is True
        refusing[0] = False
        svc.writes.flush(svc.clock())  # the retry lands them: store.recovered
        assert await health(client) == (200, {"status": "ok", "checks": {
            "ari": {"ok": True, "asterisk": DEBIAN}, "store": {"ok": True}}})


# -- AMI and MQTT: only when configured ----------------------------------------------------------------------
async def test_ami_and_mqtt_are_absent_when_not_configured(ari_server, tmp_path):
    async with service(ari_server, tmp_path) as (svc, _), http(svc) as client:
        status, body = await health(client)
        assert (status, sorted(body["checks"])) == (200, ["ari", "store"])
        assert svc.readiness() == body["checks"]


async def test_ami_and_mqtt_fail_readiness_when_configured_and_not_connected(ari_server, tmp_path):
    extra = {"ami": {"password": "y"}, "mqtt": {"host": "127.0.0.1"}}
    async with service(ari_server, tmp_path, **extra) as (svc, _), http(svc) as client:
        assert svc.ami is not None and svc.mqtt is not None  # configured; their tasks are not run here
        status, body = await health(client)
        assert (status, body["failing"]) == (503, ["ami", "mqtt"])
        assert body["checks"] == {"ari": {"ok": True, "asterisk": DEBIAN}, "store": {"ok": True},
                                  "ami": {"ok": False, "reason": "not connected"},
                                  "mqtt": {"ok": False, "reason": "not connected yet"}}
        svc.ami.connected.set()  # what AmiLink.run does while logged in
        svc.mqtt.connected = True  # what MqttSink.run does once the broker took the connection
        assert await health(client) == (200, {"status": "ok", "checks": {
            "ari": {"ok": True, "asterisk": DEBIAN}, "store": {"ok": True}, "ami": {"ok": True},
            "mqtt": {"ok": True}}})
        svc.mqtt._down(OSError("connection lost"))
        status, body = await health(client)
        assert (status, body["failing"], body["checks"]["mqtt"]) == (503, ["mqtt"],
                                                                    {"ok": False, "reason": "disconnected"})
        svc.ami.connected.clear()
        assert (await health(client))[1]["failing"] == ["ami", "mqtt"]


# -- the Asterisk version (issue 15: checked at every connect against SUPPORTED_ASTERISK) --------------------
@pytest.mark.parametrize("version, reason", [
    ("21.5.0", "Asterisk 21.5 (21.5.0) is not supported (>= 22.0, < 23.0)"),
    ("23.0.0", "Asterisk 23.0 (23.0.0) is not supported (>= 22.0, < 23.0)"),
    ("garbage", "Asterisk version 'garbage' is not a version (>= 22.0, < 23.0)"),
    (None, "Asterisk version '' is not a version (>= 22.0, < 23.0)"),  # no system.version at all
])
async def test_unsupported_asterisk_fails_readiness_and_is_logged(ari_server, tmp_path, version, reason):
    with capture_logs() as logs:
        async with service(ari_server, tmp_path, version=version) as (svc, _), http(svc) as client:
            assert await health(client) == (503, {"status": "unavailable", "failing": ["ari"], "checks": {
                "ari": {"ok": False, "reason": reason, "asterisk": version or ""}, "store": {"ok": True}}})
    [line] = events(logs, "asterisk.unsupported_version")
    assert line == {"event": "asterisk.unsupported_version", "log_level": "error", "version": version or "",
                    "supported": SUPPORTED, "allowed": False,
                    "hint": "[ari] allow_unsupported_asterisk = true makes the service ready all the same"}
    assert not events(logs, "asterisk.version")
    assert events(logs, "ari.resynced")  # calls are served all the same


@pytest.mark.parametrize("version", [DEBIAN, "22.0.0", "22.99.3", "1:22.10.1+dfsg+~cs6.17.60671434-1"])
async def test_supported_asterisk_is_ready_and_logged_once(ari_server, tmp_path, version):
    with capture_logs() as logs:
        async with service(ari_server, tmp_path, version=version) as (svc, _), http(svc) as client:
            assert (await health(client)) == (200, {"status": "ok", "checks": {
                "ari": {"ok": True, "asterisk": version}, "store": {"ok": True}}})
    assert events(logs, "asterisk.version") == [{"event": "asterisk.version", "log_level": "info",
                                                 "version": version, "supported": SUPPORTED}]
    assert not events(logs, "asterisk.unsupported_version")


async def test_allow_unsupported_asterisk_makes_it_ready_with_a_warning(ari_server, tmp_path):
    with capture_logs() as logs:
        async with service(ari_server, tmp_path, version="21.5.0",
                           ari={"allow_unsupported_asterisk": True}) as (svc, _), http(svc) as client:
            assert await health(client) == (200, {"status": "ok", "checks": {
                "ari": {"ok": True, "asterisk": "21.5.0"}, "store": {"ok": True}}})
    assert events(logs, "asterisk.unsupported_version") == [{
        "event": "asterisk.unsupported_version", "log_level": "warning", "version": "21.5.0",
        "supported": SUPPORTED, "allowed": True}]


async def test_asterisk_info_failing_makes_the_connection_again(ari_server, tmp_path):
    with capture_logs() as logs:
        async with service(ari_server, tmp_path, start=False) as (svc, ari), http(svc) as client:
            ari_server.reply(503, {"message": "shutting down"})  # GET /asterisk/info at the first connect
            ari.program("22.10.1")  # the second connect
            task = asyncio.create_task(svc.stream.run())
            try:
                await until(svc.stream.connected.is_set)
                assert (await health(client))[0] == 200
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    [failed] = events(logs, "asterisk.info_failed")
    assert "shutting down" in failed["error"]
    assert len(ari.sockets) == 2 and [x["version"] for x in events(logs, "asterisk.version")] == ["22.10.1"]


def test_config_allow_unsupported_asterisk(tmp_path):
    assert make_config("http://127.0.0.1:8088/ari").ari.allow_unsupported_asterisk is False
    allowed = make_config("http://x/ari", ari={"allow_unsupported_asterisk": True})
    assert allowed.ari.allow_unsupported_asterisk is True
    with pytest.raises(config.ConfigError) as e:
        make_config("http://x/ari", ari={"allow_unsupported_asterisk": "yes"})
    assert e.value.errors == ["ari.allow_unsupported_asterisk: must be true or false, got 'yes'"]


# -- ari-app health ------------------------------------------------------------------------------------------
async def run_cli(*argv: str) -> tuple[int, str, str]:
    """``python -m ari_app health …`` as a container's healthcheck runs it."""
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ari_app", "health", *argv,
                                                stdout=pipe, stderr=pipe)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_exits_0_when_ready_and_1_when_not(ari_server, tmp_path):
    settings = ApiSettings(listen_port=0)
    async with service(ari_server, tmp_path) as (svc, ari), api.listening(svc, settings) as url:
        code, out, err = await run_cli("--url", url)
        assert (code, err) == (0, "")
        assert out.count("\n") == 1 and json.loads(out) == {"status": "ok", "checks": {
            "ari": {"ok": True, "asterisk": DEBIAN}, "store": {"ok": True}}}

        ari.refuse = True
        ari.sockets[-1].drop()
        await until(lambda: not svc.stream.connected.is_set())
        code, out, err = await run_cli("--url", url + "/")
        assert (code, err) == (1, "")
        assert out.count("\n") == 1 and json.loads(out)["failing"] == ["ari"]


async def test_cli_takes_the_url_from_ari_app_api(ari_server, tmp_path, monkeypatch, capsys):
    with capture_logs():  # the service's log lines stay out of stdout
        settings = ApiSettings(listen_port=0)
        async with service(ari_server, tmp_path) as (svc, _), api.listening(svc, settings) as u:
            monkeypatch.setenv("ARI_APP_API", u)
            capsys.readouterr()
            assert await asyncio.to_thread(main, ["health"]) == 0
            assert json.loads(capsys.readouterr().out)["status"] == "ok"


def test_cli_cannot_connect_exits_1_with_one_line(capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["health", "--url", f"http://127.0.0.1:{port}"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"ari-app health: cannot reach the API at http://127.0.0.1:{port}: ")


def test_cli_usage_errors_exit_1_not_2(capsys):
    assert main(["health", "--bogus"]) == 1  # 2 means something else to a container engine's healthcheck
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["health", "--help"]) == 0


async def test_cli_takes_the_url_from_the_config(ari_server, tmp_path):
    """The compose healthcheck passes the config: a changed [api] listen_port is followed."""
    settings = ApiSettings(listen_port=0)
    async with service(ari_server, tmp_path) as (svc, _), api.listening(svc, settings) as url:
        port = int(url.rsplit(":", 1)[1])
        cfg = tmp_path / "c.toml"
        cfg.write_text(f'[api]\nlisten_host = "0.0.0.0"\nlisten_port = {port}\n[ari]\npassword_env = "NOT_SET"\n')
        code, out, err = await run_cli("--config", str(cfg))
        assert (code, err) == (0, "") and json.loads(out)["status"] == "ok"
        cfg.write_text(f"[api]\nlisten_port = {port + 1 if port < 65535 else port - 1}\n")
        code, out, err = await run_cli("--config", str(cfg), "--timeout", "2")
        assert code == 1 and "cannot reach the API" in err
        cfg.write_text('[api]\nlisten_port = "x"\n')
        code, out, err = await run_cli("--config", str(cfg))
        assert code == 1 and "listen_port 'x'" in err


def test_api_url_of(tmp_path):
    from ari_app.api._cli import api_url_of

    cfg = tmp_path / "c.toml"
    for text, want in (("", "http://127.0.0.1:8090"), ('[api]\nlisten_host = "::"\nlisten_port = 9\n', "http://127.0.0.1:9"),
                       ('[api]\nlisten_host = "::1"\n', "http://[::1]:8090"),
                       ('[api]\nlisten_host = "10.0.0.5"\nlisten_port = 18090\n', "http://10.0.0.5:18090")):
        cfg.write_text(text)
        assert api_url_of(str(cfg)) == want
