"""AriClient against a local HTTP server (tests/unit/fake_ari.py), through its one sender (aiohttp):
method, path, query and body of each helper, error statuses, unreachable and slow servers."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from fake_ari import FakeAri, Seen

from ari_app.ari import (
    AriBadRequest,
    AriClient,
    AriConfig,
    AriConflict,
    AriError,
    AriHTTPError,
    AriNotFound,
    AriUnavailable,
    Bridge,
    Channel,
    Playback,
)

CONFIG = AriConfig(url="http://127.0.0.1:8088/ari", username="cc", password="secret", app="callcenter")
CHANNEL = {"id": "c1", "name": "PJSIP/1001-00000001", "state": "Down"}
BRIDGE = {"id": "br-1", "technology": "simple_bridge", "bridge_type": "mixing", "channels": []}
PLAYBACK = {"id": "pb-1", "media_uri": "sound:beep", "target_uri": "channel:c1", "state": "queued"}


def config(url: str, **kw: Any) -> AriConfig:
    return AriConfig(url=url, username=CONFIG.username, password=CONFIG.password, app=CONFIG.app, **kw)


@pytest.fixture
def rec(ari_server: FakeAri) -> FakeAri:
    """Records requests and answers each with the next canned (status, body), 204 without."""
    return ari_server


@pytest.fixture
async def client(rec: FakeAri) -> AsyncIterator[AriClient]:
    async with AriClient(config(rec.url)) as c:
        yield c


def query(request: Seen) -> dict[str, str]:
    return request.query


def raw_path(request: Seen) -> str:
    return request.path


async def test_basic_auth_and_base_url(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, {"system": {"version": "22.10.1"}})
    assert await client.info() == {"system": {"version": "22.10.1"}}
    assert rec.last.method == "GET"
    assert rec.last.url == rec.url + "/asterisk/info"  # config.url + the path, no query string
    assert rec.last.headers["authorization"] == "Basic " + base64.b64encode(b"cc:secret").decode()


def test_config_repr_hides_password() -> None:
    assert "secret" not in repr(CONFIG)


async def test_create_bridge_default_type_is_mixing_first(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, BRIDGE)
    bridge = await client.create_bridge()
    assert bridge == Bridge.from_json(BRIDGE)
    assert (rec.last.method, raw_path(rec.last)) == ("POST", "/ari/bridges")
    assert query(rec.last) == {"type": "mixing,dtmf_events"}

    rec.reply(200, BRIDGE)
    await client.create_bridge("br-1", type="holding", name="call 1")
    assert query(rec.last) == {"type": "holding", "bridgeId": "br-1", "name": "call 1"}


async def test_add_channel_booleans_and_lists(client: AriClient, rec: FakeAri) -> None:
    await client.add_channel("br-1", "c1", absorb_dtmf=True)
    assert (rec.last.method, raw_path(rec.last)) == ("POST", "/ari/bridges/br-1/addChannel")
    assert query(rec.last) == {"channel": "c1", "absorbDTMF": "true", "mute": "false"}

    await client.add_channel("br-1", ["c1", "c2"], role="agent", mute=True)
    assert query(rec.last) == {"channel": "c1,c2", "role": "agent", "absorbDTMF": "false", "mute": "true"}
    assert rec.last.body == b""  # everything in the query string

    await client.remove_channel("br-1", "c2")
    assert (raw_path(rec.last), query(rec.last)) == ("/ari/bridges/br-1/removeChannel", {"channel": "c2"})


async def test_originate_sends_variables_in_body(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, CHANNEL)
    ch = await client.originate(
        "PJSIP/1001", app="callcenter", app_args="agent,1001", channel_id="agent-c1",
        timeout_s=20, caller_id="Queue <600>", variables={"CC_CALL": "call-1"},
    )
    assert ch == Channel.from_json(CHANNEL)
    assert (rec.last.method, raw_path(rec.last)) == ("POST", "/ari/channels")
    assert query(rec.last) == {
        "endpoint": "PJSIP/1001", "app": "callcenter", "appArgs": "agent,1001",
        "channelId": "agent-c1", "timeout": "20", "callerId": "Queue <600>",
    }
    assert json.loads(rec.last.body) == {"variables": {"CC_CALL": "call-1"}}
    assert rec.last.headers["content-type"] == "application/json"

    rec.reply(200, CHANNEL)
    await client.originate("PJSIP/1002", app="callcenter")
    assert query(rec.last) == {"endpoint": "PJSIP/1002", "app": "callcenter"}
    assert rec.last.body == b""


async def test_path_segments_are_quoted(client: AriClient, rec: FakeAri) -> None:
    await client.answer("odd/id ?#")
    assert raw_path(rec.last) == "/ari/channels/odd%2Fid%20%3F%23/answer"
    rec.reply(200, {"technology": "PJSIP", "resource": "a/b"})
    await client.get_endpoint("PJSIP", "a/b")
    assert raw_path(rec.last) == "/ari/endpoints/PJSIP/a%2Fb"


@pytest.mark.parametrize(
    ("call", "method", "path", "params"),
    [
        (lambda c: c.hangup("c1"), "DELETE", "/ari/channels/c1", {"reason": "normal"}),
        (lambda c: c.hangup("c1", reason="busy"), "DELETE", "/ari/channels/c1", {"reason": "busy"}),
        (lambda c: c.ring("c1"), "POST", "/ari/channels/c1/ring", {}),
        (lambda c: c.ring_stop("c1"), "DELETE", "/ari/channels/c1/ring", {}),
        (lambda c: c.set_var("c1", "CC_X", "a,b"), "POST", "/ari/channels/c1/variable",
         {"variable": "CC_X", "value": "a,b"}),
        (lambda c: c.start_moh("c1"), "POST", "/ari/channels/c1/moh", {}),
        (lambda c: c.start_moh("c1", "queue"), "POST", "/ari/channels/c1/moh", {"mohClass": "queue"}),
        (lambda c: c.stop_moh("c1"), "DELETE", "/ari/channels/c1/moh", {}),
        (lambda c: c.hold("c1"), "POST", "/ari/channels/c1/hold", {}),
        (lambda c: c.unhold("c1"), "DELETE", "/ari/channels/c1/hold", {}),
        (lambda c: c.mute("c1"), "POST", "/ari/channels/c1/mute", {"direction": "both"}),
        (lambda c: c.unmute("c1", "in"), "DELETE", "/ari/channels/c1/mute", {"direction": "in"}),
        (lambda c: c.continue_in_dialplan("c1", "callcenter-voicemail", "s", 1), "POST",
         "/ari/channels/c1/continue", {"context": "callcenter-voicemail", "extension": "s", "priority": "1"}),
        (lambda c: c.dtmf("c1", "12#"), "POST", "/ari/channels/c1/dtmf", {"dtmf": "12#"}),
        (lambda c: c.destroy_bridge("br-1"), "DELETE", "/ari/bridges/br-1", {}),
        (lambda c: c.bridge_start_moh("br-1", "queue"), "POST", "/ari/bridges/br-1/moh",
         {"mohClass": "queue"}),
        (lambda c: c.bridge_stop_moh("br-1"), "DELETE", "/ari/bridges/br-1/moh", {}),
        (lambda c: c.stop_playback("pb-1"), "DELETE", "/ari/playbacks/pb-1", {}),
    ],
)
async def test_void_helpers(
    client: AriClient, rec: FakeAri, call: Callable[[AriClient], Any], method: str, path: str,
    params: dict[str, str],
) -> None:
    assert await call(client) is None
    assert (rec.last.method, raw_path(rec.last), query(rec.last)) == (method, path, params)


async def test_play_media_list_is_comma_joined(client: AriClient, rec: FakeAri) -> None:
    rec.reply(201, PLAYBACK)
    pb = await client.play("c1", ["sound:hello", "sound:queue-position"], playback_id="pb-1")
    assert pb == Playback.from_json(PLAYBACK)
    assert raw_path(rec.last) == "/ari/channels/c1/play"
    assert query(rec.last) == {"media": "sound:hello,sound:queue-position", "playbackId": "pb-1"}

    rec.reply(201, {**PLAYBACK, "target_uri": "bridge:br-1"})
    await client.bridge_play("br-1", "sound:beep")
    assert (raw_path(rec.last), query(rec.last)) == ("/ari/bridges/br-1/play", {"media": "sound:beep"})


async def test_snoop_and_record(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, {**CHANNEL, "id": "snoop-1"})
    snoop = await client.snoop("c1", app="callcenter", spy="both", snoop_id="snoop-1")
    assert snoop.id == "snoop-1"
    assert raw_path(rec.last) == "/ari/channels/c1/snoop"
    assert query(rec.last) == {"app": "callcenter", "spy": "both", "whisper": "none", "snoopId": "snoop-1"}

    rec.reply(201, {"name": "rec-1", "format": "wav", "state": "queued", "target_uri": "channel:c1"})
    recording = await client.record("c1", "rec-1", beep=True, max_duration_s=60)
    assert recording["state"] == "queued"
    assert query(rec.last) == {
        "name": "rec-1", "format": "wav", "maxDurationSeconds": "60", "maxSilenceSeconds": "0",
        "ifExists": "fail", "beep": "true", "terminateOn": "none",
    }


async def test_getters_parse_models(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, [CHANNEL, {**CHANNEL, "id": "c2"}])
    assert [c.id for c in await client.list_channels()] == ["c1", "c2"]
    rec.reply(200, CHANNEL)
    assert (await client.get_channel("c1")).name == "PJSIP/1001-00000001"
    rec.reply(200, [BRIDGE])
    assert [b.id for b in await client.list_bridges()] == ["br-1"]
    rec.reply(200, BRIDGE)
    assert (await client.get_bridge("br-1")).bridge_type == "mixing"
    rec.reply(200, {"txcount": 10, "rxcount": 9})
    assert (await client.rtp_statistics("c1"))["txcount"] == 10
    assert raw_path(rec.last) == "/ari/channels/c1/rtp_statistics"
    rec.reply(200, [{"technology": "PJSIP", "resource": "1001"}])
    assert (await client.list_endpoints())[0]["resource"] == "1001"


async def test_get_application_defaults_to_config_app(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, {"name": "callcenter", "channel_ids": []})
    await client.get_application()
    assert raw_path(rec.last) == "/ari/applications/callcenter"
    rec.reply(200, {"name": "other"})
    await client.get_application("other")
    assert raw_path(rec.last) == "/ari/applications/other"


async def test_get_var(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, {"value": "support"})
    assert await client.get_var("c1", "CC_QUEUE") == "support"
    assert (rec.last.method, query(rec.last)) == ("GET", {"variable": "CC_QUEUE"})
    rec.reply(404, {"message": "Provided variable was not found"})
    assert await client.get_var("c1", "NOPE") is None


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(400, AriBadRequest), (404, AriNotFound), (409, AriConflict), (422, AriBadRequest),
     (412, AriHTTPError), (500, AriHTTPError), (401, AriHTTPError)],
)
async def test_error_mapping(
    client: AriClient, rec: FakeAri, status: int, exc_type: type[AriHTTPError]
) -> None:
    rec.reply(status, {"message": "Channel not in Stasis application"})
    with pytest.raises(exc_type) as info:
        await client.answer("c1")
    err = info.value
    assert type(err) is exc_type and isinstance(err, AriError)
    assert (err.status, err.method, err.path) == (status, "POST", "/channels/c1/answer")
    assert err.message == "Channel not in Stasis application"
    assert str(err) == f"POST /channels/c1/answer -> {status}: Channel not in Stasis application"


async def test_error_with_non_json_body(client: AriClient, rec: FakeAri) -> None:
    rec.reply(503, "Service Unavailable")
    with pytest.raises(AriHTTPError) as info:
        await client.list_bridges()
    assert info.value.message == "Service Unavailable"


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port bound but not listening: connecting is refused, and nothing else can take the port meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/ari"


async def test_refused_connection_becomes_unavailable(refused_url: str) -> None:
    async with AriClient(config(refused_url)) as c:
        with pytest.raises(AriUnavailable) as info:
            await c.hangup("c1")
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)  # the transport's own error
    assert info.value.reason.startswith("ClientConnectorError: ")
    assert (info.value.method, info.value.path) == ("DELETE", "/channels/c1")


async def test_slow_reply_times_out_and_becomes_unavailable(rec: FakeAri) -> None:
    rec.hold()  # the request arrives, the reply never comes
    async with AriClient(config(rec.url, request_timeout_s=0.2)) as c:
        async with asyncio.timeout(10):  # fail, not hang, should the client never give up
            with pytest.raises(AriUnavailable) as info:
                await c.hangup("c1")
    assert isinstance(info.value.__cause__, TimeoutError)  # the transport's own error
    assert (info.value.method, info.value.path) == ("DELETE", "/channels/c1")
    assert [(r.method, r.path) for r in rec.requests] == [("DELETE", "/ari/channels/c1")]  # sent once


async def test_error_with_empty_body_uses_the_reason_phrase(client: AriClient, rec: FakeAri) -> None:
    rec.reply(500)
    with pytest.raises(AriHTTPError) as info:
        await client.list_bridges()
    assert (info.value.status, info.value.message) == (500, "Internal Server Error")


async def test_request_low_level(client: AriClient, rec: FakeAri) -> None:
    rec.reply(200, {"id": "em-1"})
    params = {"app": "x", "flag": True, "n": None}
    res = await client.request("POST", "/channels/externalMedia", params=params, json={"variables": {}})
    assert res == {"id": "em-1"}
    assert query(rec.last) == {"app": "x", "flag": "true"}
    assert await client.request("POST", "/channels/c1/answer") is None
