"""The AMI link's watchdog and reconnect (ari_app.ami): fake connections, and panoramisk against a
fake AMI server on a local socket. Short timeouts (tens of ms), no Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from ari_app.ami import AmiError, AmiLink
from ari_app.config import AmiSettings

FAST = AmiSettings(host="127.0.0.1", port=5038, password="x", ping_every_s=0.01, ping_timeout_s=0.05,
                   reconnect_min_s=0.01, reconnect_max_s=0.04)


class FakeConn:
    """A logged-in connection; ``pongs``: how many Pings it answers before it goes silent."""

    def __init__(self, pongs: int = 10**9, reply: Mapping[str, str] | None = None) -> None:
        self.pongs, self.reply = pongs, reply or {"Response": "Success", "Ping": "Pong"}
        self.pings = 0
        self.closed_by_us = False
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def action(self, fields: Mapping[str, str]) -> Mapping[str, Any]:
        assert fields == {"Action": "Ping"}
        self.pings += 1
        if self.pings > self.pongs:
            await asyncio.Event().wait()  # a frozen peer: no answer, ever
        return self.reply

    async def wait_closed(self) -> str:
        return await asyncio.shield(self._closed)

    def peer_closes(self, reason: str = "closed by Asterisk") -> None:
        self._closed.set_result(reason)

    def close(self) -> None:
        self.closed_by_us = True


class Connector:
    """The link's ``connect``: hands out the planned connections (or raises the planned errors)."""

    def __init__(self, *plan: FakeConn | BaseException | str) -> None:
        self.plan = list(plan)
        self.calls: list[tuple[str, ...]] = []
        self.made: list[FakeConn] = []
        self.handlers: Mapping[str, Any] = {}

    async def __call__(self, settings: AmiSettings, handlers: Mapping[str, Any], classes: tuple[str, ...]):
        self.calls.append(classes)
        self.handlers = handlers
        step = self.plan.pop(0) if self.plan else "hang"
        if step == "hang":
            await asyncio.Event().wait()
        if isinstance(step, BaseException):
            raise step
        assert isinstance(step, FakeConn)
        self.made.append(step)
        return step


async def run_until(link: AmiLink, logs: list[dict], predicate, timeout: float = 3.0) -> None:
    task = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(timeout):
            while not predicate(logs):
                await asyncio.sleep(0.005)
    finally:
        await cancelled(task)


def events(logs: list[dict], name: str) -> list[dict]:
    return [e for e in logs if e["event"] == name]


async def logged(logs: list[dict], event: str, count: int = 1, timeout: float = 2) -> None:
    """Until ``event`` was logged ``count`` times (a TimeoutError after ``timeout`` s)."""
    async with asyncio.timeout(timeout):
        while len(events(logs, event)) < count:
            await asyncio.sleep(0.005)


async def cancelled(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task



async def test_a_ping_that_is_never_answered_closes_the_link_and_reconnects():
    first = FakeConn(pongs=2)
    connector = Connector(first, FakeConn())
    link = AmiLink(FAST, {}, connect=connector)
    with capture_logs() as logs:
        await run_until(link, logs, lambda lg: len(events(lg, "ami.connected")) == 2)
    assert first.pings == 3 and first.closed_by_us
    down = events(logs, "ami.disconnected")
    assert [(d["reason"], d["connection"]) for d in down] == [("no answer to Ping within 0.05 s", 1)]
    assert events(logs, "ami.reconnecting")[0]["delay"] == 0.01
    assert [e["event"] for e in logs if e["event"].startswith("ami.")] == [
        "ami.connected", "ami.disconnected", "ami.reconnecting", "ami.connected"]
    assert [e["connection"] for e in events(logs, "ami.connected")] == [1, 2]
    assert link.connections == 2


async def test_answered_pings_keep_the_link_up():
    conn = FakeConn()
    link = AmiLink(FAST, {}, connect=Connector(conn))
    with capture_logs() as logs:
        await run_until(link, logs, lambda lg: conn.pings >= 5)
        assert link.connected.is_set() is False  # cancelled: no longer connected
    assert events(logs, "ami.disconnected") == [] and events(logs, "ami.reconnecting") == []
    assert conn.closed_by_us  # cancelling the link closes its connection


async def test_the_peer_closing_is_noticed_without_waiting_for_a_ping():
    slow = AmiSettings(password="x", ping_every_s=60, ping_timeout_s=0.05, reconnect_min_s=0.01)
    conn = FakeConn()
    link = AmiLink(slow, {}, connect=Connector(conn, FakeConn()))
    with capture_logs() as logs:
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.connected.wait(), 1)
        conn.peer_closes("Asterisk shut down (Uncleanly)")
        await logged(logs, "ami.connected", count=2, timeout=1)
        await cancelled(task)
    assert conn.pings == 0
    assert [d["reason"] for d in events(logs, "ami.disconnected")] == ["Asterisk shut down (Uncleanly)"]


