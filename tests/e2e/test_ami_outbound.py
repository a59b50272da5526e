"""R-KPI outbound per day (日呼出量) from AMI Cdr events, against the real Asterisk.

An agent's own ``9<number>`` call never enters Stasis: SIPp phone 1011 (agent 7001's configured
phone) dials 9 + the number, the dialplan's [callcenter-outbound] dials PJSIP/<number>@trunk, and
the "customer" is a SIPp phone registered as the trunk (tests/e2e/asterisk/pjsip_e2e.conf). The
service, with ``[ami]`` configured, stores each call's CDR as an outbound call.

The watchdog: the service reaches AMI through a TCP proxy in this test; freezing the proxy (the
connection stays open, nothing passes) must be noticed by the unanswered Ping and the link made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

from conftest import Service, ari_time, config_with
from sipp import SippCaller, SippPhone

AGENT, PHONE, PHONE_SECRET = "7001", "1011", "dev-1011"
# the customers' numbers (R-PRIVACY: never in the log)
ANSWERS, NEVER_ANSWERS, FAILS = "13800000001", "13900000002", "13700000003"


def write_config(tmp_path: Path, *, port: int = 5038, ping_every_s: float = 1,
                 ping_timeout_s: float = 2) -> Path:
    """tests/e2e/config.toml + [ami] + agent 7001 (phone 1011, in no queue: it only dials out)."""
    return config_with(tmp_path, f"""
[ami]
host = "127.0.0.1"
port = {port}
username = "callcenter"
password = "callcenter-dev"
ping_every_s = {ping_every_s}
ping_timeout_s = {ping_timeout_s}
reconnect_min_s = 0.2
reconnect_max_s = 1

