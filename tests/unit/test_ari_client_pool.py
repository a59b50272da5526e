"""AriClient's own sender (aiohttp) against a real local HTTP server: the wire format, errors,
and the bounded pool of keep-alive connections (Asterisk allows 100 HTTP sessions in all)."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from ari_app.ari import AriClient, AriConfig, AriNotFound, AriUnavailable


class Server:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.peers: set[tuple[str, int]] = set()  # client (host, port) pairs: one per TCP connection
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = 0.0
        self.order: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.peers.add(request.transport.get_extra_info("peername")[:2])  # type: ignore[union-attr]
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            body = await request.read()
            self.seen.append({"method": request.method, "raw_path": request.raw_path, "query": dict(request.query),
                              "auth": request.headers.get("Authorization"), "body": body,
                              "ctype": request.headers.get("Content-Type")})
            self.order.append(request.query.get("n", ""))
            if self.delay:
                await asyncio.sleep(self.delay)
            if request.path.endswith("/missing"):
                return web.json_response({"message": "Channel not found"}, status=404)
            if request.path.endswith("/info"):
                return web.json_response({"ok": True})
            if request.path.endswith("/play"):
                return web.json_response({"id": "p+1", "media_uri": "sound:x", "target_uri": "channel:c1",
                                          "state": "queued"})
            if request.path == "/ari/channels":
                return web.json_response({"id": "c2", "name": "Local/7001@agents-1", "state": "Down"})
            return web.Response(status=204)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    srv = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield srv, f"http://127.0.0.1:{port}/ari"
    await runner.cleanup()


def config(url: str, **kw: Any) -> AriConfig:
    return AriConfig(url=url, username="cc", password="s3cret", app="callcenter", **kw)


async def test_wire_format(server: tuple[Server, str]) -> None:
    srv, url = server
    async with AriClient(config(url)) as c:
        assert await c.info() == {"ok": True}
        await c.play("a/b~1", ["sound:hello world", "sound:x,y"], playback_id="p+1")
        await c.originate("Local/7001@agents", app="callcenter", variables={"CC_ROLE": "agent"})
    info, play, orig = srv.seen
    assert info["auth"] == "Basic " + base64.b64encode(b"cc:s3cret").decode()
    assert info["method"] == "GET" and info["raw_path"] == "/ari/asterisk/info"
    assert play["raw_path"].startswith("/ari/channels/a%2Fb~1/play?")  # the id is one path segment
    assert play["query"] == {"media": "sound:hello world,sound:x,y", "playbackId": "p+1"}
    assert orig["method"] == "POST" and orig["ctype"] == "application/json"
    assert orig["body"] == b'{"variables": {"CC_ROLE": "agent"}}'
    assert orig["query"]["endpoint"] == "Local/7001@agents"


async def test_error_status_maps_to_exception(server: tuple[Server, str]) -> None:
    _, url = server
    async with AriClient(config(url)) as c:
        with pytest.raises(AriNotFound) as info:
            await c.request("GET", "/channels/missing")
    assert info.value.message == "Channel not found"


async def test_unreachable_is_unavailable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    async with AriClient(config(f"http://127.0.0.1:{port}/ari", request_timeout_s=2)) as c:
        with pytest.raises(AriUnavailable) as info:
            await c.hangup("c1")
    assert (info.value.method, info.value.path) == ("DELETE", "/channels/c1")


async def test_bounded_keepalive_pool_first_come_first_served(server: tuple[Server, str]) -> None:
    srv, url = server
    srv.delay = 0.02
    async with AriClient(config(url, max_connections=4)) as c:
        await asyncio.gather(*(c.request("POST", "/channels/c1/ring", params={"n": str(i)}) for i in range(40)))
        await c.request("POST", "/channels/c1/ring", params={"n": "last"})
    assert len(srv.seen) == 41
    assert srv.most_in_flight == 4  # never more than the pool at once...
    assert len(srv.peers) <= 4  # ...on connections kept alive, not one per request
    assert srv.order[:40] == [str(i) for i in range(40)]  # waiting requests served in arrival order


async def test_urgent_requests_go_ahead_of_waiting_ones(server: tuple[Server, str]) -> None:
    srv, url = server
    srv.delay = 0.02
    async with AriClient(config(url, max_connections=2)) as c:
        async def normal(n: int) -> None:
            await c.request("POST", "/channels/c1/ring", params={"n": f"n{n}"})

        async def urgent(n: int) -> None:
            with AriClient.urgent():
                await c.request("POST", "/channels/c1/ring", params={"n": f"u{n}"})

        tasks = [asyncio.create_task(normal(i)) for i in range(6)]
        await asyncio.sleep(0)  # the six are in: two in flight, four waiting
        tasks += [asyncio.create_task(urgent(i)) for i in range(2)]
        await asyncio.gather(*tasks)
    assert srv.order[:2] == ["n0", "n1"]  # already in flight
    assert srv.order[2:4] == ["u0", "u1"]  # then the urgent ones, in their order
    assert srv.order[4:] == ["n2", "n3", "n4", "n5"]  # then the rest, first come first served
    assert srv.most_in_flight == 2


async def test_a_cancelled_waiter_neither_loses_nor_leaks_a_place(server: tuple[Server, str]) -> None:
    srv, url = server
    srv.delay = 0.05
    async with AriClient(config(url, max_connections=1)) as c:
        first = asyncio.create_task(c.request("POST", "/channels/c1/ring", params={"n": "a"}))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(c.request("POST", "/channels/c1/ring", params={"n": "gone"}))
        await asyncio.sleep(0.01)
        gone.cancel()
        await first
        await c.request("POST", "/channels/c1/ring", params={"n": "b"})  # would hang if the place leaked
        with pytest.raises(asyncio.CancelledError):
            await gone
    assert srv.order == ["a", "b"]