async def test_a_refused_ping_is_a_dead_link():
    conn = FakeConn(reply={"Response": "Error", "Message": "Permission denied"})
    link = AmiLink(FAST, {}, connect=Connector(conn, FakeConn()))
    with capture_logs() as logs:
        await run_until(link, logs, lambda lg: len(events(lg, "ami.connected")) == 2)
    assert [d["reason"] for d in events(logs, "ami.disconnected")] == ["Ping refused: Permission denied"]


async def test_an_outage_is_logged_once_and_retried_with_back_off():
    connector = Connector(ConnectionRefusedError(111, "Connect call failed"), OSError("unreachable"),
                          AmiError("login refused for user 'callcenter': Authentication failed"), "hang",
                          FakeConn())
    link = AmiLink(FAST, {}, connect=connector)
    with capture_logs() as logs:
        await run_until(link, logs, lambda lg: events(lg, "ami.connected"))
    failed = events(logs, "ami.connect_failed")
    assert [f["error"] for f in failed] == ["ConnectionRefusedError: [Errno 111] Connect call failed"]
    retries = events(logs, "ami.reconnecting")
    assert [r["delay"] for r in retries] == [0.01, 0.02, 0.04, 0.04]  # doubling, capped at reconnect_max_s
    assert [r["error"] for r in retries][2:] == [
        "AmiError: login refused for user 'callcenter': Authentication failed", "timed out"]
    assert events(logs, "ami.disconnected") == []  # never connected: no transition to report
    assert connector.calls[0] == ("cdr",)


async def test_after_a_connection_an_outage_is_reported_again():
    connector = Connector(FakeConn(pongs=0), OSError("down"), OSError("down"), FakeConn())
    link = AmiLink(FAST, {}, connect=connector)
    with capture_logs() as logs:
        await run_until(link, logs, lambda lg: len(events(lg, "ami.connected")) == 2)
    wanted = ("ami.connected", "ami.disconnected", "ami.connect_failed")
    names = [e["event"] for e in logs if e["event"] in wanted]
    assert names == ["ami.connected", "ami.disconnected", "ami.connect_failed", "ami.connected"]
    assert [r["attempt"] for r in events(logs, "ami.reconnecting")] == [1, 2, 3]


async def test_a_handler_that_raises_is_logged_and_the_link_goes_on():
    seen: list[str] = []

    def on_cdr(fields: Mapping[str, Any]) -> None:
        seen.append(fields["UniqueID"])
        if fields["UniqueID"] == "bad":
            raise ValueError("boom")

    conn = FakeConn()
    connector = Connector(conn)
    link = AmiLink(FAST, {"Cdr": on_cdr}, connect=connector)
    with capture_logs() as logs:
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.connected.wait(), 1)
        connector.handlers["Cdr"]({"UniqueID": "bad"})
        connector.handlers["Cdr"]({"UniqueID": "good"})
        await cancelled(task)
    assert seen == ["bad", "good"]
    assert [(e["event"], e["ami_event"]) for e in events(logs, "ami.handler_failed")] == [
        ("ami.handler_failed", "Cdr")]


# -- panoramisk against a fake AMI server -------------------------------------------------------------
class FakeAmi:
    """Speaks enough AMI: the greeting, Login (secret "s3cret"), Ping; ``frozen`` stops all answers."""

    def __init__(self) -> None:
        self.frozen = False
        self.writers: list[asyncio.StreamWriter] = []
        self.actions: list[dict[str, str]] = []
        self.closed_by_client = 0  # connections the client closed (EOF read)
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> "FakeAmi":
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                fields = dict(line.split(": ", 1) for line in block.strip().split("\r\n") if ": " in line)
                self.actions.append(fields)
                if self.frozen:
                    continue
                aid = fields.get("ActionID", "")
                if fields.get("Action") == "Login":
                    ok = fields.get("Secret") == "s3cret"
                    status, message = ("Success", "Authentication accepted") if ok else (
                        "Error", "Authentication failed")
                    reply = f"Response: {status}\r\nActionID: {aid}\r\nMessage: {message}\r\n\r\n"
                    writer.write(reply.encode())
                elif fields.get("Action") == "Ping":
                    writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n"
                                 "Timestamp: 1795736662.801848\r\n\r\n".encode())
        self.closed_by_client += 1

    def send_event(self, text: str) -> None:
        self.writers[-1].write(text.replace("\n", "\r\n").encode())

    async def stop(self) -> None:
        assert self.server is not None
        for w in self.writers:
            w.close()
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def fake_ami():
    ami = await FakeAmi().start()
    yield ami
    await ami.stop()


