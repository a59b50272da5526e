"""AriClient's own sender (aiohttp) against a real local HTTP server (tests/unit/fake_ari.py): the wire
format, errors, and the bounded pool of keep-alive connections (Asterisk allows 100 HTTP sessions in all)."""

from __future__ import annotations

import asyncio
import base64
import socket
from typing import Any

import pytest
from fake_ari import FakeAri

from ari_app.ari import AriClient, AriConfig, AriNotFound, AriUnavailable


def config(url: str, **kw: Any) -> AriConfig:
    return AriConfig(url=url, username="cc", password="s3cret", app="callcenter", **kw)


async def test_wire_format(ari_server: FakeAri) -> None:
    srv, url = ari_server, ari_server.url
    srv.reply(200, {"ok": True})
    srv.reply(200, {"id": "p+1", "media_uri": "sound:x", "target_uri": "channel:c1", "state": "queued"})
    srv.reply(200, {"id": "c2", "name": "Local/7001@agents-1", "state": "Down"})
    async with AriClient(config(url)) as c:
        assert await c.info() == {"ok": True}
        await c.play("a/b~1", ["sound:hello world", "sound:x&y=1"], playback_id="p+1")  # "," refused: issue 17
        await c.originate("Local/7001@agents", app="callcenter", variables={"CC_ROLE": "agent"})
    info, play, orig = srv.requests
    assert info.headers["authorization"] == "Basic " + base64.b64encode(b"cc:s3cret").decode()
    assert info.method == "GET" and info.raw_path == "/ari/asterisk/info"
    assert play.raw_path.startswith("/ari/channels/a%2Fb~1/play?")  # the id is one path segment
    assert play.query == {"media": "sound:hello world,sound:x&y=1", "playbackId": "p+1"}
    assert orig.method == "POST" and orig.headers["content-type"] == "application/json"
    assert orig.body == b'{"variables": {"CC_ROLE": "agent"}}'
    assert orig.query["endpoint"] == "Local/7001@agents"


async def test_error_status_maps_to_exception(ari_server: FakeAri) -> None:
    ari_server.reply(404, {"message": "Channel not found"})
    async with AriClient(config(ari_server.url)) as c:
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


async def test_bounded_keepalive_pool_first_come_first_served(ari_server: FakeAri) -> None:
    srv = ari_server
    srv.delay = 0.02  # a slow Asterisk: requests pile up behind the pool
    srv.hold()  # and none is answered before the pool is full
    async with AriClient(config(srv.url, max_connections=4)) as c:
        burst = asyncio.gather(*(c.request("POST", "/channels/c1/ring", params={"n": str(i)}) for i in range(40)))
        await srv.arrived(4)
        srv.release()
        await burst
        await c.request("POST", "/channels/c1/ring", params={"n": "last"})
    assert len(srv.requests) == 41
    assert srv.most_in_flight == 4  # never more than the pool at once...
    assert len(srv.peers) <= 4  # ...on connections kept alive, not one per request
    assert srv.order[:40] == [str(i) for i in range(40)]  # waiting requests served in arrival order


async def test_urgent_requests_go_ahead_of_waiting_ones(ari_server: FakeAri) -> None:
    srv = ari_server
    srv.hold()
    async with AriClient(config(srv.url, max_connections=2)) as c:
        async def normal(n: int) -> None:
            await c.request("POST", "/channels/c1/ring", params={"n": f"n{n}"})

        async def urgent(n: int) -> None:
            with AriClient.urgent():
                await c.request("POST", "/channels/c1/ring", params={"n": f"u{n}"})

        tasks = [asyncio.create_task(normal(i)) for i in range(6)]
        await srv.arrived(2)  # two in flight (held at the server), four waiting for a place
        tasks += [asyncio.create_task(urgent(i)) for i in range(2)]
        await asyncio.sleep(0)  # one step each: the two urgent ones are waiting too
        srv.release()
        await asyncio.gather(*tasks)
    assert srv.order[:2] == ["n0", "n1"]  # already in flight
    assert srv.order[2:4] == ["u0", "u1"]  # then the urgent ones, in their order
    assert srv.order[4:] == ["n2", "n3", "n4", "n5"]  # then the rest, first come first served
    assert srv.most_in_flight == 2


async def test_a_cancelled_waiter_neither_loses_nor_leaks_a_place(ari_server: FakeAri) -> None:
    srv = ari_server
    srv.hold()
    async with AriClient(config(srv.url, max_connections=1)) as c:
        first = asyncio.create_task(c.request("POST", "/channels/c1/ring", params={"n": "a"}))
        await srv.arrived(1)  # "a" holds the only place, its reply held at the server
        gone = asyncio.create_task(c.request("POST", "/channels/c1/ring", params={"n": "gone"}))
        await asyncio.sleep(0)  # one step: "gone" is waiting for the place
        gone.cancel()
        srv.release()
        await first
        await c.request("POST", "/channels/c1/ring", params={"n": "b"})  # would hang if the place leaked
        with pytest.raises(asyncio.CancelledError):
            await gone
    assert srv.order == ["a", "b"]