[agents.{AGENT}]
interface = "PJSIP/{PHONE}"
queues = []
""")


def outbound_rows(workdir: Path) -> list[dict]:
    db = sqlite3.connect(workdir / "state.db")
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM outbound_calls ORDER BY at")]
    finally:
        db.close()


async def agent_channel(ari, timeout: float = 10) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for ch in await ari.channels():
            if ch["name"].startswith(f"PJSIP/{PHONE}-"):
                return ch
        await asyncio.sleep(0.05)
    raise AssertionError(f"no channel of PJSIP/{PHONE} within {timeout} s: {await ari.channels()}")


async def answered_call(svc: Service, watcher, *, talk_s: float = 3) -> tuple[float, float]:
    """Agent 1011 dials 9 + ANSWERS; the customer answers after 1 s and hangs up talk_s later.

    Returns (when the agent dialled, the customer's talk time as ARI saw it on the trunk channel)."""
    async with SippPhone("trunk", "dev-trunk", answer_after_s=1, hangup_after_s=talk_s) as trunk:
        dialled = time.time()
        async with SippCaller(PHONE, PHONE_SECRET, "9" + ANSWERS, duration_s=None, timeout_s=30) as agent:
            rc = await agent.wait()
            assert rc == 0, agent.report() + trunk.report()
        assert trunk.count("answered") == 1, trunk.report()
    up = await watcher.wait("ChannelStateChange", channel__name=lambda n: str(n).startswith("PJSIP/trunk-"),
                            channel__state="Up")
    gone = await watcher.wait("ChannelDestroyed", channel__id=up["channel"]["id"])
    return dialled, ari_time(gone) - ari_time(up)


async def test_agents_own_outbound_calls_are_counted_from_the_cdr(asterisk, ari, watcher, tmp_path):
    svc = Service(tmp_path, config=write_config(tmp_path)).start()
    try:
        await svc.wait_for("ari.resynced", timeout=20)
        await svc.wait_for("ami.connected", timeout=10)

        # 1: the customer answers, talks 3 s and hangs up
        dialled, talked = await answered_call(svc, watcher, talk_s=3)
        first = await svc.wait_for("call.outbound", timeout=10)

        # 2: the customer's phone rings and rings; after 2 s of ringing the agent gives up
        async with SippPhone("trunk", "dev-trunk", never_answer=True) as trunk:
            async with SippCaller(PHONE, PHONE_SECRET, "9" + NEVER_ANSWERS, duration_s=None,
                                  timeout_s=30) as agent:
                await trunk.wait_for("INVITE", timeout=10)
                ch = await agent_channel(ari)
                await asyncio.sleep(2)
                await ari.delete(f"/channels/{ch['id']}")  # the agent's phone hangs up while it rings out
                await agent.wait()
            await trunk.wait_for("CANCEL while ringing", timeout=10)
        second = await svc.wait_for("call.outbound", count=2, timeout=10)

        # 3: the trunk is unreachable (nothing registered): Dial fails at once, still an attempt
        # (cdr.conf unanswered = yes: otherwise such a call leaves no CDR at all)
        assert (await ari.get("/endpoints/PJSIP/trunk"))["state"] == "offline"
        async with SippCaller(PHONE, PHONE_SECRET, "9" + FAILS, duration_s=None, timeout_s=15) as agent:
            assert await agent.wait() != 0, agent.report()  # the agent's phone gets an error answer
        third = await svc.wait_for("call.outbound", count=3, timeout=10)
    finally:
        svc.stop()

    rows = outbound_rows(tmp_path)
    mine = [r for r in rows if r["agent_id"] == AGENT]
    assert len(mine) == 3 and len(rows) == 3, rows
    [talk] = [r for r in mine if r["connected"]]
    missed, failed = [r for r in mine if not r["connected"]]
    assert talk["kind"] == missed["kind"] == failed["kind"] == "own"
    assert (third["connected"], third["disposition"], third["call_id"]) == (
        False, "FAILED", failed["call_id"])
    assert failed["talk_s"] == 0 and failed["at"] > missed["at"]
    assert abs(talk["talk_s"] - talked) <= 1, (talk, talked)
    assert 2 <= talk["talk_s"] <= 4.5, talk
    assert abs(talk["at"] - dialled) <= 2, (talk["at"], dialled)  # the start as an epoch, whatever the zones
    assert missed["talk_s"] == 0 and missed["at"] > talk["at"]
    assert (first["agent"], first["connected"], first["disposition"], first["call_id"]) == (
        AGENT, True, "ANSWERED", talk["call_id"])
    assert (second["agent"], second["connected"], second["disposition"], second["call_id"]) == (
        AGENT, False, "NO ANSWER", missed["call_id"])
    assert first["phone"] == second["phone"] == f"PJSIP/{PHONE}"
    log = svc.log_path.read_text()
    assert not [n for n in (ANSWERS, NEVER_ANSWERS, FAILS) if n in log]  # R-PRIVACY
    assert not svc.events("ami.cdr_malformed")
    assert not svc.errors(), svc.errors()[:3]


class FreezableProxy:
    """A TCP proxy to Asterisk's AMI; ``freeze()`` turns the open connections into black holes:
    they stay open but no byte passes either way. Connections made afterwards pass normally."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5038)) -> None:
        self.upstream = upstream
        self.connections = 0
        self.frozen: set[int] = set()
        self.server: asyncio.base_events.Server | None = None
        self.tasks: set[asyncio.Task] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> "FreezableProxy":
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self.frozen.update(range(1, self.connections + 1))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = self.connections
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.writers += [writer, up_writer]
        pumps = [asyncio.create_task(self._pump(n, reader, up_writer)),
                 asyncio.create_task(self._pump(n, up_reader, writer))]
        self.tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for t in pumps:
            t.cancel()
        for w in (writer, up_writer):
            w.close()

    async def _pump(self, n: int, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                if n not in self.frozen:
                    dst.write(data)
                    await dst.drain()

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for w in self.writers:
            w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_a_frozen_ami_link_is_noticed_by_its_ping_and_made_again(asterisk, ari, watcher, tmp_path):
    proxy = await FreezableProxy().start()
    svc = Service(tmp_path, config=write_config(tmp_path, port=proxy.port, ping_every_s=0.5,
                                                ping_timeout_s=1)).start()
    try:
        await svc.wait_for("ari.resynced", timeout=20)
        await svc.wait_for("ami.connected", timeout=10)
        assert proxy.connections == 1
        await asyncio.sleep(1.5)  # pings are answered: the link stays up
        assert not svc.events("ami.disconnected")

        proxy.freeze()  # the TCP connection stays open; Asterisk's answers never arrive
        frozen_at = time.monotonic()
        down = await svc.wait_for("ami.disconnected", timeout=10)
        noticed_s = time.monotonic() - frozen_at
        assert down["reason"] == "no answer to Ping within 1 s" and down["connection"] == 1
        assert noticed_s < 4, noticed_s  # one ping period + one ping timeout, and some slack
        again = await svc.wait_for("ami.connected", count=2, timeout=10)
        assert again["connection"] == 2 and proxy.connections == 2
        assert svc.events("ami.reconnecting")

        # the new link carries CDRs: an outbound call now is counted
        await answered_call(svc, watcher, talk_s=1)
        counted = await svc.wait_for("call.outbound", timeout=10)
        assert (counted["agent"], counted["connected"]) == (AGENT, True)
    finally:
        svc.stop()
        await proxy.stop()

    assert len(svc.events("ami.disconnected")) == 1  # once per lost link
    assert len(svc.events("ari.connected")) == 1 and not svc.events("ari.disconnected")  # calls never noticed
    assert [r["agent_id"] for r in outbound_rows(tmp_path)] == [AGENT]
    assert not svc.errors(), svc.errors()[:3]