CDR_EVENT = """Event: Cdr
Privilege: cdr,all
Source: 1011
Destination: 13800000001
DestinationContext: callcenter-outbound
Channel: PJSIP/1011-0000001a
Disposition: ANSWERED
UniqueID: 1795736607.54
UserField: outbound

"""


async def test_panoramisk_logs_in_delivers_cdr_events_and_reconnects_when_pings_go_unanswered(fake_ami):
    # a Pong may take a while on a busy CI machine (0.2 s once gave a second, spurious disconnect): 1 s
    settings = AmiSettings(host="127.0.0.1", port=fake_ami.port, username="callcenter", password="s3cret",
                           ping_every_s=0.05, ping_timeout_s=1, reconnect_min_s=0.01)
    got: list[Mapping[str, Any]] = []
    link = AmiLink(settings, {"Cdr": got.append})
    with capture_logs() as logs:
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.connected.wait(), 2)
        login = fake_ami.actions[0]
        assert (login["Action"], login["Username"], login["Secret"], login["Events"]) == (
            "Login", "callcenter", "s3cret", "cdr")
        fake_ami.send_event(CDR_EVENT)
        async with asyncio.timeout(2):
            while not got or not any(a.get("Action") == "Ping" for a in fake_ami.actions):
                await asyncio.sleep(0.005)
        assert got[0]["UniqueID"] == "1795736607.54" and got[0]["userfield"] == "outbound"
        fake_ami.frozen = True  # the TCP connection stays open; nothing is answered any more
        await logged(logs, "ami.disconnected", timeout=5)
        fake_ami.frozen = False
        await logged(logs, "ami.connected", count=2, timeout=5)
        await cancelled(task)
    assert [d["reason"] for d in events(logs, "ami.disconnected")] == ["no answer to Ping within 1 s"]
    assert len(fake_ami.writers) == 2  # a second TCP connection
    assert fake_ami.closed_by_client >= 1  # the frozen connection was closed by the link


async def test_panoramisk_login_refused_is_a_connect_failure_and_the_secret_is_not_logged(fake_ami):
    settings = AmiSettings(host="127.0.0.1", port=fake_ami.port, password="wrong-secret", ping_every_s=1,
                           ping_timeout_s=0.5, reconnect_min_s=0.01)
    link = AmiLink(settings, {"Cdr": lambda f: None})
    with capture_logs() as logs:
        await run_until(link, logs, lambda lg: len(events(lg, "ami.reconnecting")) >= 2)
    assert events(logs, "ami.connect_failed")[0]["error"] == (
        "AmiError: login refused for user 'callcenter': Authentication failed")
    assert "wrong-secret" not in repr(logs)


async def test_panoramisk_notices_the_server_closing(fake_ami):
    settings = AmiSettings(host="127.0.0.1", port=fake_ami.port, password="s3cret", ping_every_s=60,
                           ping_timeout_s=0.5, reconnect_min_s=0.01)
    link = AmiLink(settings, {})
    with capture_logs() as logs:
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.connected.wait(), 2)
        fake_ami.writers[0].close()
        await logged(logs, "ami.connected", count=2, timeout=2)
        await cancelled(task)
    assert [d["reason"] for d in events(logs, "ami.disconnected")] == ["closed by Asterisk"]


async def test_connection_refused_by_the_os():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = AmiSettings(host="127.0.0.1", port=port, password="x", ping_timeout_s=0.5,
                           reconnect_min_s=0.01)
    link = AmiLink(settings, {})
    with capture_logs() as logs:
        await run_until(link, logs, lambda lg: len(events(lg, "ami.reconnecting")) >= 2)
    assert events(logs, "ami.connect_failed")[0]["error"].startswith("ConnectionRefusedError")
    assert len(events(logs, "ami.connect_failed")) == 1
